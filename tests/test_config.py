import re
from pathlib import Path

import pytest

from dpdriver.config import RunConfig, load_config, parse_config
from dpdriver.errors import UserError

REPO = Path(__file__).resolve().parent.parent


def error_of(text: str) -> str:
    with pytest.raises(UserError) as info:
        parse_config(text, "c.yaml")
    return str(info.value)


def test_example_config_is_valid():
    config = load_config(REPO / "examples/cu-emt/config.yaml")
    assert config.element == "Cu" and config.training.models == 4
    assert config.exploration.temperatures_K == [300, 600, 900, 1200]


def test_misspelled_key_names_key_line_and_nearest_valid_key():
    message = error_of("element: Cu\ntraining:\n  steps: 10\n  modles: 4\n")
    assert "c.yaml:4" in message
    assert "training.modles" in message
    assert "did you mean 'models'" in message


def test_unknown_top_level_key():
    message = error_of("element: Cu\nexploraton:\n  md_steps: 3\n")
    assert "c.yaml:2" in message and "did you mean 'exploration'" in message


def test_wrong_type_names_key_and_line():
    message = error_of("element: Cu\nexploration:\n  md_steps: many\n")
    assert "c.yaml:3" in message and "exploration.md_steps" in message and "'many'" in message


def test_impossible_values_are_refused():
    assert "force_trust_lo_eV_A must be smaller" in error_of(
        "selection:\n  force_trust_lo_eV_A: 0.3\n  force_trust_hi_eV_A: 0.1\n")
    assert "training.models" in error_of("training:\n  models: 1\n")


def test_yaml_syntax_error_has_a_line():
    assert re.match(r"c.yaml:\d+: not valid YAML", error_of("element: Cu\ntraining: [1, 2\n"))


def test_missing_file():
    with pytest.raises(UserError, match="not found"):
        load_config("/nonexistent/config.yaml")


def test_empty_file_gives_documented_defaults():
    assert parse_config("", "c.yaml") == RunConfig()
