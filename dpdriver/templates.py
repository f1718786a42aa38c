"""Jinja2 rendering of the input files kept in the top-level templates/ folder (dpdriver/template_files links to it;
a wheel ships copies there)."""

from __future__ import annotations

import os
from pathlib import Path

import jinja2

TEMPLATE_DIR = Path(os.environ.get("DPDRIVER_TEMPLATES", Path(__file__).resolve().parent / "template_files"))

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
    undefined=jinja2.StrictUndefined,  # a missing variable is a bug, never an empty string
    keep_trailing_newline=True,
)
_env.filters["tojson"] = lambda value: __import__("json").dumps(value)


def render(template_name: str, **variables) -> str:
    return _env.get_template(template_name).render(**variables)
