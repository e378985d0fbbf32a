"""Skew from OCR line boxes, and moving boxes into the deskewed frame.

The rendered scans (scripts/synth/degrade.py) are rotated about the page centre by a small angle;
ground truth is in the unrotated frame, and so is the pipeline's output (it deskews). The RapidOCR
peers measure the angle from the slope of their own long text lines (what a user would do with the
4-point boxes RapidOCR returns) and rotate boxes, or the image, back about the centre.
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np


def skew_from_quads(quads: list[np.ndarray], min_aspect: float = 3.0) -> float:
    """Median slope (degrees, image y down) of the top and bottom edges of long text lines; the
    page is undone by rotating it by this angle with cv2.getRotationMatrix2D (CCW positive)."""
    angles = []
    for q in quads:
        q = np.asarray(q, dtype=float).reshape(-1, 2)
        if len(q) != 4:
            continue
        w = np.hypot(*(q[1] - q[0]))
        h = np.hypot(*(q[3] - q[0]))
        if h <= 0 or w / h < min_aspect:
            continue
        for a, b in ((q[0], q[1]), (q[3], q[2])):
            angles.append(math.degrees(math.atan2(b[1] - a[1], b[0] - a[0])))
    if len(angles) < 4:
        return 0.0
    a = float(np.median(angles))
    return a if abs(a) <= 10 else 0.0


def rotation_matrix(width: int, height: int, angle: float) -> np.ndarray:
    import cv2

    return cv2.getRotationMatrix2D((width / 2.0, height / 2.0), angle, 1.0)


def transform_quads(quads: list[np.ndarray], m: Optional[np.ndarray]) -> list[np.ndarray]:
    if m is None:
        return [np.asarray(q, dtype=float).reshape(-1, 2) for q in quads]
    out = []
    for q in quads:
        p = np.asarray(q, dtype=float).reshape(-1, 2)
        out.append(p @ m[:, :2].T + m[:, 2])
    return out


def rotate_image(image: np.ndarray, m: np.ndarray) -> np.ndarray:
    import cv2

    h, w = image.shape[:2]
    border = 255 if image.ndim == 2 else (255, 255, 255)
    return cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=border)
