#!/usr/bin/env python
"""Born-digital PDFs (issue 20): accuracy and speed of the text-layer path against the OCR path on
the same pages, per layout family and drawing style.

    python scripts/eval_digital.py --family base,twin,threeline --docs 2 --seed 9100 --style excel,word
    python scripts/eval_digital.py ... --ocr            # also the OCR path on the same born-digital files
    python scripts/eval_digital.py ... --hard           # also the hard cases (OCR layer, mojibake, mixed)
    python scripts/eval_digital.py ... --pdfplumber     # also pdfplumber's own tables (scripts/peers/setup.sh)
    python scripts/eval_digital.py ... --pairs p.jsonl  # (confidence, right, family, style) per cell

Each family/seed is rendered as a light scan with its truth (synth.render_document), then written
born-digital in each style from that truth (synth/digital.py), so truth, boxes and text are the
scan's. One pipeline reads every file (pages one after another in this process, so pages/min is
one core's); each document is scored with extractor.evaluate.score_document. ``--ocr`` reads the same
born-digital files with ``text_layer: false`` (rendered and OCR'd): the speed and accuracy the
text layer saves. ``--hard`` checks the per-page decision on a searchable scan (an invisible OCR
layer over the scan), a mojibake file (ToUnicode into the private use area) and a mixed file
(scanned and born-digital pages alternating): prints each page's text_source and reason.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from calibrate import wrong_below  # noqa: E402
from extractor.evaluate import Score, score_document  # noqa: E402
from synth import parse_families  # noqa: E402
from synth.digital import STYLES, render_digital_set, write_mixed, write_mojibake, write_ocr_layer  # noqa: E402


def _row(name: str, s: Score, pages: int, secs: float) -> str:
    m = s.summary()
    wb = wrong_below(s.conf) if any(not ok for _, ok in s.conf) else float("nan")
    return (f"| {name} | {pages} | {m['tables_f1']:.3f} | {m['text']:.4f} | {m['numeric']:.4f} | {m['kpi_f1']:.3f} | "
            f"{m['ece']:.3f} | {wb:.3f} | {pages / secs * 60 if secs else float('nan'):.0f} |")


HEAD = ("| set | pages | tables F1 | cell text | numeric | KPI F1 | ECE | wrong < 0.9 | pages/min |\n"
        "|---|---|---|---|---|---|---|---|---|")


def run_set(pipe, docs, pdf_name, label: str, pairs=None) -> dict:
    per: dict = {}
    for fam, st, d in docs:
        truth = json.loads((d / "truth.json").read_text(encoding="utf-8"))
        t0 = time.perf_counter()
        doc = pipe.run(d / pdf_name(st), dpi=truth.get("dpi", 200))
        dt = time.perf_counter() - t0
        s = score_document(doc, truth)
        m = s.summary()
        src = {p.text_source for p in doc.pages}
        print(f"  {label} {fam}/{st} {d.name}: {len(doc.pages)} pages {dt:.1f}s, tables F1 {m['tables_f1']:.3f}, "
              f"text {m['text']:.4f}, numeric {m['numeric']:.4f}, sources {sorted(map(str, src))}", flush=True)
        for key in (f"{fam}/{st}", "pooled"):
            tot = per.setdefault(key, [Score(), 0, 0.0])
            tot[0].add(s)
            tot[1] += len(doc.pages)
            tot[2] += dt
        if pairs is not None:
            for c, ok in s.conf:
                pairs.write(json.dumps({"confidence": round(c, 5), "right": bool(ok), "family": fam, "style": st,
                                        "doc": d.name}) + "\n")
    return per


def pdfplumber_document(path: Path, dpi: float):
    """pdfplumber's own table extraction (``page.find_tables()``, default settings) as a Document:
    each table's cells placed on the grid of its distinct cell edges, boxes in pixels at ``dpi``."""
    import pdfplumber

    from extractor.model import Cell, Document, Page, Table

    k = dpi / 72.0
    doc = Document(source=str(path))
    with pdfplumber.open(str(path)) as pdf:
        for n, pg in enumerate(pdf.pages, 1):
            page = Page(page=n, width=int(round(pg.width * k)), height=int(round(pg.height * k)), dpi=dpi)
            for ti, t in enumerate(pg.find_tables()):
                xs = sorted({round(v, 1) for c in t.cells for v in (c[0], c[2])})
                ys = sorted({round(v, 1) for c in t.cells for v in (c[1], c[3])})
                cells = []
                for row, texts in zip(t.rows, t.extract()):
                    for bb, text in zip(row.cells, texts):
                        if bb is None:
                            continue
                        x0, y0, x1, y1 = (round(v, 1) for v in bb)
                        r, c = ys.index(y0), xs.index(x0)
                        cells.append(Cell(row=r, col=c, rowspan=max(1, ys.index(y1) - r), colspan=max(1, xs.index(x1) - c),
                                          bbox=[v * k for v in (x0, y0, x1, y1)], text=(text or "").replace("\n", ""),
                                          confidence=1.0))
                page.tables.append(Table(id=f"p{n}-t{ti}", bbox=[v * k for v in t.bbox], n_rows=len(ys) - 1,
                                         n_cols=len(xs) - 1, cells=cells))
            doc.pages.append(page)
    doc.n_pages = len(doc.pages)
    return doc


