"""The service for real: ``extractor serve`` in a subprocess (uvicorn, one job worker running the
real pipeline) on rendered scans.

- Restart: a review is recorded, two documents are submitted, the service is killed (SIGKILL) while
  the first is half read; its workers die with it; started again, it finishes both, and the review
  and the earlier document are still there.
- The review page in a browser (Playwright driving Debian's chromium, headless): a scan uploaded
  through the API, the job waited for, two flagged cells corrected and one accepted by keyboard
  alone, the queue shrinking; then the Excel workbook and the JSON downloaded from the page hold the
  corrected values, marked as reviewed."""
from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from PIL import Image

import synth
from extractor.store import Store
from test_batch import _alive, _children
from test_service import _free_port
from test_store import HASH_A, budget_doc

KEY = "e2e-key"
CHROMIUM = next((p for p in (os.environ.get("EXTRACTOR_TEST_CHROMIUM"), "/usr/bin/chromium",
                             "/usr/bin/chromium-browser") if p and os.path.exists(p)), None)

pytestmark = pytest.mark.slow


class Service:
    """``extractor serve`` in a subprocess on a database, with one job worker."""

    def __init__(self, root: Path, db: str):
        self.root, self.db = root, db
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.cfg = root / "service.yaml"
        self.cfg.write_text(json.dumps({"api_keys": {"测试员": KEY}, "poll_seconds": 0.2, "pipeline": {"dpi": 150}}),
                            encoding="utf-8")
        self.proc: subprocess.Popen | None = None
        self.runs = 0

    def start(self) -> None:
        self.runs += 1
        log = open(self.root / f"serve-{self.runs}.log", "w")
        env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "extractor.cli", "serve", "--db", self.db, "--port", str(self.port),
             "--workers", "1", "--config", str(self.cfg), "--log-level", "warning"],
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log()
            try:
                if httpx.get(f"{self.base}/healthz", timeout=2).json()["workers_ready"] == 1:
                    return
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            time.sleep(0.2)
        raise AssertionError("the service did not start:\n" + self.log())

    def log(self) -> str:
        return (self.root / f"serve-{self.runs}.log").read_text(errors="replace")[-4000:]

    def workers(self) -> list[int]:
        assert self.proc is not None
        return [c for c in _children(self.proc.pid) if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]

    def kill9(self) -> list[int]:
        """SIGKILL the service process alone; returns its workers' pids (they must die with it)."""
        assert self.proc is not None
        workers = self.workers()
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        return workers

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=90)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)

    # ---- API calls

    def upload(self, path: Path) -> dict:
        media = "application/pdf" if path.suffix == ".pdf" else "image/png"
        r = httpx.post(f"{self.base}/api/jobs", headers={"X-API-Key": KEY},
                       files={"file": (path.name, path.read_bytes(), media)}, timeout=60)
        assert r.status_code == 202, r.text
        return r.json()

    def job(self, job_id: int) -> dict:
        return httpx.get(f"{self.base}/api/jobs/{job_id}", headers={"X-API-Key": KEY}, timeout=30).json()

    def wait(self, job_id: int, until=lambda j: j["state"] in ("done", "failed"), timeout: float = 240) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            j = self.job(job_id)
            if until(j):
                return j
            time.sleep(0.1)
        raise AssertionError(f"job {job_id} stuck at {self.job(job_id)}\n" + self.log())

    def get(self, path: str) -> httpx.Response:
        r = httpx.get(self.base + path, headers={"X-API-Key": KEY}, timeout=60)
        assert r.status_code == 200, (path, r.status_code, r.text)
        return r


