"""Page text in reading order: text lines grouped into paragraphs and titles, and the cheap test
that decides whether the layout model is asked about a page at all.

``paragraphs`` groups the text lines outside tables (``TextLine``: box, text, character
probabilities) into paragraphs, and names titles from the layout model's title regions or, when
the model was not asked, by a rule on the line itself. ``tabular_rows`` says whether the free
text could hold an unruled table (only then is the layout model run).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

import numpy as np

from .. import confidence
from ..geometry import inside_frac
from ..model import OcrEvidence, Paragraph, Region


@dataclass
class TextLine:
    """One recognised text line: its box in page pixels, its text and per-character probabilities."""
    bbox: list[float]
    text: str
    probs: list[float]


# a line that opens a numbered heading or item: 一、 （一） (1) 1、 1. 第二部分
HEADING = re.compile(r"^(第[一二三四五六七八九十]+部分|[一二三四五六七八九十]+、|[（(][一二三四五六七八九十\d]+[)）]|\d+[、.．])")


# rows of text split into pieces far apart that make the free text look like a table (see tabular_rows)
TABULAR_ROWS = 3


def tabular_rows(boxes: list, min_rows: int = TABULAR_ROWS) -> bool:
    """Could the text lines outside the ruled grids hold an unruled table? Only then is the layout
    model asked for table regions (the text-alignment fallback needs one). Such a table shows as
    rows of separate pieces far apart (more than a line height): ``min_rows`` of them, or two
    close above one another with a gap at the same place. A table page has one such row of its
    own ("部门名称：…" … "单位：万元") and prose none, so neither pays for the model."""
    if len(boxes) < 4:
        return False
    bx = sorted((tuple(float(v) for v in b[:4]) for b in boxes), key=lambda b: (b[1] + b[3]) / 2)
    lh = float(np.median([b[3] - b[1] for b in bx]))
    rows: list[list[tuple]] = []
    for b in bx:
        if rows:
            top, bot = min(x[1] for x in rows[-1]), max(x[3] for x in rows[-1])
            if min(bot, b[3]) - max(top, b[1]) > 0.5 * min(bot - top, b[3] - b[1]):
                rows[-1].append(b)
                continue
        rows.append([b])
    split: list[tuple[float, list[tuple[float, float]]]] = []  # (row centre, its wide gaps)
    for r in rows:
        r.sort(key=lambda b: b[0])
        gaps, right = [], r[0][2]
        for b in r[1:]:
            if b[0] - right > lh:
                gaps.append((right, b[0]))
            right = max(right, b[2])
        if gaps:
            split.append((sum((b[1] + b[3]) / 2 for b in r) / len(r), gaps))
    if len(split) >= min_rows:
        return True
    return any(c1 - c0 < 3 * lh and any(min(a1, b1) > max(a0, b0) for a0, a1 in g0 for b0, b1 in g1)
               for (c0, g0), (c1, g1) in zip(split, split[1:]))


# a paragraph named a title without the layout model: one short line that does not end a sentence,
# and opens a numbered heading, stands centred on the page or stands taller than the page's text
TITLE_MAX_CHARS, TITLE_TALL = 40, 1.2



def paragraphs(lines: list[TextLine], regions: Optional[list[Region]], page_w: Optional[float] = None) -> list[Paragraph]:
    """Group text lines into paragraphs in reading order.

    Lines on one row far apart ("部门名称：…" … "单位：万元") are separate paragraphs, left to
    right. A line continues the paragraph above when it is close below it, the line above runs
    to the right margin and this one starts at the left margin (Chinese paragraphs indent
    their first line and fill every line but the last).

    A paragraph is a title when it lies in a layout title region; with no layout regions
    (``regions`` None: the model was not asked) by a cheap rule on the line itself
    (TITLE_MAX_CHARS: short, no sentence end, and a numbered heading, centred on the page of
    width ``page_w``, or taller than the page's median line)."""
    if not lines:
        return []
    lines = sorted(lines, key=lambda l: (l.bbox[1], l.bbox[0]))
    lh = float(np.median([l.bbox[3] - l.bbox[1] for l in lines]))
    left = float(np.percentile([l.bbox[0] for l in lines], 10))
    right = float(np.percentile([l.bbox[2] for l in lines], 90))
    rows: list[list[TextLine]] = []
    for ln in lines:
        if rows:
            r = rows[-1]
            top, bot = min(x.bbox[1] for x in r), max(x.bbox[3] for x in r)
            ov = min(bot, ln.bbox[3]) - max(top, ln.bbox[1])
            if ov > 0.5 * min(bot - top, ln.bbox[3] - ln.bbox[1]):
                r.append(ln)
                continue
        rows.append([ln])
    groups: list[list[TextLine]] = []
    for r in rows:
        r.sort(key=lambda l: l.bbox[0])
        pieces: list[list[TextLine]] = [[r[0]]]
        for ln in r[1:]:
            if ln.bbox[0] - pieces[-1][-1].bbox[2] > 2 * lh:
                pieces.append([ln])
            else:
                pieces[-1].append(ln)
        if len(pieces) == 1 and groups:
            prev = groups[-1][-1]
            first = pieces[0][0]
            gap = first.bbox[1] - prev.bbox[3]
            prev_full = prev.bbox[2] >= right - 1.5 * lh
            at_margin = abs(first.bbox[0] - left) < 0.6 * lh
            ends = prev.text.endswith(("。", "：", ":", "；", ";"))
            if gap < 0.8 * lh and prev_full and at_margin and not ends and not HEADING.match(first.text):
                groups[-1].extend(pieces[0])
                continue
        groups.extend(pieces)
    titles = [r.bbox for r in regions if r.kind == "title"] if regions is not None else None

    def ruled_title(ls: list[TextLine], bb: tuple) -> bool:
        text = "".join(l.text for l in ls).strip()
        if (len(ls) != 1 or len(text) > TITLE_MAX_CHARS or not any("\u4e00" <= ch <= "\u9fff" for ch in text)  # "-3-"
                or text.endswith(("。", "；", ";", "，", ",")) or "…" in text or ".." in text  # a sentence, a contents line
                or (text[0] in "(（" and text[-1] in ")）" and not HEADING.match(text))):  # "(2025年度)"
            return False
        centred = page_w is not None and bb[2] - bb[0] < 0.7 * page_w and abs((bb[0] + bb[2]) / 2 - page_w / 2) < 0.05 * page_w
        return bool(HEADING.match(text)) or centred or bb[3] - bb[1] > TITLE_TALL * lh

    paras = []
    for ls in groups:
        x0 = min(l.bbox[0] for l in ls); y0 = min(l.bbox[1] for l in ls)
        x1 = max(l.bbox[2] for l in ls); y1 = max(l.bbox[3] for l in ls)
        probs = [p for l in ls for p in l.probs]
        bb = (x0, y0, x1, y1)
        if titles is not None:
            kind = "title" if any(inside_frac(bb, t) > 0.6 for t in titles) else "text"
        else:
            kind = "title" if ruled_title(ls, bb) else "text"
        ev = OcrEvidence(mean_prob=float(np.mean(probs)) if probs else 0.0, min_prob=float(min(probs)) if probs else 0.0,
                         n_chars=sum(len(l.text) for l in ls), n_lines=len(ls))
        p = Paragraph(bbox=[round(v, 1) for v in bb], text="".join(l.text for l in ls), kind=kind, ocr=ev)
        p.confidence = confidence.text_confidence(ev)
        paras.append(p)
    return paras
