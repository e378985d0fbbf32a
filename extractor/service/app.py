"""The HTTP service: ``create_app(settings)`` builds the FastAPI application (run it with uvicorn, or
``extractor serve``).

Uploads become jobs in the store (the file, its document and the job written in one transaction
before the 202 is sent); job workers (``worker.py``) run the real pipeline on them; results come out
of the store as JSON, CSV and Excel with reviewers' corrections in place; the review page
(``/review``) works the review queue. Every request under ``/api`` (reads too) needs an API key in
``X-API-Key``, checked before anything else (an upload's body is not read without one); the key's name
is the reviewer. Errors are JSON ``{"error": code, "detail": message}``: 4xx for the request, 503
``database_unavailable`` for a database that does not take writes, 500 ``internal_error`` for the rest.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import re
import secrets
import sys
import tempfile
import threading
import time
from collections import OrderedDict
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal, Optional
from urllib.parse import quote

from fastapi import FastAPI, File, Query, Request, Security, UploadFile
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.security import APIKeyHeader
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__, export, ingest
from ..config import ServiceSettings
from ..model import Document
from ..store import DocumentInfo, JobInfo, NotFoundError, ReviewInfo, ReviewProgress, Store, StoreError
from . import images, review
from .worker import WorkerPool, recover_jobs

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().with_name("static")
API_KEY_HEADER = "X-API-Key"
UPLOAD_PATH = "/api/jobs"
MULTIPART_SLACK = 64 * 1024  # multipart framing around the file, allowed above the upload limit
MAX_ID = 2**63 - 1  # ids (documents, jobs, review items) are 64-bit integers in the database
MAX_COORD = 1e6  # a box coordinate (page pixels) above this is no page's
# requests that need no key: the review page and its static files (they hold no data), liveness, the
# OpenAPI document; everything else (the whole /api, and any path no route has) needs one
OPEN_PATH = re.compile(r"/(|healthz|review|review/[^/]*|openapi\.json|docs|docs/oauth2-redirect|redoc|static/.*)")
# Content-Security-Policy: the review page's, the API's (nothing in an answer is to run), and none for
# /docs and /redoc (FastAPI's Swagger UI and ReDoc load their scripts from a CDN and run inline code)
PAGE_CSP = ("default-src 'self'; img-src 'self' blob: data:; object-src 'none'; frame-ancestors 'none'; "
            "base-uri 'none'; form-action 'none'")
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
PAGE_PATH = re.compile(r"/(|review|review/[^/]*)")
DOCS_PATH = re.compile(r"/(docs|docs/oauth2-redirect|redoc)")
SECURITY_HEADERS = [(b"x-frame-options", b"DENY"), (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer")]


# parameters (module level: the annotations are strings, resolved here)
DocId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="the document's id")]
JobId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="the job's id")]
PageNo = Annotated[int, PathParam(ge=1, le=100_000, description="the page number, from 1")]
Below = Annotated[Optional[float], Query(ge=0, le=1, allow_inf_nan=False,
                                         description="the review threshold (default: the service's)")]


class ApiError(Exception):
    def __init__(self, status: int, code: str, detail: str, headers: Optional[dict[str, str]] = None):
        super().__init__(detail)
        self.status, self.code, self.detail, self.headers = status, code, detail, headers


# ------------------------------------------------------------------ response models (the OpenAPI document)

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


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {c: {"model": ErrorOut} for c in codes}


# ------------------------------------------------------------------ the upload size guard

class UploadLimit:
    """ASGI middleware: an upload larger than the limit is answered 413 without the body being read
    (by its Content-Length), or as soon as it has gone over (a chunked body)."""

    def __init__(self, app: Any, max_bytes: int, path: str):
        self.app, self.max_bytes, self.path = app, max_bytes, path

    async def _refuse(self, send: Any) -> None:
        body = json.dumps({"error": "too_large", "detail": f"the upload is larger than the limit of "
                           f"{self.max_bytes / 1e6:g} MB"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"].rstrip("/") != self.path:
            return await self.app(scope, receive, send)
        limit = self.max_bytes + MULTIPART_SLACK
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            return await self._refuse(send)
        seen, over, started = 0, False, False

        async def counted() -> Any:
            nonlocal seen, over
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > limit:
                    over = True
                    return {"type": "http.disconnect"}
            return msg

        async def guarded(msg: Any) -> None:
            nonlocal started
            if over:
                if msg["type"] == "http.response.start" and not started:
                    started = True
                    await self._refuse(send)
                return
            started = started or msg["type"] == "http.response.start"
            await send(msg)

        await self.app(scope, counted, guarded)


# ------------------------------------------------------------------ API keys and response headers

class KeyRing:
    """The configured keys (name -> secret). ``holder(given)`` is the name of the key ``given`` (raw
    header bytes), compared in constant time with every key (by their SHA-256, so not even a key's
    length shows in the time); None when it is no key."""

    def __init__(self, keys: dict[str, str]):
        self._keys = [(hashlib.sha256(k.encode()).digest(), who) for who, k in keys.items()]

    def holder(self, given: bytes) -> Optional[str]:
        digest = hashlib.sha256(given).digest()
        found = None
        for k, who in self._keys:
            if hmac.compare_digest(k, digest):
                found = who
        return found


KEY_HOLDER = "extractor.key_holder"  # the ASGI scope entry ApiKeyGuard leaves the key's name in


def _json_refusal(status: int, code: str, detail: str, headers: list[tuple[bytes, bytes]]) -> tuple[dict, dict]:
    body = json.dumps({"error": code, "detail": detail}).encode()
    start = {"type": "http.response.start", "status": status,
             "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                         *headers]}
    return start, {"type": "http.response.body", "body": body}


class ApiKeyGuard:
    """ASGI middleware: a request for anything but the open paths (``OPEN_PATH``: the review page,
    its static files, /healthz, the OpenAPI document) needs a valid key in ``X-API-Key``, else it is
    answered 401 before the application sees it, so an upload's body is never read. A valid key's
    name is left in the scope (``KEY_HOLDER``)."""

    def __init__(self, app: Any, ring: KeyRing):
        self.app, self.ring = app, ring

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or OPEN_PATH.fullmatch(scope["path"]):
            return await self.app(scope, receive, send)
        given = [v for k, v in scope["headers"] if k.lower() == API_KEY_HEADER.lower().encode()]
        if not given or not given[0]:
            code, detail = "api_key_missing", f"this request needs an API key in the {API_KEY_HEADER} header"
        elif len(given) > 1:
            code, detail = "api_key_invalid", f"send one {API_KEY_HEADER} header, not {len(given)}"
        else:
            who = self.ring.holder(given[0])
            if who is not None:
                scope[KEY_HOLDER] = who
                return await self.app(scope, receive, send)
            code, detail = "api_key_invalid", "the API key is not valid"
        headers = [(b"www-authenticate", f'ApiKey header="{API_KEY_HEADER}"'.encode())]
        if scope["method"] not in ("GET", "HEAD"):
            headers.append((b"connection", b"close"))  # the body stays unread: this connection is done
        for msg in _json_refusal(401, code, detail, headers):
            await send(msg)


class SecurityHeaders:
    """ASGI middleware: every answer carries X-Frame-Options DENY, X-Content-Type-Options nosniff,
    Referrer-Policy no-referrer and a Content-Security-Policy (the review page's, the API's; none for
    /docs and /redoc, whose pages need their CDN scripts)."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"]
        csp = None if DOCS_PATH.fullmatch(path) else PAGE_CSP if PAGE_PATH.fullmatch(path) else API_CSP
        extra = SECURITY_HEADERS + ([(b"content-security-policy", csp.encode())] if csp else [])

        async def with_headers(msg: Any) -> None:
            if msg["type"] == "http.response.start":
                have = {k.lower() for k, _ in msg.get("headers", [])}
                msg = {**msg, "headers": [*msg.get("headers", []), *(h for h in extra if h[0] not in have)]}
            await send(msg)

        await self.app(scope, receive, with_headers)


