"""Ruled-table structure recognition on a greyscale page image.

Pipeline (all vectorised numpy / OpenCV, no per-pixel Python loops):

1. ``binarize``: adaptive mean threshold whose offset follows the estimated
   noise level (ink = 255).
2. ``line_masks``: horizontal / vertical strokes by morphological opening with
   long thin kernels (lengths scale with the estimated resolution and are well
   above a CJK character width for horizontals), after a 3-px perpendicular
   dilation so that thin lines with ~1 deg residual skew keep long runs; small
   gaps are then bridged by a closing along the line direction.
3. Residual skew is estimated from the long line components; if it exceeds
   ~0.1 deg the page is rotated, the masks recomputed, and every coordinate
   is mapped back to the original page at the end.
4. Line segments (connected components of the masks) are filtered: a
   vertical must cross/touch >= 2 horizontals, a horizontal >= 1 vertical
   (so character strokes, underlines and lone rules are dropped).  Connected
   groups of crossing segments are the table candidates.
5. Per candidate: row / column edges = clusters of line positions (double
   lines collapse into one edge); open left/right (top/bottom) sides get an
   edge at the extent of the horizontal (vertical) lines.  For every edge
   segment of the finest grid the fraction covered by line pixels (in a band
   around the edge, measured on a short-kernel "loose" mask, robust to gaps)
   decides whether a ruling is present; absent interior segments merge slots
   into rectangular spanning cells.
6. Gap-broken rulings: a "pieces" mask (short opening only; on noisy scans
   joined by ``_faint_rulings``, faint rules found by averaging along their
   direction, which the binarisation breaks into specks) rescues segments
   whose fragments are all shorter than the long kernels.  A fragment run
   counts when it is nearly continuous and *anchored* (an unbroken run leaves
   the junction; text always keeps a white padding from the rulings), see
   ``_gappy_present``; edges missing altogether (a column line present in a
   single row, broken by a gap) are found band by band (``_discover_edges``,
   anchored at both junctions).  One-row strips with >= 3 columns are tables.
7. Outer columns and rows the segment groups missed (``_outer_edges``): a
   broken border beside one tall merged cell (the 一级指标 column, a header
   band) crosses too few rulings to join any group. Beyond each side of the
   grid, a line of pieces along 60% of the table's extent that the first and
   last perpendicular rulings run on to is an edge, unless a text line's ink
   lies beside it (``_text_beside``: the bottom strokes of a line of
   characters; text keeps a padding from rulings); the search goes on line
   by line while each one closes a rectangle. On the first step out, a
   full-width closing rule under an open-sided row (``_closing_rule``; not on
   a side closed by rulings, nor a rule that rulings leave on its far side,
   which is the border of the table above or below), or the place where the
   rulings of an open side stop together (``_open_end``, which also moves an
   open side's edge set from the median start of broken segments).
"""
from __future__ import annotations

from dataclasses import dataclass, field
import math

import cv2
import numpy as np

__all__ = [
    "GridCell",
    "GridTable",
    "find_tables",
    "line_masks",
    "binarize",
]

Box = tuple[float, float, float, float]
NOISY = 6.0  # page noise level (grey levels) above which a scan is treated as noisy
FAINT_MAX_PIXELS = 20_000_000  # largest page searched for faint rulings (_faint_rulings)


# --------------------------------------------------------------------------- data


@dataclass
class GridCell:
    row: int
    col: int
    rowspan: int
    colspan: int
    bbox: Box  # x0, y0, x1, y1 of the ruled cell (line centres), page pixels
    borders_seen: float  # fraction of the perimeter covered by line pixels
    pieces: int = 0  # a grid from text (table.align): pieces of text side by side, apart, in the cell


@dataclass
class GridTable:
    bbox: Box
    row_edges: list[float]
    col_edges: list[float]
    cells: list[GridCell] = field(default_factory=list)
    source: str = "lines"

    @property
    def n_rows(self) -> int:
        return max(len(self.row_edges) - 1, 0)

    @property
    def n_cols(self) -> int:
        return max(len(self.col_edges) - 1, 0)


# ------------------------------------------------------------------- parameters


@dataclass
class _Params:
    unit: float  # 1.0 at 200 dpi
    text_h: float  # typical character height (px)
    block: int  # adaptive threshold block size
    lh: int  # horizontal opening length
    lv: int  # vertical opening length
    gap: int  # gap bridged inside a line
    loose: int  # opening length of the loose masks used for coverage
    tol: int  # positional tolerance (touch / crossing tests)
    clust: int  # clustering distance of line positions (double lines)
    max_thick: float  # max mean thickness of a line component
    min_cell: float  # minimal row height / column width
    ext_min: float  # how far lines must overshoot to define an open side


def _params(shape: tuple[int, int], text_h: float | None = None) -> _Params:
    """Scale parameters.  ``unit`` comes from the page size (A4 assumed),
    the opening lengths from the text height when it is known."""
    h, w = shape[:2]
    # assume an A4-ish page: long side 11.69 in
    dpi = max(h, w) / 11.69
    dpi = float(np.clip(dpi, 60.0, 600.0))
    u = dpi / 200.0
    if text_h is None:
        text_h = 28.0 * u
    block = int(round(31 * u)) | 1
    lv = max(int(round(1.25 * text_h)), 10)
    return _Params(
        unit=u,
        text_h=float(text_h),
        block=max(block, 11),
        lh=max(int(round(2.5 * text_h)), 2 * lv, 20),
        lv=lv,
        gap=max(int(round(16 * u)), 6),
        loose=max(int(round(1.3 * text_h)), 8),
        tol=max(int(round(min(8 * u, 0.28 * text_h))), 3),
        clust=max(int(round(min(12 * u, 0.45 * text_h))), 4),
        max_thick=max(12.0 * u, 5.0),
        min_cell=max(0.6 * text_h, 6.0),
        ext_min=max(20.0 * u, 8.0),
    )


def _cc_stats(mask: np.ndarray):
    """``cv2.connectedComponentsWithStats`` (8-connected) with 16-bit labels when they fit: the
    label image is the costliest part of labelling a whole page, and half as wide it takes about
    half the time (same components, same stats). A page of more than 65534 blobs (heavy noise)
    overflows them: OpenCV says so and the page is labelled again with 32-bit labels."""
    try:
        return cv2.connectedComponentsWithStatsWithAlgorithm(mask, 8, cv2.CV_16U, cv2.CCL_DEFAULT)
    except cv2.error:
        return cv2.connectedComponentsWithStats(mask, connectivity=8)


def _text_height(bw: np.ndarray, p: _Params) -> float | None:
    """Typical character height: 80th percentile of the heights of
    character-like connected components (None if too few)."""
    # 2x subsampled copy: 4x fewer pixels for the (dense) labelling
    f = 1  # (2x subsampling was tried: it biases the estimate on sparse, noisy pages)
    small = bw if f == 1 else np.ascontiguousarray(bw[::2, ::2])
    _, _, st, _ = _cc_stats(small)
    w, h, a = st[1:, 2] * f, st[1:, 3] * f, st[1:, 4] * f * f
    u2 = p.unit * p.unit
    k = (h >= 7 * p.unit) & (h <= 120 * p.unit) & (w >= 3 * p.unit) & (w <= 3 * h) & (h <= 3 * w) \
        & (a >= 0.1 * w * h) & (a >= 16 * u2)
    if k.sum() < 20:
        return None
    return float(np.clip(np.percentile(h[k], 80), 8 * p.unit, 80 * p.unit))


# ----------------------------------------------------------------- binarisation


