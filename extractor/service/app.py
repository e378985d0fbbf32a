"""The HTTP service: ``create_app(settings)`` builds the FastAPI application (run it with uvicorn, or
``extractor serve``).

Uploads become jobs in the store (the file, its document and the job written in one transaction
before the 202 is sent); job workers (``worker.py``) run the real pipeline on them; results come out
of the store as JSON, CSV and Excel with reviewers' corrections in place; the review page
(``/review``) works the review queue. Every request under ``/api`` (reads too) needs an API key in
``X-API-Key``, checked before anything else (an upload's body is not read without one); the key's name
is the reviewer. Errors are JSON ``{"error": code, "detail": message}``: 4xx for the request, 503
``database_unavailable`` for a database that does not take writes, 500 ``internal_error`` for the rest.

This module holds the middleware (upload size, API keys, security headers), the error handlers and
``create_app``; the routes are in ``routes/`` (one module a group, see its docstring).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
import sys
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Optional

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..config import ServiceSettings
from ..store import NotFoundError, Store
from .routes import ROUTERS
from .routes.deps import API_KEY_HEADER, KEY_HOLDER, ApiError, PageCache, WriteProbe
from .routes.jobs import UPLOAD_PATH
from .worker import WorkerPool, recover_jobs

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().with_name("static")
MULTIPART_SLACK = 64 * 1024  # multipart framing around the file, allowed above the upload limit
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


# ------------------------------------------------------------------ error answers

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


async def _api_error(request: Request, e: ApiError) -> JSONResponse:
    return JSONResponse({"error": e.code, "detail": e.detail}, status_code=e.status, headers=e.headers)


async def _not_found(request: Request, e: NotFoundError) -> JSONResponse:
    return JSONResponse({"error": "not_found", "detail": str(e)}, status_code=404)


async def _invalid(request: Request, e: RequestValidationError) -> JSONResponse:
    return JSONResponse({"error": "invalid_request", "detail": _validation_detail(e)}, status_code=422)


async def _http(request: Request, e: StarletteHTTPException) -> JSONResponse:
    code = {404: "not_found", 405: "method_not_allowed"}.get(e.status_code, "bad_request")
    return JSONResponse({"error": code, "detail": str(e.detail)[:200]}, status_code=e.status_code,
                        headers=e.headers)


async def _database(request: Request, e: DBAPIError) -> JSONResponse:
    status, code, detail = _db_failure(e)
    log.warning("%s %s: database error %s: %s", request.method, request.url.path, type(e).__name__,
                str(getattr(e, "orig", "") or "").splitlines()[:1])
    return JSONResponse({"error": code, "detail": detail}, status_code=status,
                        headers={"Retry-After": "60"} if status == 503 else None)


async def _unexpected(request: Request, e: Exception) -> JSONResponse:
    # Starlette's outermost middleware sends this and raises the error on, to the server's log
    return JSONResponse({"error": "internal_error", "detail": "an unexpected error; it has been logged"},
                        status_code=500, headers={k.decode(): v.decode() for k, v in SECURITY_HEADERS}
                        | {"Content-Security-Policy": API_CSP})


ERROR_HANDLERS: dict[Any, Any] = {ApiError: _api_error, NotFoundError: _not_found, RequestValidationError: _invalid,
                                  StarletteHTTPException: _http, DBAPIError: _database, Exception: _unexpected}


# ------------------------------------------------------------------ the application

# what an APIRoute keeps of its decorator's arguments (``_include`` hands them on)
ROUTE_ARGS = ("response_model", "status_code", "tags", "dependencies", "summary", "description",
              "response_description", "responses", "deprecated", "methods", "operation_id", "response_model_include",
              "response_model_exclude", "response_model_by_alias", "response_model_exclude_unset",
              "response_model_exclude_defaults", "response_model_exclude_none", "include_in_schema",
              "response_class", "name", "callbacks", "openapi_extra", "generate_unique_id_function",
              "strict_content_type")


def _include(app: FastAPI, router: APIRouter) -> None:
    """``router``'s routes made the app's own, as ``app.get`` and ``app.post`` make them: ``app.routes``
    lists each APIRoute, ``app.dependency_overrides`` reaches it (this FastAPI's ``include_router`` keeps
    the router as one nested entry of ``app.routes`` instead)."""
    for route in router.routes:
        app.router.add_api_route(route.path, route.endpoint, route_class_override=type(route),
                                 **{a: getattr(route, a) for a in ROUTE_ARGS})


def _api_keys(s: ServiceSettings) -> dict[str, str]:
    keys = dict(s.api_keys)
    if not keys:  # never an open service: a key for this run, printed (not logged) for whoever started it
        keys = {"admin": secrets.token_urlsafe(24)}
        print(f"extractor serve: no API keys configured; for this run every /api request needs the header "
              f"{API_KEY_HEADER}: {keys['admin']} (its name: admin)", file=sys.stderr, flush=True)
    return keys


@asynccontextmanager
async def _lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
    store, pool = app.state.store, app.state.pool
    store.upgrade()
    recover_jobs(store, app.state.settings.lease_seconds)
    if pool is not None:
        pool.start()
    try:
        yield
    finally:
        if pool is not None:
            pool.stop()
        store.close()


def create_app(settings: Optional[ServiceSettings] = None, *, start_workers: bool = True) -> FastAPI:
    """The service on ``settings.db``. ``start_workers=False``: the API alone (another process, or
    another instance on the same database, runs the jobs)."""
    s = settings or ServiceSettings()
    store = Store(s.db)
    ring = KeyRing(_api_keys(s))
    pool = WorkerPool(s) if start_workers else None
    app = FastAPI(
        title="extractor", version=__version__, lifespan=_lifespan,
        description="OCR and table extraction for scanned Chinese budget disclosures: upload a PDF or image, "
                    "follow the job, fetch the tables as JSON, CSV or Excel, and review doubtful values. "
                    f"Uploads and reviews need an API key in the `{API_KEY_HEADER}` header.")
    app.state.store, app.state.settings, app.state.pool, app.state.ring = store, s, pool, ring
    app.state.page_cache, app.state.write_probe = PageCache(), WriteProbe()
    app.add_middleware(UploadLimit, max_bytes=int(s.max_upload_mb * 1_000_000), path=UPLOAD_PATH)
    app.add_middleware(ApiKeyGuard, ring=ring)  # before the size guard: no key, nothing read, no limit told
    app.add_middleware(SecurityHeaders)  # outermost: on every answer, refusals included
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for exc, handler in ERROR_HANDLERS.items():
        app.add_exception_handler(exc, handler)
    for router in ROUTERS:
        _include(app, router)
    return app
