"""Page images for the review page: each page as the pipeline saw it (upright and deskewed, so the
cell boxes fit), kept in the store as a grey PNG, and crops of it.

The image is rebuilt from the source file and the page's recorded ``transform`` (model.Transform:
rotated clockwise by ``rotation``, then by ``skew`` degrees counter-clockwise about the centre, canvas
kept), so the pipeline need not hand its images out: the boxes are in that frame, the crops follow.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import cv2
import numpy as np

from .. import ingest
from ..clean import apply_turn
from ..ingest.sandbox import RenderSandbox
from ..model import Document, Page


def cleaned_page(gray: np.ndarray, page: Page) -> np.ndarray:
    """The source raster of ``page`` brought into the frame its boxes are in (the turn the pipeline
    recorded, clean.apply_turn)."""
    t = page.transform
    if t is not None:
        gray = apply_turn(gray, t.rotation, t.skew)
    if gray.shape != (page.height, page.width):
        gray = cv2.resize(gray, (page.width, page.height), interpolation=cv2.INTER_AREA)
    return gray


def encode_png(gray: np.ndarray, max_side: Optional[int] = None) -> bytes:
    h, w = gray.shape[:2]
    if max_side and max(h, w) > max_side:
        s = max_side / max(h, w)
        gray = cv2.resize(gray, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".png", gray, [cv2.IMWRITE_PNG_COMPRESSION, 6])
    if not ok:
        raise ValueError("PNG encoding failed")
    return buf.tobytes()


def page_images(path: str | Path, doc: Document, max_side: int = 2400,
                sandbox: Optional[RenderSandbox] = None) -> dict[int, bytes]:
    """Page number -> PNG of every page the pipeline read (pages it could not render are left out).
    ``sandbox``: render the pages there, under its limits (the service does), not in this process."""
    out: dict[int, bytes] = {}
    src = None if sandbox is not None else ingest.open_source(path)
    try:
        for page in doc.pages:
            if page.width <= 0 or page.height <= 0:
                continue
            try:
                dpi = page.dpi or 200.0
                img = sandbox.render(path, page.page, dpi) if sandbox is not None else ingest.render_page(src, page.page, dpi)
            except Exception:  # noqa: BLE001 - a page the pipeline already recorded as failed
                continue
            out[page.page] = encode_png(cleaned_page(img.gray, page), max_side)
    finally:
        if src is not None:
            src.close()
    return out


def decode_png(png: bytes) -> np.ndarray:
    img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ValueError("not a readable PNG")
    return img


def crop(image: np.ndarray, page_width: int, box: Sequence[float], pad: float = 12.0) -> np.ndarray:
    """The part of a stored page image (possibly scaled down from a page ``page_width`` pixels wide)
    under ``box`` ([x0, y0, x1, y1] in page pixels), with ``pad`` page pixels around it."""
    s = image.shape[1] / float(page_width or image.shape[1])
    h, w = image.shape[:2]
    left, right = sorted((float(box[0]), float(box[2])))
    top, bottom = sorted((float(box[1]), float(box[3])))
    x0, y0 = max(0, int((left - pad) * s)), max(0, int((top - pad) * s))
    x1, y1 = min(w, int(np.ceil((right + pad) * s))), min(h, int(np.ceil((bottom + pad) * s)))
    if x1 <= x0 or y1 <= y0:
        raise ValueError("the box lies outside the page")
    return image[y0:y1, x0:x1]
