"""Synthetic scans of Chinese department budget disclosures with exact ground truth.

    import sys; sys.path.insert(0, "scripts")
    from synth import render_document, render_table_page
"""
from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from . import degrade as _degrade
from .render import Style, render_doc, to_array
from .seeds import parse_seed
from .spec import CellSpec, DocSpec, Paragraph, TableSpec, Title
from .vary import sample_doc, synthetic_doc, vary_doc
from .pdf import write_image_pdf
from .families import FAMILIES, parse_families

__all__ = ["render_document", "render_table_page", "build_doc", "render_pages", "CellSpec", "TableSpec",
           "DocSpec", "Paragraph", "Title", "FAMILIES", "parse_families"]


def _family_rng(seed: int, family: str) -> random.Random:
    return random.Random(f"{family}:{seed}")


def build_doc(seed: int, source: Optional[str] = None, kind: Optional[str] = None,
              family: Optional[str] = None) -> DocSpec:
    """The (varied) document spec for a seed: from a transcript, wholly synthetic, or the demo sample;
    drawn in a layout family (scripts/synth/families.py) when one is named."""
    rng = random.Random(seed * 7919 + 17)
    if kind == "sample":
        doc = sample_doc(rng)
    elif kind == "compact":   # no cover, one budget table, one project: budget and KPI pages within a few pages
        doc = synthetic_doc(rng, compact=True)
    elif source:
        doc = vary_doc(parse_seed(source), rng)
    else:
        doc = synthetic_doc(rng)
    if family:
        doc = FAMILIES[family].apply(doc, _family_rng(seed, family))
    return doc


def render_pages(doc: DocSpec, *, seed: int, severity: str = "medium", dpi: int = 200, rotation: int = 0,
                 max_pages: Optional[int] = None, font: Optional[str] = None,
                 skew: Optional[float] = None) -> tuple[list[np.ndarray], list[dict]]:
    style = Style.random(random.Random(seed * 31 + 5), dpi=dpi, font=font)
    family = doc.meta.get("family")
    if family:
        style = FAMILIES[family].style(style, _family_rng(seed * 31 + 5, family))
    pages = render_doc(doc, style, max_pages=max_pages)
    images, truths = [], []
    for i, p in enumerate(pages):
        img, info = _degrade.degrade(to_array(p.image), severity=severity, seed=seed * 1000 + i,
                                     rotation=rotation, skew=skew, segments=p.segments)
        t = dict(p.truth)
        t.update(info)
        images.append(img)
        truths.append(t)
    return images, truths


def render_document(out_dir, *, seed: int, source: Optional[str] = None, severity: str = "medium",
                    dpi: int = 200, rotation: int = 0, max_pages: Optional[int] = None,
                    font: Optional[str] = None, quality: int = 80, kind: Optional[str] = None,
                    family: Optional[str] = None) -> dict:
    """Write ``out_dir/doc.pdf`` (image-only) and ``out_dir/truth.json``; return the truth dict.
    ``family`` names a layout family (synth.FAMILIES); None draws as ever and records none."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    doc = build_doc(seed, source, kind, family=family)
    images, truths = render_pages(doc, seed=seed, severity=severity, dpi=dpi, rotation=rotation,
                                  max_pages=max_pages, font=font)
    write_image_pdf(out / "doc.pdf", images, dpi=dpi, quality=quality)
    truth = {"source": "doc.pdf", "dpi": dpi, "seed": seed, "severity": severity,
             "seed_transcript": Path(source).name if source else None, "department": doc.dept,
             **({"family": family} if family else {}), "pages": truths}
    (out / "truth.json").write_text(json.dumps(truth, ensure_ascii=False, indent=1), encoding="utf-8")
    return truth


def _as_cells(cells: Sequence) -> list[CellSpec]:
    out = []
    for c in cells:
        if isinstance(c, CellSpec):
            out.append(c)
        elif isinstance(c, dict):
            out.append(CellSpec(c["row"], c["col"], c.get("rowspan", 1), c.get("colspan", 1), c.get("text", ""),
                                align=c.get("align"), header=c.get("header", False)))
        else:
            r, k, rs, cs, t = c
            out.append(CellSpec(r, k, rs, cs, t))
    return out


def render_table_page(cells: Sequence, n_rows: int, n_cols: int, *, seed: int = 0, severity: str = "clean",
                      dpi: int = 200, rotation: int = 0, skew: Optional[float] = None,
                      title: Optional[str] = None, out_png: Optional[str] = None,
                      header_rows: int = 1, font: Optional[str] = None) -> tuple[np.ndarray, dict]:
    """One page holding one table (optional title above and a prose line).  Cells are CellSpec,
    dicts with row/col/rowspan/colspan/text, or (row, col, rowspan, colspan, text) tuples; slots
    not covered are filled with empty cells.  Returns (image, page truth)."""
    t = TableSpec(n_rows, n_cols, _as_cells(cells), title=title, header_rows=header_rows)
    for c in t.cells:
        c.header = c.row < header_rows
    t.fill_empty()
    t.validate()
    doc = DocSpec(blocks=[Paragraph("以下为本部门预算表格，金额单位为万元。"), t])
    images, truths = render_pages(doc, seed=seed, severity=severity, dpi=dpi, rotation=rotation,
                                  max_pages=1, font=font, skew=skew if skew is not None else
                                  (0.0 if severity == "clean" else None))
    img, truth = images[0], truths[0]
    truth["dpi"] = dpi
    if out_png:
        import cv2
        cv2.imwrite(str(out_png), img)
    return img, truth
