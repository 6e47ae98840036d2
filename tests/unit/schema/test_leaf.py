"""The schema package is the leaf every layer imports: it must import nothing else of ours."""

from __future__ import annotations

import json
import subprocess
import sys

# Imports every module of coral_serve.schema in a fresh interpreter (this process has
# imported half the package already) and prints what of coral_serve that added beyond the
# package root, which every import of a submodule runs first.
_PROBE = """
import json, pkgutil, sys
import coral_serve
root = set(sys.modules)
import coral_serve.schema as schema
for module in pkgutil.iter_modules(schema.__path__, "coral_serve.schema."):
    __import__(module.name)
added = set(sys.modules) - root
print(json.dumps(sorted(name for name in added if name.startswith("coral_serve"))))
"""


def test_schema_imports_no_other_coral_serve_module() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], check=True, capture_output=True, text=True
    ).stdout
    added = json.loads(out)
    assert "coral_serve.schema.spec" in added  # the probe really imported the modules
    assert [name for name in added if not name.startswith("coral_serve.schema")] == []
