"""extractor: scanned Chinese budget disclosures in, structured tables out.

    from extractor import extract
    doc = extract("report.pdf")            # a PDF or image file, or a page image (numpy array / PIL image)
    doc.to_excel("report.xlsx"); doc.to_csv("cells.csv"); doc.to_json("report.json")

``extract`` loads the models once per settings and keeps them for later calls; for many files or
a whole archive use ``extractor.pipeline.Pipeline`` (or ``extractor batch``) directly.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .config import Settings
    from .model import Document

_PIPELINES: dict = {}


def extract(source: Any, pages: Optional[str] = None, dpi: Optional[float] = None,
            settings: Optional["Settings"] = None) -> "Document":
    """A file (path: PDF, TIFF, PNG, JPEG …; ``pages`` e.g. "1-3,5") or one page image (a numpy
    array, grey or BGR, or a PIL image, at ``dpi``) -> the finished Document. Raises
    ``extractor.ingest.InputError`` when a file cannot be read at all (naming it and why)."""
    import numpy as np

    from .config import Settings
    from .model import Document
    from .pipeline import Pipeline

    s = settings or Settings()
    key = s.model_dump_json()
    if key not in _PIPELINES:
        _PIPELINES[key] = Pipeline(s)
    pipe = _PIPELINES[key]
    if isinstance(source, str) or hasattr(source, "__fspath__"):
        return pipe.run(source, pages=pages, dpi=dpi)
    img = np.asarray(source.convert("L") if hasattr(source, "convert") else source)
    if img.ndim == 3 and img.shape[2] in (3, 4):
        import cv2

        img = cv2.cvtColor(img, cv2.COLOR_BGRA2GRAY if img.shape[2] == 4 else cv2.COLOR_BGR2GRAY)
    if img.ndim != 2 or img.dtype != np.uint8:
        raise ValueError(f"a page image must be 8-bit grey or BGR, got shape {img.shape} of {img.dtype}")
    doc = Document(source="<image>", n_pages=1, extractor_version=__version__)
    doc.pages = [pipe.process_image(img, 1, dpi or s.dpi)]
    return pipe.finish(doc)


__all__ = ["__version__", "extract"]