# ------------------------------------------------------------------ helpers

def _job_out(job: JobInfo, duplicate: bool = False) -> JobOut:
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


def _progress_out(p: ReviewProgress) -> ProgressOut:
    return ProgressOut(below=p.below, cells=p.cells, cells_reviewed=p.cells_reviewed,
                       cells_corrected=p.cells_corrected, kpis=p.kpis, kpis_reviewed=p.kpis_reviewed,
                       kpis_corrected=p.kpis_corrected, queue=p.queue, fraction_done=round(p.fraction_done, 4))


def _review_out(r: ReviewInfo) -> ReviewOut:
    return ReviewOut(**{k: getattr(r, k) for k in ReviewOut.model_fields})


def content_disposition(filename: str) -> str:
    """An attachment header for any file name (RFC 6266 with an RFC 5987 ``filename*``): control
    characters (a newline in an uploaded name) are dropped, the plain ``filename`` is printable ASCII
    with quotes and backslashes replaced, and the UTF-8 name is percent-encoded, so the header is
    always valid (h11 refuses one with a control character, and the download got no answer)."""
    name = "".join(ch for ch in filename if ch.isprintable()) or "download"
    quoted = quote(name, safe="")
    ascii_name = "".join(ch if " " <= ch <= "~" and ch not in '"\\' else "_" for ch in name)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quoted}"


