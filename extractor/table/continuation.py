"""Tables cut by a page break: the first table of a page continues the last table of the page
before when it starts at the top with no title above it, the previous one runs to the bottom,
and their column boundaries line up (after scaling to the table width)."""
from __future__ import annotations

from ..model import Document, Page, Table


def _rel_edges(t: Table) -> list[float]:
    x0, x1 = t.bbox[0], t.bbox[2]
    w = max(1.0, x1 - x0)
    edges = t.col_edges or [x0, x1]
    return [(e - x0) / w for e in edges]


def column_match(a: Table, b: Table, tol: float = 0.02) -> float:
    """Fraction of b's inner column boundaries that have a counterpart in a (relative to width).
    A continuation may drop a leading column (KPI pages without the 一级 column), so b's edges are
    also tried against a's edges re-based on each of a's boundaries."""
    ea, eb = _rel_edges(a), _rel_edges(b)
    if len(eb) <= 2:
        return 0.0
    best = 0.0
    wa = a.bbox[2] - a.bbox[0]
    for shift_edge in ea[:-1]:
        # a re-based at one of its boundaries, rescaled so its right end stays fixed
        span = 1.0 - shift_edge
        if span * wa < 0.3 * (b.bbox[2] - b.bbox[0]):
            continue
        ra = [(e - shift_edge) / span for e in ea if e >= shift_edge - 1e-6]
        hits = sum(1 for e in eb[1:-1] if any(abs(e - x) < tol for x in ra))
        best = max(best, hits / (len(eb) - 2))
    return best


def _continues(prev_page: Page, prev: Table, page: Page, cur: Table) -> bool:
    if prev.bbox[3] < 0.7 * prev_page.height or cur.bbox[1] > 0.3 * page.height:
        return False
    # a title (paragraph) between the page top and the table means a new table
    for p in page.paragraphs:
        if p.bbox[3] <= cur.bbox[1] + 2 and p.bbox[1] > 0.06 * page.height and (p.bbox[2] - p.bbox[0]) < 0.8 * page.width:
            if cur.bbox[1] - p.bbox[3] < 0.1 * page.height:
                return False
    # either side may carry boundaries the other lacks (a merged-cell block above, a KPI grid below)
    return max(column_match(prev, cur), column_match(cur, prev)) >= 0.75


def link_continuations(doc: Document) -> None:
    pages = [p for p in doc.pages if p.width]
    for a, b in zip(pages, pages[1:]):
        if b.page != a.page + 1 or not a.tables or not b.tables:
            continue
        prev = max(a.tables, key=lambda t: t.bbox[3])
        cur = min(b.tables, key=lambda t: t.bbox[1])
        if _continues(a, prev, b, cur):
            cur.continued_from = prev.id
            prev.continues_to = cur.id
