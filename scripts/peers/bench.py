"""Score the peer extractors on rendered scans with ground truth, with extractor.evaluate.

    python scripts/peers/bench.py --root DIR                      # every DIR/**/{doc.pdf,truth.json}
    python scripts/peers/bench.py --root DIR --pages 4-8 --peers rapidocr-rows img2table-rapidocr
    python scripts/peers/bench.py --render /tmp/peertest --seed 1000 --severity medium --pages 4-8

Pages are rendered from doc.pdf the way the pipeline renders them (extractor.ingest, the truth's
dpi); only the pages asked for are scored (truth restricted to them). ``--semantic`` also runs
extractor's document stages on the peer's tables (continuation links, table types, KPI records)
so the KPI and continuation rows say what the peer's grids would give them; without it a peer
has no KPI records and no links. Seconds per page are the peer's own work on the page image
(model loading excluded; reported apart).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import peers  # noqa: E402
from extractor import ingest  # noqa: E402
from extractor.evaluate import Score, score_document  # noqa: E402
from extractor.model import Document, Failure, Page  # noqa: E402


def find_docs(root: Path) -> list[Path]:
    if (root / "truth.json").exists():
        return [root]
    return sorted(p.parent for p in root.rglob("truth.json") if (p.parent / "doc.pdf").exists())


def semantic(doc: Document) -> None:
    from extractor.kpi import records
    from extractor.kpi.tables import annotate_tables
    from extractor.table.continuation import link_continuations

    for fn in (link_continuations, annotate_tables, records.extract):
        try:
            fn(doc)
        except Exception as e:  # a peer grid the stage cannot read is not the benchmark's failure
            print(f"    {fn.__name__} failed: {e}", file=sys.stderr)


def score_and_report(label: str, d: Path, doc: Document, truth: dict, errors: int, tail: str) -> Score:
    """Score one document, print its wrong cells (up to ``errors``) and a summary line."""
    s = score_document(doc, truth)
    for e in s.errors[:errors]:
        print(f"    {d.name}: wrong p%d r%d c%d truth=%r got=%r" % e)
    m = s.summary()
    print(f"  {label} {d.name}: {len(doc.pages)} pages, tables F1 {m['tables_f1']:.3f}, grid {m['grid']:.3f}, "
          f"text {m['text']:.3f}, {tail.format(**m)}", flush=True)
    return s


def run_peer(peer, docs: list[Path], pages: str | None, sem: bool, errors: int = 0) -> dict:
    total = Score()
    secs: list[float] = []
    failed = 0
    for d in docs:
        truth = json.loads((d / "truth.json").read_text(encoding="utf-8"))
        src = ingest.open_source(d / "doc.pdf")
        try:
            numbers = ingest.parse_page_range(pages, src.n_pages)
            images = [ingest.render_page(src, n, truth.get("dpi", 200)) for n in numbers]
        finally:
            src.close()
        doc_pages = []
        for n, im in zip(numbers, images):
            t0 = time.perf_counter()
            try:
                dp = peer.extract([im.gray], source=str(d / "doc.pdf"), first_page=n).pages[0]
            except Exception as e:  # the peer failing on a page scores that page as empty
                msg = str(e).splitlines()[0] if str(e) else type(e).__name__
                print(f"    {peer.name} failed on {d.name} page {n}: {msg}", flush=True)
                h, w = im.gray.shape
                dp = Page(page=n, width=w, height=h, seconds=time.perf_counter() - t0,
                          failures=[Failure(stage="peer", category="error", message=msg, page=n)])
            dp.dpi = im.dpi
            doc_pages.append(dp)
        doc = Document(source=str(d / "doc.pdf"), n_pages=len(truth["pages"]), pages=doc_pages)
        failed += sum(bool(p.failures) for p in doc.pages)
        if sem:
            semantic(doc)
        secs += [p.seconds or 0.0 for p in doc.pages]
        t = dict(truth)
        t["pages"] = [p for p in truth["pages"] if p["page"] in set(numbers)]
        mean_s = statistics.mean(p.seconds or 0 for p in doc.pages)
        total.add(score_and_report(peer.name, d, doc, t, errors, f"{mean_s:.2f} s/page"))
    m = total.summary()
    m.update(pages=len(secs), failed_pages=failed, sec_mean=statistics.mean(secs) if secs else 0.0,
             sec_median=statistics.median(secs) if secs else 0.0, sec_worst=max(secs) if secs else 0.0)
    return m


ROWS = [("tables found F1", "tables_f1", "{:.3f}"), ("cell grid positions right", "grid", "{:.3f}"),
        ("cell text exactly right", "text", "{:.3f}"), ("numeric cells right", "numeric", "{:.3f}"),
        ("empty cells kept empty", "empty", "{:.3f}"), ("KPI records F1", "kpi_f1", "{:.3f}"),
        ("confidence AUROC", "auroc", "{:.3f}"), ("confidence ECE", "ece", "{:.3f}"),
        ("pages", "pages", "{}"), ("pages the peer failed on", "failed_pages", "{}"), ("s/page mean", "sec_mean", "{:.2f}"), ("s/page worst", "sec_worst", "{:.2f}"),
        ("model load s", "load_s", "{:.1f}")]


def table_md(results: dict[str, dict]) -> str:
    names = list(results)
    lines = ["| metric | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for label, key, fmt in ROWS:
        vals = []
        for n in names:
            v = results[n].get(key)
            vals.append("n/a" if v is None or (isinstance(v, float) and v != v) else fmt.format(v))
        lines.append(f"| {label} | " + " | ".join(vals) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", type=Path, help="rendered set: DIR/**/{doc.pdf,truth.json}")
    ap.add_argument("--render", type=Path, help="render one document here first (scripts/synth) if missing")
    ap.add_argument("--seed", type=int, default=1000)
    ap.add_argument("--source", help="seed transcript for --render (default: wholly synthetic)")
    ap.add_argument("--severity", default="medium")
    ap.add_argument("--pages", help="page range scored in each document, e.g. 4-8")
    ap.add_argument("--peers", nargs="+", default=list(peers.PEERS))
    ap.add_argument("--semantic", action="store_true", help="run extractor's KPI / continuation stages on peer tables")
    ap.add_argument("--errors", type=int, default=0, help="print this many wrong cells per document")
    ap.add_argument("--json", type=Path, help="write the figures here")
    a = ap.parse_args(argv)
    if a.render:
        if not (a.render / "truth.json").exists():
            import synth

            synth.render_document(a.render, seed=a.seed, source=a.source, severity=a.severity)
        a.root = a.root or a.render
    if not a.root:
        ap.error("--root or --render is required")
    docs = find_docs(a.root)
    if not docs:
        ap.error(f"no doc.pdf + truth.json under {a.root}")
    results: dict[str, dict] = {}
    why = peers.available(a.peers)
    for name in a.peers:
        if why[name]:
            print(f"{name}: skipped ({why[name]})")
            continue
        t0 = time.perf_counter()
        peer = peers.load(name)
        load_s = time.perf_counter() - t0
        try:
            results[name] = run_peer(peer, docs, a.pages, a.semantic, a.errors)
            results[name]["load_s"] = load_s
        finally:
            peer.close()
    print()
    print(table_md(results))
    if a.json:
        a.json.write_text(json.dumps(results, indent=1, default=float), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
