"""The control-plane replicas of a cluster (PipelineService, MonitorService, EventService)
load neither OpenCV, PyAV nor NumPy: each would pay ~68 MiB and their import time at every
start for libraries only workers use."""

from __future__ import annotations

import json
import subprocess
import sys

# A fresh interpreter (this one has imported the engine already): the modules those replicas
# import, then the one engine call they make (the model's paths confined, its backend looked
# up by name), and what of the heavy libraries that loaded.
_PROBE = """
import json, sys
import coral_serve.services.pipeline, coral_serve.services.monitor, coral_serve.services.events
import coral_serve.services.media_agent
import coral_serve.workers.ray_hosts, coral_serve.workers.ray_pool, coral_serve.streams.recordings
import coral_serve.workers.host  # what the first create makes an actor of
from coral_serve.engine.model_files import ModelFiles, confine_model_paths
from coral_serve.schema.spec import ModelSpec
confine_model_paths(ModelSpec(path="model.onnx"), ModelFiles())
print(json.dumps(sorted(m for m in ("cv2", "av", "numpy") if m in sys.modules)))
"""


def test_control_plane_replicas_load_neither_opencv_pyav_nor_numpy() -> None:
    probe = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, check=False
    )
    assert probe.returncode == 0, probe.stderr
    assert json.loads(probe.stdout) == []
