"""What the render sandbox costs and what it stops: pages per second rendered in this process and
in the sandbox (ingest.sandbox.RenderSandbox) on the same pages, and each render bomb of
tests/fuzz/ under the default limits (its outcome, seconds, and the helper's peak memory).

    python scripts/bench_render.py [--pdf samples/sample.pdf] [--dpi 200] [--repeat 3]
"""
from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    from extractor import ingest
    from extractor.config import Settings
    from extractor.ingest.sandbox import PageLimitError, RenderSandbox

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pdf", default=str(ROOT / "samples" / "sample.pdf"))
    ap.add_argument("--dpi", type=float, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    s = Settings()
    src = ingest.open_source(a.pdf)
    pages = list(range(1, src.n_pages + 1)) * a.repeat
    t0 = time.perf_counter()
    for n in pages:
        ingest.render_page(src, n, a.dpi)
    inproc = time.perf_counter() - t0
    src.close()
    sb = RenderSandbox(s.render_timeout, s.render_memory_mb)
    sb.render(a.pdf, 1, a.dpi)  # the helper's start is counted apart
    t0 = time.perf_counter()
    for n in pages:
        sb.render(a.pdf, n, a.dpi)
    boxed = time.perf_counter() - t0
    print(f"{len(pages)} pages of {Path(a.pdf).name} at {a.dpi:g} dpi: in process {len(pages) / inproc:.1f} pages/s "
          f"({1000 * inproc / len(pages):.0f} ms/page), in the sandbox {len(pages) / boxed:.1f} pages/s "
          f"({1000 * boxed / len(pages):.0f} ms/page)")
    print(f"limits: render_timeout {s.render_timeout:g} s, render_memory_mb {s.render_memory_mb}")
    for name in ("form_bomb_60.pdf", "form_bomb_small_60.pdf", "flate_bomb.pdf", "huge_mediabox.pdf"):
        t0 = time.perf_counter()
        try:
            img = sb.render(ROOT / "tests" / "fuzz" / name, 1, a.dpi)
            what = f"rendered {img.gray.shape[1]}x{img.gray.shape[0]}"
        except PageLimitError as e:
            what = f"{e.category}: {e.reason}"
        print(f"  {name:24s} {time.perf_counter() - t0:6.1f} s  {what}")
    sb.close()
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak memory of any helper: {peak:.0f} MB; of this process: "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
