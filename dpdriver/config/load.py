"""Loading YAML: strict, with the key, its line and the nearest valid key in every error."""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    ValidationError,
)

from ..errors import UserError
from .run_config import RunConfig

SECRET_KEY = re.compile(r"password|passwd|token|secret|access_key|api_key", re.IGNORECASE)


def _key_lines(node: yaml.Node, prefix: tuple = ()) -> dict[tuple, int]:
    """Map each key path to its 1-based line in the YAML file."""
    lines: dict[tuple, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            path = prefix + (key_node.value,)
            lines[path] = key_node.start_mark.line + 1
            lines.update(_key_lines(value_node, path))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[prefix + (i,)] = item.start_mark.line + 1
            lines.update(_key_lines(item, prefix + (i,)))
    return lines


def _models_in(annotation) -> list[type[BaseModel]]:
    """The config classes an annotation can hold (through Optional, Union, list and Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


def _kind_of(model: type[BaseModel]) -> str | None:
    """The tag of a union member: every `kind` field is a one-value Literal."""
    field = model.model_fields.get("kind")
    return get_args(field.annotation)[0] if field is not None else None


def _resolve(loc: tuple) -> tuple[type[BaseModel] | None, tuple]:
    """The config class at an error location, and the location without pydantic's union tags."""
    candidates: list[type[BaseModel]] = [RunConfig]
    shown: list = []
    dict_key = False
    for part in loc:
        if isinstance(part, int) or dict_key:
            shown.append(part)
            dict_key = False
            continue
        tagged = [m for m in candidates if _kind_of(m) == part]
        if len(candidates) > 1 and tagged:
            candidates = tagged
            continue
        field = candidates[0].model_fields.get(part) if len(candidates) == 1 else None
        shown.append(part)
        candidates = _models_in(field.annotation) if field is not None else []
        dict_key = field is not None and get_origin(field.annotation) is dict
    return (candidates[0] if len(candidates) == 1 else None), tuple(shown)


def _describe(error: dict, source: str, lines: dict[tuple, int]) -> str:
    raw_loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    raw_loc += getattr(error.get("ctx", {}).get("error"), "subpath", ())
    _, loc = _resolve(raw_loc)
    key = ".".join(str(p) for p in loc) or "(top level)"
    line = next((lines[loc[:n]] for n in range(len(loc), 0, -1) if loc[:n] in lines), None)
    where = f"{source}:{line}" if line else source
    if error["type"] == "extra_forbidden":
        parent, _ = _resolve(raw_loc[:-1])
        valid = sorted(parent.model_fields) if parent else []
        near = difflib.get_close_matches(str(loc[-1]), valid, n=1, cutoff=0.5)
        hint = (
            f"did you mean '{near[0]}'?"
            if near
            else f"valid keys here: {', '.join(valid)}"
            if valid
            else "see dpdriver/config/ for the keys of this section"
        )
        return f"{where}: unknown key '{key}'; {hint}"
    if error["type"] == "union_tag_invalid":
        expected = [t.strip(" '") for t in error["ctx"]["expected_tags"].split(",")]
        near = difflib.get_close_matches(str(error["ctx"]["tag"]), expected, n=1, cutoff=0.5)
        hint = f"did you mean '{near[0]}'?" if near else f"choose one of: {', '.join(expected)}"
        return f"{where}: '{key}': unknown kind '{error['ctx']['tag']}'; {hint}"
    message = error["msg"].removeprefix("Value error, ")
    got = "" if isinstance(error.get("input"), dict) else f" (got {error.get('input')!r})"
    return f"{where}: '{key}': {message}{got}"


def _duplicate_key(node: yaml.Node, prefix: tuple = ()) -> tuple[str, int] | None:
    """The first key given twice in one mapping (YAML loaders keep the last silently), with its line."""
    if isinstance(node, yaml.MappingNode):
        seen = set()
        for key_node, value_node in node.value:
            path = prefix + (key_node.value,)
            if key_node.value in seen:
                return ".".join(map(str, path)), key_node.start_mark.line + 1
            seen.add(key_node.value)
            found = _duplicate_key(value_node, path)
            if found:
                return found
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            found = _duplicate_key(item, prefix + (i,))
            if found:
                return found
    return None


def parse_config(text: str, source: str = "<config>") -> RunConfig:
    try:
        root = yaml.compose(text)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        raise UserError(f"{where}: not valid YAML ({getattr(exc, 'problem', exc)}); fix the syntax") from None
    if raw is None:
        raise UserError(
            f"{source}: the config is empty; give at least `element:` (start from examples/cu-emt/config.yaml)"
        )
    if not isinstance(raw, dict):
        raise UserError(f"{source}: the config must be a YAML mapping of keys to values")
    duplicate = _duplicate_key(root)
    if duplicate:
        raise UserError(f"{source}:{duplicate[1]}: '{duplicate[0]}' is given twice; keep one")
    lines = _key_lines(root) if root is not None else {}
    for path in lines:
        if isinstance(path[-1], str) and SECRET_KEY.search(path[-1]):
            raise UserError(
                f"{source}:{lines[path]}: '{'.'.join(map(str, path))}' looks like a credential; credentials never "
                "go in the config (it is copied into run.json and every workflow manifest): set "
                "DPDRIVER_ARGO_TOKEN / DPDRIVER_S3_ACCESS_KEY / DPDRIVER_S3_SECRET_KEY or use "
                "execution.argo.credentials_file"
            )
    try:
        return RunConfig.model_validate(raw)
    except ValidationError as exc:
        first = _describe(exc.errors()[0], source, lines)
        more = len(exc.errors()) - 1
        raise UserError(first + (f" (and {more} more problem(s))" if more else "")) from None


def load_config(path: str | Path) -> RunConfig:
    path = Path(path)
    if path.is_dir():
        raise UserError(f"'{path}' is a folder; pass the YAML config file in it (e.g. {path / 'config.yaml'})")
    if not path.is_file():
        raise UserError(
            f"config file '{path}' not found; pass the path of a YAML config such as examples/cu-emt/config.yaml"
        )
    try:
        text = path.read_text()
    except UnicodeDecodeError:
        raise UserError(
            f"'{path}' is not a text file; pass a YAML config such as examples/cu-emt/config.yaml"
        ) from None
    except OSError as exc:
        raise UserError(f"cannot read config file '{path}' ({exc.strerror}); check its permissions") from None
    config = parse_config(text, str(path))
    files = getattr(config.labeler, "files", None)
    if files:  # the labeler's own files, relative to the config file, travel to every step as absolute paths
        absolute = [str((path.parent / Path(f).expanduser()).resolve()) for f in files]
        config = config.model_copy(update={"labeler": config.labeler.model_copy(update={"files": absolute})})
    return config
