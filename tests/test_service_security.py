"""The service's guard (issue 17): every /api request, reads included, needs a valid key, checked
before the body is read; the reviewer is the key's name; clean JSON errors for odd ids, odd boxes,
bad parameters, a read-only database and the unexpected; security headers; the review page asks
for the key. Through the real app (create_app, a real SQLite store), as test_service.py."""
from __future__ import annotations

import asyncio
import json
import os
import re
import socket
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from extractor.config import ServiceSettings
from extractor.service import create_app
from extractor.store import Store
from test_service import KEY, KEY_QA, KEYS, _err, _pdf, _serving, _send, _upload, client, seeded, settings, store  # noqa: F401
from test_store import HASH_A, budget_doc, db_url  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
BIG = 99999999999999999999  # above 2**63


def _asgi(app, method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes = b""):
    """One request straight into the ASGI app; also how often the app asked for the body."""
    reads, sent = [], []

    async def receive():
        reads.append(1)
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(msg):
        sent.append(msg)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": headers, "client": ("127.0.0.1", 1), "server": ("testserver", 80)}
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    payload = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], dict(start["headers"]), payload, len(reads)


def _get_paths(doc_id: int, job_id: int) -> list[str]:
    """Every GET route under /api, with real ids filled in."""
    fill = {"doc_id": str(doc_id), "job_id": str(job_id), "page": "1", "table_id": "p1-t0"}
    app = create_app(ServiceSettings(db="sqlite://", api_keys={"x": "y"}), start_workers=False)
    paths = [re.sub(r"\{(\w+)\}", lambda m: fill[m.group(1)], r.path) for r in app.routes
             if isinstance(r, APIRoute) and "GET" in r.methods and r.path.startswith("/api")]
    return paths + [f"/api/documents/{doc_id}/pages/1.png?box=500,250,700,300"]


# ------------------------------------------------------------------ reads need a key

def test_every_read_needs_a_valid_key(client, store, seeded, tmp_path):
    job = _upload(client, _pdf(tmp_path / "a.pdf")).json()
    paths = _get_paths(seeded, job["id"])
    assert len(paths) >= 15 and any("pages" in p for p in paths) and any("result.xlsx" in p for p in paths)
    for path in paths:
        assert client.get(path).status_code == 200, path  # the client sends KEY
        for method in ("GET", "HEAD"):
            r = _send(client, method, path, None)
            assert r.status_code == 401 and r.headers["www-authenticate"] == 'ApiKey header="X-API-Key"', (path, r)
            if method == "GET":
                _err(r, 401, "api_key_missing", "X-API-Key")
                _err(_send(client, method, path, "wrong"), 401, "api_key_invalid")
                _err(_send(client, method, path, KEY + " "), 401, "api_key_invalid")
                _err(_send(client, method, path, KEY.upper()), 401, "api_key_invalid")
    assert _send(client, "GET", "/api/documents", KEY_QA).status_code == 200
    # odd paths: another case, an OPTIONS, a path with dot segments, none reaches data without a key
    for method, path in [("GET", "/API/documents"), ("OPTIONS", "/api/documents"), ("GET", "/api/../api/documents"),
                         ("GET", "/api//documents"), ("GET", "/nothing-here"), ("POST", "/healthz/../api/jobs")]:
        status, headers, body, _ = _asgi(client.app, method, path, [])
        assert status == 401 and json.loads(body)["error"] == "api_key_missing", (method, path, status, body)
    # the open static mount leads nowhere else
    for path in ("/static/../api/documents", "/static/%2e%2e/api/documents", "/review/../api/documents"):
        status, _, body, _ = _asgi(client.app, "GET", path, [])
        assert status in (401, 404) and b"content_hash" not in body, (path, status, body)
    # with a key: an unknown route or method is JSON too
    _err(client.get("/API/documents"), 404, "not_found")
    _err(client.request("OPTIONS", "/api/documents"), 405, "method_not_allowed")
    # a header of odd bytes, two key headers, an empty one: refused, never a 500
    for headers in ([(b"x-api-key", b"\xff\xfe\x00key")], [(b"x-api-key", KEY.encode()), (b"x-api-key", b"x")],
                    [(b"x-api-key", b"")], [(b"x-api-key", "王芳".encode())]):
        status, _, body, _ = _asgi(client.app, "GET", "/api/documents", headers)
        assert status == 401 and json.loads(body)["error"] in ("api_key_missing", "api_key_invalid"), (headers, body)
    # open: the page, its files, liveness and the OpenAPI document (they hold no data)
    for path in ("/review", f"/review/{seeded}", "/static/review.js", "/static/review.css", "/healthz",
                 "/openapi.json", "/docs"):
        assert _send(client, "GET", path, None).status_code == 200, path
    assert _send(client, "GET", "/api/me", KEY_QA).json() == {"name": "qa"}


