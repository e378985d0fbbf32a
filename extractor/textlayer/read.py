"""What a PDF page itself says: its characters with their boxes, how much of it is a scanned image,
and its vector graphics (rulings) drawn alone.

``read_layer`` runs where the PDF is open (in the render sandbox, ingest/sandbox.py, under the same
time and memory limits as a render) and returns plain data: a ``Layer`` with the characters in page
pixels at the requested dpi, the share of them on ink, and one image: for a layer that may be read,
the page with its text hidden (what the vector rulings and any images draw) at about FAST_DPI; for
one that may not, the page as printed at the requested dpi, for its OCR. ``read_rulings`` draws the
rulings at the requested dpi where the lower one was not enough.
"""
from __future__ import annotations

import ctypes
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# pdfium page-object types and text render modes
OBJ_TEXT, OBJ_IMAGE = 1, 3
INVISIBLE = 3  # FPDF_TEXTRENDERMODE_INVISIBLE: the text of an OCR layer laid over a scan
# read_layer draws the rulings only for a page that may be read from its layer (trust.py's first tests)
MIN_CHARS, SCAN_COVER = 10, 0.5
FAST_DPI = 100.0  # the rulings are sent at about this dpi (the grid stage's time goes with pixels)
INK = 160  # a grey level darker than this is ink
MAX_CHARS = 30_000  # a page with more is not read from its layer (a budget page holds a few thousand)


@dataclass
class Layer:
    width: int  # page image size (px) at ``dpi``
    height: int
    dpi: float
    # one entry per character of the text layer, in content order: (text, x0, y0, x1, y1, invisible)
    # in page pixels; generated characters (spaces and breaks pdfium inserts) are left out
    chars: list[tuple[str, float, float, float, float, bool]] = field(default_factory=list)
    image_cover: float = 0.0  # share of the page area under image objects (a scan: nearly all of it)
    images: list = field(default_factory=list)  # the image objects' boxes, page pixels
    gray: Any = None  # the page as printed (uint8, height x width): only with a layer that will not be read
    ink: float = 0.0  # share of the visible characters whose box holds ink on the printed page
    n_invisible: int = 0  # characters in render mode 3 (invisible), as the file gives them
    rulings: Any = None  # the page with every text object hidden (rulings, shading, images), at rulings_dpi
    rulings_dpi: float = 0.0
    rotation: int = 0  # the page's /Rotate (its characters' boxes are in the unturned page)
    error: str = ""  # why the layer could not be read (then ``chars`` is empty)

    def meta(self) -> dict:
        """Everything but the images, as JSON-able data."""
        return {"width": self.width, "height": self.height, "dpi": self.dpi, "rulings_dpi": self.rulings_dpi,
                "image_cover": self.image_cover,
                "rotation": self.rotation, "error": self.error, "images": self.images, "ink": self.ink,
                "n_invisible": self.n_invisible,
                "chars": [list(c) for c in self.chars]}

    @classmethod
    def from_meta(cls, meta: dict, gray: np.ndarray, rulings: np.ndarray) -> "Layer":
        chars = [(str(c[0]), float(c[1]), float(c[2]), float(c[3]), float(c[4]), bool(c[5])) for c in meta["chars"]]
        return cls(int(meta["width"]), int(meta["height"]), float(meta["dpi"]), chars, float(meta["image_cover"]),
                   [[float(v) for v in b[:4]] for b in meta.get("images", [])], gray, float(meta.get("ink") or 0.0),
                   int(meta.get("n_invisible") or 0), rulings, float(meta["rulings_dpi"]), int(meta.get("rotation") or 0),
                   str(meta.get("error") or ""))


def over_images(layer: "Layer") -> float:
    """Share of the layer's characters (invisible ones too) whose centre lies on an image object:
    an OCR layer laid over a scan has nearly all of them there, a born-digital page with a picture few."""
    vis = [c for c in layer.chars if not c[0].isspace()]
    if not vis or not layer.images:
        return 0.0
    on = sum(any(b[0] <= (c[1] + c[3]) / 2 <= b[2] and b[1] <= (c[2] + c[4]) / 2 <= b[3] for b in layer.images) for c in vis)
    return on / len(vis)


