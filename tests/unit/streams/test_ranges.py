"""Range headers as browsers send them, and the ones a server must refuse or ignore."""

from __future__ import annotations

import pytest

from coral_serve.streams.errors import RangeNotSatisfiableError
from coral_serve.streams.ranges import byte_range


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-", (0, 999)),
        ("bytes=0-0", (0, 0)),
        ("bytes=10-19", (10, 19)),
        ("bytes=990-5000", (990, 999)),
        ("bytes=-100", (900, 999)),
        ("bytes=-5000", (0, 999)),
        ("bytes=0-1,5-6", None),  # multi-range: the whole file instead
        ("bytes=20-10", None),  # invalid: ignored
        ("items=0-5", None),
        ("bytes=-", None),
    ],
)
def test_ranges_of_a_1000_byte_file(header, expected) -> None:
    assert byte_range(header, 1000) == expected


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=5000-6000", "bytes=-0"])
def test_unsatisfiable_ranges_are_416(header) -> None:
    with pytest.raises(RangeNotSatisfiableError):
        byte_range(header, 1000)
