"""Export: the model compressed, validated, and the folder a LAMMPS user takes away with its model card."""

from .potential import compress_model, export_potential

__all__ = ["compress_model", "export_potential"]
