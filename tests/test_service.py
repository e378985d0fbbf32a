"""The HTTP service (extractor/service) without the pipeline: every bad request gets its 4xx with a
message and leaves no record behind; uploads are stored with their document and job in one go
(the same file twice is one document and one job); the review API on a stored document (queue
order, reasons, headers, crops; decisions kept with who, when, old and new value; the queue
shrinks); corrected values in the JSON, CSV and Excel exports; the OpenAPI document matches the
routes (docs/openapi.json is it); 20 concurrent uploads over loopback HTTP, none lost; orphaned
jobs recovered; ``extractor review-export``.

The whole flow with the real pipeline, a restart under a running job and the review page in a
browser are in test_service_e2e.py."""
from __future__ import annotations

import csv
import io
import json
import os
import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from PIL import Image

from extractor.config import ServiceSettings
from extractor.model import SCHEMA_VERSION
from extractor.service import create_app
from extractor.service.review import cell_headers, is_amount
from extractor.service.worker import HOST, recover_jobs
from extractor.store import Store
from synth.pdf import write_image_pdf
from test_store import HASH_A, _row_counts, budget_doc, db_url  # noqa: F401  (db_url: SQLite, and PostgreSQL when configured)

ROOT = Path(__file__).resolve().parents[1]
KEY, KEY_QA = "key-wang-fang", "key-qa"
KEYS = {"王芳": KEY, "qa": KEY_QA}
PAGE_W, PAGE_H = 1654, 2339  # budget_doc's page size


def _png(w: int, h: int, value: int = 255) -> bytes:
    buf = io.BytesIO()
    Image.new("L", (w, h), value).save(buf, format="PNG")
    return buf.getvalue()


def _pdf(path: Path, pages: int = 1, seed: int = 0) -> bytes:
    """A small image-only PDF; ``seed`` makes its content (and so its hash) its own."""
    rng = np.random.default_rng(seed)
    imgs = []
    for _ in range(pages):
        a = np.full((300, 220), 255, np.uint8)
        y, x = rng.integers(20, 240), rng.integers(20, 160)
        a[y:y + 30, x:x + 40] = 0
        imgs.append(a)
    write_image_pdf(path, imgs, dpi=72)
    return path.read_bytes()


@pytest.fixture
def settings(db_url):  # noqa: F811
    return ServiceSettings(db=db_url, api_keys=KEYS, max_upload_mb=0.5, max_pages=3, max_pixels=2_000_000)


@pytest.fixture
def client(settings):
    """The app with KEY sent on every request (``_send`` sends another key, or none)."""
    with TestClient(create_app(settings, start_workers=False), headers={"X-API-Key": KEY}) as c:
        yield c


@pytest.fixture
def store(settings, client):
    s = Store(settings.db)  # the schema was made by the app at start
    yield s
    s.close()


