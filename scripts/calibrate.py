"""Fit the confidence model on rendered scans that the benchmark never uses, and write it to
models/calibration.json (model card: models/calibration.md).

    python scripts/calibrate.py                 # render (or reuse) the calibration set, extract, fit, write
    python scripts/calibrate.py --reuse         # reuse the extractions cached beside each scan (pred_raw.json)
    python scripts/calibrate.py --docs 2        # fewer synthetic documents per severity

Three parts are fitted, in order:
1. the evidence model (extractor.confidence.EvidenceModel): a logistic regression of "the cell's
   text is exactly right" (empty cells too) on the features of ``table_features``;
2. the cell map: isotonic regression from the evidence model's score to the observed share right;
3. the KPI map: isotonic regression from a KPI record's confidence (its weakest cell, moved by the
   levels vote) to "the record is exactly right" (project, period, 一级, 二级, 三级, 指标值).

The calibration set: every seed transcript plus wholly synthetic documents, rendered with seeds
3000+ (the benchmark uses 1000+ and 2000+), at light, medium and heavy degradation. Documents
alternate between a fit half and a test half; the test half's figures (ECE, share of wrong cells
scored below 0.9) are reported, then everything is refitted on all documents and written.

With ``--families base,twin,…`` (or ``all``) the set is drawn in those layout families
(scripts/synth/families.py, render seeds 8000-9999; eval_families.py uses 6000+) and the figures are leave-one-family-out:
each family's documents are scored by a model fitted on the other families' documents only,
beside the in-sample figure (fitted and scored on every family). The model written is then
fitted on all of them.

    python scripts/calibrate.py --families all --docs 2 --medium-docs 6 --variants 1 --data data/calibration_families
"""
from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path
from typing import Optional

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from calfit import fit_isotonic, fit_logistic  # noqa: E402
from extractor import confidence  # noqa: E402
from extractor.evaluate import ece, score_document  # noqa: E402
from extractor.export import write_json  # noqa: E402
from extractor.kpi import records as kpi_records  # noqa: E402
from extractor.model import Document  # noqa: E402
from extractor.finish import DocumentFinisher  # noqa: E402
from extractor.pipeline import Pipeline  # noqa: E402

SEEDS_DIR = ROOT.parent / "shared" / "seeds"
SEVERITIES = ["light", "medium", "heavy"]


def _synthetic_seed(sev_i: int, i: int) -> int:
    return 3500 + 10 * sev_i + i if i < 10 else 4000 + 100 * sev_i + i  # (the first ten kept their seeds)


def _variant_seed(sev_i: int, i: int, v: int) -> int:
    return 3000 + 10 * sev_i + i if v == 0 else 4500 + 100 * sev_i + 10 * v + i


def render_set(out: Path, n_synthetic: int, variants: int = 1, n_medium: Optional[int] = None) -> list[Path]:
    import synth

    docs = []
    for sev_i, sev in enumerate(SEVERITIES):
        jobs = [(f"seed_{s.stem[:3]}" + (f"_v{v}" if v else ""), _variant_seed(sev_i, i, v), str(s))
                for v in range(variants) for i, s in enumerate(sorted(SEEDS_DIR.glob("*.txt")))]
        n = n_medium if sev == "medium" and n_medium is not None else n_synthetic
        jobs += [(f"synthetic_{i:02d}", _synthetic_seed(sev_i, i), None) for i in range(n)]
        for name, seed, src in jobs:
            d = out / sev / name
            if not (d / "truth.json").exists():
                synth.render_document(d, seed=seed, source=src, severity=sev, max_pages=12)
            docs.append(d)
    return docs