def _noise_sigma(gray: np.ndarray) -> float:
    """The page's noise level from the median absolute residual of a 3x3 mean (2x subsampled).
    The residual is counted in ninths, so it is an integer and its median comes from a
    histogram rather than a sort (the same value as np.median on the float residual)."""
    g = np.ascontiguousarray(gray[::2, ::2])
    s9 = cv2.boxFilter(g, cv2.CV_32F, (3, 3), normalize=False)  # 3x3 sums, exact in float32
    d9 = np.abs(9.0 * g.astype(np.float32) - s9).astype(np.int32).ravel()
    cum = np.cumsum(np.bincount(d9))
    n = d9.size
    lo, hi = np.searchsorted(cum, [(n - 1) // 2 + 0.5, n // 2 + 0.5])
    mad = float(lo + hi) / 18.0
    # mean-of-3x3 residual of white noise has std ~ 0.943 sigma
    return 1.4826 * mad / 0.943


def binarize(gray: np.ndarray, params: _Params | None = None, sensitive: bool = False,
             sigma: float | None = None) -> np.ndarray:
    """Adaptive-threshold binarisation; ink (dark) = 255, background = 0.

    The offset follows the estimated noise level.  ``sensitive=True`` uses a
    lower offset (for faint, dotted ruling lines; the long opening kernels
    remove the extra noise)."""
    if gray.ndim == 3:
        gray = cv2.cvtColor(gray, cv2.COLOR_BGR2GRAY)
    p = params or _params(gray.shape)
    if sigma is None:
        sigma = _noise_sigma(gray)
    k, c0 = (1.6, 6.0) if sensitive else (2.8, 10.0)
    src = gray
    if sigma > NOISY:
        src = cv2.GaussianBlur(gray, (3, 3), 0)
        sigma = sigma * 0.55
    c = float(max(c0, k * sigma))
    return cv2.adaptiveThreshold(
        src, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, p.block, c
    )


def _masks_from_binary(bw: np.ndarray, p: _Params, loose: bool = False):
    if loose:
        return cv2.morphologyEx(bw, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (p.loose, 1)))
    hm, vm, _, _ = _line_and_piece_masks(bw, p)
    return hm, vm


def _line_and_piece_masks(bw: np.ndarray, p: _Params):
    """(hm, vm, hp, vp): the long-line masks and the "pieces" masks (strokes opened with a short
    kernel only, see _tables_from_masks), which share their first steps."""
    # horizontal / vertical: opening after a 3-px perpendicular dilation, kept inside the dilated
    # ink (with an even kernel length OpenCV's opening shifts by a pixel, so it is not a subset)
    hd = cv2.dilate(bw, cv2.getStructuringElement(cv2.MORPH_RECT, (1, 3)))
    hm = cv2.morphologyEx(hd, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (p.lh, 1)))
    hm = cv2.bitwise_and(hm, hd)
    vd = cv2.dilate(bw, cv2.getStructuringElement(cv2.MORPH_RECT, (3, 1)))
    vm = cv2.morphologyEx(vd, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, p.lv)))
    vm = cv2.bitwise_and(vm, vd)
    # recover short pieces cut off by a gap near a line end: short-opened
    # strokes collinear with a long line and within `gap` of it are added
    # (a conditional dilation, so text further away is never picked up),
    # then gaps are bridged.
    short = max(int(round(0.4 * p.text_h)), 5)
    hm0, vm0 = hm, vm
    t = max(p.tol // 2, 2)
    hp = vp = None
    for m, kshort, kreach, kclose in (
        ("h", (short, 1), (2 * p.gap + 1, 1), (p.gap, 3)),
        ("v", (1, short), (1, 2 * p.gap + 1), (3, p.gap)),
    ):
        src = hd if m == "h" else vd
        base = hm0 if m == "h" else vm0
        other = vm0 if m == "h" else hm0
        opened = cv2.morphologyEx(src, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, kshort))
        if m == "h":
            hp = opened
        else:
            vp = opened
        pieces = cv2.bitwise_and(opened, cv2.bitwise_not(base))
        reach = cv2.dilate(base, cv2.getStructuringElement(cv2.MORPH_RECT, kreach))
        # a piece is kept only if it is collinear with, and within `gap` of, a
        # long line AND touches a perpendicular line at its other end (the
        # stub between a gap and an intersection).  Character strokes inside
        # a spanning cell do not touch a ruling, so a missing line is never
        # "re-grown" through text.
        n, lab, pst, _ = _cc_stats(pieces)
        add = None
        if n > 1:
            # the labels under each marker, read at the marker's pixels on the pieces only
            # (a handful, where a full-page boolean index would scan the whole label image)
            near = cv2.findNonZero(cv2.bitwise_and(pieces, reach))
            if near is not None:
                near = near.reshape(-1, 2)  # (x, y) rows
                near_line = np.zeros(n, bool)
                near_line[lab[near[:, 1], near[:, 0]]] = True
                touched = cv2.dilate(other, np.ones((2 * t + 1, 2 * t + 1), np.uint8))
                on = cv2.findNonZero(cv2.bitwise_and(pieces, touched))
                touch = np.zeros(n, bool)
                if on is not None:
                    on = on.reshape(-1, 2)
                    touch[lab[on[:, 1], on[:, 0]]] = True
                keep = near_line & touch
                keep[0] = False
                kept = np.flatnonzero(keep)
                if len(kept) > 64:  # many: one pass over the label image
                    lut = keep.astype(np.uint8) * 255
                    add = cv2.bitwise_and(lut[lab], reach)
                elif len(kept):  # a few stubs (the usual case): painted within their boxes
                    add = np.zeros_like(pieces)
                    for k in kept:
                        x, y, w, h = (int(v) for v in pst[k, :4])
                        box = add[y:y + h, x:x + w]
                        box[lab[y:y + h, x:x + w] == k] = 255
                    add = cv2.bitwise_and(add, reach)
        out = base if add is None else cv2.bitwise_or(base, add)
        out = cv2.morphologyEx(out, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, kclose))
        if m == "h":
            hm = out
        else:
            vm = out
    return hm, vm, hp, vp


def _ridges(g: np.ndarray, keep: np.ndarray, vertical: bool, L: int, thr: float, p: _Params) -> np.ndarray:
    """Where ``g``, averaged over the pixels ``keep`` (0/1 float) holds within ``L`` along the
    direction, is darker than the same a few pixels to both sides by more than ``thr`` (bool); no
    ridge where a fifth or less of them are kept."""
    k = (1, L) if vertical else (L, 1)
    w = cv2.blur(keep, k)
    gs = np.where(w > 0.2, cv2.blur(g * keep, k) / np.maximum(w, 1e-3), np.inf).astype(np.float32)
    m = np.zeros(g.shape, bool)
    for d in sorted({3, max(int(round(3 * p.unit)), 3) * 2}):
        a = np.roll(gs, d, axis=1 if vertical else 0)
        b = np.roll(gs, -d, axis=1 if vertical else 0)
        with np.errstate(invalid="ignore"):
            m |= (np.minimum(a, b) - gs) > thr
    return m


def _faint_rulings(gray: np.ndarray, p: _Params, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Masks (horizontal, vertical) of faint rulings the binarisation breaks into specks: the page
    averaged along each direction over most of a text height (noise falls by the root of the
    length, a straight line keeps its contrast) and kept where it is darker than the page a few
    pixels to both sides by four noise levels, along a text height and a half or more.

    Strong ink (text; rulings the binarisation finds anyway), widened by two pixels, is left out
    of the averages: a faint ruling that meets a dark one keeps its contrast up to the junction,
    and black text is never smeared across the white between characters (along a text line, or
    down a column of aligned first characters in tight rows) into a ridge of its own. (Smearing
    dark dashes across their gaps as well found a few more broken rulings on heavy scans, but
    made columns of the text of tight rows on noisy ones.)"""
    L = max(int(round(0.6 * p.text_h)), 9)
    g = gray.astype(np.float32)
    k = int(p.block) | 1
    strong = cv2.dilate((cv2.blur(g, (k, k)) - g > max(60.0, 5.0 * sigma)).astype(np.uint8),
                        np.ones((5, 5), np.uint8)) > 0
    keep = (~strong).astype(np.float32)
    thr = max(8.0, 4.0 * sigma / math.sqrt(L))
    n = max(p.lv, int(1.5 * p.text_h))  # longer than a character
    out = []
    for vertical in (False, True):
        m = _ridges(g, keep, vertical, L, thr, p)
        kern = (1, n) if vertical else (max(p.lh, n), 1)
        out.append(cv2.morphologyEx(m.astype(np.uint8) * 255, cv2.MORPH_OPEN,
                                    cv2.getStructuringElement(cv2.MORPH_RECT, kern)))
    return out[0], out[1]


def line_masks(gray: np.ndarray, binary: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Horizontal and vertical line masks (uint8, 255 = line pixel).

    Compute once per page and reuse.  ``binary`` may be a precomputed
    ``binarize(gray)``.
    """
    if gray.ndim == 3:
        gray = cv2.cvtColor(gray, cv2.COLOR_BGR2GRAY)
    p = _params(gray.shape)
    sigma = _noise_sigma(gray)
    p = _params(gray.shape, _text_height(binarize(gray, p, sigma=sigma), p))
    bw = binary if binary is not None else binarize(gray, p, sensitive=True, sigma=sigma)
    return _masks_from_binary(bw, p)


# --------------------------------------------------------------------- segments


def _segments(mask: np.ndarray, horizontal: bool, p: _Params, min_len: int):
    """Connected components of a line mask -> array [a0, a1, pos, thick, lo, hi].

    For horizontals a0/a1 = x extent, pos = y centroid, lo/hi = y extent.
    """
    n, _, stats, cents = _cc_stats(mask)
    if n <= 1:
        return np.zeros((0, 6), np.float32)
    st = stats[1:].astype(np.float32)
    ce = cents[1:].astype(np.float32)
    x, y, w, h, a = st[:, 0], st[:, 1], st[:, 2], st[:, 3], st[:, 4]
    if horizontal:
        length, thick = w, a / np.maximum(w, 1)
        seg = np.stack([x, x + w - 1, ce[:, 1], thick, y, y + h - 1], 1)
    else:
        length, thick = h, a / np.maximum(h, 1)
        seg = np.stack([y, y + h - 1, ce[:, 0], thick, x, x + w - 1], 1)
    keep = (length >= min_len) & (thick <= p.max_thick)
    return seg[keep]


def _skew_deg(hmask: np.ndarray, vmask: np.ndarray, p: _Params) -> float:
    angs, wts = [], []
    for mask, horiz in ((hmask, True), (vmask, False)):
        cnts, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        for c in cnts:
            x, y, w, h = cv2.boundingRect(c)
            L = w if horiz else h
            if L < 4 * p.lh:
                continue
            m = cv2.moments(c)
            if m["m00"] <= 0:
                continue
            a = 0.5 * math.degrees(math.atan2(2 * m["mu11"], m["mu20"] - m["mu02"]))
            # a: orientation of the major axis w.r.t. x axis
            if not horiz:
                a = a - 90.0 if a > 0 else a + 90.0
            angs.append(a)
            wts.append(L)
    if len(angs) < 2:
        return 0.0
    angs = np.asarray(angs)
    wts = np.asarray(wts, float)
    o = np.argsort(angs)
    cw = np.cumsum(wts[o])
    med = float(angs[o][np.searchsorted(cw, cw[-1] / 2)])
    if abs(med) > 3.0:
        return 0.0
    return med


def _cluster(vals: np.ndarray, wts: np.ndarray, dist: float):
    """1-D single-linkage clustering -> (centres, lows, highs, labels)."""
    if len(vals) == 0:
        return np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0, int)
    o = np.argsort(vals)
    v, w = vals[o], wts[o]
    breaks = np.nonzero(np.diff(v) > dist)[0] + 1
    starts = np.r_[0, breaks]
    ends = np.r_[breaks, len(v)]
    cw = np.add.reduceat(w, starts)
    cs = np.add.reduceat(v * w, starts) / np.maximum(cw, 1e-9)
    lab_sorted = np.zeros(len(v), int)
    lab_sorted[starts[1:]] = 1
    lab_sorted = np.cumsum(lab_sorted)
    labels = np.empty(len(v), int)
    labels[o] = lab_sorted
    return cs, v[starts], v[ends - 1], labels


