"""Page clean-up: coarse orientation (0/90/180/270) and small-angle deskew (up to +-5 degrees).

Orientation: text lines (and ruling lines) on an upright page run horizontally; dilating the ink
along x joins characters into long flat blobs. Whether the blobs are flat or tall tells 0/180
from 90/270; the PP-OCR direction classifier on the widest blobs tells 0 from 180.
Skew: the weighted median angle of long flat blobs (ruling lines weigh most, vertical rulings
removed first so a grid does not join into one blob), each measured by a line fitted through its
column-wise centres.
Applying them: ``apply_turn``, which clean_page uses and so do the service's page images
(service/images.py: the source raster turned as the page's model.Transform records).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import cv2
import numpy as np

ROTATE_CODES = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}


@dataclass
class CleanResult:
    gray: np.ndarray
    rotation: int  # clockwise degrees applied to the source raster
    skew: float  # degrees the deskew rotated by (counter-clockwise positive)


def _binarize_small(gray: np.ndarray, target: int = 1200) -> tuple[np.ndarray, float]:
    h, w = gray.shape
    s = min(1.0, target / max(h, w))
    small = cv2.resize(gray, (int(w * s), int(h * s)), interpolation=cv2.INTER_AREA) if s < 1 else gray
    bw = cv2.adaptiveThreshold(small, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, 25, 15)
    return bw, s


def _components(bw: np.ndarray):
    """``cv2.connectedComponentsWithStats`` (8-connected) with 16-bit labels when they fit (about
    half the time of 32-bit ones on a page; the same blobs and stats); OpenCV refuses when a noisy
    page has more blobs than that, and the page is labelled again with 32-bit labels."""
    try:
        return cv2.connectedComponentsWithStatsWithAlgorithm(bw, 8, cv2.CV_16U, cv2.CCL_DEFAULT)
    except cv2.error:
        return cv2.connectedComponentsWithStats(bw, connectivity=8)


def _blobs(bw: np.ndarray, horizontal: bool, reach: int = 9) -> np.ndarray:
    """Stats of ink blobs after joining characters along one axis."""
    k = (reach, 1) if horizontal else (1, reach)
    joined = cv2.dilate(bw, cv2.getStructuringElement(cv2.MORPH_RECT, k))
    n, _, stats, _ = _components(joined)
    return stats[1:]


def _text_ink(bw: np.ndarray) -> np.ndarray:
    """The binary page without its long ruling lines."""
    hl = cv2.morphologyEx(bw, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (max(40, bw.shape[1] // 15), 1)))
    vl = cv2.morphologyEx(bw, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, max(40, bw.shape[0] // 15))))
    return cv2.subtract(bw, cv2.bitwise_or(hl, vl))


def _blob_crops(gray: np.ndarray, bw: np.ndarray, s: float, horizontal: bool, max_crops: int) -> list[np.ndarray]:
    """Crops of the longest blobs that look like text lines running along x (or along y)."""
    st = _blobs(bw, horizontal, 5)
    if horizontal:
        cand = [b for b in st if b[2] > 2.5 * b[3] and 5 <= b[3] <= 40]
        cand.sort(key=lambda b: -b[2])
    else:
        cand = [b for b in st if b[3] > 2.5 * b[2] and 5 <= b[2] <= 40]
        cand.sort(key=lambda b: -b[3])
    out = []
    for x, y, w, h, _ in cand[:max_crops]:
        pad = 2
        c = gray[max(0, int((y - pad) / s)): int((y + h + pad) / s), max(0, int((x - pad) / s)): int((x + w + pad) / s)]
        if c.size:
            out.append(_first_chars(c, BLOB_READ_LEN) if horizontal else _first_chars(c.T, BLOB_READ_LEN).T)
    return out


# a line's first this-many line heights are read to tell its way up (about eight characters:
# enough for the character confidence to show it, at a fraction of the time of a whole line; on
# 384 rendered pages, each upright and turned three ways, 8 and 12 gave the same turn on every one,
# and 8 took 13% less time)
BLOB_READ_LEN = 8.0


def _first_chars(c: np.ndarray, n: float) -> np.ndarray:
    """The start of a text line running along x, cut to about ``n`` times its height, at the
    emptiest column of the last fifth (between two characters, not through one)."""
    h, w = c.shape
    if w <= n * h:
        return c
    lo, hi = int(0.8 * n * h), int(n * h)
    ink = (c[:, lo:hi] < 128).sum(axis=0)
    return c[:, :lo + int(np.argmin(ink)) + 1]


# joining ink along y leaves this many times more blobs than along x only on upright (or 180°)
# pages. Counting every blob, upright rendered pages measured 1.0-6.9 (55% above 1.3) and pages
# turned a quarter at most 1.04; so blobs of at most SPECK_BLOB_AREA pixels (at the 1200 px scale,
# joined along one axis: specks, one blob whichever way ink is joined) are left out, and then
# upright medium pages measured 1.33-6.6, heavy ones 1.09-3.7 (85% above 1.3, against 23%), and the
# same pages turned at most 0.92
UPRIGHT_BLOB_RATIO = 1.3
SPECK_BLOB_AREA = 8


# A page whose first few flat text lines read upright with this mean character confidence (and at
# least this many characters) is upright: on 452 rendered pages turned 90/180/270 degrees none did
# (best 0.915 with 8 characters), against 67% of the same pages upright.
UPRIGHT_READ_CONF, UPRIGHT_READ_CHARS, UPRIGHT_READ_LINES = 0.95, 12, 4
# ... or, on a noisy scan, with this confidence over at least this many characters: turned a
# quarter, 23 of 462 rendered pages read 20 characters or more, at a mean of 0.42 at best; upside
# down none did; upright, 11 of 127 noisy pages that missed the first bar pass this one
UPRIGHT_LONG_READ_CONF, UPRIGHT_LONG_READ_CHARS = 0.85, 20

ReadFn = Callable[[list[np.ndarray]], list[tuple[float, int]]]  # crops -> (mean char confidence, n chars)


def _mean_read(reads) -> float:
    # nothing read (a line remnant) tells nothing, nor does one character (a stroke read as "一")
    scores = [v for v, n in reads if n > 1]
    return float(np.mean(scores)) if scores else 0.0


def _evidence(reads) -> float:
    """How much text the reads show: characters weighted by how far their confidence is above a
    coin toss, over lines of two characters or more (a line of garbage reads short and doubtful;
    one stroke read as "一" tells nothing)."""
    return float(sum(n * (v - 0.5) for v, n in reads if n > 1 and v > 0.5))


def detect_quarter_turn(gray: np.ndarray, read: Optional[ReadFn] = None, max_crops: int = 8,
                        ink: Optional[tuple[np.ndarray, float]] = None) -> tuple[bool, bool]:
    """(turned, surely_upright): turned is True when text runs vertically (page turned by 90 or
    270 degrees); surely_upright when the page was shown to read upright as it is (no 0/180 check
    is then needed).

    Cheap tests first: blob counts (clearly horizontal text), then the recogniser on the page's
    first few flat lines as they stand (clean upright text reads with high confidence). Otherwise
    candidate text lines are taken both ways (blobs joined along x, and along y); the recogniser
    reads each set (the vertical ones turned a quarter both ways) and the way that reads with the
    higher character confidence wins. With no recogniser, blob counts decide: joining ink along
    the text direction leaves fewer blobs than joining across it."""
    if ink is None:
        small, s = _binarize_small(gray)
        ink = _text_ink(small), s
    bw, s = ink
    bx, by = _blobs(bw, True, 5), _blobs(bw, False, 5)
    if read is None:
        return len(by) < 0.75 * len(bx) and len(bx) > 20, False
    # a speck is one blob whichever way the ink is joined, so a noisy scan's specks pull the
    # ratio toward 1: only blobs larger than a joined speck are counted
    big_x, big_y = int((bx[:, 4] > SPECK_BLOB_AREA).sum()), int((by[:, 4] > SPECK_BLOB_AREA).sum())
    if big_y > UPRIGHT_BLOB_RATIO * big_x and big_x > 20:
        return False, False  # clearly horizontal text: no need to ask the recogniser
    flat = _blob_crops(gray, bw, s, True, max_crops)
    first = read(flat[:UPRIGHT_READ_LINES]) if flat else []
    conf, chars = _mean_read(first), sum(n for _, n in first)
    if (conf >= UPRIGHT_READ_CONF and chars >= UPRIGHT_READ_CHARS) or (
            conf >= UPRIGHT_LONG_READ_CONF and chars >= UPRIGHT_LONG_READ_CHARS):
        return False, True
    tall = _blob_crops(gray, bw, s, False, max_crops)
    if len(tall) < 2:
        return False, False

    def best(a, b):
        return [max(x, y) for x, y in zip(a, b)]

    cw = read([cv2.rotate(c, cv2.ROTATE_90_CLOCKWISE) for c in tall])
    ccw = read([cv2.rotate(c, cv2.ROTATE_90_COUNTERCLOCKWISE) for c in tall])
    turned = _evidence(best(cw, ccw))
    if turned <= 1.0:  # below the bar whatever the flat lines show: they need not be read
        return False, False
    # lines running along x read either way up (0/180 is settled later)
    up = _evidence(best(first + read(flat[UPRIGHT_READ_LINES:]), read([cv2.rotate(c, cv2.ROTATE_180) for c in flat]))) if flat else 0.0
    return turned > 1.5 * up + 1.0, False


def _line_crops(gray: np.ndarray, max_crops: int = 24, ink: Optional[tuple[np.ndarray, float]] = None) -> list[np.ndarray]:
    """Crops of the widest text-line blobs (no ruling lines) for the direction classifier.
    ``ink``: the page's text ink at a small scale and that scale, when already computed."""
    if ink is None:
        small, s = _binarize_small(gray)
        ink = _text_ink(small), s
    bw, s = ink
    stats = _blobs(bw, True)
    cand = [st for st in stats if st[2] > 3 * st[3] and 6 <= st[3] <= 60 and st[2] > 30]
    cand.sort(key=lambda st: -st[2])
    crops = []
    for x, y, w, h, _ in cand[:max_crops]:
        x0, y0 = int(x / s), int(y / s)
        x1, y1 = int((x + w) / s), int((y + h) / s)
        pad = max(2, int(0.15 * (y1 - y0)))
        c = gray[max(0, y0 - pad): y1 + pad, max(0, x0 - pad): x1 + pad]
        if c.size:
            crops.append(c)
    return crops