@pytest.fixture
def seeded(store):
    """budget_doc (a planted misread that breaks row_sum, a KPI record) with its page image kept at
    half size, as a worker keeps a scaled-down page."""
    img = np.full((PAGE_H // 2, PAGE_W // 2), 255, np.uint8)
    img[125:150, 250:350] = 0  # ink in the box of cell p1-t0:3:2 ([500, 250, 700, 300.5] at full size)
    import cv2

    png = cv2.imencode(".png", img)[1].tobytes()
    return store.save_document(budget_doc(), HASH_A, images={1: png})


def _send(client, method: str, url: str, key: str | None = KEY, **kw):
    """A request with ``key`` in X-API-Key, or with no such header at all (None)."""
    req = client.build_request(method, url, **kw)
    if key is None:
        del req.headers["X-API-Key"]
    else:
        req.headers["X-API-Key"] = key
    return client.send(req)


def _upload(client, data: bytes, name: str = "scan.pdf", key: str | None = KEY, media: str = "application/pdf"):
    return _send(client, "POST", "/api/jobs", key, files={"file": (name, data, media)})


def _err(r, status: int, code: str, *words: str) -> dict:
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert body["error"] == code, body
    assert isinstance(body["detail"], str) and body["detail"]
    for w in words:
        assert w in body["detail"], body
    return body


# ------------------------------------------------------------------ uploads

def test_upload_is_stored_with_its_document_and_job(client, store, tmp_path):
    data = _pdf(tmp_path / "a.pdf", pages=2)
    r = _upload(client, data, name="部门预算.pdf")
    assert r.status_code == 202, r.text
    job = r.json()
    assert r.headers["location"] == f"/api/jobs/{job['id']}"
    assert (job["state"], job["pages_done"], job["pages_total"], job["duplicate"]) == ("queued", 0, 2, False)
    info = store.get_document(job["document_id"])
    assert (info.status, info.n_pages, info.source_name) == ("pending", 2, "部门预算.pdf")
    up = store.load_upload(info.id)
    assert up.data == data and up.filename == "部门预算.pdf" and up.media_type == "application/pdf"
    assert client.get(f"/api/jobs/{job['id']}").json()["state"] == "queued"

    counts = _row_counts(store)
    again = _upload(client, data, name="renamed.pdf", key=KEY_QA)
    assert again.status_code == 202 and again.json()["id"] == job["id"] and again.json()["duplicate"]
    assert _row_counts(store) == counts
    # the results are not there yet
    _err(client.get(f"/api/documents/{info.id}/result.json"), 409, "not_ready", "not extracted yet")
    # an image upload
    png = io.BytesIO()
    Image.new("L", (400, 300), 255).save(png, format="PNG")
    r = _upload(client, png.getvalue(), name="page.png", media="image/png")
    assert r.status_code == 202 and r.json()["pages_total"] == 1


def test_bad_requests_get_their_4xx_and_leave_nothing_behind(client, store, seeded, tmp_path):
    import pikepdf

    good = _pdf(tmp_path / "good.pdf")
    with pikepdf.open(tmp_path / "good.pdf") as pdf:
        pdf.save(tmp_path / "enc.pdf", encryption=pikepdf.Encryption(user="secret", owner="owner"))
    big = io.BytesIO()
    Image.new("L", (2000, 1100), 255).save(big, format="PNG")  # 2.2 Mpx, over the 2 Mpx limit
    before = _row_counts(store)

    _err(client.post("/api/jobs", headers={"X-API-Key": KEY}), 400, "no_file", "'file'")
    _err(client.post("/api/jobs", json={"file": "x"}, headers={"X-API-Key": KEY}), 400, "no_file")
    _err(_upload(client, b""), 400, "no_file", "empty")
    _err(_upload(client, "会议纪要，不是 PDF".encode(), name="notes.pdf"), 415, "unsupported_type", "not a PDF")
    _err(_upload(client, b"%PDF-1.7\n" + bytes(range(256)) * 20, name="broken.pdf"), 422, "unreadable", "corrupt")
    _err(_upload(client, (tmp_path / "enc.pdf").read_bytes(), name="enc.pdf"), 422, "unreadable", "encrypted")
    _err(_upload(client, good + b"\0" * 600_000), 413, "too_large", "0.5 MB")
    _err(_upload(client, _pdf(tmp_path / "four.pdf", pages=4)), 413, "too_many_pages", "4 pages", "limit is 3")
    _err(_upload(client, big.getvalue(), name="big.png", media="image/png"), 413, "too_many_pixels", "2000x1100")
    _err(_upload(client, good, key=None), 401, "api_key_missing", "X-API-Key")
    _err(_upload(client, good, key="wrong"), 401, "api_key_invalid")
    _err(client.get("/api/jobs/999999"), 404, "not_found", "job")
    _err(client.get("/api/documents/999999"), 404, "not_found", "document")
    _err(client.get("/api/documents/999999/result.xlsx"), 404, "not_found")
    _err(client.get(f"/api/documents/{seeded}/tables/p9-t9.csv"), 404, "not_found", "p9-t9")
    _err(client.get(f"/api/documents/{seeded}/pages/2.png"), 404, "not_found", "no image")
    _err(client.get(f"/api/documents/{seeded}/pages/1.png?box=1,2,3"), 422, "bad_request", "four numbers")
    cell = store.find_cell(seeded, "p1-t0:3:2")
    review = {"target": "cell", "id": cell, "action": "correct", "value": "821.29"}
    _err(_send(client, "POST", f"/api/documents/{seeded}/reviews", None, json=review), 401, "api_key_missing")
    _err(_send(client, "POST", f"/api/documents/{seeded}/reviews", "nope", json=review), 401, "api_key_invalid")
    _err(client.post(f"/api/documents/{seeded}/reviews", json={**review, "id": 10**7}, headers={"X-API-Key": KEY}),
         404, "not_found")
    _err(client.post(f"/api/documents/{seeded + 1}/reviews", json=review, headers={"X-API-Key": KEY}), 404, "not_found")
    _err(client.post(f"/api/documents/{seeded}/reviews", json={**review, "value": None}, headers={"X-API-Key": KEY}),
         422, "bad_review", "new_value")
    r = client.post(f"/api/documents/{seeded}/reviews", json={**review, "action": "approve"}, headers={"X-API-Key": KEY})
    assert r.status_code == 422 and "action" in r.text  # FastAPI's own validation message
    assert _row_counts(store) == before
    assert store.reviews(seeded) == []


def test_an_upload_over_the_limit_is_refused_before_its_body_is_read(settings):
    """The size guard answers from the Content-Length, without reading the body."""
    from extractor.service.app import UploadLimit

    async def app(scope, receive, send):  # the application must never be reached
        raise AssertionError("reached the app")

    sent = []

    async def send(msg):
        sent.append(msg)

    async def receive():
        raise AssertionError("read the body")

    import asyncio

    guard = UploadLimit(app, max_bytes=1000, path="/api/jobs")
    scope = {"type": "http", "method": "POST", "path": "/api/jobs", "headers": [(b"content-length", b"999999999")]}
    asyncio.run(guard(scope, receive, send))
    assert sent[0]["status"] == 413 and json.loads(sent[1]["body"])["error"] == "too_large"


# ------------------------------------------------------------------ review

def test_review_queue_decisions_and_exports(client, store, seeded):
    q = client.get(f"/api/documents/{seeded}/review/queue?below=0.9").json()
    items = q["items"]
    assert q["total"] == len(items) == q["progress"]["queue"] > 3
    broken = [i for i in items if i["broken_checks"]]
    assert items[:len(broken)] == broken  # broken checks first, then by rising confidence
    rest = items[len(broken):]
    assert [i["confidence"] for i in rest] == sorted(i["confidence"] for i in rest)
    bad = next(i for i in items if i["ref"] == "p1-t0:3:2")
    assert bad["value"] == "871.29" and bad["page"] == 1 and bad["table_title"] == "2024年部门支出总表"
    assert any(r.startswith("breaks row_sum") and "vs" in r for r in bad["reasons"]), bad["reasons"]
    assert bad["row_headers"] == ["2013101", "行政运行"] and bad["col_headers"] == ["合计"]
    kpi = next(i for i in items if i["target"] == "kpi")
    assert kpi["value"] == "≥98%" and kpi["row_headers"] == ["产出指标", "质量指标", "刊发新闻达标率"]
    assert any("confidence 0.55" in r for r in kpi["reasons"]) and kpi["image_url"]

    # the crop: the cell's box (and 12 px around it) of the half-size page image
    r = client.get(bad["image_url"])
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    crop = np.asarray(Image.open(io.BytesIO(r.content)))
    assert crop.shape == (157 - 119, 356 - 244)  # (box ± 12 px) / 2, rounded outwards
    assert (crop < 128).mean() > 0.4  # the ink planted in that box
    whole = Image.open(io.BytesIO(client.get(f"/api/documents/{seeded}/pages/1.png").content))
    assert whole.size == (PAGE_W // 2, PAGE_H // 2)

    # decisions: a correction, an acceptance (who: the key's holder, always)
    h = {"X-API-Key": KEY}
    r = client.post(f"/api/documents/{seeded}/reviews", headers=h,
                    json={"target": "cell", "id": bad["id"], "action": "correct", "value": "821.29"})
    assert r.status_code == 201, r.text
    rv = r.json()
    assert (rv["reviewer"], rv["old_value"], rv["new_value"], rv["old_source"]) == ("王芳", "871.29", "821.29", "ocr")
    assert datetime.fromisoformat(rv["created_at"]) > datetime.now(timezone.utc) - timedelta(minutes=1)
    r = client.post(f"/api/documents/{seeded}/reviews", headers={"X-API-Key": KEY_QA},
                    json={"target": "kpi", "id": kpi["id"], "action": "accept", "reviewer": "qa"})
    assert r.status_code == 201 and r.json()["reviewer"] == "qa" and r.json()["new_value"] == "≥98%"
    q2 = client.get(f"/api/documents/{seeded}/review/queue?below=0.9").json()
    assert q2["total"] == q["total"] - 2 and {i["ref"] for i in q2["items"]} == {i["ref"] for i in items} - {bad["ref"], kpi["ref"]}
    p = client.get(f"/api/documents/{seeded}/review/progress?below=0.9").json()
    assert (p["cells_reviewed"], p["cells_corrected"], p["kpis_reviewed"], p["kpis_corrected"]) == (1, 1, 1, 0)
    assert p["fraction_done"] == pytest.approx(2 / q["total"], abs=1e-4)
    hist = client.get(f"/api/documents/{seeded}/reviews").json()
    assert [(x["action"], x["reviewer"], x["old_value"], x["new_value"]) for x in hist] == [
        ("correct", "王芳", "871.29", "821.29"), ("accept", "qa", "≥98%", "≥98%")]
    doc_info = client.get(f"/api/documents/{seeded}").json()
    assert doc_info["review"]["cells_corrected"] == 1 and doc_info["tables"][0]["csv"].endswith("/tables/p1-t0.csv")

    # every export shows the correction, marked
    r = client.get(f"/api/documents/{seeded}/result.json")
    assert "attachment" in r.headers["content-disposition"]
    doc = r.json()
    cell = next(c for c in doc["pages"][0]["tables"][0]["cells"] if (c["row"], c["col"]) == (3, 2))
    assert (cell["text"], cell["confidence"], cell["source"], cell["reviewed"]) == ("821.29", 1.0, "review", True)
    assert doc["schema_version"] == SCHEMA_VERSION
    assert (doc["kpis"][0]["reviewed"], doc["kpis"][0]["source"], doc["kpis"][0]["confidence"]) == (True, "ocr", 1.0)
    grid = list(csv.reader(io.StringIO(client.get(f"/api/documents/{seeded}/tables/p1-t0.csv").content.decode("utf-8-sig"))))
    assert grid[3][2] == "821.29" and grid[0] == ["科目编码", "科目名称", "合计", "基本支出", "项目支出"]
    cells = list(csv.DictReader(io.StringIO(client.get(f"/api/documents/{seeded}/cells.csv").content.decode("utf-8-sig"))))
    marked = next(c for c in cells if (c["row"], c["col"]) == ("3", "2"))
    assert (marked["text"], marked["source"], marked["reviewed"]) == ("821.29", "review", "true")
    kpis = list(csv.DictReader(io.StringIO(client.get(f"/api/documents/{seeded}/kpis.csv").content.decode("utf-8-sig"))))
    assert (kpis[0]["reviewed"], kpis[0]["source"]) == ("true", "ocr")

    from openpyxl import load_workbook

    r = client.get(f"/api/documents/{seeded}/result.xlsx")
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    wb = load_workbook(io.BytesIO(r.content))
    assert wb.sheetnames == ["document", "p1-t0", "KPI"]
    ws = wb["p1-t0"]
    assert ws.cell(4, 3).value == "821.29" and ws.cell(4, 3).fill.start_color.rgb.endswith("9BD7A8")
    low = next(i for i in q2["items"] if i["target"] == "cell" and not i["broken_checks"])
    assert ws.cell(low["row"] + 1, low["col"] + 1).fill.start_color.rgb.endswith("FFC7CE")
    assert "confidence" in ws.cell(low["row"] + 1, low["col"] + 1).comment.text
    assert wb["KPI"].cell(2, 6).value == "≥98%" and wb["KPI"].cell(2, 6).fill.start_color.rgb.endswith("C6EFCE")


def test_headers_of_a_cell():
    doc = budget_doc()
    t = doc.pages[0].tables[0]
    at = {(c.row, c.col): c for c in t.cells}
    assert cell_headers(t, at[(3, 2)]) == (["2013101", "行政运行"], ["合计"])
    assert cell_headers(t, at[(3, 1)]) == (["2013101"], ["科目名称"])
    assert cell_headers(t, at[(0, 2)]) == ([], [])  # a header cell
    assert is_amount("1,021.29") and is_amount("≥98%") and is_amount("-3.5")
    assert not any(map(is_amount, ["2013101", "30万元", "", "合计"]))


# ------------------------------------------------------------------ the OpenAPI document and the page

def test_openapi_document_matches_the_routes(client):
    spec = client.get("/openapi.json").json()
    shipped = json.loads((ROOT / "docs" / "openapi.json").read_text(encoding="utf-8"))
    assert spec == shipped, "docs/openapi.json is stale: run `extractor openapi -o docs/openapi.json`"
    routes = {(r.path, m.lower()) for r in client.app.routes if isinstance(r, APIRoute) and r.include_in_schema
              for m in r.methods}
    documented = {(p, m) for p, ops in spec["paths"].items() for m in ops}
    assert routes == documented
    keyed = {(p, m) for p, ops in spec["paths"].items() for m, op in ops.items() if op.get("security")}
    assert keyed == {(p, m) for p, m in documented if p.startswith("/api/")}  # reads too
    assert all("401" in op["responses"] for p, ops in spec["paths"].items() if p.startswith("/api/")
               for op in ops.values())
    assert spec["components"]["securitySchemes"]["ApiKey"] == {
        "type": "apiKey", "in": "header", "name": "X-API-Key",
        "description": "a key from the service's api_keys: every request under /api needs one"}
    upload = spec["paths"]["/api/jobs"]["post"]
    assert {"202", "400", "401", "413", "415", "422"} <= set(upload["responses"])
    assert "multipart/form-data" in upload["requestBody"]["content"]


def test_review_page_is_served(client, seeded):
    for path in ("/review", f"/review/{seeded}"):
        r = client.get(path)
        assert r.status_code == 200 and "review.js" in r.text
    assert "Enter" in client.get("/static/review.js").text
    assert client.get("/", follow_redirects=False).headers["location"] == "/review"
    assert client.get("/healthz").json()["documents"] == {"done": 1}


# ------------------------------------------------------------------ concurrency and recovery

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def _serving(settings: ServiceSettings) -> Iterator[int]:
    """The app over real HTTP (uvicorn in a thread, API only) on a free loopback port, yielded."""
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings, start_workers=False), host="127.0.0.1", port=port,
                                           log_level="warning"))
    th = threading.Thread(target=server.run, daemon=True)
    th.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.started
        yield port
    finally:
        server.should_exit = True
        th.join(timeout=30)