def _merge_jogs(segs: np.ndarray, cs, lo, hi, labels, max_dist: float, tol: float):
    """Merge neighbouring line clusters that never overlap along the line
    direction (a ruling that jogs sideways by a few px between rows / header
    and body, as in many PDF renderings)."""
    cs, lo, hi = list(cs), list(lo), list(hi)
    ivs = [segs[labels == k][:, :2] for k in range(len(cs))]
    k = 0
    while k < len(cs) - 1:
        if cs[k + 1] - cs[k] <= max_dist:
            a, b = ivs[k], ivs[k + 1]
            ov = (np.minimum(a[:, 1][:, None], b[:, 1][None]) - np.maximum(a[:, 0][:, None], b[:, 0][None])) > tol
            if not ov.any():
                wa = float((a[:, 1] - a[:, 0]).sum())
                wb = float((b[:, 1] - b[:, 0]).sum())
                cs[k] = (cs[k] * wa + cs[k + 1] * wb) / max(wa + wb, 1e-9)
                lo[k] = min(lo[k], lo[k + 1])
                hi[k] = max(hi[k], hi[k + 1])
                ivs[k] = np.vstack([a, b])
                del cs[k + 1], lo[k + 1], hi[k + 1], ivs[k + 1]
                continue
        k += 1
    return cs, lo, hi


# ------------------------------------------------------------------ main entry


def find_tables(gray: np.ndarray, regions: list[tuple] | None = None, text_h: float | None = None) -> list[GridTable]:
    """All ruled tables on the page, top-to-bottom.

    ``regions`` are optional hint boxes (x0, y0, x1, y1) from a layout model;
    tables are found without them.  When given, line groups that fall in the
    same region are merged into one table (helps tables whose lines are broken
    into separate groups). ``text_h``: the characters' height in pixels when the
    caller knows it (a PDF's rulings drawn without their text, textlayer/);
    otherwise measured on the page.
    """
    if gray.ndim == 3:
        gray = cv2.cvtColor(gray, cv2.COLOR_BGR2GRAY)
    gray = np.ascontiguousarray(gray)
    p = _params(gray.shape)
    sigma = _noise_sigma(gray)
    p = _params(gray.shape, text_h if text_h else _text_height(binarize(gray, p, sigma=sigma), p))
    bw = binarize(gray, p, sensitive=True, sigma=sigma)
    hm, vm, hp, vp = _line_and_piece_masks(bw, p)
    ang = _skew_deg(hm, vm, p)
    M_inv = None
    if abs(ang) > 0.1:
        H, W = gray.shape
        M = cv2.getRotationMatrix2D((W / 2.0, H / 2.0), ang, 1.0)
        gray_r = cv2.warpAffine(gray, M, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        bw = binarize(gray_r, p, sensitive=True, sigma=sigma)
        hm, vm, hp, vp = _line_and_piece_masks(bw, p)
        M_inv = cv2.invertAffineTransform(M)
    # noisy scans only: on clean pages the binarisation keeps faint rules whole (and there the ends
    # of right-aligned figures in tight rows join into ridges: cTDaR). It holds ~8 float copies of
    # the page, so not on pages over 20 Mpx (an A3 page at 300 dpi is 17)
    if sigma > NOISY and gray.size <= FAINT_MAX_PIXELS:
        fh, fv = _faint_rulings(gray_r if M_inv is not None else gray, p, sigma)
        hp, vp = cv2.bitwise_or(hp, fh), cv2.bitwise_or(vp, fv)
    tables = _drop_nested(_tables_from_masks(bw, hm, vm, p, regions, M_inv, hp, vp))
    tables.sort(key=lambda t: (t.bbox[1], t.bbox[0]))
    return tables


def _drop_nested(tables: list[GridTable], frac: float = 0.8) -> list[GridTable]:
    """Leave out a grid that lies inside a larger one: on a scan whose rulings are broken, the
    junctions of a few cells can close into a small grid of their own inside the table's grid (the
    same cells twice, one copy cut from the table). Budget tables do not nest tables."""
    def area(b) -> float:
        return max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1])

    keep = []
    for t in tables:
        a = area(t.bbox)
        nested = False
        for o in tables:
            if o is t or area(o.bbox) <= a:
                continue
            iw = min(t.bbox[2], o.bbox[2]) - max(t.bbox[0], o.bbox[0])
            ih = min(t.bbox[3], o.bbox[3]) - max(t.bbox[1], o.bbox[1])
            if a > 0 and iw > 0 and ih > 0 and iw * ih >= frac * a:
                nested = True
                break
        if not nested:
            keep.append(t)
    return keep


def _tables_from_masks(bw, hm, vm, p: _Params, regions, M_inv, hp=None, vp=None) -> list[GridTable]:
    """The ruled tables of the binary page ``bw`` from its line masks ``hm``, ``vm`` (pieces masks
    ``hp``, ``vp``: made from ``bw`` when not given): the line segments that meet, in connected
    groups (merged where close, or in one of the hint ``regions``), each group's grid, mapped back
    to the page through ``M_inv`` when the page was deskewed."""
    H, W = bw.shape
    found = _meeting_segments(bw, hm, vm, p)
    if found is None:
        return []
    hs, vs, C = found
    nh = len(hs)
    glist = _merge_groups_geometric(_segment_groups(C, nh, len(vs)), hs, vs, nh, p)
    if regions:
        glist = _merge_groups_by_region(glist, hs, vs, nh, regions)
    hl, vl, hp, vp, qh, qv = _coverage_masks(bw, hm, vm, p, hp, vp)
    out = []
    for g in glist:
        gi = np.array([a for a in g if a < nh], int)
        gj = np.array([a - nh for a in g if a >= nh], int)
        if len(gi) < 2 or len(gj) < 2:
            continue
        tb = _build_table(hs[gi], vs[gj], hl, vl, p, (H, W), hp, vp, bw, qh, qv)
        if tb is not None:
            if M_inv is not None:
                tb = _map_table(tb, M_inv)
            out.append(tb)
    return out


def _meeting_segments(bw, hm, vm, p: _Params):
    """The line segments of the masks that meet perpendicular ones, as (horizontals, verticals,
    the boolean [nh, nv] of which meet which), or None when fewer than two of either are left:
    a vertical must meet >= 2 horizontals, a horizontal >= 1 vertical (filtered in turn)."""
    hs = _segments(hm, True, p, p.lh)
    vs = _segments(vm, False, p, p.lv)
    if len(hs) < 2 or len(vs) < 2:
        return None
    t = p.tol
    g = 1.25 * p.gap
    # horizontals only: carrying column lines on past their last row joined tables stacked on a
    # page (on the calibration scans 10 pages worse, none better); horizontals alone made no page
    # of light or medium scans worse, 10 heavy pages and the m2 sign-off strip better
    hs = _reach_dangling(hs, vs, t, g, 6 * p.gap)
    # iterative filtering: verticals need >= 2 horizontals, horizontals >= 1 vertical
    for _ in range(3):
        C = _bridged(hs, vs, t, g, bw, hm, p)
        vkeep = C.sum(0) >= 2
        vs = vs[vkeep]
        C = C[:, vkeep]
        hkeep = C.sum(1) >= 1
        hs = hs[hkeep]
        if len(hs) < 2 or len(vs) < 2:
            return None
        if vkeep.all() and hkeep.all():
            break
    return hs, vs, _bridged(hs, vs, t, g, bw, hm, p)


def _cross(hs, vs, t: float) -> np.ndarray:
    """Boolean [nh, nv]: does horizontal segment i meet vertical segment j (within ``t``)."""
    hx0, hx1, hy = hs[:, 0][:, None], hs[:, 1][:, None], hs[:, 2][:, None]
    vy0, vy1, vx = vs[:, 0][None], vs[:, 1][None], vs[:, 2][None]
    return (vx >= hx0 - t) & (vx <= hx1 + t) & (hy >= vy0 - t) & (hy <= vy1 + t)


def _bridged(hs, vs, t: float, g: float, bw, hm, p: _Params) -> np.ndarray:
    """[nh, nv]: the segments that meet (``_cross``), and a line that crosses nothing but whose
    BOTH ends stop short of a perpendicular ruling by a gap ``g`` (a scan dropout at each junction,
    e.g. a short ruling under one column) meets the rulings at its ends.  Both ends are required: a
    text stroke long enough to be a line segment never reaches a ruling at each end."""
    hx0, hx1, hy = hs[:, 0][:, None], hs[:, 1][:, None], hs[:, 2][:, None]
    vy0, vy1, vx = vs[:, 0][None], vs[:, 1][None], vs[:, 2][None]
    h0 = (np.abs(vx - hx0) <= g) & (hy >= vy0 - t) & (hy <= vy1 + t)
    h1 = (np.abs(vx - hx1) <= g) & (hy >= vy0 - t) & (hy <= vy1 + t)
    v0 = (np.abs(hy - vy0) <= g) & (vx >= hx0 - t) & (vx <= hx1 + t)
    v1 = (np.abs(hy - vy1) <= g) & (vx >= hx0 - t) & (vx <= hx1 + t)
    C = _cross(hs, vs, t)
    hb = ~C.any(1) & h0.any(1) & h1.any(1)
    vb = (C.sum(0) < 2) & v0.any(0) & v1.any(0)
    if vb.any():
        vb &= ~_text_strokes(vs, vb, bw, hm, p)
    return C | ((h0 | h1) & hb[:, None]) | ((v0 | v1) & vb[None, :])


