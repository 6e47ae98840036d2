"""`python -m coral_serve [group=option] [a.b=value] ...`: Hydra-style overrides, then run.

Overrides use Hydra's syntax and its compose API, so nothing is written to `outputs/` and
the working directory never changes. `streams.webrtc=turn` selects a group option just like
`streams/webrtc=turn`.
"""

from __future__ import annotations

import sys

from coral_serve.cli import exit_on_config_error
from coral_serve.config import ConfigSources, load_config

_USAGE = """usage: python -m coral_serve [OVERRIDE ...]

Start the coral_serve control plane. Each OVERRIDE is `group=option` (web=prod,
streams/webrtc=turn, monitoring=prometheus, deploy=cluster) or `key=value` (http.port=9100).
CORAL_* environment variables apply beneath the overrides. See `coral-runtime --help`.
"""


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if any(arg in ("-h", "--help") for arg in args):
        print(_USAGE, end="")
        return
    with exit_on_config_error():
        config = load_config(ConfigSources(overrides=args))
        config.check_startable()
        # Ray is imported only once the descriptor is known to be good.
        from coral_serve.serving.lifecycle import run_forever

        run_forever(config)  # a taken http.port is a problem of the descriptor too


if __name__ == "__main__":
    main()