def test_twenty_concurrent_uploads_over_http_are_all_kept(settings, tmp_path):
    """Real HTTP on loopback (uvicorn in a thread, API only): 20 different files at once, plus one of
    them again; 20 documents, 20 jobs, 20 stored files, no error."""
    import httpx

    files = [_pdf(tmp_path / f"f{i}.pdf", seed=i) for i in range(20)]
    with _serving(settings) as port:
        def send(i: int):
            return httpx.post(f"http://127.0.0.1:{port}/api/jobs", headers={"X-API-Key": KEY},
                              files={"file": (f"f{i}.pdf", files[i % 20], "application/pdf")}, timeout=60)

        with ThreadPoolExecutor(21) as ex:
            answers = list(ex.map(send, range(21)))
        assert [a.status_code for a in answers] == [202] * 21
        jobs = [a.json() for a in answers]
        assert len({j["id"] for j in jobs[:20]}) == 20 and jobs[20]["id"] == jobs[0]["id"]
        with Store(settings.db) as s:
            assert len(s.list_jobs(state="queued")) == 20 and len(s.list_documents("pending")) == 20
            assert sorted(s.load_upload(j["document_id"]).data for j in jobs[:20]) == sorted(files)


def test_jobs_of_a_dead_service_are_queued_again(store, seeded):
    """A job claimed on this host by a service process that is gone is queued again at once; one
    claimed elsewhere when it has been silent for the lease; live services' jobs stay theirs."""
    from sqlalchemy import update

    from extractor.store.schema import JobRow

    dead = subprocess.Popen(["true"])
    dead.wait()
    jobs = [store.create_job(seeded) for _ in range(5)]
    owners = [f"{HOST}:{dead.pid}:w1", f"{HOST}:{os.getpid()}:w1", f"{HOST}:1:w2", "elsewhere:7:w1", "elsewhere:8:w1"]
    for j, worker in zip(jobs, owners):
        assert store.next_queued(worker).id == j.id
    with store.engine.begin() as c:  # the job on the lost host has not been heard of for two minutes
        c.execute(update(JobRow).where(JobRow.id == jobs[3].id)
                  .values(updated_at=datetime.now(timezone.utc) - timedelta(minutes=2)))
    assert recover_jobs(store, lease_seconds=60) == [jobs[0].id, jobs[3].id]
    assert [j.id for j in store.list_jobs(state="running")] == [jobs[1].id, jobs[2].id, jobs[4].id]
    again = store.next_queued("w")
    assert again.id == jobs[0].id and again.attempts == 2


