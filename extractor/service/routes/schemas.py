"""The API's request and response models (they make the OpenAPI document), ``errors()`` for a route's
documented error answers, and the functions that turn the store's records into the models."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Optional

from pydantic import BaseModel, Field

from ...model import Document
from ...store import JobInfo, ReviewInfo, ReviewProgress

MAX_ID = 2**63 - 1  # ids (documents, jobs, review items) are 64-bit integers in the database


class ErrorOut(BaseModel):
    error: str = Field(description="a short code: no_file, unsupported_type, too_large, too_many_pages, "
                                   "too_many_pixels, unreadable, api_key_missing, api_key_invalid, not_found, "
                                   "not_ready, bad_review, bad_request, invalid_request, method_not_allowed, "
                                   "database_unavailable, internal_error")
    detail: str = Field(description="what was wrong, in words")


class JobOut(BaseModel):
    id: int
    document_id: int
    state: Literal["queued", "running", "done", "failed"]
    pages_done: int
    pages_total: Optional[int]
    progress: Optional[float] = Field(description="pages_done / pages_total")
    error: Optional[str]
    attempts: int = Field(description="how many times a worker took the job up")
    created_at: datetime
    updated_at: datetime
    started_at: Optional[datetime]
    finished_at: Optional[datetime]
    duplicate: bool = Field(False, description="the same file was submitted before: this is its job")
    links: dict[str, str]


class ProgressOut(BaseModel):
    below: float
    cells: int
    cells_reviewed: int
    cells_corrected: int
    kpis: int
    kpis_reviewed: int
    kpis_corrected: int
    queue: int = Field(description="values still waiting for review at this threshold")
    fraction_done: float = Field(description="reviewed / (reviewed + still waiting)")


class TableOut(BaseModel):
    id: str
    page: int
    title: Optional[str]
    kind: Optional[str]
    unit: Optional[str]
    n_rows: int
    n_cols: int
    csv: str


class DocumentOut(BaseModel):
    id: int
    name: str
    content_hash: str
    status: Literal["pending", "done", "partial", "failed"]
    n_pages: int
    created_at: datetime
    updated_at: datetime
    jobs: list[int] = Field(default_factory=list)
    review: Optional[ProgressOut] = None
    tables: list[TableOut] = Field(default_factory=list)
    links: dict[str, str]


class ReviewItemOut(BaseModel):
    target: Literal["cell", "kpi"]
    id: int
    ref: str
    page: Optional[int]
    table_id: str
    table_title: Optional[str]
    row: int
    col: Optional[int]
    field: str
    value: str
    confidence: float
    broken_checks: list[str]
    reasons: list[str]
    row_headers: list[str]
    col_headers: list[str]
    box: Optional[list[float]]
    image_url: Optional[str]
    kpi: Optional[dict[str, Any]] = None


class QueueOut(BaseModel):
    document_id: int
    below: float
    total: int = Field(description="values waiting at this threshold (items holds at most `limit` of them)")
    items: list[ReviewItemOut]
    progress: ProgressOut


class ReviewIn(BaseModel):
    target: Literal["cell", "kpi"]
    id: int = Field(ge=1, le=MAX_ID, description="the item's id from the review queue")
    action: Literal["accept", "correct"]
    value: Optional[str] = Field(None, max_length=10_000, description="the corrected value (action correct)")
    field: Optional[str] = Field(None, max_length=50, description="what a correction changes: text (cell, the "
                                 "default); value (KPI, the default), level1, level2, level3, project")
    reviewer: Optional[str] = Field(None, max_length=255, description="who decided is always the API key's name; "
                                    "a reviewer given here must be that name (else 422 bad_review)")


class ReviewOut(BaseModel):
    id: int
    document_id: int
    target: Literal["cell", "kpi"]
    target_id: int
    field: str
    action: Literal["accept", "correct"]
    reviewer: str
    created_at: datetime
    old_value: str
    new_value: str
    old_confidence: float
    old_source: str


class KeyHolderOut(BaseModel):
    name: str = Field(description="the API key's name: the reviewer recorded with its decisions")


class HealthOut(BaseModel):
    status: Literal["ok", "degraded"] = Field(description="degraded (and status 503): the database does not take "
                                                          "writes or cannot be reached")
    database: Literal["ok", "read-only", "unavailable"]
    version: str
    workers: int = Field(description="job worker processes alive")
    workers_ready: int = Field(description="of them, those with their models loaded")
    jobs: dict[str, int]
    documents: dict[str, int]


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {c: {"model": ErrorOut} for c in codes}


# ------------------------------------------------------------------ store records -> models

def job_out(job: JobInfo, duplicate: bool = False) -> JobOut:
    d = f"/api/documents/{job.document_id}"
    links = {"self": f"/api/jobs/{job.id}", "document": d}
    if job.state == "done":
        links.update(json=f"{d}/result.json", xlsx=f"{d}/result.xlsx", kpis_csv=f"{d}/kpis.csv",
                     cells_csv=f"{d}/cells.csv", tables=f"{d}/tables", review=f"/review/{job.document_id}")
    total = job.pages_total
    return JobOut(id=job.id, document_id=job.document_id, state=job.state, pages_done=job.pages_done,
                  pages_total=total, progress=round(job.pages_done / total, 4) if total else None, error=job.error,
                  attempts=job.attempts, created_at=job.created_at, updated_at=job.updated_at,
                  started_at=job.started_at, finished_at=job.finished_at, duplicate=duplicate, links=links)


def progress_out(p: ReviewProgress) -> ProgressOut:
    return ProgressOut(below=p.below, cells=p.cells, cells_reviewed=p.cells_reviewed,
                       cells_corrected=p.cells_corrected, kpis=p.kpis, kpis_reviewed=p.kpis_reviewed,
                       kpis_corrected=p.kpis_corrected, queue=p.queue, fraction_done=round(p.fraction_done, 4))


def review_out(r: ReviewInfo) -> ReviewOut:
    return ReviewOut(**{k: getattr(r, k) for k in ReviewOut.model_fields})


def tables_out(doc_id: int, doc: Document) -> list[TableOut]:
    return [TableOut(id=t.id, page=p.page, title=t.title, kind=t.kind, unit=t.unit, n_rows=t.n_rows, n_cols=t.n_cols,
                     csv=f"/api/documents/{doc_id}/tables/{t.id}.csv") for p in doc.pages for t in p.tables]
