"""Pipeline records built the way the service builds them, for store-level tests."""

from __future__ import annotations

from coral_serve.schema.records import PipelineRecord
from coral_serve.schema.spec import PipelineSpec
from coral_serve.schema.state import DesiredState, Origin

__all__ = ["SPEC", "stored_record"]

SPEC = {"source": {"uri": "rtsp://127.0.0.1/x"}, "model": {"backend": "none"}}


def stored_record(n: int, spec: PipelineSpec | None = None) -> PipelineRecord:
    """Record `p<n>` named `cam-<n>`, API-created and running, with a minimal spec."""
    return PipelineRecord(
        id=f"p{n}",
        name=f"cam-{n}",
        spec=spec or PipelineSpec.model_validate({"name": f"cam-{n}", **SPEC}),
        desired_state=DesiredState.running,
        restart_policy="always",
        origin=Origin.api,
        generation=1,
        created=0,
        updated=0,
    )
