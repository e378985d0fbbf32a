"""Review: the page images the review page shows (whole, or the crop under a value's box), the
review queue and progress, and the reviewers' decisions (recorded in the API key's name)."""
from __future__ import annotations

import math
from typing import Optional

from fastapi import APIRouter, Query, Request, Response, Security

from .. import images
from ..review import enrich
from .deps import (ApiError, Below, DocId, PageNo, SettingsDep, StoreDep, api_get, extracted, key_holder,
                   threshold)
from .schemas import (ProgressOut, QueueOut, ReviewIn, ReviewItemOut, ReviewOut, errors, progress_out,
                      review_out)

MAX_COORD = 1e6  # a box coordinate (page pixels) above this is no page's

router = APIRouter()


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


@api_get(router, "/api/documents/{doc_id}/pages/{page}.png", tags=["review"], response_class=Response,
         summary="A page image as the boxes see it (upright, deskewed), or the crop under `box`",
         responses={200: {"content": {"image/png": {}}}, **errors(404)})
def page_png(request: Request, doc_id: DocId, page: PageNo,
             box: Optional[str] = Query(None, max_length=200,
                                        description="x0,y0,x1,y1 in page pixels: only this part"),
             pad: float = Query(12.0, ge=0, le=500, allow_inf_nan=False,
                                description="page pixels around the box"), *, store: StoreDep) -> Response:
    want = _parse_box(box)
    cache = request.app.state.page_cache
    hit = cache.get((doc_id, page))
    if hit is None:
        png = store.page_image(doc_id, page)
        if png is None:
            raise ApiError(404, "not_found", f"no image kept for page {page} of document {doc_id}")
        if want is None:
            return Response(png, media_type="image/png")
        hit = (images.decode_png(png), store.page_size(doc_id, page)[0])
        cache.put((doc_id, page), hit)
    img, width = hit
    if want is None:
        return Response(images.encode_png(img), media_type="image/png")
    try:
        part = images.crop(img, width, want, pad)
    except ValueError as e:
        raise ApiError(422, "bad_request", str(e)) from None
    return Response(images.encode_png(part), media_type="image/png", headers={"Cache-Control": "max-age=3600"})


@api_get(router, "/api/documents/{doc_id}/review/queue", response_model=QueueOut, tags=["review"],
         summary="Values waiting for review, riskiest first", responses=errors(404, 409))
def review_queue(doc_id: DocId, below: Below = None, limit: int = Query(200, ge=1, le=5000), *,
                 store: StoreDep, s: SettingsDep) -> QueueOut:
    """Cells breaking an arithmetic check first, then cells and KPI records by rising confidence
    (under `below`), each with its crop, headers and the reasons it was flagged."""
    th = threshold(s, below)
    info, doc = extracted(store, doc_id)
    queue = store.review_queue(doc_id, th)
    items = enrich(doc_id, doc, queue[:limit], th)
    return QueueOut(document_id=doc_id, below=th, total=len(queue),
                    items=[ReviewItemOut(**i.as_dict()) for i in items],
                    progress=progress_out(store.review_progress(doc_id, th)))


@api_get(router, "/api/documents/{doc_id}/review/progress", response_model=ProgressOut, tags=["review"],
         summary="How much of the document's review is done", responses=errors(404))
def review_progress(doc_id: DocId, below: Below = None, *, store: StoreDep, s: SettingsDep) -> ProgressOut:
    store.get_document(doc_id)
    return progress_out(store.review_progress(doc_id, threshold(s, below)))


@router.post("/api/documents/{doc_id}/reviews", status_code=201, response_model=ReviewOut, tags=["review"],
             summary="Accept or correct one value", responses=errors(401, 404, 409, 422, 503))
def post_review(doc_id: DocId, body: ReviewIn, who: str = Security(key_holder), *, store: StoreDep) -> ReviewOut:
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
    return review_out(rv)


@api_get(router, "/api/documents/{doc_id}/reviews", response_model=list[ReviewOut], tags=["review"],
         summary="Every review decision on the document, oldest first", responses=errors(404))
def list_reviews(doc_id: DocId, *, store: StoreDep) -> list[ReviewOut]:
    store.get_document(doc_id)
    return [review_out(r) for r in store.reviews(doc_id)]
