"""The batch's progress bar: pages read of pages known, documents finished, pages/min and an ETA."""
from __future__ import annotations

import sys
import time
from typing import Optional


class Progress:
    def __init__(self, n_documents: int, quiet: bool = False):
        self.quiet = quiet
        self.docs_total = n_documents
        self.docs_done = 0
        self.pages_total = 0
        self.pages_done = 0
        self.t0 = time.monotonic()
        self._bar = None
        self._note = ""
        if not quiet:
            from tqdm import tqdm

            self._bar = tqdm(total=0, unit="page", file=sys.stderr, dynamic_ncols=True, mininterval=0.5,
                             bar_format="{desc} |{bar}| {n_fmt}/{total_fmt} pages [{elapsed}<{remaining}{postfix}]")
            self._refresh()

    def pages_per_min(self) -> Optional[float]:
        dt = time.monotonic() - self.t0
        return None if self.pages_done == 0 or dt <= 0 else 60.0 * self.pages_done / dt

    def add_pages(self, n: int) -> None:
        self.pages_total += n
        if self._bar is not None:
            self._bar.total = self.pages_total
            self._refresh()

    def page_done(self) -> None:
        self.pages_done += 1
        if self._bar is not None:
            self._bar.update(1)
            self._refresh()

    def doc_done(self) -> None:
        self.docs_done += 1
        self._refresh()

    def note(self, text: str) -> None:
        self._note = text
        self._refresh()

    def write(self, text: str) -> None:
        if self._bar is not None:
            self._bar.write(text, file=sys.stderr)
        elif not self.quiet:
            print(text, file=sys.stderr)

    def _refresh(self) -> None:
        if self._bar is None:
            return
        self._bar.set_description_str(f"{self.docs_done}/{self.docs_total} documents", refresh=False)
        rate = self.pages_per_min()
        parts = ([f"{rate:.1f} pages/min"] if rate else []) + ([self._note] if self._note else [])
        self._bar.set_postfix_str(", ".join(parts), refresh=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
