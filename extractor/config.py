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
    rec_precision: Literal["auto", "int8", "fp32"] = "auto"  # auto: models/rec_int8.onnx first on CPU, its unsure reads again at fp32
    det_max_side: int = 960  # a page of prose: text detection on the page scaled to this side (text ~12 px high at 200 dpi)
    det_band_max_side: int = 1280  # the text outside tables (titles, units, page numbers): at the scale of this side
    use_layout: bool = True
    detect_orientation: bool = True
    kpi_classifier: bool = True  # vote the KPI levels against models/kpi_classifier (needs torch + transformers)
    calibrate: bool = True  # apply models/calibration.json to cell confidences when present
    # limits on one page, enforced by the OS (see configs/default.yaml); 0 turns a limit off
    render_timeout: float = 60.0  # seconds to render one page, in a helper process killed past it
    render_memory_mb: int = 1024  # address space of that helper (RLIMIT_AS)
    page_timeout: float = 300.0  # seconds for a whole page (render + reading), in a worker replaced past it
    page_memory_mb: int = 2500  # resident memory of a worker reading a page (models included) before it is replaced

    @classmethod
    def load(cls, path: Optional[str | Path] = None, **overrides) -> "Settings":
        data: dict = {}
        if path:
            with open(path, encoding="utf-8") as f:
                data = yaml.safe_load(f) or {}
        data.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**data)


API_KEYS_ENV = "EXTRACTOR_API_KEYS"  # "name:key,name2:key2" (adds to the configured keys)


class ServiceSettings(BaseModel):
    """Settings of the HTTP service (``extractor serve``); defaults in configs/service.yaml. The
    ``pipeline`` section holds the extraction Settings its job workers use."""

    db: Optional[str] = None  # database URL; None: $EXTRACTOR_DB_URL or sqlite:///extractor.db
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 0  # job worker processes (each loads the models, ~1 GB); 0 = one per core, at most 4
    api_keys: dict[str, str] = {}  # who -> key; writes (upload, review) need one in X-API-Key
    max_upload_mb: float = 50.0  # larger uploads: 413
    max_pages: int = 300  # a document with more pages: 413
    max_pixels: int = 60_000_000  # an image (any frame) with more pixels: 413
    review_below: float = 0.9  # the review queue's default threshold (values under it are queued)
    poll_seconds: float = 0.5  # how often an idle worker looks for a queued job
    lease_seconds: float = 120.0  # a running job not heard of for this long (its worker's host gone) is queued again
    max_attempts: int = 3  # a job claimed this many times without finishing (its worker died each time) fails
    page_image_max_side: int = 2400  # page images kept for the review page are scaled down to this side
    pipeline: Settings = Settings()

    @classmethod
    def load(cls, path: Optional[str | Path] = None, **overrides) -> "ServiceSettings":
        """From a YAML file (keys as above; ``pipeline:`` a nested Settings mapping) with ``overrides``
        (None values ignored); ``$EXTRACTOR_API_KEYS`` adds keys."""
        import os

        data: dict = {}
        if path:
            with open(path, encoding="utf-8") as f:
                data = yaml.safe_load(f) or {}
        data.update({k: v for k, v in overrides.items() if v is not None})
        keys = dict(data.get("api_keys") or {})
        for item in filter(None, (x.strip() for x in os.environ.get(API_KEYS_ENV, "").split(","))):
            name, sep, key = item.partition(":")
            if not sep or not name.strip() or not key.strip():
                raise ValueError(f"{API_KEYS_ENV}: expected name:key pairs separated by commas, got {item!r}")
            keys[name.strip()] = key.strip()
        data["api_keys"] = {str(k): str(v) for k, v in keys.items()}
        return cls(**data)
