"""Documents: the list and one document (status, tables, review progress, links)."""
from __future__ import annotations

from typing import Literal, Optional

from fastapi import APIRouter

from ...store import DocumentInfo, Store
from .deps import Below, DocId, SettingsDep, StoreDep, api_get, threshold
from .schemas import DocumentOut, errors, progress_out, tables_out

router = APIRouter()


def _document_out(store: Store, info: DocumentInfo, below: float, with_tables: bool) -> DocumentOut:
    d = f"/api/documents/{info.id}"
    out = DocumentOut(id=info.id, name=info.source_name, content_hash=info.content_hash, status=info.status,
                      n_pages=info.n_pages, created_at=info.created_at, updated_at=info.updated_at,
                      jobs=[j.id for j in store.list_jobs(doc_id=info.id)], links={"self": d})
    if info.status != "pending":
        out.review = progress_out(store.review_progress(info.id, below))
        out.links.update(json=f"{d}/result.json", xlsx=f"{d}/result.xlsx", kpis_csv=f"{d}/kpis.csv",
                         cells_csv=f"{d}/cells.csv", review=f"/review/{info.id}", queue=f"{d}/review/queue")
        if with_tables:
            out.tables = tables_out(info.id, store.load_document(info.id))
    return out


@api_get(router, "/api/documents", response_model=list[DocumentOut], tags=["documents"],
         summary="List documents with their review progress")
def list_documents(status: Optional[Literal["pending", "done", "partial", "failed"]] = None,
                   below: Below = None, *, store: StoreDep, s: SettingsDep) -> list[DocumentOut]:
    th = threshold(s, below)
    return [_document_out(store, i, th, False) for i in store.list_documents(status)]


@api_get(router, "/api/documents/{doc_id}", response_model=DocumentOut, tags=["documents"],
         summary="A document: status, tables, review progress, links", responses=errors(404))
def get_document(doc_id: DocId, below: Below = None, *, store: StoreDep, s: SettingsDep) -> DocumentOut:
    return _document_out(store, store.get_document(doc_id), threshold(s, below), True)
