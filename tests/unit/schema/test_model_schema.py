"""The published JSON schema of a model spec says what validation says: path unless none."""

from __future__ import annotations

import jsonschema
import pytest

from coral_serve.schema.spec import ModelSpec


@pytest.mark.parametrize(
    ("model", "valid"),
    [
        ({"backend": "none"}, True),
        ({"path": "m.onnx"}, True),
        ({"backend": "rknn", "path": "m.rknn"}, True),
        ({}, False),  # the default backend is onnxruntime, which needs a file
        ({"backend": "rknn"}, False),
    ],
)
def test_json_schema_requires_path_unless_backend_is_none(model: dict, valid: bool) -> None:
    validator = jsonschema.Draft202012Validator(ModelSpec.model_json_schema())
    assert validator.is_valid(model) is valid
    try:
        ModelSpec.model_validate(model)
    except ValueError:
        assert not valid
    else:
        assert valid
