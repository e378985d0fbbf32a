"""Peer table extractors run offline on the same page images as extractor, for the benchmark.

    import sys; sys.path.insert(0, "scripts")
    import peers
    peers.available()                       # {"rapidocr-rows": None, "img2table-tesseract": "why not", ...}
    p = peers.load("img2table-rapidocr")    # models loaded once; reuse the object
    doc = p.extract([gray1, gray2])         # extractor.model.Document, pages numbered 1, 2
    doc = p.extract_file("doc.pdf", dpi=200) # rendered like the pipeline does (extractor.ingest)
    p.close()

Every peer is a ``peers.base.Peer``: ``extract(images) -> Document`` (greyscale or BGR uint8 page
images) and ``extract_page(image, page_no) -> Page``; each page carries its tables (bbox, cells
with row / col / spans / text / confidence) and the seconds the peer spent on it.

| name | what | environment |
|---|---|---|
| img2table-rapidocr | img2table 2.0.0 ruled tables, RapidOCR 3.10 (ch) | .venv-peers via a worker process |
| img2table-tesseract | img2table 2.0.0 ruled tables, Tesseract 5 chi_sim | .venv-peers + Debian tesseract |
| slanet-rapidocr | CDLA layout regions -> SLANet (rapid-table 3.0.2) + RapidOCR | main venv + slanet-1m.onnx |
| rapidocr-rows | RapidOCR boxes grouped into rows / columns | main venv |

Install with ``scripts/peers/setup.sh``; score with ``python scripts/peers/bench.py``.
"""
from __future__ import annotations

from typing import Callable, Optional

from .base import Peer, PeerUnavailable


def _img2table_rapidocr(**kw) -> Peer:
    from .img2table_peer import Img2TablePeer

    return Img2TablePeer("rapidocr", **kw)


def _img2table_tesseract(**kw) -> Peer:
    from .img2table_peer import Img2TablePeer

    return Img2TablePeer("tesseract", **kw)


def _slanet(**kw) -> Peer:
    from .slanet import SlanetRapidOcr

    return SlanetRapidOcr(**kw)


def _rows(**kw) -> Peer:
    from .rapidocr_rows import RapidOcrRows

    return RapidOcrRows(**kw)


PEERS: dict[str, Callable[..., Peer]] = {
    "img2table-rapidocr": _img2table_rapidocr,
    "img2table-tesseract": _img2table_tesseract,
    "slanet-rapidocr": _slanet,
    "rapidocr-rows": _rows,
}


def _why_not(name: str) -> Optional[str]:
    import importlib.util

    if name in ("img2table-rapidocr", "img2table-tesseract"):
        from .img2table_peer import check_env

        return check_env(name.split("-", 1)[1])
    if importlib.util.find_spec("rapidocr") is None:
        return "rapidocr is not installed in this environment"
    if name == "slanet-rapidocr":
        if importlib.util.find_spec("rapid_table") is None:
            return "rapid-table is not installed: run scripts/peers/setup.sh"
        if importlib.util.find_spec("rapid_layout") is None:
            return "rapid-layout is not installed"
        from .slanet import slanet_model_path

        try:
            slanet_model_path(extract=False)
        except PeerUnavailable as e:
            return str(e)
    return None


def available(names: Optional[list[str]] = None) -> dict[str, Optional[str]]:
    """name -> None when the peer can run here, else the reason it cannot (no model is loaded)."""
    out = {}
    for n in names or list(PEERS):
        try:
            out[n] = _why_not(n)
        except Exception as e:  # a broken environment is a reason too
            out[n] = f"{type(e).__name__}: {e}"
    return out


def load(name: str, **kw) -> Peer:
    """Construct a peer (loads its models / starts its worker); PeerUnavailable if it cannot run."""
    if name not in PEERS:
        raise KeyError(f"unknown peer {name!r}; known: {', '.join(PEERS)}")
    return PEERS[name](**kw)


__all__ = ["PEERS", "Peer", "PeerUnavailable", "available", "load"]