def _download(content: bytes | str, media_type: str, filename: str) -> Response:
    return Response(content, media_type=media_type, headers={"Content-Disposition": content_disposition(filename)})


def _tables_out(doc_id: int, doc: Document) -> list[TableOut]:
    return [TableOut(id=t.id, page=p.page, title=t.title, kind=t.kind, unit=t.unit, n_rows=t.n_rows, n_cols=t.n_cols,
                     csv=f"/api/documents/{doc_id}/tables/{t.id}.csv") for p in doc.pages for t in p.tables]


def _stem(info: DocumentInfo) -> str:
    return Path(info.source_name).stem or f"document-{info.id}"


def _parse_box(box: Optional[str]) -> Optional[list[float]]:
    if box is None:
        return None
    try:
        vals = [float(v) for v in box.split(",", 4)]
    except ValueError:
        vals = []
    if len(vals) != 4 or not all(math.isfinite(v) and 0 <= v <= MAX_COORD for v in vals):
        raise ApiError(422, "bad_request", f"box must be four numbers from 0 to {MAX_COORD:g}: x0,y0,x1,y1 "
                                           "(page pixels)")
    return vals


def _validation_detail(e: RequestValidationError) -> str:
    """What was wrong with the request, without the input itself (it may be huge, or not for echoing):
    where (cut to 40 characters a part) and pydantic's message (cut to 120), at most 500 in all."""
    parts = []
    for err in e.errors()[:5]:
        where = ".".join(str(x)[:40] for x in err.get("loc", ()) if x not in ("body", "query", "path"))
        parts.append(f"{where or 'body'}: {str(err.get('msg', 'invalid'))[:120]}")
    return ("; ".join(parts) or "the request is not valid")[:500]


def _db_failure(e: DBAPIError) -> tuple[int, str, str]:
    """(status, code, detail) for a database error: 503 database_unavailable when the database does not
    take writes or cannot be reached, else 500. Never the SQL or its parameters (an upload's bytes)."""
    low = str(getattr(e, "orig", "") or "").lower()
    if "readonly" in low or "read-only" in low:
        return 503, "database_unavailable", "the database is read-only: it takes no writes now"
    if isinstance(e, OperationalError):  # its message may name the database host: that goes to the log only
        return 503, "database_unavailable", "the database cannot be reached or used now"
    return 500, "internal_error", "an unexpected database error; it has been logged"


# ------------------------------------------------------------------ the application

