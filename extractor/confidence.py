"""Confidence: one number per extracted value from the evidence kept on it.

For now a fixed combination of OCR character probabilities and ruling-line support; the
calibrated model (fitted on rendered scans) replaces ``cell_confidence`` in a later stage,
reading the same evidence fields.
"""
from __future__ import annotations

from .model import Cell, OcrEvidence


def text_confidence(ev: OcrEvidence) -> float:
    if ev.n_chars == 0:
        return 0.0
    # the weakest character decides most: one misread character makes the value wrong
    return round(max(0.0, min(1.0, 0.65 * ev.min_prob + 0.35 * ev.mean_prob ** max(1, ev.n_chars // 4))), 4)


def cell_confidence(cell: Cell, ink: float) -> float:
    """Probability-like score that the cell's text (including 'empty') is right."""
    s = cell.structure
    struct = 0.8 + 0.2 * s.borders_seen
    if s.span_inferred:
        struct *= 0.85
    if cell.ocr is None or cell.ocr.n_chars == 0:
        # empty: sure when there is no ink at all, doubtful when ink was there but nothing was read
        empty = 0.99 if ink < 0.002 else max(0.3, 0.99 - 40 * ink)
        return round(empty * struct, 4)
    return round(text_confidence(cell.ocr) * struct, 4)


class Calibration:
    """A monotone map from raw confidence to the probability of being right (isotonic regression
    fitted by scripts/calibrate.py), applied by linear interpolation between its knots."""

    def __init__(self, x: list[float], y: list[float], meta: dict | None = None):
        self.x, self.y, self.meta = list(x), list(y), meta or {}

    def __call__(self, c: float) -> float:
        import numpy as np

        return float(np.interp(c, self.x, self.y))

    def save(self, path, meta: dict | None = None) -> None:
        import json
        from pathlib import Path

        Path(path).write_text(json.dumps({"x": [round(v, 5) for v in self.x], "y": [round(v, 5) for v in self.y],
                                          "meta": meta or self.meta}, indent=1), encoding="utf-8")

    @classmethod
    def load(cls, path) -> "Calibration":
        import json
        from pathlib import Path

        d = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls(d["x"], d["y"], d.get("meta"))


def fit_isotonic(scores, right) -> Calibration:
    """Pool-adjacent-violators: the non-decreasing step function closest to the right/wrong
    labels, over the distinct scores (ties pooled first)."""
    import numpy as np

    xs = np.asarray(scores, float)
    ys = np.asarray(right, float)
    if len(xs) == 0:
        return Calibration([0.0, 1.0], [0.0, 1.0])
    ux, inv = np.unique(xs, return_inverse=True)
    sums = np.bincount(inv, weights=ys)
    counts = np.bincount(inv).astype(float)
    blocks: list[list[float]] = []  # [sum_y, count, first knot, last knot]
    for x, s_, n in zip(ux, sums, counts):
        blocks.append([s_, n, x, x])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] >= blocks[-1][0] / blocks[-1][1]:
            s2, n2, _, hi = blocks.pop()
            blocks[-1][0] += s2
            blocks[-1][1] += n2
            blocks[-1][3] = hi
    kx, ky = [], []
    for s_, n, lo, hi in blocks:
        v = s_ / n
        kx += [lo, hi] if hi > lo else [lo]
        ky += [v, v] if hi > lo else [v]
    return Calibration(kx, ky)
