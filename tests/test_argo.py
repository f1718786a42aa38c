"""Argo and HPC: manifests validated against Argo's schema without a cluster, no credential anywhere
in them, submission errors as one line, the loop workflow run in dflow debug mode (submit --local,
watch, download, status), and a stage sent through dpdispatcher's local shell."""

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from dpdriver.config import parse_config
from dpdriver.data import count_frames
from dpdriver.engine.dflow.argo import load_credentials, workflow_for_submit
from dpdriver.engine.dflow.local import configure_local
from dpdriver.engine.runner import Runner
from dpdriver.errors import UserError

SCHEMA = Path(__file__).resolve().parents[2] / "shared" / "schemas" / "argo-workflows-v3.5.15.schema.json"
needs_schema = pytest.mark.skipif(not SCHEMA.is_file(), reason=f"Argo schema not found at {SCHEMA}")
SECRETS = {
    "DPDRIVER_ARGO_TOKEN": "tok-3f9a1c",
    "DPDRIVER_S3_ACCESS_KEY": "ak-77e2d0",
    "DPDRIVER_S3_SECRET_KEY": "sk-c41b95",
}

CONFIG = """\
element: Cu
seed: 5
initial_data:
  generators:
    - {kind: volume_scan, name: volumes, count: 3, keep: false}
    - {kind: rattle, base: volumes, stdev_A: [0.05], per_stdev: 3}
labeler: {kind: emt, structures_per_task: 4}
training: {models: 2, steps: 100, production_steps: 40, rcut_A: 5.0, rcut_smth_A: 0.5}  # toy sizes
exploration:
  ensembles: [nvt]
  md_steps: 60
  deviation_every_steps: 10
  stages:
    - {name: warm, temperatures_K: [600], max_rounds: 1}
    - {name: hot, temperatures_K: [900, 1200], starts_from: [rounds]}
selection: {force_trust_lo_eV_A: 0.02, force_trust_hi_eV_A: 1.0, max_labels_per_round: 5}
convergence: {max_rounds: 2, require_properties: true}
validation: {test_structures: 2}
execution:
  argo:
    host: https://127.0.0.1:9
    image: registry.example.org/dpdriver:0.1.0
    retries: 3
    parallelism: 8
    steps:
      train: {cpu: "4", memory: 8Gi, gpu: 1, image: registry.example.org/dpdriver-gpu:0.1.0}
      label: {cpu: "64", memory: 128Gi}
"""


def workflow_validator():

    schema = json.loads(SCHEMA.read_text())
    # Argo takes integers where its schema says IntOrString is a string (e.g. retryStrategy.limit)
    schema["definitions"]["io.k8s.apimachinery.pkg.util.intstr.IntOrString"] = {"type": ["string", "integer"]}
    return jsonschema.Draft7Validator(
        {"$ref": "#/definitions/io.argoproj.workflow.v1alpha1.Workflow", "definitions": schema["definitions"]}
    )


def templates_by_name(body):
    return {t["name"]: t for t in body["spec"]["templates"]}