# ------------------------------------------------------------------ the CLI

def test_cli_review_export(settings, store, seeded, tmp_path):
    from click.testing import CliRunner

    from extractor.cli import main

    store.record_review("cell", store.find_cell(seeded, "p1-t0:3:2"), action="correct", new_value="821.29",
                        reviewer="王芳")
    run = lambda *a: CliRunner().invoke(main, ["review-export", *a, "--db", settings.db])  # noqa: E731
    r = run(str(seeded), "--format", "json", "-o", str(tmp_path / "d.json"))
    assert r.exit_code == 0, r.output
    cell = json.loads((tmp_path / "d.json").read_text(encoding="utf-8"))["pages"][0]["tables"][0]["cells"][17]
    assert (cell["row"], cell["col"], cell["text"], cell["source"], cell["reviewed"]) == (3, 2, "821.29", "review", True)
    r = run(HASH_A[:10], "--format", "xlsx", "-o", str(tmp_path / "d.xlsx"))
    assert r.exit_code == 0, r.output
    from openpyxl import load_workbook

    assert load_workbook(tmp_path / "d.xlsx")["p1-t0"].cell(4, 3).value == "821.29"
    r = run(HASH_A, "--format", "csv", "-o", str(tmp_path / "csv"))
    assert r.exit_code == 0 and "3 files" in r.output, r.output
    assert sorted(p.name for p in (tmp_path / "csv").iterdir()) == ["budget_cells.csv", "budget_kpis.csv",
                                                                   "budget_p1_t0.csv"]
    r = run("12345", "--format", "json", "-o", str(tmp_path / "x.json"))
    assert r.exit_code == 1 and "no document" in r.output


def test_a_file_name_with_control_characters_can_still_be_downloaded(client, store):
    """A document whose name holds a newline (an upload's filename, a file in a batch folder): every
    download answers, with a Content-Disposition of printable ASCII and the name percent-encoded
    (h11 refuses a header with a control character, and the download got no answer)."""
    doc = budget_doc()
    doc.source = "/archive/预算\n公开\r=bad\t\"name\".pdf"
    doc_id = store.save_document(doc, "c" * 64)
    for path in ("result.json", "result.xlsx", "kpis.csv", "cells.csv"):
        r = client.get(f"/api/documents/{doc_id}/{path}", headers={"X-API-Key": KEY})
        assert r.status_code == 200, (path, r.text)
        h = r.headers["content-disposition"]
        assert all(" " <= ch <= "~" for ch in h), h
        assert h.startswith("attachment; filename=\"") and "filename*=UTF-8''" in h
        assert "%E9%A2%84%E7%AE%97" in h  # 预算, percent-encoded
