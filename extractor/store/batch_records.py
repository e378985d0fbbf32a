"""Records the store gives back about batch processing (``extractor.batch``): runs, the archive's
file inventory, and the page results of batches (see the "batch processing" section of store.py)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Optional

BatchRunState = Literal["running", "done", "interrupted", "failed"]


@dataclass(frozen=True)
class BatchRunInfo:
    id: int
    state: BatchRunState  # "running" for a run still going, or one that was killed
    engine: str
    workers: int
    host: str
    started_at: datetime
    finished_at: Optional[datetime]
    pages_done: int  # pages read in this run
    stats: dict[str, Any]


@dataclass(frozen=True)
class BatchFileInfo:
    path: str
    size: Optional[int]
    mtime_ns: Optional[int]
    content_hash: Optional[str]  # None when the file could not be read
    error: Optional[str]
    run_id: Optional[int]  # the last run that saw it
    seen_at: datetime


@dataclass(frozen=True)
class BatchPageInfo:
    """One page read by a batch (its result JSON is not included)."""

    document_id: int
    page: int
    status: str  # done | failed
    run_id: Optional[int]
    worker: str
    seconds: Optional[float]
    peak_rss_mb: Optional[float]
    finished_at: datetime