def _segment_groups(C: np.ndarray, nh: int, nv: int) -> list[list[int]]:
    """Connected groups of meeting segments (union-find over nh + nv nodes: horizontals 0..nh-1,
    verticals nh + j)."""
    parent = np.arange(nh + nv)

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    ii, jj = np.nonzero(C)
    for i, j in zip(ii.tolist(), jj.tolist()):
        ra, rb = find(i), find(nh + j)
        if ra != rb:
            parent[ra] = rb
    roots = np.array([find(a) for a in range(nh + nv)])
    groups: dict[int, list[int]] = {}
    for a, r in enumerate(roots.tolist()):
        groups.setdefault(r, []).append(a)
    return list(groups.values())


def _coverage_masks(bw, hm, vm, p: _Params, hp=None, vp=None):
    """(hl, vl, hp, vp, qh, qv): the coverage masks, the pieces masks and the rulings with their
    broken pieces, for the grids built from the segment groups."""
    # coverage masks: horizontals from a shorter opening (short partial
    # rulings under a single narrow column) plus the strict mask (bridged
    # gaps); verticals from the strict mask (character strokes are too
    # close to the column lines for a looser one)
    hl = cv2.bitwise_or(_masks_from_binary(bw, p, loose=True), hm)
    vl = vm
    # "pieces" masks: strokes opened with a short kernel only.  They keep the
    # fragments of a ruling broken by several gaps (each fragment shorter than
    # the long opening kernels); a fragment run only counts as a ruling
    # segment when it is nearly continuous and reaches a junction (text never
    # touches the rulings), see _gappy_present.
    # (computed with the line masks, from the same dilated ink: _line_and_piece_masks)
    if hp is None or vp is None:
        _, _, hp, vp = _line_and_piece_masks(bw, p)
    # rulings with their broken pieces, for the edges beyond a grid's sides (_outer_edges)
    qh, qv = cv2.bitwise_or(hp, hl), cv2.bitwise_or(vp, vl)
    return hl, vl, hp, vp, qh, qv


def _text_strokes(vs, cand, bw, hm, p: _Params) -> np.ndarray:
    """Which candidate verticals (``cand``: they stop short of a ruling at both ends) are a
    character's stroke rather than a ruling broken at both junctions. A ruling runs past the text
    beside it, up and down; a stroke (the 丨 of 中, a glyph taller than the page's usual text, its
    line centred in a tall row, every gap to the rules under the dropout allowance) starts and
    ends where the text beside it does. The text is the ink within a text height either side of it,
    from a little above it to a little below, rulings and specks left out. A segment that runs past
    that text at one end at least is a ruling (a dropout may have shortened it at the other)."""
    H, W = bw.shape
    out = np.zeros(len(vs), bool)
    th = p.text_h
    d = 0.3 * th + 2  # how far past the text a ruling runs (a blot at a glyph's foot is less)
    for j in np.flatnonzero(cand):
        y0, y1, x, thick = (float(v) for v in vs[j, :4])
        if y1 - y0 > 1.6 * th:
            continue
        # the text a little above and below the segment, rulings left out (their ink and blur)
        a, b = int(max(y0 - 0.6 * th, 0)), int(min(y1 + 0.6 * th + 1, H))
        half = thick / 2 + 2
        xl0, xl1 = int(max(x - 1.2 * th, 0)), int(max(x - half, 0))
        xr0, xr1 = int(min(x + half + 1, W)), int(min(x + 1.2 * th + 1, W))
        ink = cv2.bitwise_and(bw[a:b, xl0:xr1], cv2.bitwise_not(hm[a:b, xl0:xr1]))
        ink = cv2.morphologyEx(ink, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8)) > 0  # specks are no text
        rows = ink[:, : xl1 - xl0].any(1) | ink[:, xr0 - xl0:].any(1)
        if not rows.any():
            continue  # nothing beside it: a ruling between empty cells
        idx = np.flatnonzero(rows)
        t0, t1 = a + idx[0], a + idx[-1]
        if y0 < t0 - d or y1 > t1 + d:
            continue  # it runs past the text at one end at least: a ruling (a dropout at the other)
        out[j] = True
    return out


def _reach_dangling(segs: np.ndarray, perp: np.ndarray, t: float, g: float, reach: float) -> np.ndarray:
    """Rulings ([a0, a1, pos, ...] rows, see _segments) whose end runs on past the last ruling
    they cross, toward a perpendicular ruling that reaches their level and that a parallel ruling
    crosses (the table's outer line, met by its other border), are carried to it when it is
    within ``reach``: a faint stretch of a ruling
    lost before the table's outer line (a sign-off strip whose bottom ruling fades under its first
    cell, so that the first column was lost). A ruling that stops at the last line it crosses
    (within ``t``) is left alone: the table may well end there; so is one running toward a line
    that no other ruling meets (an open-sided table's rulings run past its columns toward a
    border of something else), and so is one far from it (on real pages that joins two tables
    side by side)."""
    if not len(segs) or not len(perp):
        return segs
    out = segs.copy()
    plo, phi, ppos = perp[:, 0], perp[:, 1], perp[:, 2]
    reaches = (plo[None] - g <= segs[:, 2:3]) & (segs[:, 2:3] <= phi[None] + g)  # [ns, np]
    crosses = reaches & (ppos[None] >= segs[:, 0:1] - t) & (ppos[None] <= segs[:, 1:2] + t)
    n_cross = crosses.sum(0)
    for i, s in enumerate(out):
        at = reaches[i]
        crossed = ppos[crosses[i]]
        if len(crossed) < 2:
            continue
        met = at & (n_cross - crosses[i] >= 1)  # reaching this level and crossed by another ruling
        first, last = crossed.min(), crossed.max()
        before = ppos[met & (ppos < s[0] - t)]
        if first - s[0] > t and len(before) and s[0] - before.max() <= reach:
            s[0] = before.max()
        after = ppos[met & (ppos > s[1] + t)]
        if s[1] - last > t and len(after) and after.min() - s[1] <= reach:
            s[1] = after.min()
    return out


def _group_geom(g, hs, vs, nh):
    gi = [a for a in g if a < nh]
    gj = [a - nh for a in g if a >= nh]
    h, v = hs[gi], vs[gj]
    x0 = min(h[:, 0].min() if len(h) else np.inf, v[:, 2].min() if len(v) else np.inf)
    x1 = max(h[:, 1].max() if len(h) else -np.inf, v[:, 2].max() if len(v) else -np.inf)
    y0 = min(v[:, 0].min() if len(v) else np.inf, h[:, 2].min() if len(h) else np.inf)
    y1 = max(v[:, 1].max() if len(v) else -np.inf, h[:, 2].max() if len(h) else -np.inf)
    vx0 = v[:, 2].min() if len(v) else x0
    vx1 = v[:, 2].max() if len(v) else x1
    return float(x0), float(y0), float(x1), float(y1), float(vx0), float(vx1)


def _merge_groups_geometric(glist, hs, vs, nh, p: _Params):
    """Merge line groups that belong to one table although no line of one
    crosses a line of the other:
    * a double outer frame (a rectangle enclosing the table at a few px);
    * an open-sided table cut in two by a full-width row with no inner
      verticals (same left/right extents, stacked within ~3 text heights).
    """
    if len(glist) < 2:
        return glist
    near = max(3 * p.tol, 0.8 * p.text_h)
    changed = True
    while changed and len(glist) > 1:
        changed = False
        geo = [_group_geom(g, hs, vs, nh) for g in glist]
        for a in range(len(glist)):
            for b in range(len(glist)):
                if a == b:
                    continue
                A, B = geo[a], geo[b]
                nested = (A[0] <= B[0] + p.tol and A[1] <= B[1] + p.tol and A[2] >= B[2] - p.tol
                          and A[3] >= B[3] - p.tol and B[0] - A[0] <= near and B[1] - A[1] <= near
                          and A[2] - B[2] <= near and A[3] - B[3] <= near)
                open_a = (A[4] - A[0] > p.ext_min) or (A[2] - A[5] > p.ext_min)
                open_b = (B[4] - B[0] > p.ext_min) or (B[2] - B[5] > p.ext_min)
                stacked = ((open_a or open_b) and abs(A[0] - B[0]) <= 2 * p.tol and abs(A[2] - B[2]) <= 2 * p.tol
                           and 0 <= B[1] - A[3] <= 3 * p.text_h)
                if nested or stacked:
                    glist[a] = glist[a] + glist[b]
                    del glist[b]
                    changed = True
                    break
            if changed:
                break
    return glist


def _merge_groups_by_region(glist, hs, vs, nh, regions):
    def gbox(g):
        xs, ys = [], []
        for a in g:
            if a < nh:
                s = hs[a]
                xs += [s[0], s[1]]
                ys += [s[2]]
            else:
                s = vs[a - nh]
                ys += [s[0], s[1]]
                xs += [s[2]]
        return min(xs), min(ys), max(xs), max(ys)

    def inside(b, r):
        ix = max(0.0, min(b[2], r[2]) - max(b[0], r[0]))
        iy = max(0.0, min(b[3], r[3]) - max(b[1], r[1]))
        area = max((b[2] - b[0]) * (b[3] - b[1]), 1.0)
        return ix * iy / area > 0.7

    merged = []
    used = [False] * len(glist)
    boxes = [gbox(g) for g in glist]
    for r in regions:
        r = tuple(float(v) for v in r[:4])
        idx = [k for k in range(len(glist)) if not used[k] and inside(boxes[k], r)]
        if len(idx) > 1:
            merged.append(sum((glist[k] for k in idx), []))
            for k in idx:
                used[k] = True
    merged += [glist[k] for k in range(len(glist)) if not used[k]]
    return merged


