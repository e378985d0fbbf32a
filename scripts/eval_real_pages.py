#!/usr/bin/env python
"""The whole pipeline on real page images nobody here drew (../shared/external): tables found,
rows and columns exact, TEDS-Struct on the cTDaR 2019 Track B2 Chinese pages (structure truth),
and on the RapidAI images (no truth) the tables found and that every page is read without error.

    python scripts/eval_real_pages.py [--external ../shared/external] [--json out.json] [--dpi 96]

Tables are matched one to one by box (IoU >= 0.5, best first). cTDaR annotates only non-empty
cells, with content boxes: TEDS-Struct compares the predicted grid with the truth's HTML skeleton
(gt_html_structure_derived), structure only.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from extractor.evaluate import teds  # noqa: E402
from extractor.geometry import iou  # noqa: E402


def _gt_tables(ctdar: Path) -> dict:
    g = json.loads((ctdar / "gt_structure.json").read_text(encoding="utf-8"))
    out = {}
    for tid, v in g.items():
        fixes = {(k["table"], k["cell_index"]): k["suggested"] for k in v.get("known_issues", [])}
        tabs = []
        for ti, t in enumerate(v["tables"]):
            pts = [tuple(map(int, p.split(","))) for p in t["table_coords"].split()]
            box = (min(p[0] for p in pts), min(p[1] for p in pts), max(p[0] for p in pts), max(p[1] for p in pts))
            cells = []
            for ci, c in enumerate(t["cells"]):
                sr, sc, er, ec = fixes.get((ti, ci), (c["start_row"], c["start_col"], c["end_row"], c["end_col"]))
                cells.append((sr, sc, er - sr + 1, ec - sc + 1))
            n_rows = max(c[0] + c[2] for c in cells)
            n_cols = max(c[1] + c[3] for c in cells)
            # the skeleton: every grid slot no annotated cell covers is an empty 1x1 cell
            taken = {(r, c) for sr, sc, rs, cs in cells for r in range(sr, sr + rs) for c in range(sc, sc + cs)}
            skel = [(sr, sc, rs, cs, "") for sr, sc, rs, cs in cells] + \
                [(r, c, 1, 1, "") for r in range(n_rows) for c in range(n_cols) if (r, c) not in taken]
            tabs.append({"box": box, "n_rows": n_rows, "n_cols": n_cols, "cells": skel})
        out[tid] = tabs
    return out


def _match(pred: list, truth: list) -> list[tuple[int, int]]:
    pairs = sorted(((iou(p.bbox, t["box"]), i, j) for i, p in enumerate(pred) for j, t in enumerate(truth)), reverse=True)
    used_p, used_t, out = set(), set(), []
    for v, i, j in pairs:
        if v >= 0.5 and i not in used_p and j not in used_t:
            used_p.add(i)
            used_t.add(j)
            out.append((i, j))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--external", type=Path, default=ROOT.parent / "shared" / "external")
    ap.add_argument("--dpi", type=float, default=96.0, help="the pages' resolution, as the pipeline is told")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args(argv)
    from extractor.config import Settings
    from extractor.pipeline import Pipeline

    pipe = Pipeline(Settings(workers=1, kpi_classifier=False))
    ctdar = a.external / "ctdar2019_modern_trackB2_zh"
    gt = _gt_tables(ctdar)
    n_pred = n_true = n_match = rows_ok = cols_ok = 0
    teds_sum, errors, t0 = 0.0, [], time.perf_counter()
    for tid, truth in sorted(gt.items()):
        gray = cv2.imread(str(ctdar / "images" / f"cTDaR_t{tid}.jpg"), cv2.IMREAD_GRAYSCALE)
        page = pipe.process_image(gray, 1, a.dpi)
        errors += [f"t{tid}: {f.stage}/{f.category}: {f.message}" for f in page.failures
                   if f.category not in ("empty_page",)]
        pairs = _match(page.tables, truth)
        n_pred += len(page.tables)
        n_true += len(truth)
        n_match += len(pairs)
        for i, j in pairs:
            p, t = page.tables[i], truth[j]
            rows_ok += p.n_rows == t["n_rows"]
            cols_ok += p.n_cols == t["n_cols"]
            teds_sum += teds([(c.row, c.col, c.rowspan, c.colspan, "") for c in p.cells], t["cells"], structure_only=True)
        print(f"  t{tid}: {len(truth)} true, {len(page.tables)} found ({', '.join(p.source for p in page.tables)}), "
              f"{len(pairs)} matched", flush=True)
    prec = n_match / n_pred if n_pred else 1.0
    rec = n_match / n_true if n_true else 1.0
    res = {"ctdar_pages": len(gt), "true_tables": n_true, "found": n_pred, "matched": n_match,
           "tables_f1": 2 * prec * rec / (prec + rec) if prec + rec else 0.0, "precision": prec, "recall": rec,
           "rows_exact": rows_ok / n_true, "cols_exact": cols_ok / n_true, "teds_struct": teds_sum / n_true}
    others = sorted(p for p in (a.external / "rapidai_tablestructurerec_images_noGT").rglob("*")
                    if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    found = {}
    for p in others:
        gray = cv2.imread(str(p), cv2.IMREAD_GRAYSCALE)
        try:
            page = pipe.process_image(gray, 1, a.dpi)
        except Exception as e:  # noqa: BLE001 - counted, not fatal
            errors.append(f"{p.name}: {type(e).__name__}: {e}")
            continue
        errors += [f"{p.name}: {f.stage}/{f.category}: {f.message}" for f in page.failures if f.category != "empty_page"]
        found[p.name] = [t.source for t in page.tables]
    res.update(other_pages=len(others), other_tables=sum(len(v) for v in found.values()), errors=errors,
               seconds=round(time.perf_counter() - t0, 1))
    print(f"\ncTDaR 2019 B2 zh, {len(gt)} pages, {n_true} tables: found {n_pred}, F1 {res['tables_f1']:.3f} "
          f"(P {prec:.3f} R {rec:.3f}); rows exact {res['rows_exact']:.3f}, cols exact {res['cols_exact']:.3f}, "
          f"TEDS-Struct {res['teds_struct']:.3f}")
    print(f"RapidAI images: {len(others)} pages, {res['other_tables']} tables found: "
          + ", ".join(f"{k}: {len(v)}" for k, v in found.items()))
    print(f"errors: {len(errors)}" + "".join(f"\n  {e}" for e in errors))
    if a.json:
        a.json.write_text(json.dumps(res, indent=1, ensure_ascii=False), encoding="utf-8")
    pipe.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
