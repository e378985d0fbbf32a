#!/usr/bin/env python
"""Accuracy per layout family (issue 16): fit and tune on some families, report on held-out ones.

    python scripts/eval_families.py --docs 1 --severity medium --max-pages 6          # every family
    python scripts/eval_families.py --family twin,union --docs 3 --seed 6000 --json out.json \
        --pairs pairs.jsonl                                                            # (confidence, right, family)
    python scripts/eval_families.py --extracted DIR ...                               # score DIR/<name>.json instead

Renders K documents per family (--kind; seeds --seed … --seed+K-1, the same seeds in every family,
so families differ only in how they are drawn) into --out/<family>/<kind>_<seed>/ (kept and reused),
runs one extractor.pipeline.Pipeline over them (or reads an existing extraction from --extracted,
DIR/<family>/<kind>_<seed>.json or DIR/<kind>_<seed>_<family>.json), scores each with
extractor.evaluate.score_document and prints one row per family and a pooled row: tables F1, cell
text, numeric cells, KPI records F1 and the number of true records (derived from the truth grids by
extractor/kpi/records.py: 1.0 where there are none and none found), ECE of the cell confidences,
share of wrong cells below 0.9, share of all cells below 0.9, cells.  --pairs writes one JSON line
per scored cell (confidence, right, family, doc) for calibration fitting on chosen families.
Seeds 6000+ by default: the benchmark uses 1000+/2000+, calibration 3000+/4000+.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from calibrate import wrong_below  # noqa: E402
from extractor.evaluate import Score  # noqa: E402
from extractor.model import Document  # noqa: E402
from peers.bench import score_and_report  # noqa: E402
from synth import FAMILIES, parse_families, render_document  # noqa: E402
from synth.degrade import SEVERITIES  # noqa: E402

COLUMNS = [("tables F1", "tables_f1", "{:.3f}"), ("text", "text", "{:.3f}"), ("numeric", "numeric", "{:.3f}"),
           ("KPI F1", "kpi_f1", "{:.3f}"), ("KPI n", "kpi_n", "{:d}"), ("ECE", "ece", "{:.3f}"), ("wrong<0.9", "wrong_below_0.9", "{:.3f}"),
           ("all<0.9", "all_below_0.9", "{:.3f}"), ("cells", "n_cells", "{:d}")]


def render_set(out: Path, families: list, seeds: list, severity: str, max_pages: Optional[int],
               dpi: int, kind: Optional[str] = None) -> list:
    """[(family, doc dir)] rendered once and reused (the truth says how it was rendered)."""
    docs = []
    for fam in families:
        for s in seeds:
            d = out / fam / f"{kind or 'synthetic'}_{s}"
            t = d / "truth.json"
            old = json.loads(t.read_text(encoding="utf-8")) if t.exists() else None
            if not old or (old.get("severity"), old.get("dpi"), old.get("family")) != (severity, dpi, fam) or \
                    (max_pages and len(old["pages"]) > max_pages):
                render_document(d, seed=s, severity=severity, dpi=dpi, max_pages=max_pages, family=fam, kind=kind)
            docs.append((fam, d))
    return docs


def extracted(extracted_dir: Optional[Path], fam: str, d: Path) -> Optional[Document]:
    if not extracted_dir:
        return None
    for p in (extracted_dir / fam / f"{d.name}.json", extracted_dir / f"{d.name}_{fam}.json"):
        if p.exists():
            return Document.model_validate_json(p.read_text(encoding="utf-8"))
    return None


def summary(s: Score, n_docs: int, n_pages: int) -> dict:
    m = s.summary()
    m["kpi_n"] = s.kpi_tp + s.kpi_fn   # true KPI records (F1 is 1.0 where there are none and none found)
    m["all_below_0.9"] = sum(c < 0.9 for c, _ in s.conf) / len(s.conf) if s.conf else float("nan")
    m["wrong_below_0.9"] = wrong_below(s.conf) if any(not ok for _, ok in s.conf) else float("nan")
    m.update(docs=n_docs, pages=n_pages)
    return m


def _nan_none(v):
    return None if isinstance(v, float) and v != v else v


def table(rows: dict) -> str:
    head = "| family | docs | pages | " + " | ".join(c for c, _, _ in COLUMNS) + " |"
    out = [head, "|" + "---|" * (3 + len(COLUMNS))]
    for name, m in rows.items():
        cells = [("n/a" if isinstance(m[k], float) and m[k] != m[k] else f.format(m[k])) for _, k, f in COLUMNS]
        out.append(f"| {name} | {m['docs']} | {m['pages']} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--family", action="append", default=[],
                    help=f"families (repeatable or comma list; default all): {', '.join(FAMILIES)}")
    ap.add_argument("--docs", type=int, default=2, help="documents per family")
    ap.add_argument("--seed", type=int, default=6000, help="first render seed (the same seeds in every family)")
    ap.add_argument("--severity", default="medium", choices=SEVERITIES)
    ap.add_argument("--max-pages", type=int, default=6)
    ap.add_argument("--kind", default="compact", choices=["compact", "synthetic", "sample"],
                    help="document: compact (no cover, one budget table and one project, plus the family's own "
                         "tables: KPI pages within 6 pages), synthetic (the full document), sample")
    ap.add_argument("--dpi", type=int, default=200)
    ap.add_argument("--out", type=Path, default=ROOT / "data" / "families")
    ap.add_argument("--extracted", type=Path, default=None, help="score existing extraction JSON instead of running")
    ap.add_argument("--config", type=Path, default=None, help="pipeline settings (YAML)")
    ap.add_argument("--workers", type=int, default=1, help="page worker processes (1: in this process)")
    ap.add_argument("--errors", type=int, default=0, help="wrong cells to print per document")
    ap.add_argument("--save", type=Path, default=None, help="write each extraction to DIR/<family>/<name>.json (for --extracted)")
    ap.add_argument("--json", type=Path, default=None, help="write the summary here")
    ap.add_argument("--pairs", type=Path, default=None, help="write (confidence, right, family) per cell (jsonl)")
    a = ap.parse_args(argv)
    try:
        families = parse_families(a.family or ["all"])
    except KeyError as e:
        ap.error(str(e))
    seeds = list(range(a.seed, a.seed + a.docs))
    docs = render_set(a.out, families, seeds, a.severity, a.max_pages, a.dpi,
                      None if a.kind == "synthetic" else a.kind)
    pipe = None
    per: dict = {f: (Score(), [0, 0]) for f in families}
    pairs_f = a.pairs.open("w", encoding="utf-8") if a.pairs else None
    t0 = time.perf_counter()
    try:
        for fam, d in docs:
            truth = json.loads((d / "truth.json").read_text(encoding="utf-8"))
            doc = extracted(a.extracted, fam, d)
            if doc is None:
                if pipe is None:
                    from extractor.config import Settings
                    from extractor.pipeline import Pipeline
                    pipe = Pipeline(Settings.load(a.config, workers=a.workers))
                doc = pipe.run(d / "doc.pdf", dpi=truth.get("dpi", 200))
                if a.save:
                    (a.save / fam).mkdir(parents=True, exist_ok=True)
                    (a.save / fam / f"{d.name}.json").write_text(doc.model_dump_json(), encoding="utf-8")
            s = score_and_report(fam, d, doc, truth, a.errors, "numeric {numeric:.3f}, KPI F1 {kpi_f1:.3f}")
            tot, counts = per[fam]
            tot.add(s)
            counts[0] += 1
            counts[1] += len(truth["pages"])
            if pairs_f:
                for c, ok in s.conf:
                    pairs_f.write(json.dumps({"confidence": round(c, 5), "right": bool(ok), "family": fam,
                                              "doc": d.name}) + "\n")
    finally:
        if pairs_f:
            pairs_f.close()
        if pipe is not None:
            pipe.close()
    rows = {f: summary(s, *n) for f, (s, n) in per.items()}
    pooled = Score()
    for s, _ in per.values():
        pooled.add(s)
    rows["pooled"] = summary(pooled, sum(n[0] for _, n in per.values()), sum(n[1] for _, n in per.values()))
    print(f"\n{a.severity}, {a.docs} {a.kind} document(s) per family (seeds {seeds[0]}–{seeds[-1]}), at most {a.max_pages} "
          f"pages, {time.perf_counter() - t0:.0f}s")
    print(table(rows))
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        keep = ["docs", "pages"] + [k for _, k, _ in COLUMNS] + ["grid", "teds", "tables_precision", "tables_recall",
                                                                 "auroc", "kpi_ece", "continuation", "n_tables"]
        a.json.write_text(json.dumps({"severity": a.severity, "kind": a.kind, "seeds": seeds, "max_pages": a.max_pages, "dpi": a.dpi,
                                      "families": {f: {k: _nan_none(m.get(k)) for k in keep} for f, m in rows.items()}},
                                     indent=1, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
