#!/bin/sh
# The images' entrypoint: serve the descriptor in $CORAL_CONFIG (default
# /app/config/runtime.yaml). CORAL_* variables reach it unchanged as the environment layer
# (CORAL_HTTP__PORT=9100), and options are passed on (`--set http.port=9100`, `--no-env`).
# A first argument that is not an option runs that command instead
# (`docker run --rm IMAGE coral-runtime config show`).
set -eu
case "${1:-}" in
"" | -*)
    exec coral-runtime web serve -c "${CORAL_CONFIG:-/app/config/runtime.yaml}" "$@"
    ;;
*)
    exec "$@"
    ;;
esac
