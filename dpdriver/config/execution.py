"""Execution: where steps run (local, Argo, a queue through dpdispatcher) and with what resources."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import (
    Field,
    model_validator,
)

from .base import (
    AtError,
    Strict,
)

# a workflow step's kind
StepKind = Literal["generate", "train", "validate", "explore", "select", "label", "advance", "production", "export"]


class StepResources(Strict):
    """Kubernetes requests for one stage's pods (e.g. cpu: "4", memory: 8Gi, gpu: 1) and its image."""

    cpu: Optional[str] = None
    memory: Optional[str] = None
    gpu: int = Field(0, ge=0)
    image: Optional[str] = None  # default: execution.argo.image


class ArgoConfig(Strict):
    """Where `dpdriver submit` sends the workflow. Credentials (token, S3 keys) are never read from here:
    DPDRIVER_ARGO_TOKEN, DPDRIVER_S3_ACCESS_KEY, DPDRIVER_S3_SECRET_KEY, or credentials_file."""

    host: str = "https://127.0.0.1:2746"
    namespace: str = "argo"
    image: str = "dpdriver:0.1.0"  # an image with dpdriver and its stack installed
    python: str = "python3"  # the interpreter in the image
    s3_endpoint: str = "127.0.0.1:9000"
    s3_bucket: str = "my-bucket"
    s3_secure: bool = False
    credentials_file: Optional[str] = None  # YAML with token, s3_access_key, s3_secret_key; must be chmod 600
    parallelism: Optional[int] = Field(None, ge=1)  # pods at once
    retries: int = Field(2, ge=0)  # per pod, on failure or error (a node lost, an OOM kill)
    steps: dict[StepKind, StepResources] = Field(default_factory=dict)


class DispatcherConfig(Strict):
    """Stages sent to an HPC queue by dpdispatcher (Slurm, PBS, LSF or a local shell), locally or from Argo.
    A job that fails, is cancelled or runs out of time stops the run with its job id and reason, and the same
    command resumes (machine.retry_count > 0 resubmits it first); a killed runner's jobs are reused, not repeated."""

    stages: list[StepKind] = Field(default_factory=lambda: ["label"], min_length=1)
    machine: dict[str, Any]  # dpdispatcher machine: batch_type, context_type, remote_root, remote_profile
    resources: dict[str, Any] = Field(default_factory=dict)  # dpdispatcher resources: queue_name, cpu_per_node, ...
    stage_resources: dict[StepKind, dict[str, Any]] = Field(default_factory=dict)  # per stage, over `resources`
    poll_interval_s: float = Field(30.0, gt=0)  # how often a waiting step asks the queue (dpdispatcher's default)

    def machine_for_jobs(self) -> dict[str, Any]:
        """dpdispatcher resubmits a failed job 3 times by default; here a failure stops the run (rerun resumes)."""
        return {"retry_count": 0, **self.machine}

    def resources_for(self, stage: str) -> dict[str, Any]:
        return {**self.resources, **self.stage_resources.get(stage, {})}

    @model_validator(mode="after")
    def _local_root_absolute(self):
        """Each step runs in a folder of its own: a relative work folder would be a different one for each."""
        root = self.machine.get("remote_root")
        if self.machine.get("context_type") == "LocalContext" and root is not None and not Path(root).is_absolute():
            raise AtError(
                f"remote_root {root!r} must be an absolute path (a folder the compute nodes see too)",
                "machine",
                "remote_root",
            )
        return self

    @model_validator(mode="after")
    def _dpdispatcher_schema(self):
        """Both dicts against dpdispatcher's own argument schema, with what dflow fills in when a key is left out."""
        from dpdispatcher import Machine, Resources  # heavy, and only needed by the configs that use it

        machine = {
            "batch_type": "Slurm",
            "context_type": "SSHContext",
            "local_root": ".",
            "remote_root": ".",
            **self.machine_for_jobs(),
        }
        checks = [("machine", Machine.arginfo(), machine)]
        for stage in [None, *self.stage_resources]:
            resources = {
                "number_node": 1,
                "cpu_per_node": 1,
                "group_size": 1,
                **(self.resources if stage is None else self.resources_for(stage)),
                "batch_type": machine["batch_type"],
            }
            checks.append(
                ("resources" if stage is None else f"stage_resources.{stage}", Resources.arginfo(), resources)
            )
        for name, schema, value in checks:
            try:
                schema.check_value(value, strict=True)
            except Exception as exc:  # dargs raises its own key and value errors
                message = str(exc).replace("[at root location] ", "").replace("[at location `", "[at `")
                raise AtError(f"dpdispatcher refuses it: {message}", *name.split(".")) from None
        return self


class ExecutionConfig(Strict):
    argo: ArgoConfig = ArgoConfig()
    dispatcher: Optional[DispatcherConfig] = None