@pytest.fixture(scope="module")
def scans(tmp_path_factory) -> dict[str, Path]:
    """Rendered disclosures (light degradation, 150 dpi): a 3-page PDF, a 1-page PNG, a 2-page PDF."""
    root = tmp_path_factory.mktemp("scans")
    out = {}
    for name, seed, pages in (("three", 21, 3), ("review", 23, 2)):
        d = root / f".{name}"
        synth.render_document(d, seed=seed, kind="sample", severity="light", dpi=150, max_pages=pages)
        out[name] = root / f"{name}_{seed}.pdf"
        shutil.move(str(d / "doc.pdf"), out[name])
    imgs, _ = synth.render_pages(synth.build_doc(22, kind="sample"), seed=22, severity="light", dpi=150, max_pages=1)
    out["png"] = root / "page_22.png"
    Image.fromarray(imgs[0]).save(out["png"], dpi=(150, 150))
    return out


def test_a_killed_service_loses_no_document_and_no_review(tmp_path, scans):
    db = f"sqlite:///{tmp_path / 'service.db'}"
    with Store(db) as st:  # a document extracted earlier
        st.upgrade()
        earlier = st.save_document(budget_doc(), HASH_A)
        cell = st.find_cell(earlier, "p1-t0:3:2")
    svc = Service(tmp_path, db)
    svc.start()
    try:
        r = httpx.post(f"{svc.base}/api/documents/{earlier}/reviews", headers={"X-API-Key": KEY}, timeout=30,
                       json={"target": "cell", "id": cell, "action": "correct", "value": "821.29"})
        assert r.status_code == 201, r.text
        first, second = svc.upload(scans["three"]), svc.upload(scans["png"])  # one worker: the PNG waits
        svc.wait(first["id"], until=lambda j: j["pages_done"] >= 1)
        workers = svc.kill9()
        assert len(workers) == 1
        deadline = time.monotonic() + 20
        while any(map(_alive, workers)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(map(_alive, workers)), "a worker outlived its service"

        with Store(db) as st:  # what the crash left: a job cut off mid-document, one still queued
            cut = st.get_job(first["id"])
            assert cut.state == "running" and 1 <= cut.pages_done < cut.pages_total == 3
            assert st.get_job(second["id"]).state == "queued"
            assert [r.new_value for r in st.reviews(earlier)] == ["821.29"]

        svc.start()
        done = [svc.wait(first["id"]), svc.wait(second["id"])]
        assert [j["state"] for j in done] == ["done", "done"], done
        assert done[0]["attempts"] == 2 and done[0]["pages_done"] == 3 and done[1]["pages_done"] == 1
        three = svc.get(done[0]["links"]["json"]).json()
        assert len(three["pages"]) == 3 and sum(len(p["tables"]) for p in three["pages"]) >= 3
        assert three["source"] == scans["three"].name
        png = svc.get(done[1]["links"]["json"]).json()
        assert len(png["pages"]) == 1 and png["pages"][0]["tables"]
        old = svc.get(f"/api/documents/{earlier}/result.json").json()
        fixed = next(c for c in old["pages"][0]["tables"][0]["cells"] if (c["row"], c["col"]) == (3, 2))
        assert (fixed["text"], fixed["source"], fixed["reviewed"]) == ("821.29", "review", True)
        hist = svc.get(f"/api/documents/{earlier}/reviews").json()
        assert [(h["reviewer"], h["old_value"], h["new_value"]) for h in hist] == [("测试员", "871.29", "821.29")]
        docs = svc.get("/api/documents").json()
        assert sorted(d["status"] for d in docs) == ["done"] * 3
        # the pages were kept as images, in the frame of the boxes
        page = Image.open(io.BytesIO(svc.get(f"/api/documents/{first['document_id']}/pages/1.png").content))
        assert page.size == (three["pages"][0]["width"], three["pages"][0]["height"])
    finally:
        svc.stop()


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    root = tmp_path_factory.mktemp("service")
    svc = Service(root, f"sqlite:///{root / 'service.db'}")
    svc.start()
    yield svc
    svc.stop()


@pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"),
                    reason="Debian's chromium is not installed (make test installs it)")
