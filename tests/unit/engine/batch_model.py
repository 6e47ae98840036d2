"""A small real convolutional ONNX model whose batch dimension is dynamic (or fixed), with a
YOLO-shaped output: what micro-batching needs and the shipped models (fixed batch 1) lack."""

from __future__ import annotations

from pathlib import Path

import numpy as np

SIZE = 64  # input width and height
_HIDDEN = 32
_OUTPUTS = 84  # 4 box values and 80 class scores, as the yolo decoder reads them


def build_batch_model(path: Path, batch: int | str = "N") -> Path:
    """Write the model to `path`: images [batch,3,64,64] -> "boxes" [batch,84,64] and
    "pooled" [batch,32]; `batch` a name for a dynamic dimension, or a fixed size."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weights = {
        "w1": rng.normal(0, 0.2, (_HIDDEN, 3, 3, 3)),
        "w2": rng.normal(0, 0.05, (_OUTPUTS, _HIDDEN, 8, 8)),
        "shape": np.array([0, _OUTPUTS, -1]),
    }
    initializers = [
        numpy_helper.from_array(value.astype(np.int64 if key == "shape" else np.float32), key)
        for key, value in weights.items()
    ]
    nodes = [
        helper.make_node("Conv", ["images", "w1"], ["hidden"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["hidden"], ["active"]),
        helper.make_node("Conv", ["active", "w2"], ["grid"], strides=[8, 8]),
        helper.make_node("Reshape", ["grid", "shape"], ["boxes"]),
        helper.make_node("ReduceMean", ["active"], ["pooled"], axes=[2, 3], keepdims=0),
    ]
    cells = (SIZE // 8) ** 2
    graph = helper.make_graph(
        nodes,
        "batch",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [batch, 3, SIZE, SIZE])],
        [
            helper.make_tensor_value_info("boxes", TensorProto.FLOAT, [batch, _OUTPUTS, cells]),
            helper.make_tensor_value_info("pooled", TensorProto.FLOAT, [batch, _HIDDEN]),
        ],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path
