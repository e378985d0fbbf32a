"""The fitting of the confidence models that extractor/confidence.py scores with: the evidence
model (``fit_logistic``, a logistic regression over ``confidence.FEATURES``) and the isotonic maps
(``fit_isotonic``). Used by scripts/calibrate.py and scripts/calibrate_text_tables.py (which put the
repository on sys.path); the extractor itself only loads what they wrote to models/calibration.json.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from extractor.confidence import FEATURES, Calibration, EvidenceModel


def fit_isotonic(scores, right) -> Calibration:
    """Pool-adjacent-violators: the non-decreasing step function closest to the right/wrong
    labels, over the distinct scores (ties pooled first)."""
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



# evidence that is rare in any calibration set but certain in kind (the arithmetic checks): a
# lighter penalty, so that a handful of examples can give it its weight
LIGHT_PENALTY = {"checks_ok": 0.05, "checks_broken": 0.05, "broken_unvouched": 0.05, "broken_twice": 0.05}


def fit_logistic(X, y, l2: float = 1.0, iters: int = 50, names: Optional[Sequence[str]] = None) -> EvidenceModel:
    """L2-regularised logistic regression by Newton's method (the bias is not penalised, the
    features of ``LIGHT_PENALTY`` less than the others)."""
    X = np.asarray(X, float)
    y = np.asarray(y, float)
    w = np.zeros(X.shape[1])
    reg = np.full(X.shape[1], l2)
    reg[0] = 0.0
    for i, n in enumerate(names or FEATURES):
        if n in LIGHT_PENALTY:
            reg[i] = l2 * LIGHT_PENALTY[n]
    for _ in range(iters):
        p = 1 / (1 + np.exp(-np.clip(X @ w, -30, 30)))
        g = X.T @ (p - y) + reg * w
        H = (X * (p * (1 - p))[:, None]).T @ X + np.diag(reg + 1e-9)
        step = np.linalg.solve(H, g)
        w -= step
        if np.abs(step).max() < 1e-7:
            break
    names = list(names or FEATURES)
    return EvidenceModel(w.tolist(), names)
