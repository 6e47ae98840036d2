"""Model files and class-name files a request names stay inside `pipelines.models.roots`:
resolved through symlinks, refused with one answer whether they exist or not, never read
back, and bounded regular files; the worker checks again where it reads them."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from coral_serve.engine.model_files import ModelFiles
from coral_serve.schema.spec import PipelineSpec
from coral_serve.workers.local import LocalWorkerPool
from tests.conftest import shared_file
from tests.unit.waiting import eventually
from tests.unit.webapp import make_config, running_app

API = "/api/v1/pipelines"


@pytest.fixture
def video() -> Path:
    return shared_file("media", "vtest-10s.mp4")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """The only model root: a copy of the real model (a link would resolve out of it)."""
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(shared_file("models", "nanodet-g-416.onnx"), models / "nanodet.onnx")
    return models


@pytest.fixture
async def client(tmp_path: Path, video: Path, root: Path) -> AsyncIterator[httpx.AsyncClient]:
    config = make_config(
        tmp_path / "data",
        f"pipelines.sources.file_roots=[{video.parent}]",
        f"pipelines.models.roots=[{root}]",
    )
    async with running_app(config) as (api, _):
        yield api


def spec(video: Path, name: str = "p", **model: Any) -> dict[str, Any]:
    return {
        "name": name,
        "source": {"uri": str(video), "loop": True},
        "model": {"decoder": "nanodet", **model},
    }


async def refused(client: httpx.AsyncClient, body: dict[str, Any]) -> str:
    """The 422's detail; nothing was stored."""
    response = await client.post(API, json=body)
    assert response.status_code == 422, response.text
    assert (await client.get(API)).json() == []
    return response.json()["detail"]


async def test_outside_the_roots_one_answer_whether_the_file_exists_or_not(
    client: httpx.AsyncClient, video: Path
) -> None:
    existing = await refused(client, spec(video, path="/etc/hostname"))
    missing = await refused(client, spec(video, path="/nonexistent"))
    assert "model.path" in existing and "pipelines.models.roots" in existing
    assert existing.replace("/etc/hostname", "PATH") == missing.replace("/nonexistent", "PATH")


async def test_a_symlink_in_a_root_that_leaves_it_is_refused(
    client: httpx.AsyncClient, video: Path, root: Path
) -> None:
    outside = shared_file("models", "nanodet-g-416.onnx")  # a loadable model, but not ours
    (root / "link.onnx").symlink_to(outside)
    detail = await refused(client, spec(video, path=str(root / "link.onnx")))
    assert "model.path" in detail and "outside the allowed roots" in detail


@pytest.mark.parametrize("names", ["/etc/passwd", "eighty"])
async def test_classes_outside_the_roots_are_refused_unread(
    client: httpx.AsyncClient, video: Path, root: Path, tmp_path: Path, names: str
) -> None:
    if names == "eighty":  # as many lines as the model has classes: once its labels
        names_file = tmp_path / "elsewhere.txt"
        names_file.write_text("".join(f"secret-line-{i}\n" for i in range(80)))
        names = str(names_file)
    lines = Path(names).read_text().splitlines()
    detail = await refused(client, spec(video, path=str(root / "nanodet.onnx"), classes=names))
    assert "model.classes" in detail and "outside the allowed roots" in detail
    assert not any(line.strip() and line in detail for line in lines)
    assert str(len(lines)) not in detail


async def test_a_model_and_names_inside_a_root_run(
    client: httpx.AsyncClient, video: Path, root: Path
) -> None:
    names = root / "names.txt"
    names.write_text("".join(f"label-{i}\n" for i in range(80)))
    body = spec(video, path=str(root / "nanodet.onnx"), classes=str(names))
    response = await client.post(API, json=body)
    assert response.status_code == 201, response.text
    pipeline_id = response.json()["id"]

    async def state() -> str:
        return (await client.get(f"{API}/{pipeline_id}/status")).json()["state"]

    assert await eventually(state, lambda s: s in {"running", "failed"}) == "running"


async def test_a_model_file_that_is_not_regular_is_refused_without_reading_it(
    client: httpx.AsyncClient, video: Path, root: Path
) -> None:
    fifo = root / "model.fifo"
    os.mkfifo(fifo)  # opening it would wait for a writer that never comes
    detail = await refused(client, spec(video, path=str(fifo)))
    assert "model.path" in detail and "not a regular file" in detail


async def test_a_model_file_over_the_size_limit_is_refused(
    tmp_path: Path, video: Path, root: Path
) -> None:
    config = make_config(
        tmp_path / "data",
        f"pipelines.sources.file_roots=[{video.parent}]",
        f"pipelines.models.roots=[{root}]",
        "pipelines.models.max_file_bytes=1000",
    )
    async with running_app(config) as (client, _):
        detail = await refused(client, spec(video, path=str(root / "nanodet.onnx")))
    assert "model.path" in detail and "larger than 1000 bytes" in detail


async def test_the_worker_checks_again_where_it_reads_the_model(
    video: Path, root: Path, tmp_path: Path
) -> None:
    """A spec that reaches a worker without the service's check (another replica, a stored
    row) still cannot load a model outside the roots the pool was given."""
    outside = tmp_path / "outside.onnx"
    shutil.copy(root / "nanodet.onnx", outside)
    pool = LocalWorkerPool(model_files=ModelFiles((str(root),)))
    await pool.start("w1", PipelineSpec.model_validate(spec(video, path=str(outside))), 1)
    try:
        status = await eventually(
            lambda: pool.call("w1", "status"), lambda s: s["state"] in {"running", "failed"}
        )
    finally:
        await pool.kill("w1")
    assert status["state"] == "failed"
    assert "model.path" in status["reason"] and "outside the allowed roots" in status["reason"]


async def test_the_data_dirs_own_files_are_not_model_files(
    client: httpx.AsyncClient, video: Path, root: Path, tmp_path: Path
) -> None:
    """The store and the URL-signing key live in the data dir: never a model or a label list
    (only `<data_dir>/models` is always a model root)."""
    data = tmp_path / "data"
    assert (data / "coral.db").is_file()
    model = str(root / "nanodet.onnx")
    for name in ("coral.db", "url-signing.key"):
        detail = await refused(client, spec(video, path=model, classes=str(data / name)))
        assert "model.classes" in detail and "pipelines.models.roots" in detail
    (data / "models").mkdir()
    shutil.copy(model, data / "models" / "own.onnx")
    created = await client.post(API, json=spec(video, path=str(data / "models" / "own.onnx")))
    assert created.status_code == 201, created.text
