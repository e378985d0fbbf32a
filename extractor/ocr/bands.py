"""Text lines outside the tables: the text detector run only where a page still holds ink.

On a table page, once its ruled grids are blanked, what is left is the title, the unit and
page-number lines and perhaps an unruled table: a fraction of the page. ``text_lines`` finds the
horizontal bands that hold ink, stacks them into one image and runs the detector once on it.
"""
from __future__ import annotations

import cv2
import numpy as np


def text_lines(detector, masked: np.ndarray, band_max_side: int, max_side: int) -> list[tuple[float, float, float, float]]:
    """Text-line boxes on the page with its tables blanked. Only the horizontal bands that
    still hold ink are searched (stacked into one image, at the scale the page would get at
    ``band_max_side``): on a table page that is the title, unit and page-number lines, a
    fraction of the page, often in a small font. A page that is mostly text goes whole, at
    ``max_side`` (its body text is large enough there; the model's time goes with pixels)."""
    h, w = masked.shape
    scale = min(1.0, band_max_side / max(h, w))
    # ink rows, counted without lone specks (a noisy scan's speckle would make every row a band)
    ink = cv2.morphologyEx((masked < 160).astype(np.uint8), cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))
    rows = np.flatnonzero(ink.sum(axis=1) > 2)
    bands: list[list[int]] = []
    pad, gap = 12, 30
    for y in rows:
        if bands and y - bands[-1][1] <= gap:
            bands[-1][1] = int(y)
        else:
            bands.append([int(y), int(y)])
    bands = [[max(0, a - pad), min(h, b + pad + 1)] for a, b in bands]
    if not bands:
        return []
    if sum(b - a for a, b in bands) > 0.6 * h:  # mostly text: the whole page in one go
        return [b[:4] for b in detector(masked, max_side=max_side)]
    sep = 24
    parts, offsets, y = [], [], 0
    for a, b in bands:
        parts += [masked[a:b], np.full((sep, w), 255, np.uint8)]
        offsets.append((y, a, b - a))
        y += b - a + sep
    stack = np.vstack(parts)
    found = detector(stack, max_side=max(32, int(round(max(stack.shape) * scale))))
    out = []
    for x0, y0, x1, y1, _ in found:
        cy = (y0 + y1) / 2
        for top, a, n in offsets:
            if top - sep / 2 <= cy < top + n + sep / 2:
                out.append((x0, max(0.0, y0 - top) + a, x1, min(float(n), y1 - top) + a))
                break
    return out
