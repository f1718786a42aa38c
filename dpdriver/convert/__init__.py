"""`dpdriver convert`: VASP outputs -> DeePMD data, every frame accounted for."""
