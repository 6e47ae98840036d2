"""Plane geometry in normalised frame coordinates (0..1 of width and height)."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["anchor", "crossed", "inside", "side"]

Point = tuple[float, float]


def anchor(box: Sequence[float], width: int, height: int) -> Point:
    """Where an object stands: the bottom centre of its pixel box, normalised."""
    x1, _, x2, y2 = box[:4]
    return ((x1 + x2) / 2 / width, y2 / height)


def inside(polygon: Sequence[Point], point: Point) -> bool:
    """Even-odd rule: a ray to the right crosses the polygon's edges an odd number of times."""
    x, y = point
    result = False
    for (x1, y1), (x2, y2) in zip(polygon, [*polygon[1:], polygon[0]], strict=True):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            result = not result
    return result


def side(start: Point, end: Point, point: Point) -> float:
    """> 0 right of the way from `start` to `end` as seen on the image (y grows down), < 0
    left of it, 0 on the line."""
    return (end[0] - start[0]) * (point[1] - start[1]) - (end[1] - start[1]) * (point[0] - start[0])


def crossed(start: Point, end: Point, before: Point, after: Point) -> int:
    """+1 if moving from `before` to `after` crosses the segment left to right, -1 right to
    left, 0 if it does not cross it (passing beyond its ends does not count)."""
    was, now = side(start, end, before), side(start, end, after)
    if was == 0 or now == 0 or (was > 0) == (now > 0):
        return 0
    # The segment's ends lie on opposite sides of the movement (or one on it).
    if side(before, after, start) * side(before, after, end) > 0:
        return 0
    return 1 if now > 0 else -1