def detect_upside_down(gray: np.ndarray, classify: Callable[[list[np.ndarray]], list[float]],
                       ink: Optional[tuple[np.ndarray, float]] = None) -> bool:
    crops = _line_crops(gray, ink=ink)
    if not crops:
        return False
    p = np.array(classify(crops))
    # weigh confident votes; ties stay upright
    return float(np.sum(p - 0.5)) > 0.5


def estimate_skew(gray: np.ndarray, max_angle: float = 5.0) -> float:
    """Skew in degrees (positive: content rotated counter-clockwise... as OpenCV measures)."""
    bw, s = _binarize_small(gray, 1600)
    h, w = bw.shape
    # long flat structures: ruling lines, or text lines joined along x. Vertical rulings go first:
    # they would join every horizontal ruling of a table into one grid blob, too tall to measure
    vert = cv2.morphologyEx(bw, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, max(25, h // 30))))
    flat = cv2.subtract(bw, cv2.dilate(vert, cv2.getStructuringElement(cv2.MORPH_RECT, (3, 1))))
    joined = cv2.morphologyEx(flat, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (15, 1)))
    n, labels, stats, _ = _components(joined)
    angles, weights = [], []
    for k in range(1, n):
        x, y, bwid, bh, area = stats[k]
        if bwid < max(60, w // 20) or bwid < 4 * bh:
            continue
        m = labels[y:y + bh, x:x + bwid] == k
        count = m.sum(axis=0)
        xs = np.flatnonzero(count)
        if len(xs) < 20:
            continue
        # fit a line through the column-wise centres: robust to thickness, and a blob of two
        # parallel lines (a ruled strip) has its centres on the parallel midline
        ys = (m * np.arange(bh, dtype=np.float32)[:, None]).sum(axis=0)[xs] / count[xs]
        vx, vy, _, _ = cv2.fitLine(np.column_stack([xs, ys]).astype(np.float32), cv2.DIST_HUBER, 0, 0.01, 0.01).ravel()
        a = float(np.degrees(np.arctan2(vy, vx)))
        if a > 90:
            a -= 180
        if a < -90:
            a += 180
        if abs(a) <= max_angle:
            angles.append(a)
            weights.append(bwid)
    if not angles:
        return 0.0
    order = np.argsort(angles)
    a, wts = np.array(angles)[order], np.array(weights, float)[order]
    cum = np.cumsum(wts)
    return float(a[np.searchsorted(cum, cum[-1] / 2)])  # weighted median


def rotate(gray: np.ndarray, angle: float) -> np.ndarray:
    """Rotate about the centre by ``angle`` degrees (counter-clockwise positive), canvas kept, white fill."""
    h, w = gray.shape
    m = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), angle, 1.0)
    return cv2.warpAffine(gray, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=255)


