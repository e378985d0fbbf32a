"""Reading table cells: crop inside the ruling lines, skip empty cells, split wrapped lines,
and recognise every line crop of the page in one batched recognition call.

A cell's lines are found from the horizontal projection of its ink (cheap and exact for the
horizontal text of ruled tables); a band too tall to be one line is cut at the line pitch where
the rows there are nearly empty (wrapped lines set touching), else goes to the text detector.
"""
from __future__ import annotations

import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from typing import Optional, Sequence

import cv2
import numpy as np

from .engine import Detector, Recognizer, RecResult
from .normalize import drop_speck_punct, fix_numeric, is_speck_text


@dataclass
class TextRead:
    text: str
    char_probs: list[float] = field(default_factory=list)
    n_lines: int = 0
    ink: float = 0.0  # fraction of ink pixels inside the (inset) cell
    dropped: float = 0.0  # the surest probability among marks dropped as specks (0: none dropped)
    missed: float = 0.0  # the surest character the recogniser left out, inside a line / at its ends
    missed_edge: float = 0.0
    # doubt that the text accounts for the cell's ink: a stroke against the rule kept as a
    # character but not read as a sure "1" (see _edge_strokes)
    unsure: float = 0.0

    @property
    def empty(self) -> bool:
        return self.n_lines == 0


def _order_stats(crop: np.ndarray, ks: Sequence[int]) -> list[int]:
    """The k-th smallest grey levels of a uint8 crop (0-based ranks), from its histogram: exact, and
    cheaper than a partial sort on the thousands of small crops of a page."""
    a = crop if crop.ndim == 2 else crop.reshape(1, -1)
    cum = np.cumsum(cv2.calcHist([np.ascontiguousarray(a)], [0], None, [256], [0, 256]).ravel())
    return [int(v) for v in np.searchsorted(cum, np.asarray(ks, np.float64) + 0.5)]


def paper_level(crop: np.ndarray) -> float:
    """The grey level of the paper: the 90th percentile of the crop."""
    return float(_order_stats(crop, [int(0.9 * (crop.size - 1))])[0])


def ink_threshold(crop: np.ndarray, min_contrast: int = 60) -> Optional[float]:
    """Grey level below which a pixel of the crop is ink; None when the crop holds no ink."""
    if crop.size == 0:
        return None
    k = min(crop.size - 1, 12)  # the 12th darkest pixel: a lone dash is dark, one noisy pixel is not enough
    kb = int(0.9 * (crop.size - 1))  # the paper (as paper_level)
    dark, bg = (float(v) for v in _order_stats(crop, [k, kb]))
    if bg - dark < min_contrast:
        return None
    # well below the paper, but sensitive enough for the thin, faded strokes of a light serif font
    return bg - max(min_contrast * 0.75, 0.4 * (bg - dark))


def ink_mask(crop: np.ndarray, min_contrast: int = 60) -> np.ndarray:
    """Binary mask (uint8 0/1) of ink in a crop, robust to a grey or uneven background."""
    thr = ink_threshold(crop, min_contrast)
    if thr is None:
        return np.zeros(crop.shape, np.uint8)
    return (crop < thr).astype(np.uint8)


def _widen_to_text(gray: np.ndarray, mask: np.ndarray, thr: float, y0: int, y1: int, x0: int, x1: int) -> tuple[int, int]:
    """Text cut by a side of the crop (a ruling found inside the text, or a lost outer border
    replaced by the text's own edge): move that side out to the first column clear of ink in the
    rows of the cut text, by at most about one character."""
    H, W = gray.shape
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    # a sliver along the edge (a few px wide) is what is left of the ruling there; a cut glyph
    # reaches well into the crop
    glyph = np.zeros(n, bool)
    glyph[1:] = (stats[1:, cv2.CC_STAT_WIDTH] >= 4) & (stats[1:, cv2.CC_STAT_HEIGHT] >= 4)  # not a flat stub
    for side in (0, 1):
        lab = labels[:, :2] if side == 0 else labels[:, -2:]
        rows = np.flatnonzero(glyph[lab].any(axis=1))
        if len(rows) < 3 or rows[-1] - rows[0] > H // 20:  # a speck, or not one cut line of text
            continue
        ra, rb = y0 + int(rows[0]), y0 + int(rows[-1]) + 1
        reach = min(60, int(1.2 * (rb - ra)) + 2)
        x = x0 - 1 if side == 0 else x1
        steps = 0
        while steps < reach and 0 <= x < W:
            col = gray[ra:rb, x] < thr
            if not col.any():
                break
            if col.mean() > 0.8:  # a ruling line: the cell's border is there after all
                steps = reach
                break
            x += -1 if side == 0 else 1
            steps += 1
        if steps < reach:  # stopped at a clear column: the glyph is whole now; keep a clear margin
            d = -1 if side == 0 else 1
            for _ in range(3):
                if not (0 <= x + d < W) or (gray[ra:rb, x + d] < thr).any():
                    break
                x += d
            if side == 0:
                x0 = x
            else:
                x1 = x + 1
    return x0, x1


