#!/bin/sh
# Build the coral-serve wheel, with conf/ and the UI inside it, from the source tree SRC into
# DIST. docker/Dockerfile runs this, and so does tests/integration/test_wheel_install.py.
#
# usage: build-wheel.sh SRC DIST
set -eu
"${PYTHON:-python3}" -m pip wheel --disable-pip-version-check --no-cache-dir --no-deps \
    --wheel-dir "$2" "$1"
