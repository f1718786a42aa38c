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
        "selection:\n  force_trust_lo_eV_A: 0.3\n  force_trust_hi_eV_A: 0.1\n"
    )
    assert "training.models" in error_of("training:\n  models: 1\n")


def test_yaml_syntax_error_has_a_line():
    assert re.match(r"c.yaml:\d+: not valid YAML", error_of("element: Cu\ntraining: [1, 2\n"))


def test_missing_file():
    with pytest.raises(UserError, match="not found"):
        load_config("/nonexistent/config.yaml")


def test_a_minimal_config_takes_the_documented_defaults():
    assert parse_config("element: Cu\n", "c.yaml") == RunConfig()


# Bad configs found by trying mutations as a user would (issue 17): each is refused with one line naming the problem.
REFUSED = {
    "": "the config is empty",
    "element: Cu\nelement: Ni\n": "c.yaml:2: 'element' is given twice",
    "element: cu\n": "did you mean 'Cu'",
    "element: Xx\nlabeler: {kind: ase, calculator: ase.calculators.emt.EMT}\n": "'Xx' is not a chemical symbol",
    "exploration: {temperatures_K: [.nan]}\n": "finite number",
    "exploration: {temperatures_K: [.inf]}\n": "finite number",
    "exploration: {temperatures_K: [1.0e9]}\n": "no metal stays condensed",
    "exploration: {stages: [{temperatures_K: [-5]}]}\n": "stages.0.temperatures_K.0",
    "exploration: {timestep_ps: .inf}\n": "finite number",
    "exploration: {timestep_ps: 0.5}\n": "unstable beyond 10 fs",
    "exploration: {md_steps: 1000000000000}\n": "many short MD runs",
    "exploration: {md_steps: 100, deviation_every_steps: 200}\n": "no frame would be written",
    "exploration: {md_steps: 500, deviation_every_steps: 100, stages: [{md_steps: 50}]}\n": "larger than md_steps (50)",
    "training: {steps: true}\n": "true/false is not a value here",
    "exploration: {temperatures_K: [300, true]}\n": "true/false is not a value here",
    "training: {rcut_A: 1.0}\n": "first neighbour shell",
    "training: {start_lr: 1.0e6}\n": "Adam diverges",
    "training: {start_lr: 1.0e-5, stop_lr: 1.0e-3}\n": "stop_lr must be smaller than start_lr",
    "validation: {md_temperatures_K: [.nan]}\n": "finite number",
    "initial_data: {generators: [{kind: md, temperatures_K: [1.0e6]}]}\n": "no metal stays condensed",
    "execution: {argo: {steps: {train: {cpuu: '4'}}}}\n": "did you mean 'cpu'",
    "execution: {dispatcher: {machine: {batch_typo: Slurm, context_type: LocalContext}}}\n": "Did you mean: batch_type",
    "execution: {dispatcher: {machine: {batch_type: Slurm, context_type: LocalContext},"
    " resources: {cpu_per_nod: 4}}}\n": "Did you mean: cpu_per_node",
    "execution: {dispatcher: {machine: {batch_type: Slurm, context_type: LocalContext, remote_root: queue}}}\n": (
        "remote_root 'queue' must be an absolute path"
    ),
    "execution: {dispatcher: {machine: {batch_type: Slurm, context_type: LocalContext, remote_root: /q},"
    " stage_resources: {train: {gpu_per_nod: 1}}}}\n": "Did you mean: gpu_per_node",
    "execution: {dispatcher: {machine: {batch_type: Slurm, context_type: LocalContext, remote_root: /q},"
    " stage_resources: {training: {gpu_per_node: 1}}}}\n": "execution.dispatcher.stage_resources.training",
}


@pytest.mark.parametrize("text", list(REFUSED))
def test_bad_values_are_refused_with_one_line(text):
    message = error_of(text if text.startswith("element") or not text else "element: Cu\n" + text)
    assert REFUSED[text] in message and "\n" not in message


def test_a_config_that_is_a_folder_or_not_text(tmp_path):
    with pytest.raises(UserError, match="is a folder; pass the YAML config file in it"):
        load_config(tmp_path)
    binary = tmp_path / "c.yaml"
    binary.write_bytes(bytes(range(256)))
    with pytest.raises(UserError, match="is not a text file"):
        load_config(binary)
