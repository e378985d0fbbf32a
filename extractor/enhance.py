"""Enhancement of faint scans before detection and recognition (issue 18).

The page's ink contrast is measured cheaply; only a page whose contrast is low or whose paper is
unevenly lit is changed, by background division (flat field) and a contrast stretch. Every other
page is returned as it is (the same array), so good scans read exactly as before.

Measurement (``measure``): the paper level comes from a morphological closing of the page scaled
down by ``BG_SCALE`` (ink removed: a dilation wider than a stroke, then an erosion back), smoothed;
the page divided by it has paper at ``NORM_PAPER`` everywhere. The ink level is a dark percentile
of that flat page, counted on every second pixel in a 256-bin histogram (no sort). Contrast is
paper minus ink in grey levels of the original page's paper; unevenness is the spread (5th to
95th percentile) of the paper level over the page, as a fraction of its median.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np

BG_SCALE = 8  # the background is estimated on the page scaled down this many times
NORM_PAPER = 240  # the flat page has its paper at this level (room above it for noise)
INK_GAP = 0.15  # a pixel this far below the paper (share of it) is ink ...
INK_QUANTILE = 0.25  # ... and the ink level is this quantile of the ink pixels
MIN_INK = 0.0005  # a page with a smaller share of ink pixels has no ink level
MIN_SIDE = 64  # a smaller page is not measured
MIN_PAPER = 64  # a page whose paper level is darker than this is not enhanced


@dataclass
class InkStats:
    paper: float  # median paper level (grey levels of the page)
    ink: float  # ink level, in grey levels of the median paper
    contrast: float  # paper - ink
    uneven: float  # (p95 - p5) / median of the paper level over the page
    noise: float  # noise sigma (grey levels)
    ink_share: float  # share of the page's pixels counted as ink

    def as_dict(self) -> dict:
        return {k: round(float(v), 3) for k, v in self.__dict__.items()}


def _background(gray: np.ndarray, scale: int = BG_SCALE) -> np.ndarray:
    """The paper level on ``gray`` scaled down ``scale`` times (uint8, at least 1)."""
    h, w = gray.shape
    sw, sh = max(1, w // scale), max(1, h // scale)
    small = cv2.resize(gray, (sw, sh), interpolation=cv2.INTER_AREA)
    k = cv2.getStructuringElement(cv2.MORPH_RECT, (7, 7))
    bg = cv2.morphologyEx(small, cv2.MORPH_CLOSE, k, borderType=cv2.BORDER_REPLICATE)
    bg = cv2.blur(bg, (9, 9), borderType=cv2.BORDER_REPLICATE)
    return np.maximum(bg, 1)


def _paper_noise(hist: np.ndarray) -> float:
    """Noise sigma of the flat page from its histogram: the upper half of the paper peak (ink
    lies below the paper, so the half above it is paper alone): its 68th percentile less the peak."""
    m = int(np.argmax(hist[:255]))  # (255: clipped noise and white specks)
    up = np.cumsum(hist[m:])
    if up[-1] <= 0:
        return 0.0
    # the half of the peak above its mode holds half the paper pixels; 68% of that half lie within one sigma
    return float(np.searchsorted(up, 0.5 * hist[m] + 0.6827 * (up[-1] - 0.5 * hist[m])))


def measure(gray: np.ndarray) -> tuple[Optional[InkStats], Optional[np.ndarray]]:
    """(stats, small background) of a greyscale page; (None, None) for a page too small to tell."""
    if gray.ndim != 2 or min(gray.shape) < MIN_SIDE:
        return None, None
    # every second pixel: strokes (2-4 px at 200 dpi) are still sampled, at a quarter of the work
    sub = np.ascontiguousarray(gray[::2, ::2])
    bg = _background(sub, BG_SCALE // 2)
    paper = float(np.median(bg))
    lo, hi = np.percentile(bg, [5, 95])
    bg_sub = cv2.resize(bg, (sub.shape[1], sub.shape[0]), interpolation=cv2.INTER_LINEAR)
    flat = cv2.divide(sub, bg_sub, scale=NORM_PAPER)
    hist = cv2.calcHist([flat], [0], None, [256], [0, 256]).ravel()
    noise = _paper_noise(hist) * paper / NORM_PAPER
    # ink: pixels clearly below the paper (more than INK_GAP of it, and 4 noise sigmas)
    cut = int(NORM_PAPER - max(INK_GAP * NORM_PAPER, 4.0 * noise * NORM_PAPER / max(paper, 1.0)))
    inkh = hist[:max(cut, 1)]
    n_ink = float(inkh.sum())
    if n_ink < MIN_INK * flat.size:
        ink_n = float(NORM_PAPER)  # (next to) no ink: nothing to tell
    else:
        cum = np.cumsum(inkh)
        ink_n = float(np.searchsorted(cum, INK_QUANTILE * n_ink))
    ink = ink_n / NORM_PAPER * paper
    return InkStats(paper=paper, ink=ink, contrast=paper - ink, uneven=float(hi - lo) / max(paper, 1.0),
                    noise=noise, ink_share=n_ink / flat.size), bg


# When a page is enhanced. Measured on rendered compact documents at 200 dpi (3 pages of each of 3
# documents per severity): paper unevenness light 0.021-0.029, medium 0.049-0.067, heavy
# 0.094-0.132; ink contrast light 122-192, medium 74-146, heavy 60-104 grey levels. A page is
# enhanced when its paper is uneven past the gap between medium and heavy, or when its contrast is
# below every light page's, with a margin.
MAX_UNEVEN = 0.08
MIN_CONTRAST = 100.0
# The stretch puts the ink level at INK_OUT and the paper plus PAPER_SIGMAS noise sigmas at 255. On
# 4 heavy compact documents (seeds 6100-6103, 17 pages) a hard stretch (ink 20, paper + 2 sigma)
# amplified the noise and broke ruled grids (cell text 0.949 -> 0.834); the flat field alone gave
# tables F1 0.971, text 0.951; this milder stretch tables F1 1.000, text 0.948, numeric 0.958
INK_OUT = 70
PAPER_SIGMAS = 3.0


def enhance_page(gray: np.ndarray, max_uneven: float = MAX_UNEVEN,
                 min_contrast: float = MIN_CONTRAST) -> tuple[np.ndarray, Optional[dict]]:
    """(page, record). The page is ``gray`` itself (the same array) unless its ink contrast is
    low or its paper uneven; then it is divided by its background (paper at NORM_PAPER) and
    stretched (ink level -> INK_OUT, paper + PAPER_SIGMAS noise sigmas -> 255, clipped). The record: what was measured
    (contrast, uneven, paper, ink, noise, ink_share) and ``applied``; None for a page too small to
    measure."""
    st, bg = measure(gray)
    if st is None:
        return gray, None
    rec = st.as_dict()
    # no ink to measure, or no paper (a dark page: nothing to stretch against)
    has_ink = st.ink_share >= MIN_INK and st.paper >= MIN_PAPER
    reasons = []
    if has_ink and st.contrast < min_contrast:
        reasons.append("low_contrast")
    if has_ink and st.uneven > max_uneven:
        reasons.append("uneven")
    rec["applied"] = bool(reasons)
    if not reasons:
        return gray, rec
    rec["reasons"] = reasons
    h, w = gray.shape
    bg_full = cv2.resize(bg, (w, h), interpolation=cv2.INTER_LINEAR)
    flat = cv2.divide(gray, bg_full, scale=NORM_PAPER)
    ink_n = st.ink / st.paper * NORM_PAPER
    # the paper's noise is kept whole (not clipped at white, which leaves a grain of dark specks):
    # PAPER_SIGMAS sigmas above the paper level go to 255
    paper_n = NORM_PAPER + PAPER_SIGMAS * st.noise / st.paper * NORM_PAPER
    v = np.arange(256, dtype=np.float32)
    lut = INK_OUT + (v - ink_n) * (255.0 - INK_OUT) / max(paper_n - ink_n, 1.0)
    lut = np.clip(np.round(lut), 0, 255).astype(np.uint8)
    return cv2.LUT(flat, lut), rec