def _rescue_margins(gray: np.ndarray, thr: float, y0: int, y1: int, x0: int, x1: int,
                    bx0: int, bx1: int) -> tuple[int, int]:
    """Text standing closer to a side rule than the inset (a "1" right against the rule, the "二"
    of "二、" set flush left) is cut off or left out by the crop: between the rule and the crop's
    side, ink that is not the rule (columns of ink down most of the cell) and is the size of a
    stroke, not of a speck, moves that side out to it."""
    h = y1 - y0
    if h < 4:
        return x0, x1
    for side in (0, 1):
        a, b = (bx0, x0) if side == 0 else (x1, bx1)
        if b - a < 1:
            continue
        m = (gray[y0:y1, a:b] < thr).astype(np.uint8)
        # the rule: the run of columns inked down most of the cell from the outermost few; a tall
        # stroke further in, past a clear column, is text
        tall = m.sum(axis=0) > 0.5 * h
        step = 1 if side == 0 else -1
        outer = 0 if side == 0 else m.shape[1] - 1
        i = next((j for j in range(outer, outer + 3 * step, step) if 0 <= j < m.shape[1] and tall[j]), -1)
        run = []
        while 0 <= i < m.shape[1] and tall[i]:
            run.append(i)
            i += step
        if side == 0:
            lo = max(run) + 1 if run else 0
            m = m[:, lo:]
        else:
            lo = 0
            m = m[:, :min(run)] if run else m
        if m.size == 0 or not m.any():
            continue
        n, _, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
        # the crop's own column at that side: a piece of a glyph the crop cut meets ink there
        inner = gray[y0:y1, x0 if side == 0 else x1 - 1] < thr
        xs = []
        for k in range(1, n):
            cx, cy, cw, ch, area = (int(v) for v in stats[k])
            cut = (cx + cw >= m.shape[1] if side == 0 else cx == 0) and inner[cy:cy + ch].any()
            if (not cut and (max(cw, ch) < 5 or area < 6)) or ch > 0.8 * h:
                continue  # a speck, or the rule
            # a piece of a broken or faint rule has the rule going on above and below it, down
            # most of the rest of the cell in every one of its columns
            outside = np.r_[0:max(0, cy - 2), min(h, cy + ch + 2):h]
            if len(outside) and m[outside, cx:cx + cw].mean(axis=0).min() > 0.5:
                continue
            reach = 1 if run else 2  # how far from the rule's edge (or where it should be) it starts
            if not cut and cw <= 3 and (cx <= reach if side == 0 else cx + cw >= m.shape[1] - reach):
                continue  # a thin piece along the rule: its ragged edge, or a broken or faint rule
            xs.append(cx + (0 if side == 0 else cw))
        if not xs:
            continue
        if side == 0:
            x0 = a + lo + max(0, min(xs) - 1)
        else:
            x1 = min(bx1, a + max(xs) + 1)
    return x0, x1


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
    ends = mask[:2].any(axis=0) | mask[-2:].any(axis=0)
    for c in list(range(edge_c)) + list(range(w - edge_c, w)):
        # a ruling runs on past the text to the crop's top or bottom; a "1" or "丨" of a tight
        # line stops short of both
        if cols[c] > 0.9 * h or (cols[c] > 0.6 * h and ends[c]):
            mask[:, c] = 0