def test_review_page_in_a_browser(service, scans, tmp_path):
    from openpyxl import load_workbook
    from playwright.sync_api import expect, sync_playwright

    assert CHROMIUM, "chromium is missing: `make test` installs it (apt-get install chromium)"

    job = service.wait(service.upload(scans["review"])["id"])
    assert job["state"] == "done", job
    doc_id = job["document_id"]
    corrections = ["12,345.67", "审核更正"]
    decided: list[tuple[str, str, str]] = []  # (ref, action, value)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = browser.new_page(accept_downloads=True)
            page.goto(f"{service.base}/review/{doc_id}")
            page.wait_for_selector("#api-key:focus")  # the page asks for the key: nothing is shown without it
            page.keyboard.type(KEY)
            page.keyboard.press("Enter")  # the queue loads with the key, the holder's name is shown
            page.wait_for_selector("#queue .item, #queue li.empty")  # a clean scan may have nothing below 0.9
            # (expect, not wait_for_function: its polling evaluates a string, which the page's CSP forbids)
            expect(page.locator("#who")).to_contain_text("测试员")
            assert page.evaluate("sessionStorage.getItem('extractor.apiKey')") == KEY
            assert page.evaluate("localStorage.getItem('extractor.apiKey')") is None  # not remembered
            # a threshold that flags enough cells, by keyboard
            page.focus("#below")
            page.keyboard.press("Control+A")
            page.keyboard.type("0.995")
            page.keyboard.press("Enter")  # the queue reloads at 0.995 and the first item gets the focus
            expect(page.locator("#progress-text")).to_contain_text("below 0.995")
            page.wait_for_selector("#queue .item")
            count = lambda: page.locator("#queue .item").count()  # noqa: E731
            start = count()
            assert start >= 4, page.content()[:2000]
            first_text = page.locator("#queue-count").text_content()
            for _ in range(start + 3):
                if len(decided) == 3:
                    break
                item = page.evaluate("(() => { const i = document.activeElement.closest('.item');"
                                     " return i && {ref: i.dataset.ref, target: i.dataset.target}; })()")
                assert item, "the focus left the queue"
                if item["target"] != "cell":
                    page.keyboard.press("Tab")  # moves on
                    continue
                value = page.evaluate("document.activeElement.value")
                if len(decided) < 2:
                    page.keyboard.press("Control+A")
                    page.keyboard.type(corrections[len(decided)])
                    decided.append((item["ref"], "correct", corrections[len(decided)]))
                else:
                    decided.append((item["ref"], "accept", value))
                page.keyboard.press("Enter")
                page.wait_for_selector(f'#queue .item[data-ref="{item["ref"]}"]', state="detached")
            assert [a for _, a, _ in decided] == ["correct", "correct", "accept"]
            assert count() == start - 3  # the queue shrank
            assert page.locator("#queue-count").text_content() != first_text
            expect(page.locator("#progress-text")).to_have_text(re.compile(r"^3 of"))
            assert "2 corrected" in page.locator("#progress-text").text_content()
            with page.expect_download() as dl:
                page.click("#dl-xlsx")
            xlsx = tmp_path / "review.xlsx"
            dl.value.save_as(xlsx)
            with page.expect_download() as dl:
                page.click("#dl-json")
            js = tmp_path / "review.json"
            dl.value.save_as(js)
        finally:
            browser.close()

    doc = json.loads(js.read_text(encoding="utf-8"))
    cells = {f"{t['id']}:{c['row']}:{c['col']}": c for p in doc["pages"] for t in p["tables"] for c in t["cells"]}
    wb = load_workbook(xlsx)
    for ref, action, value in decided:
        c = cells[ref]
        assert (c["text"], c["confidence"], c["reviewed"]) == (value, 1.0, True), (ref, c)
        assert c["source"] == ("review" if action == "correct" else "ocr")
        table_id, row, col = ref.rsplit(":", 2)
        assert wb[table_id].cell(int(row) + 1, int(col) + 1).value == value
    hist = service.get(f"/api/documents/{doc_id}/reviews").json()
    assert [(h["action"], h["new_value"], h["reviewer"]) for h in hist] == [(a, v, "测试员") for _, a, v in decided]
