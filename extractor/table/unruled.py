"""Tables with no ruled grid (borderless, 三线表, rules faded away): where they are and their grid.

``unruled_tables`` takes the page's ruled grids, its text lines outside them (anything with
``bbox`` and ``text``) and the layout model's table regions, and returns grids built from the
text's alignment (table/align.py) for the regions that show table evidence; the parts of one form
are merged and the form rows above a grid joined to it.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..geometry import inside_frac, iou
from ..model import Failure
from .align import Line, extend_up, merge_stacked, table_from_lines, text_table_regions
from .grid import GridTable


def unruled_tables(gray: Optional[np.ndarray], grids: list[GridTable], lines: list, layout_tables: list,
                    failures: list[Failure], number: int, size: Optional[tuple[int, int]] = None) -> list[GridTable]:
    """Grids from text alignment where no ruled grid is: each candidate region (the layout
    model's tables, then runs of aligned rows found in the text itself) that overlaps no ruled
    grid and no table already built, and whose lines show table evidence (align.is_table).
    ``gray``: the page image (detected boxes are cut at its blank runs); None with lines whose
    boxes are exact (a PDF's text layer), the page's (height, width) then given as ``size``."""
    height, page_w = gray.shape[:2] if gray is not None else size
    texts = [Line(tuple(ln.bbox), ln.text) for ln in lines
             if not any(inside_frac(ln.bbox, g.bbox) > 0.5 for g in grids)]
    out: list[GridTable] = []
    try:
        cands = text_table_regions(texts, page_w)
        for reg in layout_tables:  # the model's regions, cut at titles and meta lines as the text's are
            inside = [t for t in texts if inside_frac(t.bbox, reg) > 0.6
                      and not any(inside_frac(t.bbox, c) > 0.5 for c in cands)]
            cands += text_table_regions(inside, page_w, min_rows=2) or ([tuple(reg)] if len(inside) >= 4 else [])
    except Exception as e:  # noqa: BLE001
        failures.append(Failure(stage="table", category="text_fallback", message=str(e), page=number))
        return out
    for reg in cands:
        if any(iou(reg, g.bbox) > 0.3 or inside_frac(reg, g.bbox) > 0.6 for g in grids + out):
            continue
        inside = [t for t in texts if inside_frac(t.bbox, reg) > 0.6]
        try:
            g = table_from_lines(inside, gray)
        except Exception as e:  # noqa: BLE001
            failures.append(Failure(stage="table", category="text_fallback", message=str(e), page=number))
            continue
        if g is not None and not any(iou(g.bbox, o.bbox) > 0.3 or inside_frac(g.bbox, o.bbox) > 0.6
                                     for o in grids + out):
            out.append(g)
    try:  # the parts of one form (project block, KPI grid) are one table, with its form rows above
        out = merge_stacked(out, texts, max_gap=0.4 * height)
        free = [t for t in texts if not any(inside_frac(t.bbox, o.bbox) > 0.5 for o in grids + out)]
        out = [extend_up(g, free) for g in out]
    except Exception as e:  # noqa: BLE001
        failures.append(Failure(stage="table", category="text_fallback", message=f"merge: {e}", page=number))
    return out