class _Plumber:
    """pdfplumber as a pipeline stand-in for run_set."""

    def run(self, path, dpi=200):
        return pdfplumber_document(Path(path), dpi)


def hard_cases(pipe, docs, out: Path) -> None:
    fam, st, d = docs[0]
    truth = json.loads((d / "truth.json").read_text(encoding="utf-8"))
    cases = {"ocr_layer": write_ocr_layer(d / "doc.pdf", truth, out / "ocr_layer.pdf"),
             "mojibake": write_mojibake(d / f"digital_{st}.pdf", out / "mojibake.pdf")}
    n = len(truth["pages"])
    cases["mixed"] = write_mixed([(d / ("doc.pdf" if i % 2 else f"digital_{st}.pdf"), [i + 1]) for i in range(n)],
                                 out / "mixed.pdf")
    for name, path in cases.items():
        t0 = time.perf_counter()
        doc = pipe.run(path, dpi=truth.get("dpi", 200))
        dt = time.perf_counter() - t0
        s = score_document(doc, truth).summary()
        print(f"\n{name} ({fam}/{st} {d.name}): tables F1 {s['tables_f1']:.3f}, text {s['text']:.4f}, "
              f"numeric {s['numeric']:.4f}, {len(doc.pages) / dt * 60:.0f} pages/min")
        for p in doc.pages:
            print(f"  page {p.page}: {p.text_source}: {p.text_source_reason}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--family", default="base", help="layout families, comma list (scripts/synth/families.py)")
    ap.add_argument("--style", default=",".join(STYLES), help=f"drawing styles, comma list: {', '.join(STYLES)}")
    ap.add_argument("--docs", type=int, default=1)
    ap.add_argument("--seed", type=int, default=9100)
    ap.add_argument("--max-pages", type=int, default=6)
    ap.add_argument("--out", type=Path, default=ROOT / "data" / "digital")
    ap.add_argument("--ocr", action="store_true", help="also the OCR path on the same born-digital files")
    ap.add_argument("--hard", action="store_true", help="also the hard cases (OCR layer, mojibake, mixed)")
    ap.add_argument("--pdfplumber", action="store_true", help="also pdfplumber's table extraction on the same files")
    ap.add_argument("--pairs", type=Path, default=None)
    a = ap.parse_args(argv)
    families = parse_families([a.family])
    styles = [s.strip() for s in a.style.split(",") if s.strip()]
    docs = render_digital_set(a.out, families, list(range(a.seed, a.seed + a.docs)), styles, a.max_pages)

    from extractor.config import Settings
    from extractor.pipeline import Pipeline

    pipe = Pipeline(Settings(workers=1))
    pipe.warm_up()
    pairs = a.pairs.open("w", encoding="utf-8") if a.pairs else None
    try:
        results = {"text layer": run_set(pipe, docs, lambda st: f"digital_{st}.pdf", "layer", pairs)}
        if a.ocr:
            ocr = Pipeline(Settings(workers=1, text_layer=False))
            ocr.warm_up()
            results["OCR path, same files"] = run_set(ocr, docs, lambda st: f"digital_{st}.pdf", "ocr")
            ocr.close()
        if a.pdfplumber:
            results["pdfplumber find_tables, same files"] = run_set(_Plumber(), docs, lambda st: f"digital_{st}.pdf",
                                                                     "pdfplumber")
        if a.hard:
            hard_cases(pipe, docs, a.out)
    finally:
        if pairs:
            pairs.close()
        pipe.close()
    for name, per in results.items():
        print(f"\n{name}, one process (seeds {a.seed}-{a.seed + a.docs - 1})\n{HEAD}")
        for key, (s, pages, secs) in sorted(per.items(), key=lambda kv: (kv[0] == "pooled", kv[0])):
            print(_row(key, s, pages, secs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