def test_no_key_configured_means_a_key_for_the_run(tmp_path, capfd):
    """With no api_keys the service is not open: it makes a key for the run, prints it (stderr, never
    the log), and that key is needed for reads and writes alike."""
    app = create_app(ServiceSettings(db=f"sqlite:///{tmp_path / 'k.db'}"), start_workers=False)
    printed = re.search(r"X-API-Key: (\S+)", capfd.readouterr().err)
    assert printed
    with TestClient(app) as c:
        _err(c.get("/api/documents"), 401, "api_key_missing")
        assert c.get("/api/documents", headers={"X-API-Key": printed.group(1)}).json() == []
        assert c.get("/api/me", headers={"X-API-Key": printed.group(1)}).json() == {"name": "admin"}


def test_keys_as_name_secret_pairs(monkeypatch, tmp_path):
    cfg = tmp_path / "service.yaml"
    cfg.write_text("api_keys:\n  - '王芳:s3:cret'\n  - 'qa: other'\n", encoding="utf-8")
    monkeypatch.setenv("EXTRACTOR_API_KEYS", "李雷:lei-key")
    assert ServiceSettings.load(cfg).api_keys == {"王芳": "s3:cret", "qa": "other", "李雷": "lei-key"}
    for bad in ("api_keys: ['nosecret']\n", "api_keys: {a: same, b: same}\n", "api_keys: {a: ''}\n"):
        cfg.write_text(bad, encoding="utf-8")
        with pytest.raises(ValueError) as e:
            ServiceSettings.load(cfg)
        assert "same" not in str(e.value) and "nosecret" not in str(e.value)  # no secret in the message


# ------------------------------------------------------------------ the key before the body

def test_an_upload_without_a_key_is_refused_before_its_body_is_read(client):
    """Through the whole app: no key or a wrong one, a 50 MB Content-Length: 401 and the body was
    never asked for."""
    for headers, code in (([], "api_key_missing"), ([(b"x-api-key", b"wrong")], "api_key_invalid")):
        h = headers + [(b"content-type", b"multipart/form-data; boundary=x"), (b"content-length", b"50000000")]
        status, rh, body, reads = _asgi(client.app, "POST", "/api/jobs", h, b"--x\r\n" + b"\0" * 1000)
        assert (status, json.loads(body)["error"], reads) == (401, code, 0)
        assert rh[b"connection"] == b"close"
    # with the key the body is read (and this one is over the limit: 413 from its Content-Length)
    status, _, body, reads = _asgi(client.app, "POST", "/api/jobs",
                                   [(b"x-api-key", KEY.encode()), (b"content-length", b"50000000")])
    assert status == 413 and json.loads(body)["error"] == "too_large"


def test_over_http_the_refusal_comes_before_the_body_is_sent(settings):
    """Real HTTP (uvicorn on loopback): the headers of a 50 MB upload without a key, no body at all;
    the 401 comes back at once."""
    with _serving(settings) as port:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"POST /api/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=x\r\n"
                         b"Content-Length: 50000000\r\n\r\n")
            answer = b""
            while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
                chunk = sock.recv(4096)
                if not chunk:
                    break
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 401"), answer
        assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"] == "api_key_missing"


# ------------------------------------------------------------------ the reviewer is the key's name

def test_the_reviewer_is_the_keys_name(client, store, seeded):
    cell = store.find_cell(seeded, "p1-t0:3:2")
    url = f"/api/documents/{seeded}/reviews"
    review = {"target": "cell", "id": cell, "action": "correct", "value": "821.29"}
    _err(_send(client, "POST", url, KEY_QA, json={**review, "reviewer": "王芳"}), 422, "bad_review", "qa")
    assert store.reviews(seeded) == []  # no decision in another's name
    r = _send(client, "POST", url, KEY_QA, json=review)
    assert r.status_code == 201 and r.json()["reviewer"] == "qa"
    r = _send(client, "POST", url, KEY, json={**review, "action": "accept", "value": None, "reviewer": "王芳"})
    assert r.status_code == 201 and r.json()["reviewer"] == "王芳"
    assert [x.reviewer for x in store.reviews(seeded)] == ["qa", "王芳"]


# ------------------------------------------------------------------ clean errors

