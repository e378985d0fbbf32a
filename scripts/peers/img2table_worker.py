"""img2table worker: runs in its own environment (.venv-peers: img2table 2.0.0 pulls
opencv-contrib-python, which must not land in the main venv) and talks JSON lines.

    .venv-peers/bin/python scripts/peers/img2table_worker.py --ocr rapidocr|tesseract [--threads N]

Loads the OCR engine once, prints {"ready": true, ...} and then answers one line per request:

    request:  {"id": 1, "images": ["/tmp/p1.png", ...]}
    response: {"id": 1, "pages": [{"width": W, "height": H, "seconds": s,
                                    "tables": [{"bbox": [x0, y0, x1, y1], "title": str|null,
                                                "cells": [{"row", "col", "rowspan", "colspan",
                                                           "bbox", "text", "scores": [..]}]}]}]}
              or {"id": 1, "error": "..."}

Settings (ruled tables): ``Image(detect_rotation=True)``, ``implicit_rows=True``,
``implicit_columns=False``, ``borderless_tables=False``, ``min_confidence=50`` (img2table's
default). ``implicit_rows=True`` because on scans with broken or faint rules (every degraded
page) img2table with ``implicit_rows=False`` dropped most tables outright (tables F1 0.40 against
0.93 on 5 medium pages); ``implicit_columns`` made no difference there. RapidOCR: ``{"Rec.lang_type": "ch"}`` (img2table's wrapper defaults to EN, a model
that is downloaded at run time and fails offline), the 180-degree classifier off. Tesseract:
``lang="chi_sim"``, ``psm=11`` (img2table's default).

Cell scores: img2table keeps no confidence on its cells, so the worker keeps the OCR words
img2table was given and returns, for each cell, the confidences (0-1) of the words it would read
into that cell (centre inside the cell box, confidence >= min_confidence).

Boxes are in the pixels of the image img2table worked on: with detect_rotation=True that is the
image after its own rotation / deskew, whose size the page reports.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback


def _protocol_stream():
    """Our stdout for JSON only: fd 1 is pointed at stderr, so anything else that prints (img2table
    runs 'tesseract --version' without capturing it, loggers) cannot corrupt the stream."""
    fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(fd, "w", buffering=1, encoding="utf-8")


class RecordingOCR:
    """Wraps an img2table OCRInstance and keeps the OCRData of the last call.

    It also drops words without text: img2table 2.0.0's Tesseract reader gives a word whose hOCR
    string is only punctuation / blanks the value None, and then crashes joining a line holding one
    (``TypeError: sequence item 1: expected str instance, NoneType found`` in
    ``OCRData._group_words_by_parent``) or writes "None" into the cell text."""

    def __init__(self, inner):
        self.inner = inner
        self.last = None

    def of(self, document):
        data = self.inner.of(document)
        if data is not None:
            for page, recs in list(data.records.items()):
                data.records[page] = [r for r in recs if r.get("value") is not None]
        self.last = data
        return data

    def __getattr__(self, name):
        return getattr(self.inner, name)


def make_ocr(kind: str, threads: int):
    if kind == "rapidocr":
        from img2table.ocr import RapidOCR

        params = {"Rec.lang_type": "ch", "Global.use_cls": False, "Global.log_level": "warning"}
        if threads:
            params["EngineConfig.onnxruntime.intra_op_num_threads"] = threads
            params["EngineConfig.onnxruntime.inter_op_num_threads"] = 1
        return RapidOCR(params=params)
    if kind == "tesseract":
        from img2table.ocr import TesseractOCR

        return TesseractOCR(n_threads=1, lang="chi_sim", psm=11)
    raise SystemExit(f"unknown --ocr {kind!r}")


def _words(ocr_data) -> list[tuple[float, float, float]]:
    """(x centre, y centre, confidence 0-100) of the words on the page."""
    if ocr_data is None:
        return []
    out = []
    for rec in ocr_data.records.get(0, []):
        if rec.get("value") is None or rec.get("confidence") is None:
            continue
        out.append(((rec["x1"] + rec["x2"]) / 2, (rec["y1"] + rec["y2"]) / 2, float(rec["confidence"])))
    return out


def table_json(t, words, min_conf: int, dx: float = 0.0, dy: float = 0.0) -> dict:
    """ExtractedTable -> cells with spans: img2table repeats a merged cell (same TableCell) in every
    slot it covers."""
    slots: dict[int, list[tuple[int, int]]] = {}
    objs: dict[int, object] = {}
    for r, (_, row) in enumerate(t.content.items()):
        for c, cell in enumerate(row):
            slots.setdefault(id(cell), []).append((r, c))
            objs[id(cell)] = cell
    cells = []
    for key, pos in slots.items():
        cell = objs[key]
        r0, r1 = min(p[0] for p in pos), max(p[0] for p in pos)
        c0, c1 = min(p[1] for p in pos), max(p[1] for p in pos)
        b = cell.bbox
        scores = [w[2] / 100.0 for w in words if b.x1 <= w[0] <= b.x2 and b.y1 <= w[1] <= b.y2 and w[2] >= min_conf]
        cells.append({"row": r0, "col": c0, "rowspan": r1 - r0 + 1, "colspan": c1 - c0 + 1,
                      "bbox": _shift(b, dx, dy), "text": cell.value or "", "scores": scores})
    return {"bbox": _shift(t.bbox, dx, dy), "title": t.title, "cells": cells}


def _shift(b, dx: float, dy: float) -> list[float]:
    return [float(b.x1) - dx, float(b.y1) - dy, float(b.x2) - dx, float(b.y2) - dy]


def extract(path: str, ocr: RecordingOCR, min_conf: int = 50, implicit_rows: bool = True,
            implicit_columns: bool = False) -> dict:
    import cv2
    from img2table.document import Image

    t0 = time.perf_counter()
    src = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    h0, w0 = src.shape[:2]
    doc = Image(src=path, detect_rotation=True)
    img = doc.images[0]
    h, w = img.shape[:2]
    # detect_rotation deskews about the centre (w0 // 2, h0 // 2) onto a canvas grown to (w, h),
    # shifted by (w / 2 - w0 // 2, h / 2 - h0 // 2): undo the shift so boxes are in the deskewed
    # page of the source size (the frame extractor and the ground truth use)
    dx, dy = (w / 2 - w0 // 2, h / 2 - h0 // 2) if (w, h) != (w0, h0) else (0.0, 0.0)
    ocr.last = None
    tables = doc.extract_tables(ocr=ocr, implicit_rows=implicit_rows, implicit_columns=implicit_columns,
                                borderless_tables=False, min_confidence=min_conf)
    words = _words(ocr.last)
    return {"width": int(w0), "height": int(h0), "seconds": time.perf_counter() - t0,
            "rotated_size": [int(w), int(h)], "shift": [dx, dy],
            "tables": [table_json(t, words, min_conf, dx, dy) for t in tables]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ocr", choices=["rapidocr", "tesseract"], required=True)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--min-confidence", type=int, default=50)
    ap.add_argument("--no-implicit-rows", dest="implicit_rows", action="store_false",
                    help="do not let img2table split rows that no (whole) line separates")
    ap.add_argument("--implicit-columns", action="store_true")
    a = ap.parse_args(argv)
    out = _protocol_stream()
    try:
        import img2table

        ocr = RecordingOCR(make_ocr(a.ocr, a.threads))
    except Exception as e:  # report why instead of dying silently
        out.write(json.dumps({"ready": False, "error": f"{type(e).__name__}: {e}"}) + "\n")
        return 1
    out.write(json.dumps({"ready": True, "ocr": a.ocr, "img2table": getattr(img2table, "__version__", "2.0.0")}) + "\n")
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        req = {}
        try:
            req = json.loads(line)
            pages = [extract(p, ocr, a.min_confidence, a.implicit_rows, a.implicit_columns) for p in req["images"]]
            out.write(json.dumps({"id": req.get("id"), "pages": pages}, ensure_ascii=False) + "\n")
        except Exception as e:
            out.write(json.dumps({"id": req.get("id"), "error": f"{type(e).__name__}: {e}",
                                  "trace": traceback.format_exc()}, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
