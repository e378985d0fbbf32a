#!/usr/bin/env python
"""Render synthetic scanned budget disclosures with ground truth.

    python scripts/render_scans.py --out out/scans --seeds ../shared/seeds/*.txt --synthetic 3 \
        --severity medium --dpi 200 --seed 0 --max-pages 12

writes DIR/<name>/doc.pdf + DIR/<name>/truth.json for every seed transcript and N synthetic docs.
With --family NAME (repeatable or a comma list; "all" = every layout family in scripts/synth/families.py)
each document is rendered once per family into DIR/<name>_<family>/.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synth import FAMILIES, parse_families, render_document  # noqa: E402
from synth.degrade import SEVERITIES  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seeds", nargs="*", default=[], help="seed transcripts (*.txt)")
    ap.add_argument("--synthetic", type=int, default=0, help="number of wholly synthetic documents")
    ap.add_argument("--severity", default="medium", choices=SEVERITIES)
    ap.add_argument("--dpi", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-pages", type=int, default=None)
    ap.add_argument("--rotation", type=int, default=0, choices=[0, 90, 180, 270])
    ap.add_argument("--variants", type=int, default=1, help="renders per seed transcript")
    ap.add_argument("--quality", type=int, default=80, help="JPEG quality inside the PDF")
    ap.add_argument("--family", action="append", default=[],
                    help=f"layout family (repeatable or comma list; 'all'): {', '.join(FAMILIES)}")
    a = ap.parse_args(argv)
    try:
        families = parse_families(a.family) or [None]
    except KeyError as e:
        ap.error(str(e))
    jobs = []
    for src in a.seeds:
        for v in range(a.variants):
            jobs.append((f"{Path(src).stem}_s{a.seed + v}", src, a.seed + v))
    for i in range(a.synthetic):
        jobs.append((f"synthetic_{a.seed + i:04d}", None, a.seed + i))
    if not jobs:
        ap.error("nothing to do: give --seeds and/or --synthetic N")
    jobs = [(name + (f"_{fam}" if fam else ""), src, seed, fam) for name, src, seed in jobs for fam in families]
    for name, src, seed, fam in jobs:
        t0 = time.time()
        truth = render_document(Path(a.out) / name, seed=seed, source=src, severity=a.severity, dpi=a.dpi,
                                rotation=a.rotation, max_pages=a.max_pages, quality=a.quality, family=fam)
        n = len(truth["pages"])
        print(f"{name}: {n} pages, {sum(len(p['tables']) for p in truth['pages'])} tables, "
              f"{time.time() - t0:.1f}s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
