"""Settings: defaults in configs/default.yaml (copied into the package), overridable by a YAML
file (``--config``) and by keyword arguments."""
from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

import yaml
from pydantic import BaseModel, ConfigDict, field_validator

from .policy import REVIEW_BELOW


class Settings(BaseModel):
    dpi: float = 200.0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    threads: int = 0  # onnxruntime intra-op threads; 0 = one per core (max 4)
    workers: int = 0  # page worker processes per document (models loaded once per worker); 0 = one per core, fewer when memory would not hold them (workers.py)
    rec_batch_size: int = 48
    rec_precision: Literal["auto", "int8", "fp32"] = "auto"  # auto: models/rec_int8.onnx first on CPU, its unsure reads again at fp32
    det_max_side: int = 960  # a page of prose: text detection on the page scaled to this side (text ~12 px high at 200 dpi)
    det_band_max_side: int = 1280  # the text outside tables (titles, units, page numbers): at the scale of this side
    use_layout: bool = True
    detect_orientation: bool = True
    # a PDF page whose own text layer can be trusted (textlayer/trust.py) is read from it, with no OCR
    text_layer: bool = True
    enhance: bool = True  # faint / unevenly lit scans: background division and contrast stretch (extractor/enhance.py)
    enhance_max_uneven: float = 0.08  # ... applied when the paper level varies more than this over the page (share of it)
    enhance_min_contrast: float = 100.0  # ... or the ink is less than this many grey levels below the paper
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


def parse_api_keys(value: object, where: str = "api_keys") -> dict[str, str]:
    """API keys as name -> secret from a mapping ``{name: secret}``, a list of ``"name:secret"`` or one
    string ``"name:secret,name2:secret2"``. A name or a secret that is empty, and a secret given to two
    names (whose decisions would then be whose?), are refused (ValueError, naming no secret)."""
    if value is None:
        return {}
    if isinstance(value, str):
        value = [x for x in (p.strip() for p in value.split(",")) if x]
    if isinstance(value, (list, tuple)):
        pairs = []
        for item in value:
            name, sep, key = str(item).partition(":")
            if not sep:
                raise ValueError(f"{where}: expected name:key pairs, got an entry without ':'")
            pairs.append((name, key))
    elif isinstance(value, dict):
        pairs = list(value.items())
    else:
        raise ValueError(f"{where}: expected a mapping of name: key, or name:key pairs")
    keys: dict[str, str] = {}
    for name, key in pairs:
        name, key = str(name).strip(), str(key).strip() if key is not None else ""
        if not name or not key:
            raise ValueError(f"{where}: every key needs a name and a secret (name {name!r} has "
                             f"{'none' if not key else 'a secret'})")
        keys[name] = key
    if len(set(keys.values())) < len(keys):
        raise ValueError(f"{where}: two names share one secret; give each its own")
    return keys


class ServiceSettings(BaseModel):
    """Settings of the HTTP service (``extractor serve``); defaults in configs/service.yaml. The
    ``pipeline`` section holds the extraction Settings its job workers use."""

    model_config = ConfigDict(hide_input_in_errors=True)  # an error never shows the api_keys given

    db: Optional[str] = None  # database URL; None: $EXTRACTOR_DB_URL or sqlite:///extractor.db
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 0  # job worker processes (each loads the models, ~1 GB); 0 = one per core, fewer when memory would not hold them (workers.py)
    api_keys: dict[str, str] = {}  # who -> key; every /api request needs one in X-API-Key; the name is the reviewer
    max_upload_mb: float = 50.0  # larger uploads: 413
    max_pages: int = 300  # a document with more pages: 413
    max_pixels: int = 60_000_000  # an image (any frame) with more pixels: 413
    review_below: float = REVIEW_BELOW  # the review queue's default threshold (values under it are queued)
    poll_seconds: float = 0.5  # how often an idle worker looks for a queued job
    lease_seconds: float = 120.0  # a running job not heard of for this long (its worker's host gone) is queued again
    max_attempts: int = 3  # a job claimed this many times without finishing (its worker died each time) fails
    page_image_max_side: int = 2400  # page images kept for the review page are scaled down to this side
    pipeline: Settings = Settings()

    @field_validator("api_keys", mode="before")
    @classmethod
    def _keys(cls, v: object) -> dict[str, str]:
        return parse_api_keys(v)

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
        keys = parse_api_keys(data.get("api_keys"))
        keys.update(parse_api_keys(os.environ.get(API_KEYS_ENV, ""), API_KEYS_ENV))
        data["api_keys"] = keys
        return cls(**data)
