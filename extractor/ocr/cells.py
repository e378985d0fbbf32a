"""Reading table cells: crop inside the ruling lines, skip empty cells, split wrapped lines,
and recognise every line crop of the page in one batched recognition call.

A cell's lines are found from the horizontal projection of its ink (cheap and exact for the
horizontal text of ruled tables); a band too tall to be one line goes to the text detector.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

import cv2
import numpy as np

from .engine import Detector, Recognizer, RecResult


@dataclass
class TextRead:
    text: str
    char_probs: list[float] = field(default_factory=list)
    n_lines: int = 0
    ink: float = 0.0  # fraction of ink pixels inside the (inset) cell

    @property
    def empty(self) -> bool:
        return self.n_lines == 0


def ink_mask(crop: np.ndarray, min_contrast: int = 60) -> np.ndarray:
    """Binary mask (uint8 0/1) of ink in a crop, robust to a grey or uneven background."""
    if crop.size == 0:
        return np.zeros(crop.shape, np.uint8)
    bg = float(np.percentile(crop, 90))
    dark = float(np.percentile(crop, 0.5))
    if bg - dark < min_contrast:
        return np.zeros(crop.shape, np.uint8)
    thr = min(bg - min_contrast * 0.75, (bg + dark) / 2)
    return (crop < thr).astype(np.uint8)


def _strip_edge_lines(mask: np.ndarray) -> None:
    """Remove remnants of ruling lines along the crop's edges (in place)."""
    h, w = mask.shape
    if h == 0 or w == 0:
        return
    edge_r = max(2, h // 6)
    rows = mask.sum(axis=1)
    for r in list(range(edge_r)) + list(range(h - edge_r, h)):
        if rows[r] > 0.6 * w:
            mask[r, :] = 0
    edge_c = max(2, min(w // 6, h // 3))
    cols = mask.sum(axis=0)
    for c in list(range(edge_c)) + list(range(w - edge_c, w)):
        if cols[c] > 0.6 * h:
            mask[:, c] = 0


def _despeckle(mask: np.ndarray, min_area: int) -> np.ndarray:
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if n <= 1:
        return mask
    keep = np.zeros(n, np.uint8)
    keep[1:] = (stats[1:, cv2.CC_STAT_AREA] >= min_area) | (
        np.maximum(stats[1:, cv2.CC_STAT_WIDTH], stats[1:, cv2.CC_STAT_HEIGHT]) >= 3 * max(1, int(min_area ** 0.5)))
    return keep[labels]


def _bands(mask: np.ndarray) -> list[tuple[int, int]]:
    rows = mask.sum(axis=1) > 0
    bands, start = [], None
    for i, v in enumerate(rows):
        if v and start is None:
            start = i
        elif not v and start is not None:
            bands.append((start, i))
            start = None
    if start is not None:
        bands.append((start, len(rows)))
    return bands


def _merge_bands(bands: list[tuple[int, int]], line_h: float) -> list[tuple[int, int]]:
    """Join fragments of one line (strokes of 二/三, punctuation) into whole lines."""
    out: list[list[int]] = []
    for a, b in bands:
        if out:
            pa, pb = out[-1]
            gap = a - pb
            small = min(pb - pa, b - a) < 0.6 * line_h or (b - pa) < 1.25 * line_h
            if gap < 0.45 * line_h and small:
                out[-1][1] = b
                continue
        out.append([a, b])
    # a lone tiny band (a dot, a dash) is kept only if it is not noise-sized
    return [(a, b) for a, b in out if b - a >= max(2, 0.12 * line_h)]


@dataclass
class _Job:
    index: int
    lines: list[np.ndarray]
    ink: float


class CellReader:
    """Reads the text of boxes on a page image (table cells, or text lines)."""

    def __init__(self, recognizer: Recognizer, detector: Optional[Detector] = None,
                 inset: float = 0.0025, min_ink: float = 0.004):
        self.rec = recognizer
        self.det = detector
        self.inset = inset  # of the page's larger side
        self.min_ink = min_ink

    def _analyse(self, gray: np.ndarray, bbox: Sequence[float], inset_px: int):
        """Crop inside the borders; ink mask cleaned of line remnants and specks; raw line bands."""
        H, W = gray.shape
        x0, y0, x1, y1 = (int(round(v)) for v in bbox)
        x0, y0 = max(0, x0 + inset_px), max(0, y0 + inset_px)
        x1, y1 = min(W, x1 - inset_px), min(H, y1 - inset_px)
        if x1 - x0 < 4 or y1 - y0 < 4:
            return None
        crop = gray[y0:y1, x0:x1]
        mask = ink_mask(crop)
        _strip_edge_lines(mask)
        mask = _despeckle(mask, 5)
        return crop, mask, _bands(mask)

    def _line_crops(self, analysed, line_h: float):
        if analysed is None:
            return [], 0.0
        crop, mask, raw = analysed
        mask = _despeckle(mask, max(5, int((0.12 * line_h) ** 2)))
        ink = float(mask.mean())
        if mask.sum() < 0.5 * line_h:
            return [], ink
        bands = _merge_bands(_bands(mask), line_h)
        crops = []
        for a, b in bands:
            if b - a > 1.8 * line_h and self.det is not None:
                crops.extend(self._detect_lines(crop[a:b]))
                continue
            cols = np.nonzero(mask[a:b].any(axis=0))[0]
            if len(cols) == 0:
                continue
            lh = b - a
            padx, pady = max(4, int(0.3 * max(lh, 0.6 * line_h))), max(2, int(0.2 * lh))
            ca, cb = max(0, a - pady), min(crop.shape[0], b + pady)
            xa, xb = cols[0] - padx, cols[-1] + 1 + padx
            c = crop[ca:cb, max(0, xa): min(crop.shape[1], xb)]
            lpad, rpad = max(0, -xa), max(0, xb - crop.shape[1])
            if lpad or rpad:
                bg = int(np.percentile(c, 90))
                c = cv2.copyMakeBorder(c, 0, 0, lpad, rpad, cv2.BORDER_CONSTANT, value=bg)
            crops.append(c)
        return crops, ink

    def _detect_lines(self, crop: np.ndarray) -> list[np.ndarray]:
        boxes = self.det(crop, max_side=1280, min_side=64)
        out = []
        for x0, y0, x1, y1, _ in sorted(boxes, key=lambda b: (b[1], b[0])):
            c = crop[int(y0):int(np.ceil(y1)), int(x0):int(np.ceil(x1))]
            if c.size:
                out.append(c)
        return out

    def read(self, gray: np.ndarray, boxes: Sequence[Sequence[float]], line_h: Optional[float] = None,
             inset_px: Optional[int] = None) -> list[TextRead]:
        """Text of every box, in order, with one batched recognition call for all of them.
        ``line_h``: text-line height in px (estimated from the boxes' ink when not given)."""
        if inset_px is None:
            inset_px = max(2, int(round(self.inset * max(gray.shape))))
        analysed = [self._analyse(gray, bb, inset_px) for bb in boxes]
        if line_h is None:
            line_h = estimate_line_height([b for a in analysed if a is not None for b in a[2]], gray.shape[0])
        jobs = []
        for i, a in enumerate(analysed):
            lines, ink = self._line_crops(a, line_h)
            jobs.append(_Job(i, lines, ink))
        flat = [c for j in jobs for c in j.lines]
        results: list[RecResult] = self.rec(flat) if flat else []
        out: list[TextRead] = []
        k = 0
        for j in jobs:
            rs = results[k:k + len(j.lines)]
            k += len(j.lines)
            chars = [(ch, p) for r in rs for ch, p in zip(r.text, r.char_probs) if not ch.isspace()]
            n_lines = sum(1 for r in rs if r.text.strip())
            out.append(TextRead("".join(c for c, _ in chars), [p for _, p in chars], n_lines, j.ink))
        return out


def estimate_line_height(bands: list[tuple[int, int]], page_h: int) -> float:
    """Typical height of one text line from the raw ink bands of many cells."""
    hs = np.array([b - a for a, b in bands], float)
    if len(hs) < 3:
        return max(12.0, page_h / 80.0)
    top = np.percentile(hs, 90)
    full = hs[hs >= 0.5 * top]
    return float(np.median(full)) if len(full) else float(top)
