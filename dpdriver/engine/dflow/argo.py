"""The run on Argo Workflows: credentials from the environment or a file (never the config), a
manifest rendered without a cluster, submission, and reading a submitted run back."""

from __future__ import annotations

import json
import logging
import os
import shutil
import stat
from pathlib import Path

import yaml
from dflow import Workflow, download_artifact, s3_config, upload_artifact
from dflow import config as dflow_config
from dflow.utils import StorageClient

from ...config import RunConfig
from ...errors import UserError, one_line
from ...files import write_atomically
from ...rundir import RunDir, recorded_config
from .dispatch import local_workers

CREDENTIAL_ENV = {
    "token": "DPDRIVER_ARGO_TOKEN",
    "s3_access_key": "DPDRIVER_S3_ACCESS_KEY",
    "s3_secret_key": "DPDRIVER_S3_SECRET_KEY",
}


def load_credentials(argo) -> dict[str, str]:
    """From the environment first, then the credentials file; missing ones stay unset."""
    found: dict[str, str] = {}
    if argo.credentials_file:
        path = Path(argo.credentials_file).expanduser()
        if not path.is_file():
            raise UserError(
                f"execution.argo.credentials_file '{path}' not found; create it (YAML: token, s3_access_key, "
                "s3_secret_key) or use the DPDRIVER_* environment variables"
            )
        if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise UserError(f"credentials file '{path}' can be read by others; run: chmod 600 {path}")
        content = yaml.safe_load(path.read_text()) or {}
        unknown = set(content) - set(CREDENTIAL_ENV)
        if unknown:
            raise UserError(
                f"credentials file '{path}': unknown key(s) {', '.join(sorted(unknown))}; "
                f"valid: {', '.join(CREDENTIAL_ENV)}"
            )
        found.update({k: str(v) for k, v in content.items()})
    found.update({k: os.environ[v] for k, v in CREDENTIAL_ENV.items() if os.environ.get(v)})
    return found


class NoUpload(StorageClient):
    """Rendering needs no object store: artifacts keep their local names as placeholder keys."""

    def upload(self, key, path):
        return key

    def download(self, key, path):
        raise UserError("a rendered manifest has no artifacts to download; use `dpdriver submit`")

    def list(self, prefix, recursive=False):
        return []

    def copy(self, src, dst):
        return None

    def get_md5(self, key):
        return ""

    def to_dict(self):
        return {}


def configure_argo(config: RunConfig, credentials: dict[str, str] | None) -> None:
    """Point dflow at the cluster; with credentials None, at nothing (render only).

    dflow copies its global config into every step's script, so the token and the S3 keys are set
    only around the calls that need them (upload, submit), never while templates are built."""
    argo = config.execution.argo
    dflow_config.update(mode="default", host=argo.host, namespace=argo.namespace, token=None)
    s3_config.update(
        endpoint=argo.s3_endpoint,
        bucket_name=argo.s3_bucket,
        secure=argo.s3_secure,
        access_key=None,
        secret_key=None,
        storage_client=NoUpload() if credentials is None else None,
    )


def _with_credentials(credentials: dict[str, str], call):
    dflow_config["token"] = credentials.get("token")
    s3_config.update(access_key=credentials.get("s3_access_key"), secret_key=credentials.get("s3_secret_key"))
    try:
        return call()
    finally:
        dflow_config["token"] = None
        s3_config.update(access_key=None, secret_key=None)


def workflow_for_submit(config: RunConfig, credentials: dict[str, str]):
    """The loop workflow with the given data uploaded, built while no credential is in dflow's config."""
    from .build import loop_workflow  # the OPs import every stage: download and status do without them

    configure_argo(config, credentials)
    given = [str(Path(d)) for d in config.initial_data.data_dirs]
    uploaded = _with_credentials(credentials, lambda: upload_artifact(given)) if given else None
    return loop_workflow(config, on_argo=True, given=uploaded)


def manifest(config: RunConfig) -> dict:
    """The Argo Workflow resource, as `kubectl create -f` takes it."""
    from .build import loop_workflow

    configure_argo(config, None)
    wf = loop_workflow(config, on_argo=True)
    body = wf.to_dict()
    body.pop("status", None)
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", **body}


def render(config: RunConfig, out: Path) -> dict:
    body = manifest(config)
    Path(out).write_text(yaml.safe_dump(body, sort_keys=False))
    return body


def reusable_steps(run_dir: Path) -> list:
    """The succeeded steps of the run's earlier submission: a resubmission reuses them instead of running them
    again (dflow's reuse_step, on Argo and in debug mode alike)."""
    submitted = RunDir(run_dir).submitted
    if not submitted.exists():
        raise UserError(
            f"'{run_dir}' holds no earlier submission to resume ({submitted.name} missing); submit without --resume"
        )
    wf, _ = _reopen(run_dir)
    try:
        return [step for step in wf.query_step() if getattr(step, "key", None) and step.phase == "Succeeded"]
    except Exception as exc:
        raise UserError(f"could not read the earlier workflow of {run_dir}: {one_line(exc)}") from None


def _submission_record(run_dir: Path, record: dict, reused: list | None) -> None:
    if reused is not None:
        record["resumed_from"] = json.loads(RunDir(run_dir).submitted.read_text())["workflow"]
        record["steps_reused"] = len(reused)
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    RunDir(run_dir).submitted.write_text(json.dumps(record, indent=2))