def render_family_set(out: Path, families: list[str], n_synthetic: int, variants: int,
                      n_medium: int) -> list[Path]:
    """The calibration set drawn in each layout family, one folder per family: compact synthetic
    documents (a budget table or two and a project's KPI pages within a few pages) at every severity,
    more at medium, and the seed transcripts (``variants`` renders each) at medium."""
    import synth

    docs = []
    seeds = sorted(SEEDS_DIR.glob("*.txt"))
    for fam_i, fam in enumerate(families):
        for sev_i, sev in enumerate(SEVERITIES):
            base = 8000 + 250 * fam_i + 80 * sev_i
            n = n_medium if sev == "medium" else n_synthetic
            jobs = [(f"compact_{i:02d}", base + 40 + i, None) for i in range(n)]
            if sev == "medium":
                jobs += [(f"seed_{s.stem[:3]}_v{v}", base + 10 * v + i, str(s))
                         for v in range(variants) for i, s in enumerate(seeds)]
            for name, seed, src in jobs:
                d = out / fam / sev / name
                if not (d / "truth.json").exists():
                    synth.render_document(d, seed=seed, source=src, severity=sev, max_pages=12, family=fam,
                                          kind=None if src else "compact")
                docs.append(d)
    return docs


def raw_extraction(pipe: Pipeline, d: Path, reuse: bool) -> Document:
    """The document with every stage run but the confidence model (cached in pred_raw.json)."""
    cache = d / "pred_raw.json"
    if reuse and cache.exists():
        return Document.model_validate_json(cache.read_text(encoding="utf-8"))
    truth = json.loads((d / "truth.json").read_text(encoding="utf-8"))
    doc = pipe.run(d / "doc.pdf", dpi=truth.get("dpi", 200))
    write_json(doc, cache)
    return doc


def cell_rows(doc: Document, truth: dict) -> list[tuple[list[float], bool]]:
    """(features, right) for every extracted cell matched to a true one."""
    right = {id(c): ok for _, c, ok in score_document(doc, truth).scored}
    counts = confidence.TextCounts(doc.tables())
    return [(f, right[id(c)]) for t in doc.tables() for c, f in confidence.table_features(t, counts) if id(c) in right]


def kpi_rows(finisher: DocumentFinisher, doc: Document, truth: dict, model: confidence.EvidenceModel) -> list[tuple[float, bool]]:
    """(record confidence before the KPI map, right) after the evidence model and the levels vote
    (the finisher's stages 6-8 with ``model`` as the evidence, before any map)."""
    doc = doc.model_copy(deep=True)
    model.apply(doc.tables())
    kpi_records.extract(doc)
    finisher.vote_levels(doc)
    return score_document(doc, truth).kpi_conf


