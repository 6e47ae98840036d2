"""PipelineSpec validation and credential masking."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from coral_serve.config import ConfigError, ConfigSources, load_config
from coral_serve.schema.redact import masked_text, masked_uri
from coral_serve.schema.spec import DecoderName, Pacing, PipelineSpec, RestartPolicy


def spec(**overrides: object) -> dict:
    data: dict = {
        "name": "cam-1",
        "source": {"uri": "rtsp://admin:hunter2@10.0.0.5:554/stream1"},
        "model": {"path": "model.onnx"},
    }
    data.update(overrides)
    return data


def test_defaults() -> None:
    parsed = PipelineSpec.model_validate(spec())
    assert parsed.source.pacing is Pacing.auto
    assert parsed.source.reconnect.max_attempts is None
    assert parsed.source.download is False
    assert parsed.model.backend == "onnxruntime"
    assert parsed.model.decoder is DecoderName.yolo
    assert parsed.model.providers == ["CPUExecutionProvider"]
    assert (parsed.model.confidence, parsed.model.iou, parsed.model.threads) == (0.35, 0.45, 1)
    assert parsed.outputs.results_buffer == 256 and parsed.outputs.jpeg_quality == 80
    assert parsed.restart_policy is None
    assert parsed.resources.num_cpus == 0.25 and parsed.resources.custom == {}


def test_full_spec_round_trips_through_json() -> None:
    parsed = PipelineSpec.model_validate(
        spec(
            source={
                "uri": "device://0",
                "max_fps": 5,
                "resize": [640, 480],
                "reconnect": {"initial_delay": 0.5, "max_delay": 4, "max_attempts": 3},
                "pacing": "realtime",
            },
            model={
                "backend": "rknn",
                "path": "m.rknn",
                "decoder": "yolo-nms",
                "classes": ["a", "b"],
                "input_size": [320, 256],
            },
            restart_policy="on-failure",
            resources={"num_cpus": 0, "custom": {"NPU": 1}},
            labels={"site": "gate"},
        )
    )
    assert parsed.source.resize == (640, 480)
    assert parsed.model.decoder is DecoderName.yolo_nms
    assert parsed.restart_policy is RestartPolicy.on_failure
    again = PipelineSpec.model_validate_json(parsed.model_dump_json())
    assert again == parsed


@pytest.mark.parametrize(
    ("overrides", "where"),
    [
        ({"name": "-bad"}, "name"),
        ({"name": "x" * 65}, "name"),
        ({"name": "has space"}, "name"),
        ({"extra": 1}, "extra"),
        ({"source": {"uri": "rtsp://h/x", "fps": 5}}, "fps"),
        ({"source": {"uri": "ftp://h/x.mp4"}}, "scheme"),
        ({"source": {"uri": "device://cam"}}, "camera index"),
        ({"source": {"uri": "rtsp://"}}, "host"),
        ({"source": {"uri": "a.mp4", "pacing": "fast"}}, "pacing"),
        ({"source": {"uri": "a.mp4", "reconnect": {"initial_delay": 5, "max_delay": 1}}}, "max"),
        ({"model": {"decoder": "nanodet"}}, "path is required"),
        ({"model": {"path": "m", "decoder": "ssd"}}, "decoder"),
        ({"model": {"path": "m", "confidence": 1.5}}, "confidence"),
        ({"model": {"path": "m", "threads": 0}}, "threads"),
        ({"model": {"path": "m", "classes": []}}, "classes"),
        ({"outputs": {"jpeg_quality": 0}}, "jpeg_quality"),
        ({"restart_policy": "sometimes"}, "restart_policy"),
        ({"resources": {"custom": {"NPU": -1}}}, "NPU"),
    ],
)
def test_rejects(overrides: dict, where: str) -> None:
    with pytest.raises(ValidationError) as info:
        PipelineSpec.model_validate(spec(**overrides))
    assert where in str(info.value)


def test_passthrough_needs_no_path_and_local_forms_are_accepted() -> None:
    for uri in ("0", "device://1", "/videos/a.mp4", "file:///videos/a.mp4", "https://h/a.mp4"):
        parsed = PipelineSpec.model_validate(spec(source={"uri": uri}, model={"backend": "none"}))
        assert parsed.model.passthrough


@pytest.mark.parametrize(
    ("uri", "masked"),
    [
        ("rtsp://admin:hunter2@10.0.0.5:554/s", "rtsp://***@10.0.0.5:554/s"),
        ("rtsps://user@cam.local/live", "rtsps://***@cam.local/live"),
        ("rtsp://u:p@ss:w@rd@h/x", "rtsp://***@h/x"),
        ("http://h/live.mjpg?user=a&password=b", "http://h/live.mjpg?user=a&password=***"),
        ("https://h/v.m3u8?token=abc#t", "https://h/v.m3u8?token=***#t"),
        ("rtsp://10.0.0.5/s", "rtsp://10.0.0.5/s"),
        ("/data/a@b.mp4", "/data/a@b.mp4"),
        ("0", "0"),
    ],
)
def test_masked_uri_hides_credentials(uri: str, masked: str) -> None:
    assert masked_uri(uri) == masked


def test_masked_text_and_public_dict_never_show_the_password() -> None:
    assert "hunter2" not in masked_text("open rtsp://admin:hunter2@h/x failed")
    parsed = PipelineSpec.model_validate(spec())
    public = parsed.public_dict()
    assert "hunter2" not in str(public) and "admin" not in str(public)
    assert public["source"]["uri"] == "rtsp://***@10.0.0.5:554/stream1"
    assert parsed.source.uri.endswith("@10.0.0.5:554/stream1")  # the real one stays usable


@pytest.mark.parametrize(
    "resources",
    [
        {"custom": {"NPU": float("nan")}},
        {"custom": {"NPU": float("inf")}},
        {"num_cpus": float("inf")},
        {"num_gpus": float("nan")},
        {"num_cpus": 1e400},
        {"num_cpus": 5000},
        {"num_gpus": 1000},
        {"custom": {"NPU": 1e9}},
    ],
)
def test_resources_must_be_finite_and_bounded(resources: dict) -> None:
    with pytest.raises(ValidationError) as info:
        PipelineSpec.model_validate(spec(resources=resources))
    assert info.value.errors()[0]["loc"][0] == "resources"


def test_non_finite_numbers_are_refused_in_every_section() -> None:
    source = {"uri": "a.mp4", "max_fps": float("inf")}
    with pytest.raises(ValidationError, match="finite number"):
        PipelineSpec.model_validate(spec(source=source))
    with pytest.raises(ValidationError, match="finite number"):
        PipelineSpec.model_validate_json(
            '{"name": "n", "source": {"uri": "a", "timeout": NaN}, "model": {"backend": "none"}}'
        )


def test_non_finite_number_in_the_descriptor_names_its_key() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(ConfigSources(sets=["pipelines.downloads.timeout=.inf"], environ={}))
    lines = [str(problem) for problem in caught.value.problems]
    assert any(line.startswith("pipelines.downloads.timeout:") for line in lines), lines


@pytest.mark.parametrize(
    "name",
    ["CPU", "GPU", "memory", "object_store_memory", "node:10.0.0.5", "accelerator_type:A100"],
)
def test_ray_reserved_resources_are_not_custom(name: str) -> None:
    with pytest.raises(ValidationError) as info:
        PipelineSpec.model_validate(spec(resources={"custom": {name: 1}}))
    assert "use num_cpus or num_gpus" in str(info.value)