def _gappy_present(seg: np.ndarray, max_gap: float, min_run: float, inset: float, both: bool = False,
                   min_cov: float = 0.6, loose_cov: float = 0.3) -> bool:
    """Is the 1-D fragment profile ``seg`` (one grid-edge segment from the
    centre of one junction to the centre of the next) a ruling broken by
    gaps?  Nearly continuous (coverage >= ``min_cov``, no hole longer than
    ``max_gap``, no end further than ``max_gap`` from its junction) and
    *anchored*: an unbroken run starts inside the perpendicular ruling
    (within ``inset`` of the junction centre) and reaches ``min_run`` past
    it -- at one end, or at both with ``both`` (new edges); once one end is
    so anchored, a shorter stub suffices at the other.  A segment of a
    known edge anchored at both ends only needs coverage >= ``loose_cov``.
    Text keeps a white padding from the rulings, so its strokes are never
    anchored."""
    L = len(seg)
    if L < 4:
        return False
    idx = np.flatnonzero(seg)
    if len(idx) < min(min_cov, loose_cov) * L:
        return False
    first, last = int(idx[0]), int(L - 1 - idx[-1])
    d = np.diff(idx)
    brk = np.flatnonzero(d > 1)
    run0 = (brk[0] + 1) if len(brk) else len(idx)  # run starting at idx[0]
    run1 = (len(idx) - brk[-1] - 1) if len(brk) else len(idx)
    need = inset + min_run
    a0 = first <= inset and first + run0 >= need
    a1 = last <= inset and last + run1 >= need
    if not (a0 and a1):
        # a shorter stub suffices at the second end when the first is anchored (for a new edge
        # too: a one-row column line with a dropout a little above its lower junction)
        short_need = inset + 0.6 * min_run
        b0 = first <= inset and first + run0 >= short_need
        b1 = last <= inset and last + run1 >= short_need
        if (a0 and b1) or (a1 and b0):
            a0 = a1 = True
    if a0 and a1 and not both:
        # anchored at both junctions: a ruling whose middle is lost in
        # several merged gaps (coverage only needs to be moderate)
        return len(idx) >= loose_cov * L
    if len(idx) < min_cov * L or first > max_gap or last > max_gap:
        return False
    if len(d) and int(d.max()) - 1 > max_gap:
        return False
    return (a0 and a1) if both else (a0 or a1)


def _ruled_at(mask: np.ndarray, a: float, b: float, x: float, r: int) -> bool:
    """Any line pixel of ``mask`` in rows [a, b] and columns x +- r (a
    junction check: does the perpendicular ruling pass there?)."""
    H, W = mask.shape
    a0, b0 = max(int(math.floor(a)), 0), min(int(math.ceil(b)) + 1, H)
    x0, x1 = max(int(round(x)) - r, 0), min(int(round(x)) + r + 1, W)
    return b0 > a0 and x1 > x0 and bool(mask[a0:b0, x0:x1].any())


def _fine_profile(sub: np.ndarray, horizontal: bool, p: _Params) -> np.ndarray:
    """1-D ink profile along a band of the binary image (``horizontal``: along x) from strokes
    opened with a very short kernel after a 3-px perpendicular dilation: the fragments of a
    faint ruling that the binarisation breaks every few pixels (shorter than the pieces masks'
    kernel), without isolated noise pixels."""
    k = max(int(round(0.15 * p.text_h)), 3)
    if horizontal:
        d = cv2.dilate(sub, cv2.getStructuringElement(cv2.MORPH_RECT, (1, 3)))
        o = cv2.morphologyEx(d, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (k, 1)))
        return o.any(axis=0)
    d = cv2.dilate(sub, cv2.getStructuringElement(cv2.MORPH_RECT, (3, 1)))
    o = cv2.morphologyEx(d, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, k)))
    return o.any(axis=1)


def _continues(mask: np.ndarray, y: float, before: bool, x: float, r: int, inset: float, run: float) -> bool:
    """Does the line of ``mask`` (lines vertical: columns of ``mask``) at x +- r go on, unbroken,
    for ``run`` px beyond the junction at row ``y`` -- upwards when ``before``, else downwards?
    A ruling that passes straight through a junction where no perpendicular ruling meets it (the
    column line beside a rowspan cell) is anchored there as firmly as at a crossing."""
    H, W = mask.shape
    if before:
        a, b = y - inset - run, y - inset
    else:
        a, b = y + inset, y + inset + run
    a0, b0 = max(int(math.floor(a)), 0), min(int(math.ceil(b)) + 1, H)
    x0, x1 = max(int(round(x)) - r, 0), min(int(round(x)) + r + 1, W)
    if b0 - a0 < max(run, 1) or x1 <= x0:
        return False
    return bool(mask[a0:b0, x0:x1].any(1).all())


def _discover_edges(pm: np.ndarray, qm: np.ndarray, edges, perp, perp_lo, perp_hi, lo: int, hi: int,
                    inset: float, reach: float, p: _Params, max_gap: float,
                    min_run: float) -> list[tuple[float, float, float]]:
    """Rulings missing from ``edges`` because every piece of them is shorter
    than the long opening kernel (a one-row column line broken by a gap).

    ``pm`` is a pieces mask oriented so that the sought lines are vertical
    (columns of ``pm``), ``qm`` the perpendicular line mask in the same
    orientation; ``perp`` are the perpendicular edges (rows of ``pm``, with
    their extents ``perp_lo``/``perp_hi``) and [lo, hi) the extent of the
    table along the axis of ``edges``.  Per band between consecutive
    ``perp`` edges, columns whose fragments span the band junction-to-
    junction (see _gappy_present) and meet a perpendicular ruling at both
    ends are candidates.  Returns (position, low, high) of new edges."""
    H = pm.shape[0]
    ex = np.asarray(edges, float)
    found: list[float] = []
    ins = int(math.ceil(inset))
    for i in range(len(perp) - 1):
        a = max(int(round(perp[i])), 0)
        b = min(int(round(perp[i + 1])) + 1, H)
        if b - a < max(p.min_cell, 6) or hi <= lo:
            continue
        sub = pm[a:b, lo:hi] > 0
        L = b - a
        # cheap prefilter: dense column, ink at both junctions
        cand = (sub.sum(0) >= 0.6 * L) & sub[: ins + 1].any(0) & sub[L - ins - 1 :].any(0)
        xs = np.flatnonzero(cand)
        if len(xs) == 0:
            continue
        # runs of adjacent candidate columns = one stroke each
        br = np.flatnonzero(np.diff(xs) > 2) + 1
        for run in np.split(xs, br):
            if run[-1] - run[0] + 1 > p.max_thick + 4:
                continue
            x = float(run.mean()) + lo
            if np.min(np.abs(ex - x)) < p.min_cell:
                continue
            if not _gappy_present(sub[:, run[0] : run[-1] + 1].any(1), max_gap, min_run, inset, both=True):
                continue
            r = int(math.ceil(reach))
            if not (_ruled_at(qm, perp_lo[i] - reach, perp_hi[i] + reach, x, r)
                    and _ruled_at(qm, perp_lo[i + 1] - reach, perp_hi[i + 1] + reach, x, r)):
                continue
            found.append(x)
    if not found:
        return []
    f = np.sort(np.asarray(found))
    out = []
    for grp in np.split(f, np.flatnonzero(np.diff(f) > p.clust) + 1):
        out.append((float(np.median(grp)), float(grp.min()), float(grp.max())))
    return out


def _rescue_segments(cov: np.ndarray, pp: np.ndarray, ends: np.ndarray, s0: np.ndarray, s1: np.ndarray,
                     max_gap: float, min_run: float, inset: float, fine, anchored) -> None:
    """The segments of one edge (a row boundary along x, or a column boundary along y) whose
    solid coverage ``cov`` (changed in place) is below 0.5 but whose pieces profile ``pp`` shows
    a gappy, anchored ruling (_gappy_present) between junctions ``ends[k]`` and ``ends[k+1]``
    are set present. A faint ruling that the binarisation leaves in fragments too short even for
    the pieces mask gets the same test on ``fine()`` (finer pieces, computed once when first
    needed; None: not tried). The ruling must also be ``anchored(k, before)`` at both junctions:
    met by a perpendicular ruling, or going on past it."""
    e = np.clip(np.round(ends).astype(int), 0, len(pp))
    fp = None
    solid = cov >= 0.5
    for j in np.flatnonzero(cov < 0.5):
        # a segment reaching only one of its junctions is a ruling with a dropout at the other end
        # only where the ruling goes on beyond that junction (solid in the next segment): a
        # character's stroke touching one rule of a tight row, at the place of a boundary that
        # exists only in another band of the table, reaches one junction and stands alone
        lone = not ((j > 0 and solid[j - 1]) or (j + 1 < len(cov) and solid[j + 1]))
        ok = _gappy_present(pp[e[j]: e[j + 1] + 1], max_gap, min_run, inset, both=lone)
        src = pp
        if not ok and fine is not None:
            if fp is None:
                fp = fine()
            ok = _gappy_present(fp[e[j]: e[j + 1] + 1], max_gap, min_run, inset, both=lone)
            src = fp
        if ok and all(anchored(k, k == j) for k in (j, j + 1)):
            cov[j] = max(0.5, float(src[s0[j]: s1[j]].mean()) if s1[j] > s0[j] else 0.5)


