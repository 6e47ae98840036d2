"""Models are checked where the pipeline runs: a create waits for that check while a node has
room (a broken model is a 422, as on one box), and otherwise answers `pending`, names the
resources it waits for, and checks the model once they are free: it runs, or fails with the
reason, once, without retrying. Real store, real workers, the real NanoDet model."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from coral_serve.engine.model_files import ModelFiles
from coral_serve.errors import InvalidRequestError
from coral_serve.schema.spec import PipelineSpec
from coral_serve.schema.views import PipelineView
from coral_serve.services.pipeline import PipelineService
from coral_serve.workers.local import LocalWorkerPool
from tests.conftest import shared_file
from tests.unit.waiting import eventually
from tests.unit.webapp import make_config

NANODET = shared_file("models", "nanodet-g-416.onnx")
VIDEO = shared_file("media", "vtest-10s.mp4")


class FullNodePool(LocalWorkerPool):
    """The in-process pool as a cluster whose only NPU node is busy until `room` is set: the
    model check queues for it, as a Ray task asking for {NPU: 1} does."""

    def __init__(self, model_files: ModelFiles) -> None:
        super().__init__(model_files=model_files)
        self.room = asyncio.Event()
        self.checks = 0
        self.passes = 0

    async def has_room(self, spec: PipelineSpec) -> bool:
        return self.room.is_set()

    async def check_model(self, spec: PipelineSpec) -> str | None:
        await self.room.wait()
        self.checks += 1
        return await super().check_model(spec)

    async def live(self) -> set[str]:
        self.passes += 1  # every reconcile pass starts by listing the workers
        return await super().live()


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[tuple[PipelineService, FullNodePool]]:
    config = make_config(
        tmp_path,
        f"pipelines.sources.file_roots=[{VIDEO.parent}]",
        "pipelines.reconcile_interval=0.05",
    )
    pool = FullNodePool(ModelFiles.allowed_by(config.pipelines.models, config.pipelines.data_dir))
    pipelines = PipelineService(config, pool)
    await pipelines.start()
    try:
        yield pipelines, pool
    finally:
        pool.room.set()
        await pipelines.stop()
        for pipeline_id in await pool.live():
            await pool.kill(pipeline_id)


def npu_spec(name: str, model: Path) -> PipelineSpec:
    return PipelineSpec.model_validate(
        {
            "name": name,
            "source": {"uri": str(VIDEO), "loop": True},
            "model": {"path": str(model), "decoder": "nanodet", "threads": 1},
            "resources": {"num_cpus": 0, "custom": {"NPU": 1}},
        }
    )


async def state(service: PipelineService, pipeline_id: str) -> PipelineView:
    return await service.get(pipeline_id)


async def test_without_room_a_create_is_pending_and_runs_once_its_model_passes_there(
    service: tuple[PipelineService, FullNodePool], tmp_path: Path
) -> None:
    pipelines, pool = service
    # The file exists only where the pipeline will run, not yet here: not refused.
    model = tmp_path / "models" / "nanodet.onnx"
    created = await pipelines.create(npu_spec("npu", model))
    assert created.status.state == "pending"
    assert created.status.reason == "waiting for a node with free NPU 1 to check its model"
    assert pool.checks == 0 and await pool.live() == set()

    model.parent.mkdir()
    shutil.copyfile(NANODET, model)
    pool.room.set()
    view = await eventually(
        lambda: state(pipelines, created.id), lambda v: v.status.state == "running", timeout=60
    )
    assert view.status.reason is None and pool.checks == 1


async def test_a_model_that_fails_its_check_there_fails_with_the_reason_and_is_not_retried(
    service: tuple[PipelineService, FullNodePool], tmp_path: Path
) -> None:
    pipelines, pool = service
    garbage = tmp_path / "models" / "garbage.onnx"
    garbage.parent.mkdir()
    garbage.write_bytes(b"not a model at all")
    created = await pipelines.create(npu_spec("broken", garbage))
    assert created.status.state == "pending"

    pool.room.set()
    view = await eventually(
        lambda: state(pipelines, created.id), lambda v: v.status.state == "failed"
    )
    assert view.status.reason is not None and view.status.reason.startswith("model: ")
    seen = pool.passes
    await eventually(lambda: asyncio.sleep(0, pool.passes), lambda n: n >= seen + 3)
    assert pool.checks == 1 and await pool.live() == set()
    failures = [e for e in await pipelines.events(created.id) if e.kind == "failed"]
    assert [e.detail for e in failures] == [view.status.reason]
    assert (await state(pipelines, created.id)).status.state == "failed"


async def test_with_room_a_broken_model_is_refused_at_once_and_nothing_is_stored(
    service: tuple[PipelineService, FullNodePool], tmp_path: Path
) -> None:
    pipelines, pool = service
    pool.room.set()
    garbage = tmp_path / "models" / "garbage.onnx"
    garbage.parent.mkdir()
    garbage.write_bytes(b"not a model at all")
    with pytest.raises(InvalidRequestError, match=r"^model: "):
        await pipelines.create(npu_spec("broken", garbage))
    assert await pipelines.list() == [] and pool.checks == 1

    # Outside the model roots it never gets as far as a check, room or not.
    with pytest.raises(InvalidRequestError, match="outside the allowed roots"):
        await pipelines.create(npu_spec("outside", tmp_path / "elsewhere.onnx"))
    assert pool.checks == 1