def create_app(settings: Optional[ServiceSettings] = None, *, start_workers: bool = True) -> FastAPI:
    """The service on ``settings.db``. ``start_workers=False``: the API alone (another process, or
    another instance on the same database, runs the jobs)."""
    s = settings or ServiceSettings()
    store = Store(s.db)
    keys = dict(s.api_keys)
    if not keys:  # never an open service: a key for this run, printed (not logged) for whoever started it
        keys = {"admin": secrets.token_urlsafe(24)}
        print(f"extractor serve: no API keys configured; for this run every /api request needs the header "
              f"{API_KEY_HEADER}: {keys['admin']} (its name: admin)", file=sys.stderr, flush=True)
    ring = KeyRing(keys)
    pool = WorkerPool(s) if start_workers else None
    max_upload = int(s.max_upload_mb * 1_000_000)
    page_cache: OrderedDict[tuple[int, int], Any] = OrderedDict()
    probed: list[Any] = [-1e9, None]  # when /healthz last probed the database for writes, and what it found
    probe_lock = threading.Lock()
    cache_lock = threading.Lock()

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
        store.upgrade()
        recover_jobs(store, s.lease_seconds)
        if pool is not None:
            pool.start()
        try:
            yield
        finally:
            if pool is not None:
                pool.stop()
            store.close()

    app = FastAPI(
        title="extractor", version=__version__, lifespan=lifespan,
        description="OCR and table extraction for scanned Chinese budget disclosures: upload a PDF or image, "
                    "follow the job, fetch the tables as JSON, CSV or Excel, and review doubtful values. "
                    f"Uploads and reviews need an API key in the `{API_KEY_HEADER}` header.")
    app.state.store, app.state.settings, app.state.pool = store, s, pool
    app.add_middleware(UploadLimit, max_bytes=max_upload, path=UPLOAD_PATH)
    app.add_middleware(ApiKeyGuard, ring=ring)  # before the size guard: no key, nothing read, no limit told
    app.add_middleware(SecurityHeaders)  # outermost: on every answer, refusals included
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, e: ApiError) -> JSONResponse:
        return JSONResponse({"error": e.code, "detail": e.detail}, status_code=e.status, headers=e.headers)

    @app.exception_handler(NotFoundError)
    async def _not_found(request: Request, e: NotFoundError) -> JSONResponse:
        return JSONResponse({"error": "not_found", "detail": str(e)}, status_code=404)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, e: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": "invalid_request", "detail": _validation_detail(e)}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, e: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(e.status_code, "bad_request")
        return JSONResponse({"error": code, "detail": str(e.detail)[:200]}, status_code=e.status_code,
                            headers=e.headers)

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, e: DBAPIError) -> JSONResponse:
        status, code, detail = _db_failure(e)
        log.warning("%s %s: database error %s: %s", request.method, request.url.path, type(e).__name__,
                    str(getattr(e, "orig", "") or "").splitlines()[:1])
        return JSONResponse({"error": code, "detail": detail}, status_code=status,
                            headers={"Retry-After": "60"} if status == 503 else None)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, e: Exception) -> JSONResponse:
        # Starlette's outermost middleware sends this and raises the error on, to the server's log
        return JSONResponse({"error": "internal_error", "detail": "an unexpected error; it has been logged"},
                            status_code=500, headers={k.decode(): v.decode() for k, v in SECURITY_HEADERS}
                            | {"Content-Security-Policy": API_CSP})

    api_key = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, scheme_name="ApiKey",
                           description="a key from the service's api_keys: every request under /api needs one")

    def key_holder(request: Request, key: Optional[str] = Security(api_key)) -> str:
        """The name of the API key's holder (ApiKeyGuard checked the key before the request got here;
        checked again if it did not run); 401 without a valid key."""
        who = request.scope.get(KEY_HOLDER)
        if who is None:
            who = ring.holder(key.encode("latin-1", "replace")) if key else None
            if who is None:
                raise ApiError(401, "api_key_invalid" if key else "api_key_missing", "this request needs a valid "
                               f"API key in the {API_KEY_HEADER} header",
                               {"WWW-Authenticate": f'ApiKey header="{API_KEY_HEADER}"'})
        return who

    def api_get(path: str, **kw: Any) -> Any:  # a read: needs a key like every /api request
        kw["responses"] = {**_errors(401, 422), **kw.get("responses", {})}
        return app.get(path, dependencies=[Security(key_holder)], **kw)


    def extracted(doc_id: int) -> tuple[DocumentInfo, Document]:
        """The stored document, reviews applied; 404 unknown, 409 not extracted yet."""
        info = store.get_document(doc_id)
        try:
            return info, store.load_document(doc_id)
        except StoreError as e:
            if isinstance(e, NotFoundError):
                raise
            jobs = store.list_jobs(doc_id=doc_id)
            state = jobs[-1].state if jobs else "none"
            raise ApiError(409, "not_ready", f"document {doc_id} is not extracted yet (its job is {state})") from None

    # ---- jobs

    @app.post(UPLOAD_PATH, status_code=202, response_model=JobOut, tags=["jobs"],
              summary="Submit a PDF or image for extraction",
              responses=_errors(400, 401, 413, 415, 422, 503))
    def submit(response: Response,
               file: Optional[UploadFile] = File(None, description="the PDF or image (PNG, JPEG, TIFF, BMP, WebP)"),
               who: str = Security(key_holder)) -> JobOut:
        """Accepts the file (multipart field `file`) and queues a job: 202 with the job. The file, its
        document and the job are written in one transaction before the answer; the same file again
        gets its earlier job back (`duplicate`)."""
        if file is None:
            raise ApiError(400, "no_file", "no file in the request: send the PDF or image as the multipart "
                                           "form field 'file'")
        data = file.file.read(max_upload + 1)
        if len(data) > max_upload:
            raise ApiError(413, "too_large", f"the file is larger than the limit of {s.max_upload_mb:g} MB")
        name = Path(file.filename or "upload").name[:255] or "upload"
        if not data:
            raise ApiError(400, "no_file", f"{name}: the file is empty")
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
        media = "application/pdf" if kind == "pdf" else (file.content_type if (file.content_type or "")
                                                          .startswith("image/") else "application/octet-stream")
        job, new = store.submit_upload(hashlib.sha256(data).hexdigest(), name, data, n_pages, media)
        if new:
            log.info("job %d: %s (%d pages, %d bytes) from %s", job.id, name, n_pages, len(data), who)
        response.headers["Location"] = f"/api/jobs/{job.id}"
        return _job_out(job, duplicate=not new)

    @api_get("/api/jobs", response_model=list[JobOut], tags=["jobs"], summary="List jobs")
    def list_jobs(state: Optional[Literal["queued", "running", "done", "failed"]] = None,
                  document_id: Optional[int] = Query(None, ge=1, le=MAX_ID)) -> list[JobOut]:
        return [_job_out(j) for j in store.list_jobs(doc_id=document_id, state=state)]

    @api_get("/api/jobs/{job_id}", response_model=JobOut, tags=["jobs"], summary="A job's state and page progress",
             responses=_errors(404))
    def get_job(job_id: JobId) -> JobOut:
        return _job_out(store.get_job(job_id))

    # ---- documents and results

    def _document_out(info: DocumentInfo, below: float, with_tables: bool) -> DocumentOut:
        d = f"/api/documents/{info.id}"
        out = DocumentOut(id=info.id, name=info.source_name, content_hash=info.content_hash, status=info.status,
                          n_pages=info.n_pages, created_at=info.created_at, updated_at=info.updated_at,
                          jobs=[j.id for j in store.list_jobs(doc_id=info.id)], links={"self": d})
        if info.status != "pending":
            out.review = _progress_out(store.review_progress(info.id, below))
            out.links.update(json=f"{d}/result.json", xlsx=f"{d}/result.xlsx", kpis_csv=f"{d}/kpis.csv",
                             cells_csv=f"{d}/cells.csv", review=f"/review/{info.id}", queue=f"{d}/review/queue")
            if with_tables:
                out.tables = _tables_out(info.id, store.load_document(info.id))
        return out

    @api_get("/api/documents", response_model=list[DocumentOut], tags=["documents"],
             summary="List documents with their review progress")
    def list_documents(status: Optional[Literal["pending", "done", "partial", "failed"]] = None,
                       below: Below = None) -> list[DocumentOut]:
        th = s.review_below if below is None else below
        return [_document_out(i, th, False) for i in store.list_documents(status)]

    @api_get("/api/documents/{doc_id}", response_model=DocumentOut, tags=["documents"],
             summary="A document: status, tables, review progress, links", responses=_errors(404))
    def get_document(doc_id: DocId, below: Below = None) -> DocumentOut:
        return _document_out(store.get_document(doc_id), s.review_below if below is None else below, True)

    @api_get("/api/documents/{doc_id}/result.json", tags=["results"], summary="The document as JSON",
             response_class=Response, responses={200: {"content": {"application/json": {}},
                                                       "description": "the Document (schema: `extractor schema`), "
                                                                      "reviewed values in place"},
                                                  **_errors(404, 409)})
    def result_json(doc_id: DocId) -> Response:
        info, doc = extracted(doc_id)
        return _download(doc.model_dump_json(indent=1), "application/json", _stem(info) + ".json")

    @api_get("/api/documents/{doc_id}/result.xlsx", tags=["results"], summary="Excel workbook, one sheet per table",
             response_class=Response,
             responses={200: {"content": {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}},
                              "description": "low-confidence values filled light red, reviewed ones green"},
                        **_errors(404, 409)})
    def result_xlsx(doc_id: DocId, below: Below = None) -> Response:
        info, doc = extracted(doc_id)
        data = export.xlsx_bytes(doc, s.review_below if below is None else below)
        return _download(data, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                         _stem(info) + ".xlsx")

    csv_response = {200: {"content": {"text/csv": {}}, "description": "UTF-8 CSV with a BOM"}, **_errors(404, 409)}

    @api_get("/api/documents/{doc_id}/kpis.csv", tags=["results"], summary="The KPI records as CSV",
             response_class=Response, responses=csv_response)
    def result_kpis(doc_id: DocId) -> Response:
        info, doc = extracted(doc_id)
        return _download("\ufeff" + export.kpi_csv(doc), "text/csv; charset=utf-8", _stem(info) + "_kpis.csv")

    @api_get("/api/documents/{doc_id}/cells.csv", tags=["results"],
             summary="Every cell with its confidence and review marks as CSV", response_class=Response,
             responses=csv_response)
    def result_cells(doc_id: DocId) -> Response:
        info, doc = extracted(doc_id)
        return _download("\ufeff" + export.cells_csv(doc), "text/csv; charset=utf-8", _stem(info) + "_cells.csv")

    @api_get("/api/documents/{doc_id}/tables", response_model=list[TableOut], tags=["results"],
             summary="The document's tables", responses=_errors(404, 409))
    def result_tables(doc_id: DocId) -> list[TableOut]:
        return _tables_out(doc_id, extracted(doc_id)[1])

    @api_get("/api/documents/{doc_id}/tables/{table_id}.csv", tags=["results"], summary="One table's grid as CSV",
             response_class=Response, responses=csv_response)
    def result_table(doc_id: DocId, table_id: Annotated[str, PathParam(max_length=100)],
                     fill_merged: bool = False) -> Response:
        info, doc = extracted(doc_id)
        table = next((t for t in doc.tables() if t.id == table_id), None)
        if table is None:
            raise ApiError(404, "not_found", f"no table {table_id} in document {doc_id}")
        return _download("\ufeff" + export.table_csv(table, fill_merged), "text/csv; charset=utf-8",
                         f"{_stem(info)}_{table_id}.csv")

    @api_get("/api/documents/{doc_id}/pages/{page}.png", tags=["review"], response_class=Response,
             summary="A page image as the boxes see it (upright, deskewed), or the crop under `box`",
             responses={200: {"content": {"image/png": {}}}, **_errors(404)})
    def page_png(doc_id: DocId, page: PageNo,
                 box: Optional[str] = Query(None, max_length=200,
                                            description="x0,y0,x1,y1 in page pixels: only this part"),
                 pad: float = Query(12.0, ge=0, le=500, allow_inf_nan=False,
                                    description="page pixels around the box")) -> Response:
        want = _parse_box(box)
        key = (doc_id, page)
        with cache_lock:
            hit = page_cache.get(key)
            if hit is not None:
                page_cache.move_to_end(key)
        if hit is None:
            png = store.page_image(doc_id, page)
            if png is None:
                raise ApiError(404, "not_found", f"no image kept for page {page} of document {doc_id}")
            if want is None:
                return Response(png, media_type="image/png")
            hit = (images.decode_png(png), store.page_size(doc_id, page)[0])
            with cache_lock:
                page_cache[key] = hit
                while len(page_cache) > 8:
                    page_cache.popitem(last=False)
        img, width = hit
        if want is None:
            return Response(images.encode_png(img), media_type="image/png")
        try:
            part = images.crop(img, width, want, pad)
        except ValueError as e:
            raise ApiError(422, "bad_request", str(e)) from None
        return Response(images.encode_png(part), media_type="image/png", headers={"Cache-Control": "max-age=3600"})

    # ---- review

    @api_get("/api/documents/{doc_id}/review/queue", response_model=QueueOut, tags=["review"],
             summary="Values waiting for review, riskiest first", responses=_errors(404, 409))
    def review_queue(doc_id: DocId, below: Below = None,
                     limit: int = Query(200, ge=1, le=5000)) -> QueueOut:
        """Cells breaking an arithmetic check first, then cells and KPI records by rising confidence
        (under `below`), each with its crop, headers and the reasons it was flagged."""
        th = s.review_below if below is None else below
        info, doc = extracted(doc_id)
        queue = store.review_queue(doc_id, th)
        items = review.enrich(doc_id, doc, queue[:limit], th)
        return QueueOut(document_id=doc_id, below=th, total=len(queue),
                        items=[ReviewItemOut(**i.as_dict()) for i in items],
                        progress=_progress_out(store.review_progress(doc_id, th)))

    @api_get("/api/documents/{doc_id}/review/progress", response_model=ProgressOut, tags=["review"],
             summary="How much of the document's review is done", responses=_errors(404))
    def review_progress(doc_id: DocId, below: Below = None) -> ProgressOut:
        store.get_document(doc_id)
        return _progress_out(store.review_progress(doc_id, s.review_below if below is None else below))

    @app.post("/api/documents/{doc_id}/reviews", status_code=201, response_model=ReviewOut, tags=["review"],
              summary="Accept or correct one value", responses=_errors(401, 404, 409, 422, 503))
    def post_review(doc_id: DocId, body: ReviewIn, who: str = Security(key_holder)) -> ReviewOut:
        """`accept`: the value is right (confidence 1.0). `correct`: `value` replaces it (confidence 1.0,
        source review) in every export. The decision is kept with who (the API key's name), when, the old and
        the new value."""
        if body.reviewer is not None and body.reviewer != who:
            raise ApiError(422, "bad_review", f"the reviewer is the API key's holder ({who}): a review cannot be "
                                              "recorded in another name (leave reviewer out)")
        info = store.get_document(doc_id)
        if info.status == "pending":
            raise ApiError(409, "not_ready", f"document {doc_id} is not extracted yet")
        try:
            rv = store.record_review(body.target, body.id, action=body.action, reviewer=who,
                                     new_value=body.value, field=body.field, document_id=doc_id)
        except ValueError as e:
            raise ApiError(422, "bad_review", str(e)) from None
        return _review_out(rv)

    @api_get("/api/documents/{doc_id}/reviews", response_model=list[ReviewOut], tags=["review"],
             summary="Every review decision on the document, oldest first", responses=_errors(404))
    def list_reviews(doc_id: DocId) -> list[ReviewOut]:
        store.get_document(doc_id)
        return [_review_out(r) for r in store.reviews(doc_id)]

    # ---- service

    @app.get("/api/me", response_model=KeyHolderOut, tags=["service"], summary="Whose API key this is",
             responses=_errors(401))
    def me(who: str = Security(key_holder)) -> KeyHolderOut:
        """The name of the key in `X-API-Key` (the review page shows it; reviews are recorded in it)."""
        return KeyHolderOut(name=who)

    @app.get("/healthz", response_model=HealthOut, tags=["service"], summary="Liveness, the database and counts",
             responses={503: {"model": HealthOut, "description": "the database does not take writes or cannot be "
                                                                 "reached"}})
    def health() -> JSONResponse:
        with probe_lock:  # the write probe takes the write lock for a moment: at most every 5 s, however
            if time.monotonic() - probed[0] > 5:  # often /healthz (open to all) is asked
                probed[:] = [time.monotonic(), store.write_problem()]
            problem = probed[1]
        try:
            c = store.counts()
        except DBAPIError:
            c, problem = {"jobs": {}, "documents": {}}, problem or "unavailable"
        out = HealthOut(status="degraded" if problem else "ok", database=problem or "ok", version=__version__,
                        workers=pool.alive() if pool else 0, workers_ready=pool.ready() if pool else 0,
                        jobs=c["jobs"], documents=c["documents"])
        return JSONResponse(out.model_dump(), status_code=503 if problem else 200)

    # ---- the review page (static)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/review")

    @app.get("/review", include_in_schema=False)
    @app.get("/review/{doc_id}", include_in_schema=False)
    def review_page(doc_id: Optional[int] = None) -> FileResponse:
        return FileResponse(STATIC / "review.html", media_type="text/html")

    return app
