"""The service itself: whose API key a request carries (``/api/me``) and liveness (``/healthz``,
open to all)."""
from __future__ import annotations

from fastapi import APIRouter, Request, Security
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError

from ... import __version__
from .deps import StoreDep, key_holder
from .schemas import HealthOut, KeyHolderOut, errors

router = APIRouter()


@router.get("/api/me", response_model=KeyHolderOut, tags=["service"], summary="Whose API key this is",
            responses=errors(401))
def me(who: str = Security(key_holder)) -> KeyHolderOut:
    """The name of the key in `X-API-Key` (the review page shows it; reviews are recorded in it)."""
    return KeyHolderOut(name=who)


@router.get("/healthz", response_model=HealthOut, tags=["service"], summary="Liveness, the database and counts",
            responses={503: {"model": HealthOut, "description": "the database does not take writes or cannot be "
                                                                "reached"}})
def health(request: Request, store: StoreDep) -> JSONResponse:
    problem = request.app.state.write_probe.problem(store)
    try:
        c = store.counts()
    except DBAPIError:
        c, problem = {"jobs": {}, "documents": {}}, problem or "unavailable"
    pool = request.app.state.pool
    out = HealthOut(status="degraded" if problem else "ok", database=problem or "ok", version=__version__,
                    workers=pool.alive() if pool else 0, workers_ready=pool.ready() if pool else 0,
                    jobs=c["jobs"], documents=c["documents"])
    return JSONResponse(out.model_dump(), status_code=503 if problem else 200)