def _to_gray(bitmap) -> np.ndarray:
    arr = bitmap.to_numpy()
    if arr.ndim == 3:
        arr = arr[..., 0] if arr.shape[2] == 1 else np.asarray(np.dot(arr[..., :3], [0.114, 0.587, 0.299]), np.uint8)
    return np.ascontiguousarray(arr, dtype=np.uint8)


def _chars(page, scale: float, w_pt: float, h_pt: float) -> list[tuple[str, float, float, float, float, bool]]:
    """The page's characters (generated ones and those whose centre lies off the page left out)."""
    import pypdfium2.raw as raw

    tp = page.get_textpage()
    out = []
    try:
        l, b, r, t = (ctypes.c_double() for _ in range(4))
        for i in range(tp.count_chars()):
            if raw.FPDFText_IsGenerated(tp.raw, i) == 1:
                continue
            code = raw.FPDFText_GetUnicode(tp.raw, i)
            if not code or not raw.FPDFText_GetCharBox(tp.raw, i, l, r, b, t):
                continue
            if not (0 <= (l.value + r.value) / 2 <= w_pt and 0 <= (b.value + t.value) / 2 <= h_pt):
                continue  # off the page: never seen
            try:
                ch = chr(code)
            except (ValueError, OverflowError):
                ch = "\ufffd"
            obj = raw.FPDFText_GetTextObject(tp.raw, i)
            invisible = bool(obj) and raw.FPDFTextObj_GetTextRenderMode(obj) == INVISIBLE
            if len(out) >= MAX_CHARS:
                raise ValueError(f"over {MAX_CHARS} characters on one page")
            out.append((ch, round(l.value * scale, 1), round((h_pt - t.value) * scale, 1),
                        round(r.value * scale, 1), round((h_pt - b.value) * scale, 1), invisible))
    finally:
        tp.close()
    return out


def _images(page, w_pt: float, h_pt: float, scale: float) -> tuple[float, list[list[float]]]:
    """(share of the page under image objects, their boxes unioned on a coarse grid; the boxes in
    page pixels)."""
    cov = np.zeros((100, 100), bool)
    boxes = []
    for obj in page.get_objects(max_depth=3):
        if obj.type != OBJ_IMAGE:
            continue
        x0, y0, x1, y1 = obj.get_bounds()
        a, c = int(max(0, x0) / w_pt * 100), int(np.ceil(min(w_pt, x1) / w_pt * 100))
        b, d = int(max(0, h_pt - y1) / h_pt * 100), int(np.ceil(min(h_pt, h_pt - y0) / h_pt * 100))
        cov[b:d, a:c] = True
        if len(boxes) < 200:
            boxes.append([round(x0 * scale, 1), round((h_pt - y1) * scale, 1), round(x1 * scale, 1), round((h_pt - y0) * scale, 1)])
    return float(cov.mean()), boxes


def _hide_text(page) -> int:
    """Every text object set to invisible (forms included): what is left to draw is the page's
    graphics. Returns how many were hidden."""
    import pypdfium2.raw as raw

    n = 0
    for obj in page.get_objects(max_depth=3):
        if obj.type == OBJ_TEXT:
            raw.FPDFTextObj_SetTextRenderMode(obj.raw, INVISIBLE)
            n += 1
    return n


def _inked(c: tuple, gray: np.ndarray) -> bool:
    """Does the character's box hold ink on the printed page?"""
    h, w = gray.shape
    a, b = max(0, int(c[1])), max(0, int(c[2]))
    x1, y1 = min(w, int(np.ceil(c[3])) + 1), min(h, int(np.ceil(c[4])) + 1)
    return x1 > a and y1 > b and int(gray[b:y1, a:x1].min()) < INK