@needs_schema
def test_rendered_manifest_is_a_valid_argo_workflow_with_the_step_settings(cli, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(CONFIG)
    result = cli("render", config, "-o", tmp_path / "wf.yaml", env=SECRETS)
    assert result.returncode == 0, result.stderr
    body = yaml.safe_load((tmp_path / "wf.yaml").read_text())
    errors = sorted(workflow_validator().iter_errors(body), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message[:200]}" for e in errors[:5]]
    assert body["apiVersion"] == "argoproj.io/v1alpha1" and body["kind"] == "Workflow" and "status" not in body
    assert body["spec"]["parallelism"] == 8
    pods = [t for t in body["spec"]["templates"] if "script" in t]
    train = next(t for t in pods if "train" in t["name"] and "init" not in t["name"])
    assert train["script"]["image"] == "registry.example.org/dpdriver-gpu:0.1.0"
    assert train["script"]["resources"]["requests"] == {"cpu": "4", "memory": "8Gi"}
    assert train["script"]["resources"]["limits"] == {"nvidia.com/gpu": "1"}
    label = next(t for t in pods if t["name"].startswith("label") and "init" not in t["name"])
    assert label["script"]["resources"]["requests"] == {"cpu": "64", "memory": "128Gi"}
    assert all(t["retryStrategy"]["limit"] == 3 for t in pods if "dpdriver" in t["script"]["source"])
    assert all(t["script"]["command"] == ["python3"] for t in pods if "dpdriver" in t["script"]["source"])
    # the rounds recurse: the rounds template calls itself when advance does not say stop
    rounds = templates_by_name(body)["rounds"]
    calls = [s for group in rounds["steps"] for s in group]
    assert any(s["template"] == "rounds" and "stop" in s.get("when", "") for s in calls)
    assert "stop_reason" in {p["name"] for p in rounds["outputs"]["parameters"]}
    # stage steps get the config's sections they read; the steps that plan or judge across stages get all of it
    given = {t["name"].split("-")[0]: {p["name"] for p in t["inputs"].get("parameters", [])} for t in pods}
    assert {"training", "element", "seed"} <= given["train"] and "config" not in given["train"]
    assert given["explore"] >= {"element", "initial_data", "plan"} and "training" not in given["explore"]
    assert {"element", "labeler"} <= given["label"] and not given["label"] & {"config", "training", "exploration"}
    assert "config" in given["advance"] and "config" in given["export"]


def test_no_credential_in_the_workflow_that_is_submitted(monkeypatch):

    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    config = parse_config(CONFIG)
    credentials = load_credentials(config.execution.argo)
    assert set(credentials.values()) == set(SECRETS.values())
    text = json.dumps(workflow_for_submit(config, credentials).to_dict())
    assert not [v for v in SECRETS.values() if v in text]
    assert '"token": null' in text.replace('\\"', '"')  # dflow's config is in every script, without the token


def test_credentials_in_the_config_are_refused_with_the_line(cli, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(CONFIG.replace("    retries: 3\n", "    retries: 3\n    token: abc\n"))
    result = cli("render", config, "-o", tmp_path / "wf.yaml")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "c.yaml:24: 'execution.argo.token' looks like a credential" in result.stderr
    assert not (tmp_path / "wf.yaml").exists()


def test_credentials_file_must_be_private(tmp_path):

    secret = tmp_path / "argo-credentials.yaml"
    secret.write_text("token: tok\ns3_access_key: ak\ns3_secret_key: sk\n")
    secret.chmod(0o644)
    argo = parse_config(
        CONFIG.replace("    retries: 3\n", f"    retries: 3\n    credentials_file: {secret}\n")
    ).execution.argo
    with pytest.raises(UserError, match="chmod 600"):
        load_credentials(argo)
    secret.chmod(0o600)
    assert load_credentials(argo)["token"] == "tok"


def test_submit_without_token_or_server_is_one_line(cli, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(CONFIG)
    env = {k: "" for k in SECRETS}
    no_token = cli("submit", config, "--workdir", tmp_path / "run", env=env)
    assert no_token.returncode == 2 and "no Argo token: set DPDRIVER_ARGO_TOKEN" in no_token.stderr
    unreachable = cli("submit", config, "--workdir", tmp_path / "run", env=SECRETS, timeout=300)
    assert unreachable.returncode == 2 and len(unreachable.stderr.strip().splitlines()) == 1, unreachable.stderr
    assert "could not submit to Argo at https://127.0.0.1:9" in unreachable.stderr
    assert not [v for v in SECRETS.values() if v in unreachable.stderr + unreachable.stdout]


@pytest.mark.slow
def test_the_argo_workflow_runs_in_debug_mode_and_downloads_like_a_local_run(cli, tmp_path):

    config = tmp_path / "c.yaml"
    config.write_text(CONFIG)
    run_dir = tmp_path / "run"
    submitted = cli("submit", config, "--local", "--workdir", run_dir)
    assert submitted.returncode == 0, submitted.stderr[-2000:]
    watched = cli("watch", run_dir, "--interval", "1")
    assert watched.returncode == 0 and "Succeeded" in watched.stdout
    assert "round 0 (warm): accurate ratio" in watched.stdout and "round 1 (hot): accurate ratio" in watched.stdout
    downloaded = cli("download", run_dir)
    assert downloaded.returncode == 0, downloaded.stderr
    records = [json.loads((run_dir / f"rounds/round.{r:03d}/round.json").read_text()) for r in range(2)]
    assert records[0]["frames_trained_on"] == 9 == count_frames(run_dir / "data/init")
    assert (
        count_frames(run_dir / "data") == 9 + sum(r["frames_added"] for r in records) and records[0]["frames_added"] > 0
    )
    # the recursion moved to the next stage, with its own fan-out of MD tasks (2 temperatures)
    assert [r["stage"]["name"] for r in records] == ["warm", "hot"]
    assert [len(r["selection"]["tasks"]) for r in records] == [1, 2]
    assert all(r["validation"]["frames"] == 2 * 4 for r in records)  # the held-out set (4 families), labeled once
    assert all(r["validation"]["properties"]["checked"] > 10 for r in records)  # the convergence gate ran
    assert (run_dir / "export/compressed_model.pb").stat().st_size > 0
    summary = json.loads((run_dir / "export/summary.json").read_text())
    assert summary["stop_reason"] == "round limit (2) reached" and summary["rounds"] == records
    status = cli("status", run_dir)
    assert status.returncode == 0 and "nan" not in status.stdout.lower() and "round limit" in status.stdout

    # resubmission reuses every finished step (dflow reuse_step, as on Argo): nothing trains, explores or labels again
    resumed = cli("submit", config, "--local", "--resume", "--workdir", run_dir)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "submitted workflow dpdriver-loop-2, reusing" in resumed.stdout
    assert json.loads((run_dir / "argo.json").read_text())["steps_reused"] >= 20
    assert not list((run_dir / "dflow/dpdriver-loop-2").rglob("lcurve.out"))
    assert not list((run_dir / "dflow/dpdriver-loop-2").rglob("model_devi.out"))
    assert cli("watch", run_dir, "--interval", "1").returncode == 0 and cli("download", run_dir).returncode == 0
    assert [json.loads((run_dir / f"rounds/round.{r:03d}/round.json").read_text()) for r in range(2)] == records


def test_a_stage_runs_through_dpdispatcher_local_shell(tmp_path, monkeypatch):

    monkeypatch.chdir(tmp_path)
    # few, large tasks: each step through the queue waits at least one poll
    base = CONFIG.split("execution:")[0].replace(
        "validation: {test_structures: 2}", "validation: {test_structures: 1, families: [rattled]}"
    )
    base = base.replace("structures_per_task: 4", "structures_per_task: 5")
    config = parse_config(
        base
        + f"""execution:
  dispatcher:
    stages: [label]
    machine: {{batch_type: Shell, context_type: LocalContext, local_root: ., remote_root: {tmp_path / "queue"}}}
    resources: {{number_node: 1, cpu_per_node: 1, group_size: 1}}
    poll_interval_s: 1
"""
    )
    configure_local(tmp_path / "run" / "dflow", workers=2)
    Runner(config, tmp_path / "run", echo=lambda line: None).initial_data()
    assert count_frames(tmp_path / "run/data/init") == 9
    logs = sorted((tmp_path / "run/dflow/init").glob("label-*/log.txt"))
    assert len(logs) == 1  # the fan-out is one submission on the queue ...
    assert logs[0].read_text().count("was submitted; job_id is") == 2  # ... of 2 jobs: 9 structures, 5 per task
