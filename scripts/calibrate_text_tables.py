#!/usr/bin/env python
"""Fit the confidence map of cells in tables built from text alignment (no rulings), on some layout
families, check it on others, and write it into models/calibration.json as ``text_cells``; with
``--kind faint``, the map of cells of ruled tables on pages the enhancement found faint or unevenly
lit (``faint_cells``, applied after the cell map).

    python scripts/calibrate_text_tables.py --fit borderless --check threeline --docs 3 \
        --severity medium,faded [--write]
    python scripts/calibrate_text_tables.py --kind faint --fit base,twin --check ledger,union \
        --severity heavy,faded --docs 2 [--write]

The cell map of scripts/calibrate.py was fitted on ruled grids; its evidence model puts every cell of
a grid built from text near 0 (right or wrong), so a text table's cells keep their raw score (~0.68
times the read's confidence) and this map turns it into the share right, by isotonic regression.
Documents: ``--docs`` compact documents per family and severity, seeds from --seed (fit) and
--seed + 100 (check), rendered under --out and reused. Prints, for the check families, ECE, the
share of wrong cells below 0.9 and of all cells below 0.9, with the raw score and with the map; and
the same the other way round (fit on the check families, check on the fit ones).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from eval_families import render_set  # noqa: E402
from calfit import fit_isotonic  # noqa: E402
from extractor.evaluate import ece, score_document  # noqa: E402


def text_pairs(pipe, docs: list, kind: str = "text") -> list[tuple[float, bool]]:
    """(confidence before the map, right) of every cell matched to a true cell: of a text-built
    table (``text``), or of a ruled table on an enhanced page (``faint``)."""
    out = []
    for _, d in docs:
        truth = json.loads((d / "truth.json").read_text(encoding="utf-8"))
        doc = pipe.run(d / "doc.pdf", dpi=truth.get("dpi", 200))
        if kind == "text":
            keep = {t.id for t in doc.tables() if t.source == "text"}
        else:
            keep = {t.id for p in doc.pages if p.enhanced and p.enhanced.get("applied") for t in p.tables
                    if t.source != "text"}
        s = score_document(doc, truth)
        out += [(c.confidence, bool(ok)) for tid, c, ok in s.scored if tid in keep]
    return out


def report(name: str, pairs: list, cal=None) -> dict:
    conf = [(cal(c) if cal else c, ok) for c, ok in pairs]
    wrong = [c for c, ok in conf if not ok]
    m = {"cells": len(conf), "right": float(np.mean([ok for _, ok in conf])) if conf else float("nan"),
         "ece": ece(conf), "wrong_below_0.9": float(np.mean([c < 0.9 for c in wrong])) if wrong else float("nan"),
         "all_below_0.9": float(np.mean([c < 0.9 for c, _ in conf])) if conf else float("nan")}
    print(f"  {name:34s} cells {m['cells']:5d}  right {m['right']:.3f}  ECE {m['ece']:.3f}  "
          f"wrong<0.9 {m['wrong_below_0.9']:.3f}  all<0.9 {m['all_below_0.9']:.3f}")
    return m


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fit", default="borderless", help="families to fit on (comma list)")
    ap.add_argument("--check", default="threeline", help="families to check on (comma list)")
    ap.add_argument("--severity", default="medium,faded")
    ap.add_argument("--docs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=8100)
    ap.add_argument("--max-pages", type=int, default=6)
    ap.add_argument("--out", type=Path, default=ROOT / "data" / "text_tables")
    ap.add_argument("--kind", choices=["text", "faint"], default="text")
    ap.add_argument("--write", action="store_true", help="write the map fitted on --fit into models/calibration.json")
    a = ap.parse_args(argv)
    from extractor.config import Settings
    from extractor.pipeline import Pipeline

    pipe = Pipeline(Settings(workers=1))
    key = "text_cells" if a.kind == "text" else "faint_cells"
    pipe.text_calibration = None  # the raw scores are what is fitted
    pipe.faint_calibration = None
    fit_f, check_f = a.fit.split(","), a.check.split(",")
    sets: dict = {"fit": [], "check": []}
    for sev in a.severity.split(","):
        sets["fit"] += text_pairs(pipe, render_set(a.out / sev, fit_f, list(range(a.seed, a.seed + a.docs)), sev,
                                                   a.max_pages, 200, "compact"), a.kind)
        sets["check"] += text_pairs(pipe, render_set(a.out / sev, check_f, list(range(a.seed + 100, a.seed + 100 + a.docs)),
                                                     sev, a.max_pages, 200, "compact"), a.kind)
    pipe.close()
    res = {}
    for fit_name, check_name in (("fit", "check"), ("check", "fit")):
        fams = {"fit": a.fit, "check": a.check}
        cal = fit_isotonic([c for c, _ in sets[fit_name]], [ok for _, ok in sets[fit_name]])
        print(f"fitted on {fams[fit_name]} ({len(sets[fit_name])} cells), checked on {fams[check_name]}:")
        res[f"{fams[fit_name]}->{fams[check_name]}"] = {
            "raw": report("raw score", sets[check_name]), "mapped": report("mapped", sets[check_name], cal),
            "in_sample": report(f"(in sample, {fams[fit_name]})", sets[fit_name], cal)}
        if fit_name == "fit" and a.write:
            path = ROOT / "models" / "calibration.json"
            d = json.loads(path.read_text(encoding="utf-8"))
            d[key] = {"x": [round(v, 5) for v in cal.x], "y": [round(v, 5) for v in cal.y],
                               "meta": {"fitted_on": fit_f, "severities": a.severity.split(","), "docs": a.docs,
                                        "seeds": [a.seed, a.seed + a.docs - 1], "cells": len(sets["fit"]),
                                        "checked_on": check_f, "check": res[f"{a.fit}->{a.check}"]["mapped"]}}
            path.write_text(json.dumps(d, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
            print(f"written: {path} ({key})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
