"""Box arithmetic shared by the stages and the scorer. Boxes are (x0, y0, x1, y1)."""
from __future__ import annotations

from typing import Sequence

Box = Sequence[float]


def intersection(a: Box, b: Box) -> float:
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


def area(a: Box) -> float:
    return max(0.0, a[2] - a[0]) * max(0.0, a[3] - a[1])


def iou(a: Box, b: Box) -> float:
    inter = intersection(a, b)
    u = area(a) + area(b) - inter
    return inter / u if u > 0 else 0.0


def inside_frac(inner: Box, outer: Box) -> float:
    """Share of ``inner``'s area that lies inside ``outer``."""
    return intersection(inner, outer) / max(1e-6, area(inner))
