"""Settings: defaults in configs/default.yaml (copied into the package), overridable by a YAML
file (``--config``) and by keyword arguments."""
from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

import yaml
from pydantic import BaseModel


class Settings(BaseModel):
    dpi: float = 200.0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    threads: int = 0  # onnxruntime intra-op threads; 0 = one per core (max 4)
    workers: int = 0  # page worker processes per document (models loaded once per worker); 0 = one per core, at most 4
    rec_batch_size: int = 48
    det_max_side: int = 1280  # prose detection runs on the page scaled to this side
    use_layout: bool = True
    detect_orientation: bool = True
    kpi_classifier: bool = True  # vote the KPI levels against models/kpi_classifier (needs torch + transformers)
    calibrate: bool = True  # apply models/calibration.json to cell confidences when present

    @classmethod
    def load(cls, path: Optional[str | Path] = None, **overrides) -> "Settings":
        data: dict = {}
        if path:
            with open(path, encoding="utf-8") as f:
                data = yaml.safe_load(f) or {}
        data.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**data)