def on_ink(layer: Layer, gray: np.ndarray) -> float:
    """Share of visible, non-space characters whose box holds ink on the printed page ``gray``."""
    shown = [c for c in layer.chars if not c[5] and not c[0].isspace()]
    return sum(_inked(c, gray) for c in shown) / len(shown) if shown else 0.0


def unseen_hidden(chars: list, gray: np.ndarray) -> list:
    """The characters, those drawn where the page shows no ink (white on white, under a picture)
    marked invisible like render-mode-3 text: what a reader cannot see does not go into a cell."""
    return [c if c[5] or c[0].isspace() or _inked(c, gray) else (*c[:5], True) for c in chars]


def pooled(img: np.ndarray, k: int) -> np.ndarray:
    """``img`` at 1/k of its size, each pixel the darkest of its k x k block (a hairline thinner
    than a pixel at the lower size stays)."""
    if k <= 1:
        return img
    import cv2

    small = cv2.erode(img, np.ones((k, k), np.uint8), anchor=(0, 0), borderType=cv2.BORDER_REPLICATE)[::k, ::k]
    return np.ascontiguousarray(small)


def _rulings(page, scale: float) -> np.ndarray:
    """The page with its text hidden, drawn crisp (no anti-aliasing of paths)."""
    _hide_text(page)
    return _to_gray(page.render(scale=scale, grayscale=True, no_smoothpath=True))


def usable(layer: Layer) -> bool:
    """Could this layer be read (enough characters, not laid over a scan)? Only then are its
    rulings drawn."""
    return not layer.error and sum(not c[0].isspace() for c in layer.chars) >= MIN_CHARS and \
        (layer.image_cover <= SCAN_COVER or over_images(layer) <= 0.5)


def read_layer(src, number: int, dpi: float) -> Layer:
    """Page ``number`` (1-based) of an opened PDF source (ingest.open_source), at ``dpi`` (lowered
    for a huge page as a render would be): its characters, images, the share of its characters on
    ink, and, when the layer may be read, its rulings at about FAST_DPI (``rulings_dpi``); when it
    may not, the page as printed at ``dpi`` (``gray``, for its OCR). A text layer that cannot be
    read leaves ``chars`` empty and says why in ``error``. The page's text is hidden for the
    rulings (pdfium drops the change when the page closes)."""
    from ..ingest import pdf_scale

    page = src._handle[number - 1]
    try:
        w_pt, h_pt = page.get_size()
        scale, dpi = pdf_scale(src.path, page, dpi)
        gray = _to_gray(page.render(scale=scale, grayscale=True))
        h, w = gray.shape
        layer = Layer(w, h, dpi, rotation=int(page.get_rotation() or 0))
        try:
            layer.chars = _chars(page, scale, w_pt, h_pt)
            layer.image_cover, layer.images = _images(page, w_pt, h_pt, scale)
            layer.n_invisible = sum(c[5] for c in layer.chars)
            layer.ink = on_ink(layer, gray)
            layer.chars = unseen_hidden(layer.chars, gray)
            if usable(layer):
                k = max(1, int(dpi // FAST_DPI))
                layer.rulings, layer.rulings_dpi = pooled(_rulings(page, scale), k), dpi / k
        except Exception as e:  # noqa: BLE001 - a layer that breaks the reader: the page is OCR'd
            layer.chars, layer.error, layer.rulings = [], f"{type(e).__name__}: {e}"[:300], None
        if layer.rulings is None:
            layer.gray = gray  # it will be OCR'd: the page as printed comes with it
    finally:
        page.close()
    return layer


def read_rulings(src, number: int, dpi: float) -> np.ndarray:
    """Page ``number``'s rulings at the page's dpi (where those at FAST_DPI were not enough)."""
    from ..ingest import pdf_scale

    page = src._handle[number - 1]
    try:
        scale, _ = pdf_scale(src.path, page, dpi)
        return _rulings(page, scale)
    finally:
        page.close()
