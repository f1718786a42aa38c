"""One labeler interface for every reference method (EMT now; any ASE calculator and VASP next)."""

from .base import Labeler, LabelResult, label_to_data, make_labeler
from .emt import EMTLabeler

__all__ = ["Labeler", "LabelResult", "EMTLabeler", "label_to_data", "make_labeler"]
