"""Rewrite the configuration reference between the README's markers from the schema."""

from __future__ import annotations

import sys
from pathlib import Path

from coral_serve.config.reference import README_MARKERS, splice_reference

README = Path(__file__).resolve().parent.parent / "README.md"


def main() -> int:
    text = README.read_text(encoding="utf-8")
    updated = splice_reference(text)
    if updated != text:
        README.write_text(updated, encoding="utf-8")
        print(f"updated the configuration reference in {README.name}")
    else:
        print(f"{README.name} is up to date ({README_MARKERS[0]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
