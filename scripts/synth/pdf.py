"""Image-only PDF writing."""
from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image


def write_image_pdf(path: str | Path, pages: Sequence[np.ndarray], dpi: int = 200, quality: int = 80) -> None:
    """One JPEG (DCT) image per page, page size = pixels * 72 / dpi; no text layer."""
    ims = []
    for a in pages:
        im = Image.fromarray(np.ascontiguousarray(a)).convert("L")
        # re-open through JPEG so the PDF embeds DCT data at the wanted quality
        buf = io.BytesIO()
        im.save(buf, format="JPEG", quality=quality)
        buf.seek(0)
        ims.append(Image.open(buf))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fixed = time.gmtime(1704067200)   # fixed dates: byte-for-byte reproducible output
    ims[0].save(str(path), format="PDF", save_all=True, append_images=ims[1:], resolution=float(dpi),
                creationDate=fixed, modDate=fixed, producer="synth")
