"""Jobs: the upload (``POST /api/jobs``: the file checked, then written with its document and job in
one transaction) and the jobs' states."""
from __future__ import annotations

import hashlib
import logging
import tempfile
from pathlib import Path
from typing import Literal, Optional

from fastapi import APIRouter, File, Query, Response, Security, UploadFile

from ... import ingest
from ...config import ServiceSettings
from .deps import ApiError, JobId, SettingsDep, StoreDep, api_get, key_holder
from .schemas import MAX_ID, JobOut, errors, job_out

log = logging.getLogger(__name__)

UPLOAD_PATH = "/api/jobs"

router = APIRouter()


def _inspect(data: bytes, name: str, s: ServiceSettings) -> tuple[int, str]:
    """(pages, kind) of an uploaded file; ApiError when it is of no type read, unreadable, or over the
    page or pixel limits."""
    with tempfile.TemporaryDirectory(prefix="extractor-upload-") as d:
        path = Path(d) / ("upload" + Path(name).suffix[:10])
        path.write_bytes(data)
        try:
            src = ingest.open_source(path)
        except ingest.InputError as e:
            status, code = {"unsupported": (415, "unsupported_type"),
                            "too_large": (413, "too_many_pixels")}.get(e.category, (422, "unreadable"))
            raise ApiError(status, code, f"{name}: {e.reason}") from None
        try:
            n_pages, kind = src.n_pages, src.kind
            if n_pages > s.max_pages:
                raise ApiError(413, "too_many_pages",
                               f"{name}: {n_pages} pages; the limit is {s.max_pages} pages a document")
            if kind == "image":
                for n in range(1, n_pages + 1):
                    w, h = ingest.page_size(src, n)
                    if w * h > s.max_pixels:
                        raise ApiError(413, "too_many_pixels",
                                       f"{name}: image{'' if n_pages == 1 else f' frame {n}'} is {w}x{h} = "
                                       f"{w * h:,} pixels; the limit is {s.max_pixels:,}")
        finally:
            src.close()
    return n_pages, kind


@router.post(UPLOAD_PATH, status_code=202, response_model=JobOut, tags=["jobs"],
             summary="Submit a PDF or image for extraction",
             responses=errors(400, 401, 413, 415, 422, 503))
def submit(response: Response,
           file: Optional[UploadFile] = File(None, description="the PDF or image (PNG, JPEG, TIFF, BMP, WebP)"),
           who: str = Security(key_holder), *, store: StoreDep, s: SettingsDep) -> JobOut:
    """Accepts the file (multipart field `file`) and queues a job: 202 with the job. The file, its
    document and the job are written in one transaction before the answer; the same file again
    gets its earlier job back (`duplicate`)."""
    if file is None:
        raise ApiError(400, "no_file", "no file in the request: send the PDF or image as the multipart "
                                       "form field 'file'")
    max_upload = int(s.max_upload_mb * 1_000_000)
    data = file.file.read(max_upload + 1)
    if len(data) > max_upload:
        raise ApiError(413, "too_large", f"the file is larger than the limit of {s.max_upload_mb:g} MB")
    name = Path(file.filename or "upload").name[:255] or "upload"
    if not data:
        raise ApiError(400, "no_file", f"{name}: the file is empty")
    n_pages, kind = _inspect(data, name, s)
    media = "application/pdf" if kind == "pdf" else (file.content_type if (file.content_type or "")
                                                      .startswith("image/") else "application/octet-stream")
    job, new = store.submit_upload(hashlib.sha256(data).hexdigest(), name, data, n_pages, media)
    if new:
        log.info("job %d: %s (%d pages, %d bytes) from %s", job.id, name, n_pages, len(data), who)
    response.headers["Location"] = f"/api/jobs/{job.id}"
    return job_out(job, duplicate=not new)


@api_get(router, "/api/jobs", response_model=list[JobOut], tags=["jobs"], summary="List jobs")
def list_jobs(state: Optional[Literal["queued", "running", "done", "failed"]] = None,
              document_id: Optional[int] = Query(None, ge=1, le=MAX_ID), *, store: StoreDep) -> list[JobOut]:
    return [job_out(j) for j in store.list_jobs(doc_id=document_id, state=state)]


@api_get(router, "/api/jobs/{job_id}", response_model=JobOut, tags=["jobs"],
         summary="A job's state and page progress", responses=errors(404))
def get_job(job_id: JobId, *, store: StoreDep) -> JobOut:
    return job_out(store.get_job(job_id))
