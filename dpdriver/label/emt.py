"""ASE's EMT: exact, free labels so the whole loop runs in minutes on a laptop."""

from ase.calculators.emt import EMT, parameters

from .base import Labeler


class EMTLabeler(Labeler):
    name = "emt"

    def supported_elements(self) -> set[str]:
        return {symbol for symbol in parameters if symbol not in {"H", "C", "N", "O"}}

    def calculator(self):
        return EMT()