_JOIN = np.ones((3, 3), np.uint8)


def _components(mask: np.ndarray):
    """Connected components of the ink with 1-px gaps bridged, so a faded glyph broken into
    fragments counts as one blob: (n, labels, stats) with stats' areas counted on the ink itself."""
    joined = cv2.dilate(mask, _JOIN)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
    labels = labels * mask  # back to the ink's own pixels
    stats = stats.copy()
    stats[:, cv2.CC_STAT_AREA] = np.bincount(labels.ravel(), minlength=n)[:n]
    return n, labels, stats


def _despeckle(mask: np.ndarray, min_area: int) -> np.ndarray:
    n, labels, stats = _components(mask)
    if n <= 1:
        return mask
    keep = np.zeros(n, np.uint8)
    keep[1:] = (stats[1:, cv2.CC_STAT_AREA] >= min_area) | (
        np.maximum(stats[1:, cv2.CC_STAT_WIDTH], stats[1:, cv2.CC_STAT_HEIGHT]) >= 3 * max(1, int(min_area ** 0.5)))
    return keep[labels]


def _drop_rule_pieces(mask: np.ndarray, line_h: float) -> None:
    """Remove pieces of ruling lines that reach into the crop (in place): a slanted or broken
    border is not caught column by column, but no glyph is a thin stroke taller than a line, and
    no glyph is a flat stroke along the crop's top or bottom edge."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    H, W = mask.shape
    for k in range(1, n):
        x, y, w, h, area = stats[k]
        thick_v, thick_h = area / max(h, 1), area / max(w, 1)  # mean stroke width across the piece
        tall = h >= 1.4 * line_h and thick_v <= max(3, 0.22 * line_h)
        flat_edge = w >= 1.2 * line_h and thick_h <= max(3, 0.15 * line_h) and (y <= 2 or y + h >= H - 2)
        if tall or flat_edge:
            mask[labels == k] = 0


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
    """Join fragments of one line (strokes of 二/三/元, punctuation) into whole lines: a band
    shorter than a line joins the neighbour it is closer to, if the two still fit in one line."""
    out = [list(b) for b in bands]
    changed = True
    while changed and len(out) > 1:
        changed = False
        order = sorted(range(len(out)), key=lambda i: out[i][1] - out[i][0])
        for i in order:
            a, b = out[i]
            if b - a >= 0.7 * line_h:
                break
            best, best_gap = None, None
            for j in (i - 1, i + 1):
                if 0 <= j < len(out):
                    lo, hi = min(a, out[j][0]), max(b, out[j][1])
                    gap = out[j][0] - b if j > i else a - out[j][1]
                    if hi - lo <= 1.35 * line_h and gap < 0.5 * line_h and (best_gap is None or gap < best_gap):
                        best, best_gap = j, gap
            if best is not None:
                lo, hi = min(a, out[best][0]), max(b, out[best][1])
                out[min(i, best)] = [lo, hi]
                del out[max(i, best)]
                changed = True
                break
    # a band of one pixel row is noise; a dash is two or more (specks are judged by shape later)
    return [(a, b) for a, b in out if b - a >= 2]


def _split_band(mask: np.ndarray, a: int, b: int, line_h: float) -> list[tuple[int, int]]:
    """A band two or more lines tall (wrapped lines set so close that no clear row parts them) cut
    into its lines at the emptiest rows near where the line pitch puts the breaks; left whole
    when a break has no row much emptier than the text (one tall line, or not lines of text)."""
    h = b - a
    n = int(round(h / line_h))
    if h <= 1.6 * line_h or n < 2:
        return [(a, b)]
    rows = mask[a:b].sum(axis=1).astype(float)
    full = float(np.median(rows[rows > 0])) if (rows > 0).any() else 0.0
    pitch = h / n
    cuts = [0]
    for k in range(1, n):
        lo, hi = int(k * pitch - 0.3 * pitch), int(np.ceil(k * pitch + 0.3 * pitch))
        lo, hi = max(cuts[-1] + int(0.5 * line_h), lo), min(h - int(0.5 * line_h), hi)
        if hi <= lo:
            return [(a, b)]
        r = lo + int(np.argmin(rows[lo:hi]))
        if rows[r] > 0.25 * full:
            return [(a, b)]
        cuts.append(r)
    cuts.append(h)
    return [(a + u, a + v) for u, v in zip(cuts, cuts[1:]) if v - u >= 2]


def _text_span(band: np.ndarray, line_h: float):
    """Horizontal extent of the text in one line band, and the boxes of ink to blank out:
    isolated specks, specks sitting above or below a character, remnants of vertical ruling lines
    at the ends. Returns None when nothing but noise is left."""
    n, labels, stats = _components(band)
    if n <= 1:
        return None
    bh, bw = band.shape
    comps, drop, edge = [], [], []
    for k in range(1, n):
        x, y, w, h, area = (int(v) for v in stats[k])
        if w <= max(3, 0.2 * line_h) and h >= 0.7 * bh and (x <= 1 or x + w >= bw - 1):
            # a piece of the cell's border, or a "1" against it; a dashed or broken rule (gaps
            # bridged into one piece) is not a solid stroke
            rows = (labels[y:y + h, x:x + w] == k).any(axis=1).mean()
            solid = area >= 1.5 * h and rows >= 0.85
            (edge if solid else drop).append((x, y, w, h, area) if solid else (x, y, w, h))
            continue
        comps.append((x, y, w, h, area))
    # a stroke at the crop's side is a remnant of the ruling when it is taller than the text beside
    # it or, alone, than a line of text; one the height of the text, standing on its line, is a
    # character ("1", "丨"): kept, and said to be in doubt (the recogniser's read decides)
    glyphs = [c for c in comps if c[3] >= 0.4 * line_h]
    top = min((c[1] for c in glyphs), default=None)
    bot = max((c[1] + c[3] for c in glyphs), default=None)
    doubt = []
    for c in edge:
        x, y, w, h, _ = c
        if top is not None:
            slack = max(2.0, 0.15 * line_h)
            on_line = y >= top - slack and y + h <= bot + slack
        else:
            on_line = 0.45 * line_h <= h <= 1.15 * line_h
        if on_line:
            comps.append(c)
            doubt.append("l" if x <= 1 else "r")
        else:
            drop.append((x, y, w, h))
    if not comps:
        return None
    # small blobs that are not dashes (a dash is flat: a "-" or "—" cell is content)
    def dash(c) -> bool:  # flat and thin: "-", "—"
        return c[2] >= 3 * c[3] and c[3] <= 0.35 * line_h

    small = [c for c in comps if max(c[2], c[3]) < 0.4 * line_h and c[4] < 0.08 * line_h ** 2
             and not (dash(c) and c[2] >= 0.25 * line_h)]
    core = [c for c in comps if c not in small]
    if core:
        top = min(c[1] for c in core)
        bot = max(c[1] + c[3] for c in core)
        kept = list(core)
        for c in small:
            x, y, w, h, _ = c
            over = any(x < k[0] + k[2] and k[0] < x + w for k in core)
            above_or_below = y + h <= top + 1 or y >= bot - 1
            near = min(max(k[0] - (x + w), x - (k[0] + k[2]), 0) for k in core)
            if (over and above_or_below) or near > 0.9 * line_h:
                drop.append((x, y, w, h))
            else:
                kept.append(c)
    else:
        kept = comps
    x0 = min(c[0] for c in kept)
    x1 = max(c[0] + c[2] for c in kept)
    glyph = any(not dash(c) for c in core)
    if _dot_row(comps, line_h):
        doubt.append(".")
        return x0, x1, drop, 1, doubt
    return x0, x1, drop, 2 if glyph else (1 if core else 0), doubt


def _placeholder(band: np.ndarray, offset: float, line_h: float) -> str:
    """The text of a row of placeholder marks (see _dot_row): rings are "。", dots in the middle of
    the cell ``offset`` px from its centre line) are "…" (three to one), dots below it "." ."""
    n, _, stats = _components(band)
    marks = [stats[k] for k in range(1, n) if stats[k, cv2.CC_STAT_AREA] > 0]
    if not marks:
        return ""
    big = float(np.median([m[cv2.CC_STAT_AREA] for m in marks]))
    marks = [m for m in marks if m[cv2.CC_STAT_AREA] >= 0.3 * big]
    # a ring has no ink at its centre, or (small, blurred shut) is too big for a dot (the boxes
    # are of the ink bridged by a pixel all round)
    ring = sum((min(w, h) >= 4 and not band[y + h // 2, x + w // 2]) or min(w, h) - 2 >= 0.22 * line_h
               for x, y, w, h, _ in marks)
    if 2 * ring > len(marks):
        return "。" * len(marks)
    if abs(offset) <= 0.2 * line_h:
        return "…" * max(1, round(len(marks) / 3))
    return "." * len(marks)


def _dot_row(comps, line_h: float) -> bool:
    """Three or more marks of one size, evenly spaced along one line: a placeholder ("…", "。。。",
    "……") printed in the cell, not specks of dirt (which fall anywhere, in any size)."""
    if len(comps) < 3:
        return False
    big = float(np.median([c[4] for c in comps]))
    cs = sorted((c for c in comps if c[4] >= 0.3 * big), key=lambda c: c[0])  # specks beside them aside
    if len(cs) < 3:
        return False
    size = [max(c[2], c[3]) for c in cs]
    mid = [c[1] + c[3] / 2 for c in cs]
    gaps = [b[0] - (a[0] + a[2]) for a, b in zip(cs, cs[1:])]
    round_ = all(max(c[2], c[3]) <= 2 * min(c[2], c[3]) for c in cs)  # not dashes ("- - -")
    low = all(c[3] < 0.6 * line_h for c in comps)  # not "000" (nor anything else the height of text)
    return (round_ and low and min(size) >= max(2, 0.08 * line_h) and max(size) <= 2.5 * min(size)
            and max(mid) - min(mid) <= 0.3 * line_h and min(gaps) >= 1
            and max(gaps) <= min(1.2 * line_h, 2 * min(gaps) + 3))


def _lines(mask: np.ndarray, line_h: float):
    """The line bands of a cell's cleaned ink and their spans (see _text_span) that are text:
    lines made only of specks are noise; lines of glyphs win, and a line of only dashes (or a
    placeholder's marks) is text only when nothing else is there."""
    bands = [ab for a, b in _merge_bands(_bands(mask), line_h) for ab in _split_band(mask, a, b, line_h)]
    spans = [_text_span(mask[a:b], line_h) for a, b in bands]
    best = max((sp[3] for sp in spans if sp is not None), default=0)
    keep = [i for i, sp in enumerate(spans) if sp is not None and sp[3] == best and best > 0]
    return [bands[i] for i in keep], [spans[i] for i in keep]


class CellReader:
    """Reads the text of boxes on a page image (table cells, or text lines)."""

    def __init__(self, recognizer: Recognizer, detector: Optional[Detector] = None, inset: float = 0.0025):
        self.rec = recognizer
        self.det = detector
        self.inset = inset  # crop this far inside a cell's ruled box, as a share of the page's longer side
        self.pad_before, self.pad_after = 0.7, 0.7  # room left and right of a line's ink, in line heights

    def _analyse(self, gray: np.ndarray, bbox: Sequence[float], inset_px: int, ruled: bool = True):
        """Crop inside the borders; ink mask cleaned of line remnants and specks; raw line bands.
        ``ruled=False`` (a table without rulings): the crop is not widened to text beyond its box,
        which there is the next cell's."""
        H, W = gray.shape
        x0, y0, x1, y1 = (int(round(v)) for v in bbox)
        x0, y0 = max(0, x0 + inset_px), max(0, y0 + inset_px)
        x1, y1 = min(W, x1 - inset_px), min(H, y1 - inset_px)
        if x1 - x0 < 4 or y1 - y0 < 4:
            return None
        crop = gray[y0:y1, x0:x1]
        thr = ink_threshold(crop)
        # the level of ink judged with the margins up to the rules: a crop can hold nothing but
        # what the inset cut off (a lone "1" against the rule)
        bx0, bx1 = max(0, int(round(bbox[0]))), min(W, int(round(bbox[2])))
        m_thr = thr if thr is not None else ink_threshold(gray[y0:y1, bx0:bx1])
        if m_thr is not None and ruled:
            nx0, nx1 = _rescue_margins(gray, m_thr, y0, y1, x0, x1, bx0, bx1)
            if (nx0, nx1) != (x0, x1):
                x0, x1 = nx0, nx1
                crop = gray[y0:y1, x0:x1]
                thr = ink_threshold(crop)
        if thr is None:
            mask = np.zeros(crop.shape, np.uint8)
        else:
            mask = (crop < thr).astype(np.uint8)
            _strip_edge_lines(mask)
            mask = _despeckle(mask, 5)
            nx0, nx1 = _widen_to_text(gray, mask, thr, y0, y1, x0, x1) if ruled else (x0, x1)
            if (nx0, nx1) != (x0, x1):
                x0, x1 = nx0, nx1
                crop = gray[y0:y1, x0:x1]
                mask = (crop < thr).astype(np.uint8)
                _strip_edge_lines(mask)
                mask = _despeckle(mask, 5)
        return crop, mask, _bands(mask)

    def _line_crops(self, analysed, line_h: float):
        """The line crops of one cell, the share of ink in it, and for each crop the sides ("l",
        "r") where a stroke against the rule was kept as a character in doubt."""
        if analysed is None:
            return [], 0.0, []
        crop, fine, raw = analysed
        mask = _despeckle(fine, max(5, int((0.12 * line_h) ** 2)))
        _drop_rule_pieces(mask, line_h)
        ink = float(mask.mean())
        bands, spans = _lines(mask, line_h) if mask.sum() >= 0.5 * line_h else ([], [])
        if not bands:
            # marks too small for text at this line height may still be a placeholder's ("…" in a
            # light serif): its row, found among the marks the coarser despeckling removed
            mask = fine.copy()
            _drop_rule_pieces(mask, line_h)
            bands, spans = _lines(mask, line_h)
            keep = [i for i, sp in enumerate(spans) if "." in sp[4]]
            bands, spans = [bands[i] for i in keep], [spans[i] for i in keep]
        if not bands:
            return [], ink, []
        crops, edges = [], []
        for bi, (a, b) in enumerate(bands):
            if b - a > 1.8 * line_h and self.det is not None:
                found = self._detect_lines(crop[a:b])
                crops.extend(found)
                edges.extend([] for _ in found)
                continue
            span = spans[bi]
            if span is None:
                continue
            if span[2]:
                crop = crop.copy() if crop.base is not None else crop
                bgv = int(paper_level(crop))
                for x, y, w, h in span[2]:
                    crop[a + y: a + y + h, x: x + w] = bgv
            # vertical room: up to half-way to the neighbouring lines, so no part of them shows
            top_lim = (bands[bi - 1][1] + a) // 2 if bi > 0 else 0
            bot_lim = (b + bands[bi + 1][0]) // 2 + 1 if bi + 1 < len(bands) else crop.shape[0]
            notes = span[4]
            if "." in notes:
                # a placeholder's marks: the recogniser, seeing them alone, reads "。。。" as "000";
                # what they are is told by their shape and where they sit in the cell
                notes = [n if n != "." else _placeholder(mask[a:b], (a + b) / 2 - crop.shape[0] / 2, line_h)
                         for n in notes]
            lh = b - a
            pady = max(2, int(0.25 * max(lh, 0.6 * line_h)))
            if lh < 0.6 * line_h:  # a line of only dashes or dots: give it a whole line's height
                pady = max(pady, int((line_h - lh) / 2))
            ca, cb = max(top_lim, a - pady), min(bot_lim, b + pady)
            # room for a full-width "。" or "：" at the end that the mask may have lost; less before
            xa = span[0] - max(4, int(self.pad_before * line_h))
            xb = span[1] + max(4, int(self.pad_after * line_h))
            c = crop[ca:cb, max(0, xa): min(crop.shape[1], xb)]
            bg = int(paper_level(c))
            lpad, rpad = max(0, -xa), max(0, xb - crop.shape[1])
            tpad, bpad = max(0, (a - pady) - ca), max(0, cb - (b + pady))
            if lpad or rpad or tpad or bpad:
                c = cv2.copyMakeBorder(c, tpad, bpad, lpad, rpad, cv2.BORDER_CONSTANT, value=bg)
            # a crop narrower than it is tall (one bracket, one digit) reads better with room around it
            if c.shape[1] < c.shape[0]:
                extra = (c.shape[0] - c.shape[1]) // 2 + 2
                c = cv2.copyMakeBorder(c, 0, 0, extra, extra, cv2.BORDER_CONSTANT, value=bg)
            crops.append(c)
            edges.append(notes)
        return crops, ink, edges

    def _detect_lines(self, crop: np.ndarray) -> list[np.ndarray]:
        boxes = self.det(crop, max_side=1280, min_side=64)
        out = []
        for x0, y0, x1, y1, _ in sorted(boxes, key=lambda b: (b[1], b[0])):
            c = crop[int(y0):int(np.ceil(y1)), int(x0):int(np.ceil(x1))]
            if c.size:
                out.append(c)
        return out

    def read(self, gray: np.ndarray, boxes: Sequence[Sequence[float]], line_h: Optional[float] = None,
             inset_px: Optional[int] = None, keep_spaces: bool = False) -> list[TextRead]:
        """Text of every box, in order, with one batched recognition call for all of them.
        ``line_h``: text-line height in px (estimated from the boxes' ink when not given).
        Table cells drop every space (the recogniser puts stray ones between CJK characters);
        with ``keep_spaces`` (prose) spaces inside a line are kept."""
        return self.read_groups([ReadJob(gray, boxes, line_h, inset_px, keep_spaces)])[0]

    def read_groups(self, groups: Sequence["ReadJob"]) -> list[list[TextRead]]:
        """Several sets of boxes (each table of a page, its prose lines) read with one batched
        recognition call for all their line crops: crops of similar width from every set share
        a batch."""
        prepared = []
        for g in groups:
            inset_px = g.inset_px if g.inset_px is not None else max(2, int(round(self.inset * max(g.gray.shape))))
            analysed = [self._analyse(g.gray, bb, inset_px, g.ruled) for bb in g.boxes]
            line_h = g.line_h
            if line_h is None:
                line_h = estimate_line_height([b for a in analysed if a is not None for b in a[2]], g.gray.shape[0])
            prepared.append([self._line_crops(a, line_h) for a in analysed])
        flat = [c for jobs in prepared for lines, *_ in jobs for c in lines]
        results: list[RecResult] = self.rec(flat) if flat else []
        k = 0
        outs = []
        for g, jobs in zip(groups, prepared):
            out, k = self._assemble(jobs, results, k, g.keep_spaces)
            outs.append(out)
        return outs

    @staticmethod
    def _assemble(jobs, results: list[RecResult], k: int, keep_spaces: bool) -> tuple[list[TextRead], int]:
        out: list[TextRead] = []
        for lines, ink, *rest in jobs:
            edges = rest[0] if rest else []
            rs = results[k:k + len(lines)]
            k += len(lines)
            chars = []
            stroke = 0.0
            placeholder = False
            for j, r in enumerate(rs):
                t, ps = r.text, r.char_probs
                lead = len(t) - len(t.lstrip())
                keep = len(t.rstrip())
                line = [(ch, p) for i, (ch, p) in enumerate(zip(t, ps))
                        if lead <= i < keep and (keep_spaces or not ch.isspace())]
                notes = edges[j] if j < len(edges) else ()
                marks = next((n for n in notes if n not in ("l", "r")), "")
                if marks:  # a placeholder: its shape says what it is; a read that differs is doubt
                    agree = unicodedata.normalize("NFKC", "".join(c for c, _ in line)) == unicodedata.normalize("NFKC", marks)
                    p = min((q for _, q in line), default=0.5) if agree else 0.5
                    line = [(ch, p) for ch in marks]
                    stroke = max(stroke, 0.0 if agree and p >= SURE_ONE else PLACEHOLDER_DOUBT)
                    placeholder = True
                stroke = max(stroke, _edge_strokes(line, notes))
                chars += line
            read = list(chars)
            if not placeholder:
                _trim_specks(chars)
            if not keep_spaces and not placeholder:  # table cells: specks read as punctuation
                drop_speck_punct(chars)
                if is_speck_text("".join(c for c, _ in chars)):
                    chars = []
            n_lines = sum(1 for r in rs if r.text.strip())
            # how sure the recogniser was of what the speck rules removed: a confidently read mark
            # that was dropped may have been the text's own ("专刊. 阳城版")
            gone = Counter(read) - Counter(chars)
            dropped = max((p for _, p in gone.elements()), default=0.0)
            missed = max((r.missed for r in rs), default=0.0)
            missed_edge = max((r.missed_edge for r in rs), default=0.0)
            out.append(TextRead(fix_numeric("".join(c for c, _ in chars)), [p for _, p in chars], n_lines, ink, dropped,
                                missed, missed_edge, stroke))
        return out, k


@dataclass
class ReadJob:
    """One set of boxes to read on one image (see CellReader.read)."""
    gray: np.ndarray
    boxes: Sequence[Sequence[float]]
    line_h: Optional[float] = None
    inset_px: Optional[int] = None
    keep_spaces: bool = False
    ruled: bool = True  # False: boxes of a table without rulings (a crop never reaches past its box for text)


# marks a speck of dirt or a stub of ruling line beside the text is read as; dropped at either end when read with doubt
SPECK_MARKS = set("·.。、,，'`‘’\"“”-_~^*$!|丨●•")


# what a stub of ruling line at either end of Chinese text is read as ("效益指标1", "i社会效益")
STUB_MARKS = set("1lIij|丨")


def _cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff"


# what a lone upright stroke is read as besides "1"
STROKE_READS = set("lI|iL")
# a "1" read this surely from a stroke against the rule is taken without doubt (so is a
# placeholder read as its marks' shape says)
SURE_ONE = 0.9
# the doubt left on a placeholder told by its marks' shape, not read so by the recogniser
PLACEHOLDER_DOUBT = 0.3


def _edge_strokes(line: list[tuple[str, float]], sides) -> float:
    """A line whose first or last character came from a stroke kept against the rule (``sides``:
    "l", "r"): a stroke read as a letter beside figures or alone ("l,464,000", "I") is the digit
    1 (changed in place); the doubt left (0: a sure "1" or another character) is returned, for
    the confidence: a stroke read as "丨", a letter, or a doubtful "1" may be ruling."""
    doubt = 0.0
    for side in sides:
        if not line:
            break
        i = 0 if side == "l" else len(line) - 1
        ch, p = line[i]
        rest = "".join(c for c, _ in (line[1:] if i == 0 else line[:-1]))
        if ch in STROKE_READS and (not rest or (rest[0] if i == 0 else rest[-1]) in "0123456789,."):
            line[i] = ("1", p)
            doubt = max(doubt, 0.5)
        elif ch == "1":
            doubt = max(doubt, 0.0 if p >= SURE_ONE else 1.0 - p)
        elif ch in STUB_MARKS or ch in STROKE_READS:
            doubt = max(doubt, 0.5)
    return doubt


def _trim_specks(chars: list[tuple[str, float]], doubt: float = 0.65, stub_doubt: float = 0.5) -> None:
    """Drop a doubtful speck-like mark at the start or end of a cell's text (in place), and a
    very doubtful stroke-like mark beside Chinese text there (a stub of the ruling)."""
    while len(chars) > 1 and ((chars[-1][0] in SPECK_MARKS and chars[-1][1] < doubt) or (
            chars[-1][0] in STUB_MARKS and chars[-1][1] < stub_doubt and _cjk(chars[-2][0]))):
        chars.pop()
    while len(chars) > 1 and ((chars[0][0] in SPECK_MARKS and chars[0][1] < doubt) or (
            chars[0][0] in STUB_MARKS and chars[0][1] < stub_doubt and _cjk(chars[1][0]))):
        chars.pop(0)


def estimate_line_height(bands: list[tuple[int, int]], page_h: int) -> float:
    """Typical height of one text line from the raw ink bands of many cells."""
    hs = np.array([b - a for a, b in bands], float)
    if len(hs) < 3:
        return max(12.0, page_h / 80.0)
    top = np.percentile(hs, 90)
    full = hs[hs >= 0.5 * top]
    return float(np.median(full)) if len(full) else float(top)
