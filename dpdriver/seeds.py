"""Reproducible seeds: one run seed, a distinct stream per stage, round and member."""

import hashlib


def derive_seed(base: int, *parts) -> int:
    """A positive 31-bit seed determined by the run seed and the parts (stage name, round, index)."""
    digest = hashlib.sha256(repr((base, *parts)).encode()).digest()
    return 1 + int.from_bytes(digest[:4], "little") % 2_000_000_000
