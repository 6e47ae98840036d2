#!/usr/bin/env bash
# The Ray-free test tier, run in a copy of this tree that holds only what git would commit
# (tracked and new, non-ignored files: nothing generated, nothing installed by hand) and sees
# nothing of ../shared but the files tests/skip_policy.py names as not redistributable.
# So one run shows both that the tier passes and that a fresh clone carries what it needs.
# Usage: scripts/unit-tier-in-snapshot.sh PYTHON [pytest args...]
set -euo pipefail
python="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"  # not resolved: a venv's python is a link
shift
repo=$(git rev-parse --show-toplevel)
shared=${CORAL_SHARED_DIR:-$repo/../shared}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A tree object of the working tree, made through a throwaway index: the real index and
# the working tree are left as they are.
index="$work/index"
cp "$repo/.git/index" "$index"
GIT_INDEX_FILE="$index" git -C "$repo" add --all
tree=$(GIT_INDEX_FILE="$index" git -C "$repo" write-tree)

snapshot="$work/work/coral_serve"
mkdir -p "$snapshot" "$work/work/shared"
git -C "$repo" archive "$tree" | tar -x -C "$snapshot"
git -C "$snapshot" init --quiet
git -C "$snapshot" add --all
git -C "$snapshot" -c user.name=snapshot -c user.email=snapshot@localhost commit --quiet -m snapshot

cd "$snapshot"
# This venv's Python, the snapshot's code first (the venv's install is editable and points
# at this checkout), none of the developer's CORAL_* settings, skips judged as in CI.
unset $(env | sed -n 's/^\(CORAL_[A-Za-z0-9_]*\)=.*/\1/p')
export PYTHONPATH="$snapshot" CI=true CORAL_SHARED_DIR="$work/work/shared"

# Only the data the repository may not carry, at the paths shared_file looks for it.
"$python" - "$shared" "$CORAL_SHARED_DIR" "$snapshot" <<'PY'
import sys
from pathlib import Path

import coral_serve.config
from tests.skip_policy import NOT_BUNDLED

source, target, snapshot = (Path(arg) for arg in sys.argv[1:])
if not coral_serve.config.conf_dir().is_relative_to(snapshot):
    sys.exit(f"coral_serve is imported from {coral_serve.config.conf_dir()}, not the snapshot")
for parts in NOT_BUNDLED:
    if source.joinpath(*parts).is_file():
        target.joinpath(*parts[:-1]).mkdir(parents=True, exist_ok=True)
        target.joinpath(*parts).symlink_to(source.joinpath(*parts).resolve())
PY

"$python" -m pytest -p no:cacheprovider "$@" tests/unit
