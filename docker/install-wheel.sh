#!/bin/sh
# Install the coral-serve wheel from DIST into a new virtual environment VENV, then check
# that every dependency it declares is satisfied and that the CLI starts.
# docker/Dockerfile and docker/Dockerfile.rknn run this, and so does
# tests/integration/test_wheel_install.py, so CI checks what the images install.
#
# usage: install-wheel.sh [--deps-from SITE_PACKAGES] VENV DIST [REQUIREMENT...]
#   REQUIREMENT       more packages, resolved together with the wheel's own dependencies
#   --deps-from DIR   take the dependencies from DIR, another environment's site-packages,
#                     instead of the package index: nothing is downloaded, and coral_serve
#                     itself still comes only from the wheel (the test uses this)
set -eu
deps_from=
if [ "${1:-}" = "--deps-from" ]; then
    deps_from=$2
    shift 2
fi
venv=$1
dist=$2
shift 2
set -- "$dist"/coral_serve-*.whl "$@"
if [ ! -f "$1" ]; then
    echo "install-wheel.sh: no coral_serve wheel in $dist" >&2
    exit 1
fi

"${PYTHON:-python3}" -m venv "$venv"
pip() { "$venv/bin/python" -m pip --disable-pip-version-check "$@"; }
if [ -n "$deps_from" ]; then
    pip install --no-cache-dir --no-deps "$@"
    site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
    echo "$deps_from" >"$site/_coral_deps.pth"
else
    pip install --no-cache-dir "$@"
fi
pip check
"$venv/bin/coral-runtime" --version