def submit(config: RunConfig, run_dir: Path, resume: bool = False) -> str:
    """Submit the run's workflow; record where it is in run_dir for status, watch and download."""
    reused = reusable_steps(run_dir) if resume else None
    credentials = load_credentials(config.execution.argo)
    if "token" not in credentials:
        raise UserError(f"no Argo token: set {CREDENTIAL_ENV['token']} or execution.argo.credentials_file")
    for name in ("urllib3", "urllib3.connectionpool"):  # their retry warnings would bury the one-line error
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        wf = workflow_for_submit(config, credentials)
        _with_credentials(credentials, lambda: wf.submit(reuse_step=reused))
    except UserError:
        raise
    except Exception as exc:  # connection refused, TLS, 401/403 from the server
        raise UserError(
            f"could not submit to Argo at {config.execution.argo.host}: {one_line(exc)}; "
            "check execution.argo.host, the S3 settings and the token"
        ) from None
    _submission_record(
        run_dir,
        {"workflow": wf.id, "host": config.execution.argo.host, "namespace": config.execution.argo.namespace},
        reused,
    )
    return wf.id


def submit_local(config: RunConfig, run_dir: Path, resume: bool = False) -> str:
    """The same workflow in dflow's debug mode, in the foreground: how it is tested without a cluster.
    A resubmission is a new workflow that reuses the earlier one's succeeded steps, as on Argo."""
    from .build import loop_workflow
    from .local import configure_local, submit_debug

    reused = reusable_steps(run_dir) if resume else None
    attempt = 1 + (json.loads(RunDir(run_dir).submitted.read_text()).get("attempt", 1) if resume else 0)
    dirs = RunDir(run_dir)
    configure_local(dirs.workflows, workers=local_workers(config))
    wf = loop_workflow(config, on_argo=False, name="dpdriver-loop" + (f"-{attempt}" if attempt > 1 else ""))
    submit_debug(wf, dirs.log, reuse_step=reused)
    _submission_record(
        run_dir,
        {"workflow": wf.id, "mode": "debug", "attempt": attempt, "debug_workdir": str(dirs.workflows.resolve())},
        reused,
    )
    return wf.id


def _reopen(run_dir: Path):
    """The submitted workflow of run_dir, through the dflow API (Argo, or debug mode for --local)."""

    path = RunDir(run_dir).submitted
    if not path.exists():
        raise UserError(
            f"'{run_dir}' holds no submitted run ({path.name} missing); give the --workdir of `dpdriver submit`"
        )
    record = json.loads(path.read_text())
    if record.get("mode") == "debug":
        dflow_config.update(mode="debug", debug_workdir=record["debug_workdir"])
        return Workflow(id=record["workflow"]), record

    config = recorded_config(run_dir)
    configure_argo(config, {})
    dflow_config["token"] = load_credentials(config.execution.argo).get("token")
    return Workflow(id=record["workflow"]), record


def _artifact_path(art, into: Path) -> Path:
    """A step's output artifact as a local folder (downloaded from S3 on Argo)."""
    if getattr(art, "local_path", None):
        return Path(art.local_path)

    return Path(download_artifact(art, path=str(into))[0])


def _finished_advances(wf) -> list:
    return sorted(
        (
            s
            for s in wf.query_step()
            if str(getattr(s, "key", "") or "").startswith("advance-r") and s.phase == "Succeeded"
        ),
        key=lambda s: s.key,
    )


def _history(advance) -> list[dict]:
    return [r.recover() if hasattr(r, "recover") else r for r in advance.outputs.parameters["history"].value]


def workflow_progress(run_dir: Path) -> tuple[str, list[dict]]:
    """The workflow's phase and the records of its finished rounds (from the last `advance` step)."""
    wf, _ = _reopen(run_dir)
    try:
        phase = wf.query_status()
        advances = _finished_advances(wf)
    except Exception as exc:
        raise UserError(f"could not reach the workflow of {run_dir}: {one_line(exc)}") from None
    return phase, (_history(advances[-1]) if advances else [])


def download(run_dir: Path) -> dict:
    """Data, round records and the export of a submitted run, into the local run layout."""

    run_dir, dirs = Path(run_dir), RunDir(run_dir)
    wf, _ = _reopen(run_dir)
    advances = _finished_advances(wf)
    fetched = {"rounds": 0, "export": False}
    if advances:
        last = advances[-1]
        history = _history(last)
        for record in history:
            path = dirs.round_record(record["round"])
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(path, json.dumps(record, indent=2))
        fetched["rounds"] = len(history)
        data = _artifact_path(last.outputs.artifacts["data"], dirs.downloads)
        data = data / "data" if (data / "data").is_dir() else data
        shutil.copytree(data, dirs.data, dirs_exist_ok=True)
    exports = [s for s in wf.query_step(key="export") if s.phase == "Succeeded"]
    if exports:
        export = _artifact_path(exports[0].outputs.artifacts["export"], dirs.downloads)
        export = export / "export" if (export / "export").is_dir() else export
        shutil.copytree(export, dirs.export, dirs_exist_ok=True)
        fetched["export"] = True
    return fetched