def _band_cover(pm: np.ndarray, a: int, b: int, xa: int, xb: int, r: int) -> np.ndarray:
    """Rows [a, b) x columns [xa, xb) of the mask ``pm`` as 0/1, each pixel widened by ``r`` along
    x: a column's mean is the share of the band a line near it covers (residual tilt allowed)."""
    return cv2.dilate((pm[a:b, xa:xb] > 0).astype(np.uint8), np.ones((1, 2 * r + 1), np.uint8))


def _runs_on_to(qm: np.ndarray, y: float, a: int, b: int, side: int, r: int, p: _Params) -> bool:
    """Does the ruling of ``qm`` at ``y`` (within ``r``) run from the table over [a, b) to a line
    at the far end (``a`` when ``side`` < 0, else ``b``)? Ink along half the way and within two
    text heights of the line, broken for no longer than three dropout allowances."""
    H = qm.shape[0]
    prof = qm[max(int(y) - r, 0): min(int(y) + r + 1, H), a:b].any(0)
    near = max(int(2 * p.text_h), 3)
    end = prof[:near] if side < 0 else prof[-near:]
    if prof.size == 0 or float(prof.mean()) < 0.5 or float(end.mean()) < 0.5:
        return False
    idx = np.flatnonzero(prof)
    return int(np.diff(np.r_[-1, idx, prof.size]).max()) - 1 <= 3 * p.gap


def _min_outer(p: _Params) -> float:
    """The least width of an outer column (height of an outer row) found beyond a grid's edge: a
    character and its padding, more than the two lines of a double rule lie apart."""
    return max(p.min_cell, 1.2 * p.text_h)


def _text_beside(ink: np.ndarray, pm: np.ndarray, x: float, a: int, b: int, r: int, p: _Params) -> bool:
    """Is the line of pieces at ``x`` (``pm`` and the binary ``ink`` oriented so that it is
    vertical, over [a, b)) the edge of a text line rather than a ruling? Text keeps a white
    padding from the rulings, so beside a ruling, a few pixels off it, there is next to no ink;
    beside the bottom (or side) strokes of a line of characters, the characters' bodies are ink on
    one side along half the line. Measured where the pieces lie, as the median over offsets of a
    tenth to a third of a text height (the other line of a double rule sits at a few of them)."""
    H, W = ink.shape
    a, b = max(a, 0), min(b, H)
    xi = int(round(x))
    on = pm[a:b, max(xi - r, 0): min(xi + r + 1, W)].any(1)
    if b <= a or on.sum() < 3:
        return False
    d0, d1 = max(int(0.1 * p.text_h), 3), max(int(0.35 * p.text_h), 6)
    for side in (-1, 1):
        fr = [float((ink[a:b, xi + side * d][on] > 0).mean()) for d in range(d0, d1 + 1) if 0 <= xi + side * d < W]
        if fr and float(np.median(fr)) > 0.3:
            return True
    return False


def _outer_edges(pm: np.ndarray, qm: np.ndarray, edges, perp, p: _Params, reach: float,
                 band_max: float = 0.0, ink: np.ndarray | None = None) -> list[float]:
    """Rulings beyond the outermost of ``edges`` that the grid's segments missed: the border of an
    outer column (or row) made only of merged cells (the 一级指标 column of a KPI table, a header
    band), where every piece of the border crosses too few rulings to join the grid (a broken or
    faded border beside one tall cell). ``pm`` is a pieces mask oriented so that the sought lines
    are vertical, ``qm`` a mask of the perpendicular rulings in the same orientation, ``perp`` the
    perpendicular edges. A line is taken where its pieces cover 60% of the table's extent along it
    and the first and last perpendicular rulings run on to it from the table (ink along half the
    way, and beside the line): a rectangle closed by broken rules, which no text draws. Returns new positions."""
    H, W = pm.shape
    y0, y1 = max(int(round(perp[0])), 0), min(int(round(perp[-1])) + 1, H)
    if y1 - y0 < 2 * p.min_cell:
        return []
    r = max(int(math.ceil(reach)), 2)
    span = float(edges[-1] - edges[0])
    far = max(0.4 * span, 6 * p.text_h)
    wide = _min_outer(p)  # a cell that holds a character (not the outer line of a double rule)
    found: list[float] = []
    # sides closed by rulings (ink along half the table at both ends): a row beyond has its borders
    # run on to its closing line, so no closing rule is sought (from a table's top, the bottom rule
    # of the table above, across the title between them, would be taken)
    a0, b0 = max(int(edges[0]), 0), min(int(edges[-1]) + 1, W)
    closed = all(float(qm[max(int(y) - r, 0): int(y) + r + 1, a0:b0].any(0).mean()) >= 0.5 for y in (perp[0], perp[-1]))
    for side in (-1, 1):
        out = edges[0] if side < 0 else edges[-1]
        first = out
        for _ in range(12):  # a bound against graph-paper runaways; each line must close a rectangle
            if side < 0:
                xa, xb = max(int(out - far), 0), int(out - wide)
            else:
                xa, xb = int(out + wide) + 1, min(int(out + far) + 1, W)
            if xb - xa < 3:
                break
            cov = _band_cover(pm, y0, y1, xa, xb, r).mean(0)
            xs = np.flatnonzero(cov >= 0.6)
            best = None
            for run in np.split(xs, np.flatnonzero(np.diff(xs) > 1) + 1) if len(xs) else []:
                x = float(xa + run[cov[run] >= 0.95 * cov[run].max()].mean())  # the line's centre
                lo, hi = (x, out) if side < 0 else (out, x)
                a, b = max(int(lo), 0), min(int(hi) + 1, W)
                if (_runs_on_to(qm, perp[0], a, b, side, r, p) and _runs_on_to(qm, perp[-1], a, b, side, r, p)
                        and (best is None or abs(x - out) < abs(best - out))
                        and (ink is None or not _text_beside(ink, pm, x, y0, y1, r, p))):
                    best = x  # the nearest first; a further one is sought next
            if best is None and band_max and out == first and not closed:
                best = _closing_rule(pm, perp, out, side, xa, xb, r, p, band_max, qm)
            if best is None and out == first:
                reach_out = band_max or float(max(H, W))  # rows: a row's height at most; columns: the page
                lim = int(out - reach_out) if side < 0 else int(out + reach_out) + 1
                best = _open_end(qm, perp, out, side, lim, r, p)
            if best is None:
                break
            found.append(best)
            out = best
    return found


def _closing_rule(pm: np.ndarray, perp, out: float, side: int, xa: int, xb: int, r: int, p: _Params,
                  band_max: float, qm: np.ndarray) -> float | None:
    """A row of one merged cell at the top or bottom of a table with open sides (a full-width
    note, 注：本表无数据, or a header band over columns whose lines start below it): no ruling
    reaches the line that closes it, but the line runs the table's whole extent, end to end
    (pieces along 80% of it, and at both ends), no further from the table than ``band_max``."""
    H, W = pm.shape
    a, b = max(int(round(perp[0])), 0), min(int(round(perp[-1])) + 1, H)
    if b - a < 3:
        return None
    if side < 0:
        xa = max(xa, int(out - band_max))
    else:
        xb = min(xb, int(out + band_max) + 1)
    if xb - xa < 1:
        return None
    sub = _band_cover(pm, a, b, xa, xb, r)
    end = max(int(p.text_h), 3)
    full = (sub.mean(0) >= 0.8) & (sub[:end].mean(0) >= 0.5) & (sub[-end:].mean(0) >= 0.5)
    xs = np.flatnonzero(full)
    if not len(xs):
        return None
    run = np.split(xs, np.flatnonzero(np.diff(xs) > 1) + 1)
    run = run[-1] if side < 0 else run[0]  # the nearest to the table
    x = float(xa + run.mean())
    return None if _ruled_beyond(qm, x, side, a, b, r, p) else x


def _ruled_beyond(qm: np.ndarray, x: float, side: int, a: int, b: int, r: int, p: _Params) -> bool:
    """Do two or more perpendicular rulings (``qm``, lines horizontal in this orientation, over
    [a, b)) leave the line at ``x`` on its far side (away from the table, ``side``)? Then the line
    is the border of another ruled table (the one above, across the title between them), not the
    closing rule of this one's open-sided row."""
    H, W = qm.shape
    d = max(int(1.2 * p.text_h), 6)
    lo, hi = (int(x) - r - d, int(x) - r) if side < 0 else (int(x) + r + 1, int(x) + r + 1 + d)
    lo, hi = max(lo, 0), min(hi, W)
    if hi - lo < 3:
        return False
    rows = np.flatnonzero((qm[max(a, 0): min(b, H), lo:hi] > 0).mean(1) >= 0.8)
    return len(rows) > 0 and len(np.split(rows, np.flatnonzero(np.diff(rows) > 2 * r) + 1)) >= 2


