"""The review page (static HTML, no data, open to all): ``/`` leads to it, ``/review`` and
``/review/{doc_id}`` serve it."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse

STATIC = Path(__file__).resolve().parents[1] / "static"

router = APIRouter()


@router.get("/", include_in_schema=False)
def root() -> RedirectResponse:
    return RedirectResponse("/review")


@router.get("/review", include_in_schema=False)
@router.get("/review/{doc_id}", include_in_schema=False)
def review_page(doc_id: Optional[int] = None) -> FileResponse:
    return FileResponse(STATIC / "review.html", media_type="text/html")