def wrong_below(pairs, cut: float = 0.9) -> float:
    wrong = [c for c, ok in pairs if not ok]
    return sum(c < cut for c in wrong) / len(wrong) if wrong else 1.0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=16, help="synthetic documents per severity (besides the seeds)")
    ap.add_argument("--variants", type=int, default=2, help="renders of each seed transcript per severity")
    ap.add_argument("--medium-docs", type=int, default=60,
                    help="synthetic documents at medium degradation (errors are rare there: more are needed to see them)")
    ap.add_argument("--data", type=Path, default=ROOT / "data" / "calibration")
    ap.add_argument("--out", type=Path, default=ROOT / "models" / "calibration.json")
    ap.add_argument("--reuse", action="store_true", help="reuse cached extractions (pred_raw.json)")
    ap.add_argument("--l2", type=float, default=3.0, help="L2 penalty of the evidence model")
    ap.add_argument("--families", default=None,
                    help="comma list of layout families (or 'all'): draw the set in them and report "
                         "leave-one-family-out figures")
    ap.add_argument("--base-docs", type=int, default=0,
                    help="with --families: also the plain set (render_set, in DATA/base_set) with this many "
                         "synthetic documents at light and heavy and --base-medium-docs at medium; it counts as "
                         "the base family (held out with it)")
    ap.add_argument("--base-medium-docs", type=int, default=0)
    a = ap.parse_args(argv)
    from extractor.config import Settings

    families = None
    if a.families:
        from synth.families import FAMILIES

        families = list(FAMILIES) if a.families == "all" else [f.strip() for f in a.families.split(",")]
        unknown = [f for f in families if f not in FAMILIES]
        if unknown:
            ap.error(f"unknown families {unknown}; known: {list(FAMILIES)}")
    # extract with the raw scores, read by the full-precision recogniser: the fit on int8-first reads
    # was measured and not kept (models/calibration.md, "With the int8 recogniser")
    pipe = Pipeline(Settings(calibrate=False, rec_precision="fp32"))
    finisher = pipe.finisher  # its KPI level classifier, for the records' confidence
    paths = (render_family_set(a.data, families, a.docs, a.variants, a.medium_docs) if families
             else render_set(a.data, a.docs, a.variants, a.medium_docs))
    if families and (a.base_docs or a.base_medium_docs):
        paths += render_set(a.data / "base_set", a.base_docs, a.variants, a.base_medium_docs)
    docs = []
    for d in paths:
        truth = json.loads((d / "truth.json").read_text(encoding="utf-8"))
        doc = raw_extraction(pipe, d, a.reuse)
        rows = cell_rows(doc, truth)
        docs.append((d, doc, truth, rows))
        print(f"{d.parent.name}/{d.name}: {len(rows)} cells, {sum(not ok for _, ok in rows)} wrong", flush=True)

    def fit(part):
        X = [f for *_, rows in part for f, _ in rows]
        y = [ok for *_, rows in part for _, ok in rows]
        model = fit_logistic(X, y, l2=a.l2)
        cells = fit_isotonic(np.array([model.score(f) for f in X]), np.array(y, float))
        kp = [p for d, doc, truth, _ in part for p in kpi_rows(finisher, doc, truth, model)]
        kpis = fit_isotonic(np.array([c for c, _ in kp]), np.array([ok for _, ok in kp], float))
        return model, cells, kpis

    def figures(part, fitted) -> dict:
        model, cells, kpis = fitted
        out: dict = {}
        for sev in SEVERITIES + ["all"]:
            sel = [x for x in part if sev == "all" or x[0].parent.name == sev]
            raw = [(confidence.Calibration([0, 1], [0, 1])(model.score(f)), ok) for *_, rows in sel for f, ok in rows]
            cal = [(cells(c), ok) for c, ok in raw]
            kp = [(kpis(c), ok) for d, doc, truth, _ in sel for c, ok in kpi_rows(finisher, doc, truth, model)]
            out[sev] = {
                "cells": len(cal), "wrong": sum(not ok for _, ok in cal),
                "error_rate": round(sum(not ok for _, ok in cal) / max(1, len(cal)), 4),
                "ece_model": round(ece(raw), 4), "ece_calibrated": round(ece(cal), 4),
                "wrong_below_0.9": round(wrong_below(cal), 4), "right_below_0.9": round(
                    sum(c < 0.9 for c, ok in cal if ok) / max(1, sum(ok for _, ok in cal)), 4),
                "all_below_0.9": round(sum(c < 0.9 for c, _ in cal) / max(1, len(cal)), 4),
                "kpi_records": len(kp), "kpi_ece": round(ece(kp), 4) if kp else None,
            }
        return out

    if families:
        def fam(x):
            f = x[0].parent.parent.name
            return "base" if f == "base_set" else f

        report: dict = {"documents": len(docs), "families": families, "held_out": {}}
        for f in families:
            test = [x for x in docs if fam(x) == f]
            train = [x for x in docs if fam(x) != f]
            report["held_out"][f] = figures(test, fit(train))
            print(f"held out {f}: {json.dumps(report['held_out'][f]['medium'])}", flush=True)
        fitted = fit(docs)
        report["in_sample"] = {f: figures([x for x in docs if fam(x) == f], fitted) for f in families}
        report["in_sample"]["all"] = figures(docs, fitted)
        meta = {"fitted": date.today().isoformat(), "documents": len(docs), "leave_one_family_out": report}
    else:
        fit_part = [x for i, x in enumerate(docs) if i % 2 == 0]
        test_part = [x for i, x in enumerate(docs) if i % 2 == 1]
        report = {"documents_fit": len(fit_part), "documents_test": len(test_part), **figures(test_part, fit(fit_part))}
        fitted = fit(docs)
        meta = {"fitted": date.today().isoformat(), "documents": len(docs), "test_half": report}
    model, cells, kpis = fitted
    out = {"meta": meta,
           "evidence": model.to_json(),
           "cells": {"x": [round(v, 5) for v in cells.x], "y": [round(v, 5) for v in cells.y]},
           "kpis": {"x": [round(v, 5) for v in kpis.x], "y": [round(v, 5) for v in kpis.y]}}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(out, indent=1, ensure_ascii=False), encoding="utf-8")
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
