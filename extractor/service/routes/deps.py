"""What the route modules share, reached through ``request.app.state`` (``create_app`` sets it):
the store, the settings, the worker pool, the API key ring, the page image cache and the health
probe; the API key dependency (``key_holder``), ``api_get`` (a read route, needing a key),
``ApiError``, the path and query parameter types, and ``extracted`` (a stored, extracted document)."""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Annotated, Any, Optional

from fastapi import APIRouter, Depends, Query, Request, Security
from fastapi import Path as PathParam
from fastapi.security import APIKeyHeader

from ...config import ServiceSettings
from ...model import Document
from ...store import DocumentInfo, NotFoundError, Store, StoreError
from .schemas import MAX_ID, errors

API_KEY_HEADER = "X-API-Key"
KEY_HOLDER = "extractor.key_holder"  # the ASGI scope entry ApiKeyGuard leaves the key's name in

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


# ------------------------------------------------------------------ state create_app keeps

class PageCache:
    """The last 8 page images decoded for crops: (document id, page) -> (image, page width)."""

    def __init__(self, size: int = 8):
        self.size, self._items, self._lock = size, OrderedDict(), threading.Lock()

    def get(self, key: tuple[int, int]) -> Any:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
        return hit

    def put(self, key: tuple[int, int], value: Any) -> None:
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)


class WriteProbe:
    """Whether the database takes writes (``Store.write_problem``), asked at most every 5 s however
    often /healthz (open to all) is: the probe takes the write lock for a moment."""

    def __init__(self) -> None:
        self._at, self._problem, self._lock = -1e9, None, threading.Lock()

    def problem(self, store: Store) -> Optional[str]:
        with self._lock:
            if time.monotonic() - self._at > 5:
                self._at, self._problem = time.monotonic(), store.write_problem()
            return self._problem


async def get_store(request: Request) -> Store:
    return request.app.state.store


async def get_settings(request: Request) -> ServiceSettings:
    return request.app.state.settings


StoreDep = Annotated[Store, Depends(get_store)]
SettingsDep = Annotated[ServiceSettings, Depends(get_settings)]


def threshold(settings: ServiceSettings, below: Optional[float]) -> float:
    """The review threshold a request asked for, else the service's (``review_below``)."""
    return settings.review_below if below is None else below


# ------------------------------------------------------------------ the API key

api_key = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, scheme_name="ApiKey",
                       description="a key from the service's api_keys: every request under /api needs one")


def key_holder(request: Request, key: Optional[str] = Security(api_key)) -> str:
    """The name of the API key's holder (ApiKeyGuard checked the key before the request got here;
    checked again if it did not run); 401 without a valid key."""
    who = request.scope.get(KEY_HOLDER)
    if who is None:
        who = request.app.state.ring.holder(key.encode("latin-1", "replace")) if key else None
        if who is None:
            raise ApiError(401, "api_key_invalid" if key else "api_key_missing", "this request needs a valid "
                           f"API key in the {API_KEY_HEADER} header",
                           {"WWW-Authenticate": f'ApiKey header="{API_KEY_HEADER}"'})
    return who


def api_get(router: APIRouter, path: str, **kw: Any) -> Any:
    """``router.get`` for a read: it needs a key like every /api request."""
    kw["responses"] = {**errors(401, 422), **kw.get("responses", {})}
    return router.get(path, dependencies=[Security(key_holder)], **kw)


def extracted(store: Store, doc_id: int) -> tuple[DocumentInfo, Document]:
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