def test_odd_ids_boxes_and_parameters_get_json_4xx(client, seeded):
    for path in (f"/api/documents/{BIG}", f"/api/jobs/{BIG}", f"/api/documents/{BIG}/result.json",
                 f"/api/documents/{BIG}/pages/1.png", f"/api/documents/{seeded}/pages/{BIG}.png",
                 f"/api/jobs?document_id={BIG}", "/api/documents/-1", "/api/jobs/0", f"/api/documents/{2**63}/reviews"):
        r = client.get(path)
        assert r.status_code in (404, 422) and r.json()["error"] in ("not_found", "invalid_request"), (path, r.text)
    r = client.post(f"/api/documents/{seeded}/reviews", json={"target": "cell", "id": BIG, "action": "accept"})
    _err(r, 422, "invalid_request", "id")
    base = f"/api/documents/{seeded}/pages/1.png"
    for box in ("0,0,inf,inf", "nan,0,10,10", "-5,0,10,10", "0,0,1e300,1e300", "1,2,3,4,5", "a,b,c,d", "", "1e7,0,1,1"):
        _err(client.get(base, params={"box": box}), 422, "bad_request", "box")
    _err(client.get(base, params={"box": "5000,5000,5100,5100"}), 422, "bad_request", "outside")
    for q in ({"pad": "inf"}, {"pad": "nan"}, {"box": "1,1,2,2", "pad": "-1"}):
        _err(client.get(base, params=q), 422, "invalid_request", "pad")
    _err(client.get(f"/api/documents/{seeded}/review/queue", params={"below": "nan"}), 422, "invalid_request")
    # a 10,000-character parameter: the answer has the shape, is short and does not echo it
    huge = "A" * 10_000
    for r in (client.get(f"/api/documents/{seeded}/review/queue", params={"below": huge}),
              client.get(f"/api/documents/{huge}"), client.get(base, params={"box": huge}),
              client.get(f"/api/documents/{seeded}/tables/{huge}.csv"),
              client.post(f"/api/documents/{seeded}/reviews", json={"target": huge, "id": 1, "action": "accept"}),
              client.post(f"/api/documents/{seeded}/reviews", content=huge, headers={"content-type": "application/json"})):
        assert r.status_code == 422 and set(r.json()) == {"error", "detail"}, r.text[:300]
        assert len(r.content) < 700 and "AAAAAAAAAA" not in r.text, r.text


def test_an_unexpected_error_is_json_without_a_traceback(settings, store, client):
    """A stored page image that is a damaged PNG (its signature, then nothing readable): the crop fails inside; the answer is
    500 JSON internal_error, nothing of the traceback."""
    doc_id = store.save_document(budget_doc(), "d" * 64, images={1: b"\x89PNG\r\n\x1a\n" + b"damaged" * 10})
    with TestClient(client.app, raise_server_exceptions=False, headers={"X-API-Key": KEY}) as c:
        r = c.get(f"/api/documents/{doc_id}/pages/1.png", params={"box": "500,250,700,300"})
    assert r.status_code == 500 and r.json() == {"error": "internal_error",
                                                 "detail": "an unexpected error; it has been logged"}
    assert r.headers["x-content-type-options"] == "nosniff"


def test_a_read_only_database_answers_503(tmp_path):
    """The database opened read-only (a SQLite URI with mode=ro: chmod stops no write of root's):
    reads work, an upload and a review answer 503 database_unavailable, /healthz says degraded."""
    path = tmp_path / "ro.db"
    with Store(f"sqlite:///{path}") as s:
        s.upgrade()
        doc_id = s.save_document(budget_doc(), HASH_A)
        cell = s.find_cell(doc_id, "p1-t0:3:2")
    ro = ServiceSettings(db=f"sqlite:///file:{path}?mode=ro&uri=true", api_keys=KEYS)
    with TestClient(create_app(ro, start_workers=False), headers={"X-API-Key": KEY}) as c:
        h = c.get("/healthz")
        assert h.status_code == 503 and (h.json()["status"], h.json()["database"]) == ("degraded", "read-only")
        assert h.json()["documents"] == {"done": 1}
        assert c.get(f"/api/documents/{doc_id}").status_code == 200
        body = _err(_upload(c, _pdf(tmp_path / "a.pdf")), 503, "database_unavailable", "read-only")
        assert "INSERT" not in body["detail"]
        r = c.post(f"/api/documents/{doc_id}/reviews", json={"target": "cell", "id": cell, "action": "accept"})
        _err(r, 503, "database_unavailable", "read-only")
    with Store(f"sqlite:///{path}") as s:
        assert s.reviews(doc_id) == [] and len(s.list_documents()) == 1
    with TestClient(create_app(ServiceSettings(db=f"sqlite:///{path}", api_keys=KEYS), start_workers=False)) as c:
        assert c.get("/healthz").json()["database"] == "ok"


# ------------------------------------------------------------------ headers and the page

def test_security_headers_and_the_page(client, seeded):
    page = client.get(f"/review/{seeded}")
    assert page.status_code == 200
    assert page.headers["content-security-policy"].startswith(
        "default-src 'self'; img-src 'self' blob: data:; object-src 'none'; frame-ancestors 'none'; base-uri 'none'")
    for r in (page, client.get("/api/documents"), _send(client, "GET", "/api/documents", None), client.get("/healthz"),
              client.get("/static/review.js"), client.get("/docs")):
        assert (r.headers["x-frame-options"], r.headers["x-content-type-options"], r.headers["referrer-policy"]) == (
            "DENY", "nosniff", "no-referrer"), r.url
    assert client.get("/api/documents").headers["content-security-policy"].startswith("default-src 'none'")
    # the page works under its policy: no inline script, handler or style; it asks for the key
    html = page.text
    assert re.findall(r"<script[^>]*>", html) == ['<script src="/static/review.js">']
    assert not re.search(r"\son[a-z]+=|style=|<style", html)
    assert 'id="api-key"' in html and 'id="remember"' in html and 'id="reviewer"' not in html
    js = client.get("/static/review.js").text
    assert '"X-API-Key"' in js and "sessionStorage" in js and "createObjectURL" in js
    assert "body.reviewer" not in js and "localStorage.setItem" not in js  # no reviewer sent; key kept by store
