"""Ingest: turn a source file (PDF, PNG, JPEG, multi-page TIFF) into greyscale page images.

Bad input raises :class:`InputError` naming the file and the reason; a page that cannot be
rendered is reported per page by the pipeline, not here.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

import numpy as np

PDF_MAGIC = b"%PDF"
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"}
# A4 at 600 dpi is ~ 4961 x 7016 = 35 Mpx; allow some margin, refuse absurd images.
MAX_PIXELS = 60_000_000
MAX_SIDE = 20_000


class InputError(Exception):
    """A source file that cannot be read: the message names the file and the reason. ``category``
    says what kind of problem it is (a service maps it to a status): ``missing``, ``empty``,
    ``unsupported`` (not a PDF or image), ``encrypted``, ``corrupt``, ``too_large``, ``too_small``."""

    def __init__(self, path: str | os.PathLike, reason: str, category: str = "corrupt"):
        self.path = str(path)
        self.reason = reason
        self.category = category
        super().__init__(f"{self.path}: {reason}")


@dataclass
class PageImage:
    number: int  # 1-based page number in the source
    gray: np.ndarray  # uint8, H x W
    dpi: Optional[float]


@dataclass
class Source:
    path: Path
    kind: str  # "pdf" | "image"
    n_pages: int
    _handle: object = None

    def close(self) -> None:
        if self._handle is not None and hasattr(self._handle, "close"):
            self._handle.close()
        self._handle = None


def parse_page_range(spec: Optional[str], n_pages: int) -> list[int]:
    """'1-5,8' -> [1,2,3,4,5,8] (1-based, clipped to the document)."""
    if not spec:
        return list(range(1, n_pages + 1))
    pages: list[int] = []
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            a, b = part.split("-", 1)
            lo = int(a) if a.strip() else 1
            hi = int(b) if b.strip() else n_pages
        else:
            lo = hi = int(part)
        if lo < 1 or hi < lo:
            raise ValueError(f"bad page range {part!r}")
        pages.extend(p for p in range(lo, hi + 1) if p <= n_pages)
    return sorted(set(pages))


def _sniff(path: Path) -> str:
    with open(path, "rb") as f:
        head = f.read(16)
    if not head:
        raise InputError(path, "file is empty", "empty")
    if head.lstrip()[:4] == PDF_MAGIC or PDF_MAGIC in head:
        return "pdf"
    if head.startswith(b"\x89PNG") or head[:3] == b"\xff\xd8\xff" or head[:4] in (b"II*\x00", b"MM\x00*") \
            or head[:2] == b"BM" or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        return "image"
    raise InputError(path, "not a PDF or a supported image (PNG, JPEG, TIFF, BMP, WebP)", "unsupported")


def _mentions(path: Path, token: bytes, chunk: int = 1 << 20) -> bool:
    """Does the file hold ``token`` anywhere (read in chunks that overlap by its length)?"""
    tail = b""
    with open(path, "rb") as f:
        while True:
            block = f.read(chunk)
            if not block:
                return False
            if token in tail + block:
                return True
            tail = block[-len(token):]


def open_source(path: str | os.PathLike) -> Source:
    p = Path(path)
    if not p.exists():
        raise InputError(p, "no such file", "missing")
    if p.is_dir():
        raise InputError(p, "is a directory, not a file", "missing")
    kind = _sniff(p)
    if kind == "pdf":
        import pypdfium2 as pdfium

        try:
            pdf = pdfium.PdfDocument(str(p))
        except pdfium.PdfiumError as e:
            msg = str(e).lower()
            # pdfium's last error is process-wide and not reset: a "password" left by an earlier
            # encrypted file would name a broken one encrypted too; the file must say /Encrypt
            if "password" in msg and _mentions(p, b"/Encrypt"):
                raise InputError(p, "PDF is encrypted (password required)", "encrypted") from None
            raise InputError(p, f"corrupt or unreadable PDF ({e})") from None
        n = len(pdf)
        if n == 0:
            pdf.close()
            raise InputError(p, "PDF has no pages", "empty")
        return Source(p, "pdf", n, pdf)
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        im = Image.open(p)
        n = getattr(im, "n_frames", 1)
    except Image.DecompressionBombError:
        raise InputError(p, f"image is too large (over {MAX_PIXELS} pixels)", "too_large") from None
    except Exception as e:  # PIL raises many kinds for broken files
        raise InputError(p, f"corrupt or unreadable image ({e})") from None
    return Source(p, "image", n, im)


def _check_size(path: Path, w: int, h: int) -> None:
    if w < 32 or h < 32:
        raise InputError(path, f"page image is too small ({w}x{h} px)", "too_small")
    if w * h > MAX_PIXELS or max(w, h) > MAX_SIDE:
        raise InputError(path, f"page image is too large ({w}x{h} px; limit {MAX_PIXELS} px, {MAX_SIDE} px a side)",
                         "too_large")


def page_size(src: Source, number: int, dpi: float = 200.0) -> tuple[int, int]:
    """(width, height) in pixels of page ``number`` (1-based) without rendering it: an image frame as
    stored, a PDF page at ``dpi`` (before ``render_page`` lowers the dpi of a huge page)."""
    if src.kind == "pdf":
        page = src._handle[number - 1]
        try:
            w_pt, h_pt = page.get_size()
        finally:
            page.close()
        return int(round(w_pt * dpi / 72.0)), int(round(h_pt * dpi / 72.0))
    im = src._handle
    im.seek(number - 1)
    return im.width, im.height


def pdf_scale(path: Path, page, dpi: float) -> tuple[float, float]:
    """(scale, dpi) to render a pypdfium2 page at: ``dpi``, lowered for a huge page rather than
    failing; raises InputError for a page too small or too large even so."""
    w_pt, h_pt = page.get_size()
    scale = dpi / 72.0
    w, h = int(round(w_pt * scale)), int(round(h_pt * scale))
    if w * h > MAX_PIXELS:  # huge page: lower the dpi rather than fail
        f = (MAX_PIXELS / (w * h)) ** 0.5
        scale *= f
        dpi *= f
        w, h = int(w * f), int(h * f)
    _check_size(path, w, h)
    return scale, dpi


def render_page(src: Source, number: int, dpi: float = 200.0) -> PageImage:
    """Render one page (1-based) to a greyscale array."""
    if src.kind == "pdf":
        pdf = src._handle
        page = pdf[number - 1]
        try:
            scale, dpi = pdf_scale(src.path, page, dpi)
            bitmap = page.render(scale=scale, grayscale=True)
            arr = bitmap.to_numpy()
            if arr.ndim == 3:
                arr = arr[..., 0] if arr.shape[2] == 1 else np.asarray(
                    np.dot(arr[..., :3], [0.114, 0.587, 0.299]), dtype=np.uint8)
            gray = np.ascontiguousarray(arr, dtype=np.uint8)
        finally:
            page.close()
        return PageImage(number, gray, dpi)
    im = src._handle
    im.seek(number - 1)
    _check_size(src.path, im.width, im.height)
    frame = im.convert("L")
    info_dpi = im.info.get("dpi")
    dpi_val = float(info_dpi[0]) if info_dpi else None
    return PageImage(number, np.asarray(frame, dtype=np.uint8).copy(), dpi_val)


def iter_pages(path: str | os.PathLike, dpi: float = 200.0, pages: Optional[str] = None) -> Iterator[PageImage]:
    src = open_source(path)
    try:
        for n in parse_page_range(pages, src.n_pages):
            yield render_page(src, n, dpi)
    finally:
        src.close()
