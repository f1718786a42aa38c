"""A variant of an example: a small YAML naming its `base` config and what it `set`s, so that a variant states
only what it changes and follows every later edit of the example.

    base: examples/w-snap/config.yaml     # relative to the repository
    set:
      training: {production_steps: 40000}  # mappings merge key by key; any other value replaces the base's
"""

from __future__ import annotations

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def merged(base: dict, changes: dict) -> dict:
    out = dict(base)
    for key, value in changes.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def is_variant(path: Path) -> bool:
    spec = yaml.safe_load(Path(path).read_text())
    return isinstance(spec, dict) and "base" in spec and "set" in spec


def write_variant_config(variant: Path, out_dir: Path) -> Path:
    """The variant's full config, written as out_dir/<variant name>.yaml for `dpdriver run` to read."""
    variant = Path(variant).resolve()
    spec = yaml.safe_load(variant.read_text())
    if not isinstance(spec, dict) or set(spec) != {"base", "set"}:
        raise SystemExit(f"{variant}: a variant has exactly two keys, 'base' (an example's config) and 'set'")
    config = merged(yaml.safe_load((REPO / spec["base"]).read_text()), spec["set"])
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{variant.stem}.yaml"
    path.write_text(
        f"# {variant.relative_to(REPO)}: {spec['base']} with {spec['set']}\n" + yaml.safe_dump(config, sort_keys=False)
    )
    return path