def apply_turn(gray: np.ndarray, rotation: int, skew: float) -> np.ndarray:
    """``gray`` turned as ``clean_page`` turned the page it judged: ``rotation`` degrees clockwise
    (0, 90, 180, 270), then rotated by ``skew`` degrees about the centre."""
    if rotation in ROTATE_CODES:
        gray = cv2.rotate(gray, ROTATE_CODES[rotation])
    return rotate(gray, skew) if skew else gray


def clean_page(gray: np.ndarray, classify: Optional[Callable[[list[np.ndarray]], list[float]]] = None,
               read: Optional[ReadFn] = None, min_skew: float = 0.1,
               apply_to: Optional[np.ndarray] = None) -> CleanResult:
    """``classify``: crops -> probability each is upside down; ``read``: crops -> (mean character
    confidence, number of characters) of the recogniser on each (tells a quarter-turned page).
    Orientation and skew are judged on ``gray``; the turn is applied to ``apply_to`` (the same page
    in another rendering, e.g. enhanced) when given, else to ``gray``."""
    rotation = 0
    small, s = _binarize_small(gray)
    ink = _text_ink(small), s
    turned, upright = detect_quarter_turn(gray, read, ink=ink)
    if turned:
        gray = cv2.rotate(gray, cv2.ROTATE_90_CLOCKWISE)
        rotation = 90
        ink = None
    if classify is not None and not upright and detect_upside_down(gray, classify, ink):
        gray = cv2.rotate(gray, cv2.ROTATE_180)
        rotation = (rotation + 180) % 360
    angle = estimate_skew(gray)
    # image y points down, so a line measured at +a degrees is rotated back by +a in OpenCV's convention
    skew = angle if abs(angle) >= min_skew else 0.0
    if apply_to is not None:
        return CleanResult(apply_turn(apply_to, rotation, skew), rotation, skew)
    return CleanResult(apply_turn(gray, 0, skew), rotation, skew)  # gray is turned already: the deskew is left
