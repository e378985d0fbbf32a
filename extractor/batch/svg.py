"""Small hand-written SVG charts for the HTML report (no plotting library, nothing external)."""
from __future__ import annotations

import math
from html import escape
from typing import Optional, Sequence

PALETTE = ["#3b6ea8", "#d9822b", "#3a9a5b", "#b8433f", "#7d5ba6", "#8c6d46", "#c25d9a", "#6b6b6b"]
FONT = 'font-family="system-ui, \'Noto Sans CJK SC\', \'Microsoft YaHei\', sans-serif"'


def _nice_max(v: float) -> float:
    """A round axis maximum at or above ``v`` whose quarters are round too."""
    if v <= 0:
        return 1.0
    step = v / 4
    e = 10 ** math.floor(math.log10(step))
    for m in (1, 2, 2.5, 5, 10):
        if step <= m * e * (1 + 1e-9):
            return 4 * m * e
    return 40 * e


def _fmt(v: float) -> str:
    return f"{v:.0f}" if abs(v) >= 10 or float(v).is_integer() else f"{v:.3g}"


def _frame(svg_id: str, width: int, height: int, title: str, body: list[str]) -> str:
    head = (f'<svg id="{escape(svg_id)}" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" {FONT} font-size="12">')
    return "\n".join([head, f"<title>{escape(title)}</title>",
                      f'<text x="{width / 2}" y="18" text-anchor="middle" font-size="14" font-weight="600">'
                      f"{escape(title)}</text>", *body, "</svg>"])


def _y_axis(x0: float, y0: float, y1: float, vmax: float, w: float, label: str) -> list[str]:
    out = []
    for i in range(5):
        v = vmax * i / 4
        y = y0 - (y0 - y1) * i / 4
        out.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x0 + w}" y2="{y:.1f}" stroke="#e3e3e3"/>')
        out.append(f'<text x="{x0 - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#555">{_fmt(v)}</text>')
    out.append(f'<text x="14" y="{(y0 + y1) / 2:.1f}" transform="rotate(-90 14 {(y0 + y1) / 2:.1f})" '
               f'text-anchor="middle" fill="#333">{escape(label)}</text>')
    return out


