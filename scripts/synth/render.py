"""Lay a DocSpec out on A4 pages and draw it; record exact ground truth.

Coordinates are pixels of the upright, unskewed page.  A cell's bbox is the rectangle of its
ruling-line centres (where they would be when the table is drawn without some or all of its rules:
TableSpec.rules); a table's bbox is its outer grid rectangle; a paragraph's bbox is the ink
box of its lines.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .spec import CellSpec, DocSpec, PageBreak, Paragraph, TableSpec, Title

FONTS = [
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", 2),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    ("/usr/share/fonts/truetype/arphic/uming.ttc", 0),
    ("/usr/share/fonts/truetype/arphic/ukai.ttc", 0),
]
_NUM_RE = re.compile(r"^[-+]?[\d,]*\d(\.\d+)?%?$")
_NO_START = set("：:，,。.、；;）)》”’%％！？")
_NO_END = set("（(《“‘")
_font_cache: dict = {}
_width_cache: dict = {}


def get_font(path: str, index: int, px: int) -> ImageFont.FreeTypeFont:
    key = (path, index, px)
    f = _font_cache.get(key)
    if f is None:
        try:
            f = ImageFont.truetype(path, px, index=index)
        except OSError:
            f = ImageFont.truetype(path, px, index=0)
        _font_cache[key] = f
    return f


def char_w(font, ch: str) -> float:
    key = (id(font), ch)
    w = _width_cache.get(key)
    if w is None:
        w = font.getlength(ch)
        _width_cache[key] = w
    return w


def text_w(font, s: str) -> float:
    return sum(char_w(font, ch) for ch in s)


def wrap(text: str, font, maxw: float, first_indent: float = 0.0) -> list[str]:
    """Greedy character wrap; "".join(result) == text."""
    if not text:
        return [""]
    lines, cur, w, lim = [], "", 0.0, maxw - first_indent
    for ch in text:
        cw = char_w(font, ch)
        if cur and w + cw > lim:
            if ch in _NO_START and len(cur) > 1:
                # kinsoku: closing punctuation never starts a line; carry the last char along
                lines.append(cur[:-1])
                cur = cur[-1] + ch
                w = char_w(font, cur[0]) + cw
            elif cur[-1] in _NO_END and len(cur) > 1:
                lines.append(cur[:-1])
                cur = cur[-1] + ch
                w = char_w(font, cur[0]) + cw
            else:
                lines.append(cur)
                cur, w = ch, cw
            lim = maxw
        else:
            cur += ch
            w += cw
    lines.append(cur)
    return lines


@dataclass
class Style:
    font: tuple
    dpi: int
    body_pt: float
    table_pt: float
    title_pt: float
    cover_pt: float
    margins: tuple          # left, top, right, bottom (px)
    line_px: int
    outer: str              # same | thick | double
    text_align: str         # left | center (body text cells)
    width_frac: float
    row_pad: float          # vertical padding in units of font px
    line_spacing: float
    repeat_header: bool
    page_numbers: bool
    section_breaks: bool
    ink: int

    @classmethod
    def random(cls, rng: random.Random, dpi: int = 200, font: Optional[str] = None) -> "Style":
        if font:
            fidx = next((f for f in FONTS if font in f[0]), (font, 0))
        else:
            fidx = rng.choice(FONTS)
        s = dpi / 200.0
        return cls(
            font=fidx, dpi=dpi,
            body_pt=rng.uniform(10.5, 12.0), table_pt=rng.uniform(9.5, 11.5),
            title_pt=rng.uniform(14, 17), cover_pt=rng.uniform(20, 26),
            margins=tuple(int(v * dpi) for v in (rng.uniform(0.7, 1.0), rng.uniform(0.7, 1.0),
                                                 rng.uniform(0.7, 1.0), rng.uniform(0.75, 1.0))),
            line_px=max(1, int(round(rng.choice([1, 2, 2, 2, 3]) * s))),
            outer=rng.choice(["same", "same", "thick", "thick", "double"]),
            text_align=rng.choice(["left", "center"]),
            width_frac=rng.choice([1.0, 1.0, 1.0, rng.uniform(0.88, 1.0)]),
            row_pad=rng.uniform(0.3, 0.6), line_spacing=rng.uniform(1.5, 1.8),
            repeat_header=rng.random() < 0.6, page_numbers=rng.random() < 0.5,
            section_breaks=rng.random() < 0.7, ink=rng.randint(0, 35),
        )

    def px(self, pt: float) -> int:
        return int(round(pt * self.dpi / 72.0))


@dataclass
class PageOut:
    image: Image.Image
    truth: dict
    segments: list = field(default_factory=list)   # ruling-line rectangles (x0, y0, x1, y1)


class _Renderer:
    def __init__(self, style: Style, max_pages: Optional[int] = None):
        self.st = style
        self.W = int(round(8.27 * style.dpi))
        self.H = int(round(11.69 * style.dpi))
        self.L, self.T, self.R, self.B = style.margins
        self.pages: list[PageOut] = []
        self.max_pages = max_pages
        self.full = False
        self._last_table = None   # (page, y of the bottom rule) of the last fragment drawn
        f = style.font
        self.f_body = get_font(f[0], f[1], style.px(style.body_pt))
        self.f_table = get_font(f[0], f[1], style.px(style.table_pt))
        self.f_title = get_font(f[0], f[1], style.px(style.title_pt))
        self.f_cover = get_font(f[0], f[1], style.px(style.cover_pt))
        self.f_h2 = get_font(f[0], f[1], style.px(style.body_pt + 0.5))
        self.new_page()

    # ------------------------------------------------------------------ pages
    def new_page(self):
        if self.max_pages is not None and len(self.pages) >= self.max_pages:
            self.full = True
            # keep drawing on a scratch page that is thrown away
            self.img = Image.new("L", (self.W, self.H), 255)
            self.draw = ImageDraw.Draw(self.img)
            self.cur = PageOut(self.img, {"tables": [], "paragraphs": []})
            self.y = self.T
            return
        self.img = Image.new("L", (self.W, self.H), 255)
        self.draw = ImageDraw.Draw(self.img)
        n = len(self.pages) + 1
        self.cur = PageOut(self.img, {"page": n, "width": self.W, "height": self.H, "rotation": 0, "skew": 0.0,
                                      "tables": [], "paragraphs": []})
        self.pages.append(self.cur)
        self.y = self.T
        if self.st.page_numbers:
            s = f"- {n} -"
            f = self.f_table
            x = (self.W - text_w(f, s)) / 2
            y = self.H - self.B * 0.55
            self._text_line(x, y, s, f, kind="text", record=True)

    @property
    def bottom(self) -> float:
        return self.H - self.B

    def _text_line(self, x, y, s, font, kind="text", record=True, stroke=0):
        self.draw.text((x, y), s, font=font, fill=self.st.ink, stroke_width=stroke, stroke_fill=self.st.ink)
        bb = self.draw.textbbox((x, y), s, font=font, stroke_width=stroke)
        if record and not self.full:
            self.cur.truth["paragraphs"].append({"bbox": [int(v) for v in bb], "text": s, "kind": kind})
        return bb

    # ------------------------------------------------------------------ prose
    def title(self, t: Title):
        font = self.f_cover if t.level == 0 else self.f_title if t.level == 1 else self.f_h2
        stroke = 1 if (t.level <= 1 and self.st.dpi >= 150) else 0
        lh = font.size * 1.7
        lines = wrap(t.text, font, self.W - self.L - self.R)
        gap = font.size * (0.6 if t.level == 2 else 0.9)
        if self.y + gap + lh * len(lines) > self.bottom:
            self.new_page()
        elif self.y > self.T:
            self.y += gap
        boxes = []
        for ln in lines:
            w = text_w(font, ln)
            x = self.L if t.align == "left" else (self.W - w) / 2
            boxes.append(self._text_line(x, self.y, ln, font, record=False, stroke=stroke))
            self.y += lh
        if not self.full:
            self.cur.truth["paragraphs"].append({"bbox": _union(boxes), "text": "".join(lines), "kind": "title"})

    def paragraph(self, p: Paragraph, font=None):
        font = font or self.f_body
        lh = font.size * self.st.line_spacing
        ind = 2 * char_w(font, "国") if p.indent else 0
        lines = wrap(p.text, font, self.W - self.L - self.R, first_indent=ind)
        i = 0
        while i < len(lines):
            if self.y + lh > self.bottom:
                self.new_page()
            boxes, txt = [], ""
            while i < len(lines) and self.y + lh <= self.bottom:
                ln = lines[i]
                w = text_w(font, ln)
                if p.align == "right":
                    x = self.W - self.R - w
                elif p.align == "center":
                    x = (self.W - w) / 2
                else:
                    x = self.L + (ind if i == 0 else 0)
                boxes.append(self._text_line(x, self.y, ln, font, record=False))
                txt += ln
                self.y += lh
                i += 1
            if boxes and not self.full:
                self.cur.truth["paragraphs"].append({"bbox": _union(boxes), "text": txt, "kind": p.kind})
        self.y += font.size * 0.2

    # ------------------------------------------------------------------ tables
    def _layout_table(self, t: TableSpec):
        st = self.st
        font = self.f_table
        fs = font.size
        pad = max(3, int(0.45 * fs)) if t.cell_pad is None else max(1, int(t.cell_pad * fs))
        tw = (self.W - self.L - self.R) * st.width_frac
        n = t.n_cols
        if t.col_weights and len(t.col_weights) == n:
            ws = np.array(t.col_weights, float)
            widths = ws / ws.sum() * tw
        else:
            nat = np.full(n, 2.5 * fs + 2 * pad)
            need = np.zeros(n)
            for c in t.cells:
                if c.colspan != 1 or not c.text:
                    continue
                w = text_w(font, c.text) + 2 * pad
                if _NUM_RE.match(c.text.strip()):
                    need[c.col] = max(need[c.col], w)
                    nat[c.col] = max(nat[c.col], w)
                elif c.header:
                    nat[c.col] = max(nat[c.col], min(w, 5.5 * fs + 2 * pad))
                else:
                    nat[c.col] = max(nat[c.col], min(w, 0.42 * tw))
            widths = nat * (tw / nat.sum())
            short = np.maximum(need - widths, 0)
            if short.sum() > 0:
                slack = np.maximum(widths - np.maximum(need, 2 * fs + 2 * pad), 0)
                if slack.sum() > 0:
                    widths = widths + short - slack * min(1.0, short.sum() / slack.sum())
        x0 = self.L + ((self.W - self.L - self.R) - tw) / 2
        xs = [int(round(x0 + v)) for v in np.concatenate([[0], np.cumsum(widths)])]
        lh = fs * 1.3
        base = fs * (1.0 + 2 * st.row_pad) + 2
        heights = [base] * t.n_rows
        lines = {}
        for i, c in enumerate(t.cells):
            cw = xs[c.col + c.colspan] - xs[c.col] - 2 * pad
            ls = wrap(c.text, font, max(cw, fs))
            lines[i] = ls
            need_h = len(ls) * lh + 2 * st.row_pad * fs + 2
            if c.rowspan == 1:
                heights[c.row] = max(heights[c.row], need_h)
        for i, c in enumerate(t.cells):
            if c.rowspan > 1:
                need_h = len(lines[i]) * lh + 2 * st.row_pad * fs + 2
                have = sum(heights[c.row:c.row + c.rowspan])
                if need_h > have:
                    heights[c.row + c.rowspan - 1] += need_h - have
        heights = [int(round(h)) for h in heights]
        need_px = {i: int(len(lines[i]) * lh + 2 * st.row_pad * fs) for i in lines}
        return xs, heights, lines, need_px, pad, lh

    def table(self, t: TableSpec):
        st = self.st
        xs, heights, lines, need_px, pad, lh = self._layout_table(t)
        # heading
        head = []
        if t.title:
            head.append(("title", t.title))
        if t.subtitle_center:
            head.append(("center", t.subtitle_center))
        if t.subtitle_left or t.subtitle_right:
            head.append(("lr", (t.subtitle_left or "", t.subtitle_right or "")))
        head_h = sum((self.f_title.size * 1.7 if k == "title" else self.f_table.size * 1.6) for k, _ in head)
        h_rows = t.header_rows if (t.kind != "kpi" or t.force_repeat_header) else 0
        first_need = head_h + sum(heights if t.keep_together else heights[:h_rows + 2]) + self.f_title.size * 0.8
        attached = False
        if t.attach and not head and self._last_table and self._last_table[0] is self.cur:
            y0 = self._last_table[1]
            if y0 + sum(heights[:h_rows + 2]) <= self.bottom:
                self.y, attached = y0, True
        if attached:
            pass
        elif self.y + first_need > self.bottom and self.y > self.T + 5:
            self.new_page()
        elif self.y > self.T:
            self.y += self.f_title.size * 0.8
        title_text = None
        for k, v in head:
            if k == "title":
                font = self.f_title
                w = text_w(font, v)
                lines_t = wrap(v, font, self.W - self.L - self.R)
                bbs = []
                for ln in lines_t:
                    w = text_w(font, ln)
                    bbs.append(self._text_line((self.W - w) / 2, self.y, ln, font, record=False,
                                               stroke=1 if st.dpi >= 150 else 0))
                    self.y += font.size * 1.7
                if not self.full:
                    self.cur.truth["paragraphs"].append({"bbox": _union(bbs), "text": v, "kind": "title"})
                title_text = v
            elif k == "center":
                font = self.f_table
                w = text_w(font, v)
                self._text_line((self.W - w) / 2, self.y, v, font)
                self.y += font.size * 1.6
            else:
                font = self.f_table
                left, right = v
                if left:
                    self._text_line(xs[0], self.y, left, font)
                if right:
                    self._text_line(xs[-1] - text_w(font, right), self.y, right, font)
                self.y += font.size * 1.6
        if not attached:
            self.y += 2
        # fragments
        n = t.n_rows
        repeat = (t.force_repeat_header or st.repeat_header and t.repeat_header and t.kind != "kpi") and h_rows > 0 and \
            all(c.row + c.rowspan <= h_rows for c in t.cells if c.row < h_rows)
        r0 = 0
        prev_ref = None
        first = True
        while r0 < n:
            rows = list(range(r0, n))
            if not first and repeat:
                rows = list(range(h_rows)) + rows
            hdr_extra = len(rows) - (n - r0)
            avail = self.bottom - self.y
            # find the largest r1 that fits and is a valid split
            best = None
            acc = sum(heights[:hdr_extra]) if hdr_extra else 0
            for r1 in range(r0 + 1, n + 1):
                acc += heights[r1 - 1]
                if acc > avail:
                    break
                if r1 == n or self._valid_split(t, r0, r1, heights, need_px):
                    best = r1
            min_rows = 1 if not first else min(n - r0, 2 + (h_rows if first else 0))
            if best is None or (best - r0 < min_rows and best < n):
                if self.y > self.T + 5:
                    self.new_page()
                    continue
                best = r0 + 1
                while best < n and not self._valid_split(t, r0, best, heights, need_px):
                    best += 1
            frag_rows = (list(range(h_rows)) if (not first and repeat) else []) + list(range(r0, best))
            ref = self._draw_fragment(t, frag_rows, r0, best, xs, heights, lines, pad, lh,
                                      title_text if first else None, prev_ref, need_px)
            prev_ref = ref
            first = False
            r0 = best
            if r0 < n:
                self.new_page()
        self.y += self.f_table.size * 0.6

    def _valid_split(self, t, r0, r1, heights, need_px):
        for i, c in enumerate(t.cells):
            if c.row < r1 < c.row + c.rowspan:
                a0 = max(c.row, r0)
                ha = sum(heights[a0:r1])
                hb = sum(heights[r1:c.row + c.rowspan])
                if max(ha, hb) < need_px[i]:
                    return False
        return True

    def _draw_fragment(self, t, frag_rows, r0, r1, xs, heights, lines, pad, lh, title, prev_ref, need_px):
        st = self.st
        font = self.f_table
        local = {g: i for i, g in enumerate(frag_rows)}
        ys = [int(round(self.y))]
        for g in frag_rows:
            ys.append(ys[-1] + heights[g])
        nr = len(frag_rows)
        owner = [[-1] * t.n_cols for _ in range(nr)]
        cells_out = []
        for i, c in enumerate(t.cells):
            rs = [local[g] for g in range(c.row, c.row + c.rowspan) if g in local]
            if not rs:
                continue
            lr0, lr1 = min(rs), max(rs) + 1
            for r in range(lr0, lr1):
                for k in range(c.col, c.col + c.colspan):
                    owner[r][k] = i
            split = c.rowspan > 1 and (c.row < r0 <= c.row + c.rowspan - 1 or c.row < r1 < c.row + c.rowspan) \
                and c.row >= (t.header_rows if frag_rows and frag_rows[0] != c.row else 0)
            text = c.text
            if c.rowspan > 1 and (c.row < r0 < c.row + c.rowspan or c.row < r1 < c.row + c.rowspan):
                # the cell is cut by a page break: the text goes to the taller part that holds it
                a0, a1 = max(c.row, r0), min(c.row + c.rowspan, r1)
                mine = sum(heights[a0:a1])
                before = sum(heights[c.row:max(c.row, r0)]) if c.row < r0 else 0
                after = sum(heights[r1:c.row + c.rowspan]) if c.row + c.rowspan > r1 else 0
                parts = [(before, 0), (mine, 1), (after, 2)]
                winner = max((p for p in parts if p[0] >= need_px[i]), default=max(parts), key=lambda p: p[0])
                text = c.text if winner[1] == 1 else ""
            bbox = [xs[c.col], ys[lr0], xs[c.col + c.colspan], ys[lr1]]
            cells_out.append((i, c, lr0, lr1 - lr0, bbox, text))
        # ruling lines
        segs = []
        lw = st.line_px
        hdr_local = t.header_rows if (frag_rows and frag_rows[0] == 0) else 0
        for r in range(nr + 1):
            c = 0
            while c < t.n_cols:
                edge = r in (0, nr) or owner[r - 1][c] != owner[r][c]
                if edge and t.unruled_header and 0 < r < hdr_local:
                    edge = False
                if edge and t.open_top_bottom and r in (0, nr):
                    edge = False
                if not edge:
                    c += 1
                    continue
                c1 = c
                while c1 + 1 < t.n_cols and (r in (0, nr) or owner[r - 1][c1 + 1] != owner[r][c1 + 1]):
                    c1 += 1
                segs.append(("h", ys[r], xs[c], xs[c1 + 1], r in (0, nr)))
                c = c1 + 1
        for k in range(t.n_cols + 1):
            if t.open_sides and k in (0, t.n_cols):
                continue
            r = 0
            while r < nr:
                edge = k in (0, t.n_cols) or owner[r][k - 1] != owner[r][k]
                if edge and t.unruled_header and r < hdr_local and k not in (0, t.n_cols):
                    edge = False
                if not edge:
                    r += 1
                    continue
                r1_ = r
                while r1_ + 1 < nr and (k in (0, t.n_cols) or owner[r1_ + 1][k - 1] != owner[r1_ + 1][k]):
                    r1_ += 1
                segs.append(("v", xs[k], ys[r], ys[r1_ + 1], k in (0, t.n_cols)))
                r = r1_ + 1
        if t.rules == "none":          # borderless: text in the nominal cells, no ruling lines
            segs = []
        elif t.rules == "threeline":   # 三线表: outer rules at top and bottom, thin full-width rules between
            thin = set(t.hrules or ())
            segs = [("h", ys[0], xs[0], xs[-1], True), ("h", ys[nr], xs[0], xs[-1], True)]
            segs += [("h", ys[r], xs[0], xs[-1], False) for r in range(1, nr)
                     if frag_rows[r - 1] + 1 in thin or frag_rows[r] in thin]
        ink = min(255, st.ink + 10)
        rects = []
        frame = t.outer or st.outer
        for kind, a, b0, b1, outer in segs:
            w = lw + (1 if (outer and frame == "thick") else 0) + (lw + 1 if (outer and frame == "bold") else 0)
            h0, h1 = -(w // 2), (w - 1) // 2
            if kind == "h":
                rect = (b0 + h0, a + h0, b1 + h1, a + h1)
            else:
                rect = (a + h0, b0 + h0, a + h1, b1 + h1)
            self.draw.rectangle(rect, fill=ink)
            rects.append(rect)
        double = frame == "double" and not (t.open_sides or t.open_top_bottom) and t.rules is None
        if double:
            d = max(3, lw + 2)
            x0, y0, x1, y1 = xs[0] - d, ys[0] - d, xs[-1] + d, ys[-1] + d
            for rect in ((x0, y0, x1, y0 + lw - 1), (x0, y1 - lw + 1, x1, y1), (x0, y0, x0 + lw - 1, y1),
                         (x1 - lw + 1, y0, x1, y1)):
                self.draw.rectangle(rect, fill=ink)
                rects.append(rect)
        self.cur.segments.extend(rects)
        # text
        out_cells = []
        for i, c, lr, lrs, bbox, text in cells_out:
            if text:
                ls = lines[i]
                bx0, by0, bx1, by1 = bbox
                block = len(ls) * lh
                yc = (by0 + by1) / 2 - block / 2 + lh / 2
                al = c.align or ("center" if c.header else "right" if _NUM_RE.match(text.strip())
                                 else st.text_align)
                for j, ln in enumerate(ls):
                    y = yc + j * lh
                    if al == "left":
                        self.draw.text((bx0 + pad, y), ln, font=font, fill=st.ink, anchor="lm")
                    elif al == "right":
                        self.draw.text((bx1 - pad, y), ln, font=font, fill=st.ink, anchor="rm")
                    else:
                        self.draw.text(((bx0 + bx1) / 2, y), ln, font=font, fill=st.ink, anchor="mm")
            out_cells.append({"row": lr, "col": c.col, "rowspan": lrs, "colspan": c.colspan,
                              "bbox": [int(v) for v in bbox], "text": text})
        out_cells.sort(key=lambda d: (d["row"], d["col"]))
        self.y = ys[-1] + (max(3, lw + 2) if double else 0) + 2
        self._last_table = (self.cur, ys[-1])
        if self.full:
            return None
        idx = len(self.cur.truth["tables"])
        page = self.cur.truth["page"]
        rec = {"id": f"p{page}-t{idx}", "bbox": [xs[0], ys[0], xs[-1], ys[-1]], "n_rows": nr, "n_cols": t.n_cols,
               "continued_from": prev_ref, "title": title, "kind": t.kind, "cells": out_cells}
        self.cur.truth["tables"].append(rec)
        return [page, idx]


def _union(boxes):
    boxes = [b for b in boxes if b]
    if not boxes:
        return [0, 0, 0, 0]
    return [int(min(b[0] for b in boxes)), int(min(b[1] for b in boxes)),
            int(max(b[2] for b in boxes)), int(max(b[3] for b in boxes))]


def render_doc(doc: DocSpec, style: Style, max_pages: Optional[int] = None) -> list[PageOut]:
    r = _Renderer(style, max_pages=max_pages)
    prev_cover = False
    for b in doc.blocks:
        if r.full:
            break
        if isinstance(b, PageBreak):
            if r.y > r.T + 5:
                r.new_page()
            continue
        if isinstance(b, Title):
            if prev_cover and b.level != 0:
                r.new_page()
            elif style.section_breaks and b.level == 1 and re.match(r"^(第.部分|目\s*录)", b.text) and r.y > r.T + 5:
                r.new_page()
            if b.level == 0 and not prev_cover and r.y == r.T:
                r.y = r.H * 0.3
            r.title(b)
            prev_cover = b.level == 0
            continue
        prev_cover = False
        if isinstance(b, Paragraph):
            r.paragraph(b)
        elif isinstance(b, TableSpec):
            r.table(b)
    pages = r.pages
    # drop a trailing page that holds nothing but a page number
    while len(pages) > 1 and not pages[-1].truth["tables"] and \
            all(p["text"].startswith("- ") for p in pages[-1].truth["paragraphs"]):
        pages.pop()
    return pages


def to_array(img: Image.Image) -> np.ndarray:
    return np.asarray(img, dtype=np.uint8).copy()
