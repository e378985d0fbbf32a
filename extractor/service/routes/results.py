"""Results: the extracted document, reviews applied, as JSON, Excel and CSV downloads (with a
Content-Disposition safe for any uploaded file name), and its tables."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Response
from fastapi import Path as PathParam

from ... import export
from ...store import DocumentInfo
from .deps import ApiError, Below, DocId, SettingsDep, StoreDep, api_get, extracted, threshold
from .schemas import TableOut, errors, tables_out

router = APIRouter()

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_RESPONSE = {200: {"content": {"text/csv": {}}, "description": "UTF-8 CSV with a BOM"}, **errors(404, 409)}


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


def _stem(info: DocumentInfo) -> str:
    return Path(info.source_name).stem or f"document-{info.id}"


@api_get(router, "/api/documents/{doc_id}/result.json", tags=["results"], summary="The document as JSON",
         response_class=Response, responses={200: {"content": {"application/json": {}},
                                                   "description": "the Document (schema: `extractor schema`), "
                                                                  "reviewed values in place"},
                                              **errors(404, 409)})
def result_json(doc_id: DocId, *, store: StoreDep) -> Response:
    info, doc = extracted(store, doc_id)
    return _download(doc.model_dump_json(indent=1), "application/json", _stem(info) + ".json")


@api_get(router, "/api/documents/{doc_id}/result.xlsx", tags=["results"],
         summary="Excel workbook, one sheet per table", response_class=Response,
         responses={200: {"content": {XLSX: {}},
                          "description": "low-confidence values filled light red, reviewed ones green"},
                    **errors(404, 409)})
def result_xlsx(doc_id: DocId, below: Below = None, *, store: StoreDep, s: SettingsDep) -> Response:
    info, doc = extracted(store, doc_id)
    return _download(export.xlsx_bytes(doc, threshold(s, below)), XLSX, _stem(info) + ".xlsx")


@api_get(router, "/api/documents/{doc_id}/kpis.csv", tags=["results"], summary="The KPI records as CSV",
         response_class=Response, responses=CSV_RESPONSE)
def result_kpis(doc_id: DocId, *, store: StoreDep) -> Response:
    info, doc = extracted(store, doc_id)
    return _download("\ufeff" + export.kpi_csv(doc), "text/csv; charset=utf-8", _stem(info) + "_kpis.csv")


@api_get(router, "/api/documents/{doc_id}/cells.csv", tags=["results"],
         summary="Every cell with its confidence and review marks as CSV", response_class=Response,
         responses=CSV_RESPONSE)
def result_cells(doc_id: DocId, *, store: StoreDep) -> Response:
    info, doc = extracted(store, doc_id)
    return _download("\ufeff" + export.cells_csv(doc), "text/csv; charset=utf-8", _stem(info) + "_cells.csv")


@api_get(router, "/api/documents/{doc_id}/tables", response_model=list[TableOut], tags=["results"],
         summary="The document's tables", responses=errors(404, 409))
def result_tables(doc_id: DocId, *, store: StoreDep) -> list[TableOut]:
    return tables_out(doc_id, extracted(store, doc_id)[1])


@api_get(router, "/api/documents/{doc_id}/tables/{table_id}.csv", tags=["results"],
         summary="One table's grid as CSV", response_class=Response, responses=CSV_RESPONSE)
def result_table(doc_id: DocId, table_id: Annotated[str, PathParam(max_length=100)],
                 fill_merged: bool = False, *, store: StoreDep) -> Response:
    info, doc = extracted(store, doc_id)
    table = next((t for t in doc.tables() if t.id == table_id), None)
    if table is None:
        raise ApiError(404, "not_found", f"no table {table_id} in document {doc_id}")
    return _download("\ufeff" + export.table_csv(table, fill_merged), "text/csv; charset=utf-8",
                     f"{_stem(info)}_{table_id}.csv")