def histogram(svg_id: str, title: str, edges: Sequence[float], series: Sequence[tuple[str, Sequence[int]]],
              xlabel: str = "", ylabel: str = "count", width: int = 640, height: int = 300,
              mark: Optional[float] = None) -> str:
    """Counts in bins (``edges``: n+1 bin edges), one or more series side by side; ``mark``: an x to
    draw a dashed line at (the review threshold)."""
    left, right, top, bottom = 56, 16, 36, 44
    pw, ph = width - left - right, height - top - bottom
    n = len(edges) - 1
    vmax = _nice_max(max([max(c) if len(c) else 0 for _, c in series] + [1]))
    x0, y0 = left, top + ph
    body = _y_axis(x0, y0, top, vmax, pw, ylabel)
    lo, hi = edges[0], edges[-1]
    bw = pw / max(1, n)
    k = max(1, len(series))
    for si, (_, counts) in enumerate(series):
        for i, c in enumerate(counts):
            h = ph * c / vmax
            x = x0 + i * bw + 1 + si * (bw - 2) / k
            body.append(f'<rect x="{x:.1f}" y="{y0 - h:.1f}" width="{max(0.5, (bw - 2) / k):.1f}" height="{h:.1f}" '
                        f'fill="{PALETTE[si % len(PALETTE)]}"><title>{edges[i]:.2f}–{edges[i + 1]:.2f}: {c}</title></rect>')
    for i in range(0, n + 1, max(1, n // 5)):
        x = x0 + i * bw
        body.append(f'<text x="{x:.1f}" y="{y0 + 16}" text-anchor="middle" fill="#555">{edges[i]:.2g}</text>')
    if mark is not None and lo <= mark <= hi:
        x = x0 + pw * (mark - lo) / (hi - lo)
        body.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{y0}" stroke="#b8433f" stroke-dasharray="4 3"/>')
        body.append(f'<text x="{x - 4:.1f}" y="{top + 12}" text-anchor="end" fill="#b8433f">review below {mark}</text>')
    body.append(f'<text x="{x0 + pw / 2}" y="{height - 8}" text-anchor="middle" fill="#333">{escape(xlabel)}</text>')
    body += _legend([name for name, _ in series], x0 + 8, top + 8) if len(series) > 1 else []
    return _frame(svg_id, width, height, title, body)


def lines(svg_id: str, title: str, series: Sequence[tuple[str, Sequence[tuple[float, float]]]], xlabel: str = "",
          ylabel: str = "", width: int = 640, height: int = 300) -> str:
    """Line chart of (x, y) points, one line per series."""
    left, right, top, bottom = 56, 16, 36, 44
    pw, ph = width - left - right, height - top - bottom
    pts = [p for _, s in series for p in s]
    xmax = max([p[0] for p in pts] + [1e-9])
    vmax = _nice_max(max([p[1] for p in pts] + [1]))
    x0, y0 = left, top + ph
    body = _y_axis(x0, y0, top, vmax, pw, ylabel)
    xm = _nice_max(xmax)
    for i in range(5):
        v = xm * i / 4
        body.append(f'<text x="{x0 + pw * i / 4:.1f}" y="{y0 + 16}" text-anchor="middle" fill="#555">{_fmt(v)}</text>')
    for si, (name, s) in enumerate(series):
        if not s:
            continue
        c = PALETTE[si % len(PALETTE)]
        path = " ".join(f"{x0 + pw * x / xm:.1f},{y0 - ph * y / vmax:.1f}" for x, y in s)
        body.append(f'<polyline points="{path}" fill="none" stroke="{c}" stroke-width="2"/>')
        for x, y in s:
            body.append(f'<circle cx="{x0 + pw * x / xm:.1f}" cy="{y0 - ph * y / vmax:.1f}" r="2.5" fill="{c}">'
                        f"<title>{escape(name)}: {y:.1f} at {x:.1f}</title></circle>")
    body.append(f'<text x="{x0 + pw / 2}" y="{height - 8}" text-anchor="middle" fill="#333">{escape(xlabel)}</text>')
    body += _legend([name for name, _ in series], x0 + 8, top + 8)
    if not pts:
        body.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" fill="#888">no pages read yet</text>')
    return _frame(svg_id, width, height, title, body)


def hbars(svg_id: str, title: str, items: Sequence[tuple[str, float]], xlabel: str = "", width: int = 640,
          bar: int = 20, empty: str = "nothing to show") -> str:
    """Horizontal bars, largest first as given: (label, value)."""
    left = min(300, 16 + 7 * max([len(lbl) for lbl, _ in items] + [8]))
    top, right = 36, 56
    height = top + max(1, len(items)) * (bar + 6) + 36
    pw = width - left - right
    vmax = max([v for _, v in items] + [1])
    body = []
    for i, (label, v) in enumerate(items):
        y = top + i * (bar + 6)
        w = pw * v / vmax
        short = label if len(label) <= 40 else label[:38] + "…"
        body.append(f'<text x="{left - 6}" y="{y + bar * 0.7:.1f}" text-anchor="end" fill="#333">'
                    f"<title>{escape(label)}</title>{escape(short)}</text>")
        body.append(f'<rect x="{left}" y="{y}" width="{max(0.5, w):.1f}" height="{bar}" fill="{PALETTE[0]}"/>')
        body.append(f'<text x="{left + w + 4:.1f}" y="{y + bar * 0.7:.1f}" fill="#333">{_fmt(v)}</text>')
    if not items:
        body.append(f'<text x="{width / 2}" y="{top + 20}" text-anchor="middle" fill="#888">{escape(empty)}</text>')
    body.append(f'<text x="{left + pw / 2}" y="{height - 8}" text-anchor="middle" fill="#333">{escape(xlabel)}</text>')
    return _frame(svg_id, width, height, title, body)


def _legend(names: Sequence[str], x: float, y: float) -> list[str]:
    out = []
    for i, name in enumerate(names):
        yy = y + i * 16
        out.append(f'<rect x="{x}" y="{yy}" width="10" height="10" fill="{PALETTE[i % len(PALETTE)]}"/>')
        out.append(f'<text x="{x + 14}" y="{yy + 9}" fill="#333">{escape(name)}</text>')
    return out