def _open_end(qm: np.ndarray, perp, out: float, side: int, limit: int, r: int, p: _Params) -> float | None:
    """An open side (no ruling closes it): the perpendicular rulings run on past the outermost
    line, broken perhaps, and stop together. Each ruling is followed from ``out`` towards ``limit``
    over gaps of up to three dropout allowances; where at least half of them (two at least) stop
    within a clustering distance of one another, a text cell's width or more beyond ``out``, with
    ink along 60% of the way, that is the table's edge."""
    H, W = qm.shape
    gap = 3 * p.gap
    ends = []
    for y in perp:
        a, b = (limit, int(out)) if side < 0 else (int(out) + 1, limit)
        a, b = max(a, 0), min(b, W)
        if b - a < 3:
            return None
        prof = qm[max(int(y) - r, 0): min(int(y) + r + 1, H), a:b].any(0)
        if side < 0:
            prof = prof[::-1]
        idx = np.flatnonzero(prof)
        if not len(idx) or idx[0] > gap:
            continue
        cut = np.flatnonzero(np.diff(idx) > gap)
        last = int(idx[cut[0]] if len(cut) else idx[-1])
        if not len(cut) and last >= len(prof) - 1 - gap:
            continue  # runs on to the end of the search: no end seen
        # unbroken pieces longer than a character (the strokes of a text line beyond are not)
        seg = idx[idx <= last]
        runs = np.split(seg, np.flatnonzero(np.diff(seg) > 1) + 1)
        if max(len(q) for q in runs) < 1.2 * p.text_h:
            continue
        if last >= _min_outer(p) and prof[: last + 1].mean() >= 0.6:
            ends.append(out - last if side < 0 else out + 1 + last)
    if len(ends) < max(2, (len(perp) + 1) // 2):
        return None
    e = np.sort(np.asarray(ends, float))
    best = None
    for grp in np.split(e, np.flatnonzero(np.diff(e) > p.clust) + 1):
        if len(grp) >= max(2, (len(perp) + 1) // 2) and (best is None or len(grp) > len(best)):
            best = grp
    return None if best is None else float(np.median(best))


def _add_outer(edges: list, lo: list, hi: list, opened, search, ink, reopen) -> None:
    """Put the outer edges that ``search()`` finds into ``edges`` (with their extents). An edge
    ``opened`` on a side from the median start of broken segments, with no line of its own
    (``ink(position)`` below 0.3), is first moved to where the rulings running out past the next
    edge stop together (``reopen(inner, side)``), and gives way to a further edge found there."""
    opened = list(opened)
    for i, (side, k) in enumerate(((-1, 0), (1, -1))):
        v = opened[i]
        if v is None or len(edges) < 3 or edges[k] != v or ink(v) >= 0.3:
            continue
        e = reopen(edges[1] if side < 0 else edges[-2], side)
        if e is not None and (e < v if side < 0 else e > v):
            edges[k] = lo[k] = hi[k] = opened[i] = e
    first, last = edges[0], edges[-1]
    found = search()
    if not found:
        return
    if opened[0] is not None and first == opened[0] and any(v < first for v in found) and ink(first) < 0.3:
        del edges[0], lo[0], hi[0]
    if opened[1] is not None and last == opened[1] and any(v > last for v in found) and ink(last) < 0.3:
        del edges[-1], lo[-1], hi[-1]
    for v in found:
        k = int(np.searchsorted(edges, v))
        edges.insert(k, v)
        lo.insert(k, v)
        hi.insert(k, v)


def _line_ink(pm: np.ndarray, x: float, perp, r: int) -> float:
    """Share of the table's extent (``perp[0]`` to ``perp[-1]``) along which the pieces mask ``pm``
    (lines vertical) has ink within ``r`` of position ``x``."""
    H, W = pm.shape
    a, b = max(int(round(perp[0])), 0), min(int(round(perp[-1])) + 1, H)
    x0, x1 = max(int(round(x)) - r, 0), min(int(round(x)) + r + 1, W)
    if b <= a or x1 <= x0:
        return 0.0
    return float(pm[a:b, x0:x1].any(1).mean())


@dataclass
class _Edges:
    """A grid's edges along one axis (row edges: y; column edges: x) and, per edge, the extent
    (``lo``, ``hi``) of the line positions that made it; ``opened``: the edges set at an open side
    (before the first line, after the last; None where that side was closed). The lists are
    changed in place as edges are added."""

    at: list
    lo: list
    hi: list
    opened: list = field(default_factory=lambda: [None, None])


@dataclass
class _Group:
    """What the grid of one group of crossing segments is built from: the masks (coverage ``hl``,
    ``vl``; pieces ``hp``, ``vp``; rulings with their pieces ``qh``, ``qv``; the binary page
    ``bw``), the page size and the group's line thickness."""

    p: _Params
    H: int
    W: int
    hl: np.ndarray
    vl: np.ndarray
    hp: np.ndarray | None
    vp: np.ndarray | None
    bw: np.ndarray | None
    qh: np.ndarray | None
    qv: np.ndarray | None
    thick: float  # the median thickness of the group's segments

    @property
    def t(self) -> int:  # the tolerance around an edge
        return max(2, int(round(3 * self.p.unit)))

    @property
    def inset(self) -> float:  # how far from a junction a ruling's coverage is read
        return self.thick / 2 + 1

    @property
    def max_gap(self) -> float:  # the longest gap a broken ruling may have
        return 1.25 * self.p.gap

    @property
    def min_run(self) -> float:  # the shortest run of a broken ruling's pieces
        return 0.3 * self.p.text_h


def _build_table(hs, vs, hl, vl, p: _Params, shape, hp=None, vp=None, bw=None, qh=None, qv=None) -> GridTable | None:
    """The grid of one group of crossing segments (``hs`` horizontal, ``vs`` vertical): its edges
    from the line positions and open sides, the outer and broken rulings the segments missed, then
    which edge segments are ruled, and so the cells (None: no table: too few rows and columns, or
    fewer than two cells)."""
    H, W = shape
    g = _Group(p, H, W, hl, vl, hp, vp, bw, qh, qv, thick=float(np.median(np.r_[hs[:, 3], vs[:, 3]])))
    rows, cols = _group_edges(hs, vs, p)
    # an outer column or row of merged cells whose border joined no segment group, or an open
    # side's true end
    if qh is not None and qv is not None and len(rows.at) >= 2 and len(cols.at) >= 2:
        _outer_sides(g, rows, cols)
    _broken_edges(g, rows, cols)
    nr, nc = len(rows.at) - 1, len(cols.at) - 1
    # a single-row strip is a table when it has >= 3 columns (e.g. the
    # signature row of a table continued from the previous page)
    if nc < 2 or nr < 1 or (nr < 2 and nc < 3):
        return None
    hcov, vcov = _coverage(g, rows, cols)
    cells = _cells_from_presence(hcov >= 0.5, vcov >= 0.5, hcov, vcov, rows.at, cols.at)
    if len(cells) < 2:
        return None
    rows, cols = rows.at, cols.at
    bbox = (float(cols[0]), float(rows[0]), float(cols[-1]), float(rows[-1]))
    return GridTable(bbox=bbox, row_edges=[float(r) for r in rows], col_edges=[float(c) for c in cols], cells=cells, source="lines")


def _group_edges(hs, vs, p: _Params) -> tuple[_Edges, _Edges]:
    """Row and column edges of a segment group: clusters of the line positions (double lines
    collapse into one edge, a ruling that jogs sideways stays one), an edge at each open side, and
    edges closer than a minimal cell merged."""
    hw = hs[:, 1] - hs[:, 0] + 1
    vw = vs[:, 1] - vs[:, 0] + 1
    rows, rlo, rhi, rlab = _cluster(hs[:, 2], hw, p.clust)
    cols, clo, chi, clab = _cluster(vs[:, 2], vw, p.clust)
    jog = 1.0 * p.text_h
    rows, rlo, rhi = _merge_jogs(hs, rows, rlo, rhi, rlab, jog, p.tol)
    cols, clo, chi = _merge_jogs(vs, cols, clo, chi, clab, jog, p.tol)
    col_open = _open_sides(hs[:, 0], hs[:, 1], cols, clo, chi, p)
    row_open = _open_sides(vs[:, 0], vs[:, 1], rows, rlo, rhi, p)
    return _Edges(*_squeeze(rows, rlo, rhi, p), opened=row_open), _Edges(*_squeeze(cols, clo, chi, p), opened=col_open)


def _open_sides(vals_lo, vals_hi, edges: list, lo: list, hi: list, p: _Params) -> list:
    """Open sides: where at least two lines overshoot the outermost perpendicular line, an edge at
    their median end (added to ``edges``, ``lo``, ``hi``). Returns the edges so opened, before and
    after (None: that side was not)."""
    opened = [None, None]
    over = vals_lo < edges[0] - p.ext_min
    if over.sum() >= 2:
        e = float(np.median(vals_lo[over]))
        edges.insert(0, e)
        lo.insert(0, e)
        hi.insert(0, e)
        opened[0] = e
    over = vals_hi > edges[-1] + p.ext_min
    if over.sum() >= 2:
        e = float(np.median(vals_hi[over]))
        edges.append(e)
        lo.append(e)
        hi.append(e)
        opened[1] = e
    return opened


def _squeeze(edges, lo, hi, p: _Params) -> tuple[list, list, list]:
    """Edges closer than a minimal cell size merged (their mean; the union of their extents)."""
    e, l, h = [edges[0]], [lo[0]], [hi[0]]
    for a, b, c in zip(edges[1:], lo[1:], hi[1:]):
        if a - e[-1] < p.min_cell:
            e[-1] = (e[-1] + a) / 2.0
            l[-1] = min(l[-1], b)
            h[-1] = max(h[-1], c)
        else:
            e.append(a)
            l.append(b)
            h.append(c)
    return e, l, h


def _outer_sides(g: _Group, rows: _Edges, cols: _Edges) -> None:
    """Outer columns, then rows, beyond the grid's sides (``_outer_edges``; an open side moved to
    where its rulings stop, ``_open_end``), added to ``cols`` and ``rows``."""
    p, t, thick, W, bw = g.p, g.t, g.thick, g.W, g.bw
    vp, hp, qh, qv = g.vp, g.hp, g.qh, g.qv
    R = max(int(math.ceil(t + thick / 2)), 2)
    _add_outer(cols.at, cols.lo, cols.hi, cols.opened,
               lambda: _outer_edges(vp, qh, cols.at, rows.at, p, t + thick / 2, ink=bw),
               lambda x: _line_ink(vp, x, rows.at, R),
               lambda x, side: _open_end(qh, rows.at, x, side, 0 if side < 0 else W, R, p))
    band = 1.5 * float(np.median(np.diff(rows.at)))
    _add_outer(rows.at, rows.lo, rows.hi, rows.opened,
               lambda: _outer_edges(hp.T, qv.T, rows.at, cols.at, p, t + thick / 2, band, None if bw is None else bw.T),
               lambda y: _line_ink(hp.T, y, cols.at, R),
               lambda y, side: _open_end(qv.T, cols.at, y, side, int(y - band) if side < 0 else int(y + band) + 1,
                                         R, p))


def _broken_edges(g: _Group, rows: _Edges, cols: _Edges) -> None:
    """Rulings made only of short fragments (every piece shorter than the long kernels, e.g. a
    one-row column line broken by a gap) are not in the line segments: they are looked for band by
    band with the pieces masks (``_discover_edges``) and added to ``cols``, then ``rows``."""
    p, t, thick = g.p, g.t, g.thick
    if g.vp is not None and len(rows.at) >= 2 and len(cols.at) >= 2:
        x_a, x_b = int(max(cols.at[0], 0)), int(min(cols.at[-1] + 1, g.W))
        for x, a, b in _discover_edges(g.vp, g.hl, cols.at, rows.at, rows.lo, rows.hi, x_a, x_b, g.inset,
                                       t + thick / 2, p, g.max_gap, g.min_run):
            k = int(np.searchsorted(cols.at, x))
            cols.at.insert(k, x)
            cols.lo.insert(k, a)
            cols.hi.insert(k, b)
    if g.hp is not None and len(rows.at) >= 2 and len(cols.at) >= 2:
        y_a, y_b = int(max(rows.at[0], 0)), int(min(rows.at[-1] + 1, g.H))
        for y, a, b in _discover_edges(g.hp.T, g.vl.T, rows.at, cols.at, cols.lo, cols.hi, y_a, y_b, g.inset,
                                       t + thick / 2, p, g.max_gap, g.min_run):
            k = int(np.searchsorted(rows.at, y))
            rows.at.insert(k, y)
            rows.lo.insert(k, a)
            rows.hi.insert(k, b)


def _coverage(g: _Group, rows: _Edges, cols: _Edges) -> tuple[np.ndarray, np.ndarray]:
    """How much of each edge segment of the finest grid is ruled: horizontal edges
    [n_rows + 1, n_cols], vertical [n_rows, n_cols + 1] (0..1; a broken ruling's pieces rescue a
    segment, ``_rescue_segments``)."""
    t, W, H = g.t, g.W, g.H
    x_lo, x_hi = int(max(cols.at[0] - t, 0)), int(min(cols.at[-1] + t + 1, W))
    y_lo, y_hi = int(max(rows.at[0] - t, 0)), int(min(rows.at[-1] + t + 1, H))
    hcov = np.zeros((len(rows.at), len(cols.at) - 1))
    vcov = np.zeros((len(rows.at) - 1, len(cols.at)))
    cx = np.asarray(cols.at) - x_lo
    ry = np.asarray(rows.at) - y_lo
    for i in range(len(rows.at)):
        hcov[i] = _edge_coverage(g, rows, cols, i, cx, x_lo, x_hi, horizontal=True)
    for j in range(len(cols.at)):
        vcov[:, j] = _edge_coverage(g, cols, rows, j, ry, y_lo, y_hi, horizontal=False)
    return hcov, vcov


def _edge_coverage(g: _Group, along: _Edges, across: _Edges, i: int, cx: np.ndarray, x_lo: int, x_hi: int,
                   horizontal: bool) -> np.ndarray:
    """The coverage of the segments of edge ``i`` of ``along`` (a row edge when ``horizontal``,
    else a column edge) between the edges of ``across`` (``cx``: their positions from ``x_lo``)."""
    t, thick, p, inset, min_run = g.t, g.thick, g.p, g.inset, g.min_run
    rr = t + thick / 2
    R = int(math.ceil(rr))  # the half-width searched around a junction
    lim = g.H if horizontal else g.W
    a = int(max(along.lo[i] - t - thick / 2, 0))
    b = int(min(along.hi[i] + t + thick / 2 + 1, lim))
    if horizontal:
        # the solid coverage is read in a band as tight as the ruling itself (its segments' centre
        # lines, widened by the mean line half-thickness): a long horizontal stroke of a text line
        # centred on the edge (a rowspan cell over an even number of rows) lies a few pixels off
        # the ruling's line and must not count as a ruling there
        a2 = int(max(along.lo[i] - thick / 2 - 1, 0))
        b2 = int(min(along.hi[i] + thick / 2 + 2, lim))
        prof = g.hl[a2:b2, x_lo:x_hi].any(axis=0)
    else:
        prof = g.vl[x_lo:x_hi, a:b].any(axis=1)
    cs = np.r_[0, np.cumsum(prof)]
    s0 = np.clip(np.round(cx[:-1] + inset).astype(int), 0, len(prof))
    s1 = np.clip(np.round(cx[1:] - inset).astype(int), 0, len(prof))
    ln = np.maximum(s1 - s0, 1)
    cov = np.clip((cs[s1] - cs[s0]) / ln, 0, 1)
    pm, bw = g.hp if horizontal else g.vp, g.bw
    if pm is not None and (cov < 0.5).any():
        # the masks turned so that the edge runs along axis 0 of ``ruled`` and ``solid``
        ruled, solid = (g.vl.T, g.hl.T) if horizontal else (g.hl, g.vl)
        pieces = pm[a:b, x_lo:x_hi].any(axis=0) if horizontal else pm[x_lo:x_hi, a:b].any(axis=1)
        fine = None if bw is None else (
            (lambda: _fine_profile(bw[a:b, x_lo:x_hi], True, p)) if horizontal
            else (lambda: _fine_profile(bw[x_lo:x_hi, a:b], False, p)))
        _rescue_segments(
            cov, pieces, cx, s0, s1, g.max_gap, min_run, inset, fine,
            lambda k, before: (_ruled_at(ruled, across.lo[k] - rr, across.hi[k] + rr, along.at[i], R)
                               or _continues(solid, across.at[k], before, along.at[i], R, inset, min_run)))
    return cov


def _cells_from_presence(hpres, vpres, hcov, vcov, rows, cols) -> list[GridCell]:
    nr, nc = vpres.shape[0], hpres.shape[1]
    taken = np.zeros((nr, nc), bool)
    cells = []
    for r in range(nr):
        for c in range(nc):
            if taken[r, c]:
                continue
            cs = 1
            while c + cs < nc and not taken[r, c + cs] and not vpres[r, c + cs]:
                cs += 1
            rs = 1
            while r + rs < nr:
                if hpres[r + rs, c : c + cs].any():
                    break
                if taken[r + rs, c : c + cs].any():
                    break
                # the new row must not be split inside the span, and must be
                # closed on the right where the span ends (rectangularity)
                if cs > 1 and vpres[r + rs, c + 1 : c + cs].any():
                    break
                rs += 1
            taken[r : r + rs, c : c + cs] = True
            # borders seen: length-weighted coverage of perimeter segments
            wx = np.diff(np.asarray(cols[c : c + cs + 1]))
            wy = np.diff(np.asarray(rows[r : r + rs + 1]))
            top = (hcov[r, c : c + cs] * wx).sum()
            bot = (hcov[r + rs, c : c + cs] * wx).sum()
            lef = (vcov[r : r + rs, c] * wy).sum()
            rig = (vcov[r : r + rs, c + cs] * wy).sum()
            per = 2 * (wx.sum() + wy.sum())
            seen = float((top + bot + lef + rig) / max(per, 1e-9))
            cells.append(
                GridCell(
                    row=r,
                    col=c,
                    rowspan=rs,
                    colspan=cs,
                    bbox=(float(cols[c]), float(rows[r]), float(cols[c + cs]), float(rows[r + rs])),
                    borders_seen=round(seen, 3),
                )
            )
    return cells


def _map_table(tb: GridTable, M_inv: np.ndarray) -> GridTable:
    """Map a table found on the deskewed image back to page coordinates."""

    def pt(x, y):
        return M_inv[0, 0] * x + M_inv[0, 1] * y + M_inv[0, 2], M_inv[1, 0] * x + M_inv[1, 1] * y + M_inv[1, 2]

    def box(b):
        xs, ys = zip(*(pt(x, y) for x, y in ((b[0], b[1]), (b[2], b[1]), (b[0], b[3]), (b[2], b[3]))))
        return (float(min(xs)), float(min(ys)), float(max(xs)), float(max(ys)))

    cxm = (tb.bbox[0] + tb.bbox[2]) / 2
    cym = (tb.bbox[1] + tb.bbox[3]) / 2
    rows = [float(pt(cxm, y)[1]) for y in tb.row_edges]
    cols = [float(pt(x, cym)[0]) for x in tb.col_edges]
    cells = [
        GridCell(c.row, c.col, c.rowspan, c.colspan, box(c.bbox), c.borders_seen) for c in tb.cells
    ]
    return GridTable(bbox=box(tb.bbox), row_edges=rows, col_edges=cols, cells=cells, source=tb.source)
