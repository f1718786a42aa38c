"""Selection: explored frames classified by model deviation, candidates chosen for diversity (fingerprints, FPS)."""

from .candidates import ACCURATE, CANDIDATE, FAILED, classify, select_candidates, trust_levels

__all__ = ["ACCURATE", "CANDIDATE", "FAILED", "classify", "select_candidates", "trust_levels"]
