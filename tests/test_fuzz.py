"""Hostile files (issue 17): the corpus of scripts/make_fuzz_corpus.py, written afresh for the session
(``fuzz``; not kept in git), through the renderer's sandbox, the pipeline, the batch runner and the
service.

Each file must end as a clear failure naming the file and the reason (or be read, when it is a
readable file in disguise), within the page limits, with the process that read it unharmed: the
next, normal document is read as usual."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from extractor import ingest
from extractor.config import ServiceSettings
from extractor.ingest.sandbox import PageLimitError, RenderSandbox

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "sample.pdf"
BOMBS = ("form_bomb_60.pdf", "form_bomb_small_60.pdf", "flate_bomb.pdf")
LIMIT_FAILURES = {"page_timeout", "page_memory"}
# what each file must come to: an InputError of this category, or pages failing with these categories
EXPECT = {
    "form_bomb_60.pdf": LIMIT_FAILURES, "form_bomb_small_60.pdf": LIMIT_FAILURES, "flate_bomb.pdf": LIMIT_FAILURES,
    "empty.pdf": "empty", "html_named.pdf": "unsupported", "no_pages.pdf": "corrupt", "truncated.pdf": "corrupt",
    "polyglot_png_pdf.png": "corrupt", "png_bomb.png": "too_large", "tiny_1x1.png": {"page_too_small"},
    "deep_nesting.pdf": set(), "huge_mediabox.pdf": set(), "broken_xref.pdf": set(), "polyglot_pdf_zip.pdf": set(),
}


@pytest.fixture(scope="session")
def fuzz(tmp_path_factory) -> Path:
    """The corpus, as scripts/make_fuzz_corpus.py writes it."""
    out = tmp_path_factory.mktemp("fuzz")
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_fuzz_corpus.py"), "--out", str(out)], check=True,
                   capture_output=True, timeout=120)
    assert {p.name for p in out.iterdir()} == set(EXPECT)
    return out


@pytest.mark.parametrize("name", BOMBS)
def test_render_bombs_are_stopped_by_the_os(fuzz, name):
    """60^4 nested form fills and a 64 MB inflated content stream: the helper dies at its address-space
    limit (or is killed at its time limit) within seconds, never holding more than the limit; the next
    page renders in a fresh helper."""
    sb = RenderSandbox(timeout=30, memory_mb=768)
    try:
        t0 = time.monotonic()
        with pytest.raises(PageLimitError) as e:
            sb.render(fuzz / name, 1, 200)
        assert e.value.category in LIMIT_FAILURES and e.value.path.endswith(name), e.value
        assert time.monotonic() - t0 < 35
        img = sb.render(SAMPLE, 1, 100)
        assert img.gray.shape[0] > 1000 and img.gray.min() < 100  # a real page, with ink
        limits = Path(f"/proc/{sb.pid}/limits").read_text()
        assert any(ln.startswith("Max address space") and str(768 * 2**20) in ln for ln in limits.splitlines()), limits
    finally:
        sb.close()


def test_a_page_past_its_wall_clock_is_killed(fuzz):
    """With memory to spare, the full-page form bomb renders for minutes: the helper is killed at the
    time limit and the page fails as page_timeout."""
    sb = RenderSandbox(timeout=2, memory_mb=0)
    try:
        t0 = time.monotonic()
        with pytest.raises(PageLimitError) as e:
            sb.render(fuzz / "form_bomb_60.pdf", 1, 72)
        took = time.monotonic() - t0
        assert e.value.category == "page_timeout" and "longer than 2 s" in e.value.reason
        assert 1.9 < took < 6, took
        assert sb.render(SAMPLE, 1, 72).gray.size > 0
    finally:
        sb.close()


def test_unreadable_pages_come_back_as_input_errors(fuzz):
    sb = RenderSandbox(timeout=30, memory_mb=768)
    try:
        with pytest.raises(ingest.InputError) as e:
            sb.render(fuzz / "tiny_1x1.png", 1)
        assert e.value.category == "too_small" and "1x1" in e.value.reason
        with pytest.raises(ingest.InputError) as e:
            sb.render(fuzz / "html_named.pdf", 1)
        assert e.value.category == "unsupported"
        with pytest.raises(ingest.InputError) as e:
            sb.render(SAMPLE, 99)
        assert "no page 99" in e.value.reason
    finally:
        sb.close()


def test_every_hostile_file_through_the_pipeline(pipeline, fuzz):
    """The real pipeline (its default limits) on every corpus file, then on a normal scan: each file is
    refused with its reason or read with its failed pages named, and the sample after them is read
    as usual."""
    for name, want in EXPECT.items():
        path = fuzz / name
        t0 = time.monotonic()
        try:
            doc = pipeline.run(path)
        except ingest.InputError as e:
            assert want == e.category and str(path) in str(e), (name, e.category, e)
            continue
        assert isinstance(want, set), (name, "was read, expected", want)
        cats = {f.category for p in doc.pages for f in p.failures} - {"empty_page"}
        assert (cats and cats <= want) if want == LIMIT_FAILURES else cats == want, (name, [(f.category, f.message) for p in doc.pages for f in p.failures])
        assert time.monotonic() - t0 < pipeline.s.render_timeout + 30, name
    doc = pipeline.run(SAMPLE, pages="1")
    assert not [f for p in doc.pages for f in p.failures] and sum(len(p.tables) for p in doc.pages) >= 1


def test_a_one_pixel_image_is_a_failed_page_not_a_large_one(pipeline, fuzz):
    doc = pipeline.run(fuzz / "tiny_1x1.png")
    (f,) = doc.pages[0].failures
    assert (f.stage, f.category) == ("ingest", "page_too_small") and "1x1" in f.message


# ------------------------------------------------------------------ batch and service, for real

def _env() -> dict:
    return dict(os.environ, HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")


@pytest.mark.slow
def test_a_batch_over_hostile_files_names_each_and_reads_the_rest(fuzz, tmp_path):
    """The batch runner (one worker) over the form bombs under odd names (bytes that are not UTF-8, a
    newline), the rest of the corpus and a normal scan: it exits 0, every bad file is named with its
    reason, and the scan is done."""
    root = tmp_path / "archive"
    root.mkdir()
    for name in EXPECT:
        shutil.copy(fuzz / name, root / name)
    os.rename(root / "form_bomb_60.pdf", os.path.join(root, os.fsdecode(b"bomb\xff\xfe.pdf")))
    os.rename(root / "form_bomb_small_60.pdf", root / "small\nbomb.pdf")
    shutil.copy(SAMPLE, root / "sample.pdf")
    cfg = tmp_path / "limits.yaml"
    cfg.write_text("render_timeout: 30\nrender_memory_mb: 768\npage_timeout: 240\n")
    db = tmp_path / "a.sqlite"
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "extractor.cli", "batch", str(root), "--db", str(db), "--workers", "1",
                        "--config", str(cfg), "--quiet", "--no-report", "--summary-json", str(tmp_path / "s.json")],
                       cwd=tmp_path, env=_env(), capture_output=True, timeout=900)
    out = r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")
    assert r.returncode == 0, out
    s = json.loads((tmp_path / "s.json").read_text(encoding="utf-8"))
    failed = {os.path.basename(p): why for p, why in s["failed"]}
    assert "bomb\\xff\\xfe.pdf" in failed and "small\nbomb.pdf" in failed, failed
    for name in ("bomb\\xff\\xfe.pdf", "small\nbomb.pdf", "flate_bomb.pdf"):
        assert "page_memory" in failed[name] or "page_timeout" in failed[name], (name, failed[name])
    for name in ("empty.pdf", "html_named.pdf", "no_pages.pdf", "truncated.pdf", "polyglot_png_pdf.png",
                 "png_bomb.png", "tiny_1x1.png"):
        assert name in failed, (name, failed)
    assert "sample.pdf" not in failed and s["counts"]["done"] >= 1, s
    assert time.monotonic() - t0 < 600


@pytest.mark.slow
def test_the_service_fails_each_hostile_file_and_reads_the_next_document(fuzz, tmp_path):
    """``extractor serve --workers 1`` given the whole corpus, the 60^4 form bomb first, then a normal
    scan: each file is refused at upload with a JSON reason or its job ends with its reason (the bombs
    failed with a page-limit reason, each within the render time limit); the service's processes
    together never hold more than their configured caps; the scan is done."""
    import httpx
    from test_service_e2e import KEY, Service

    svc = Service(tmp_path, f"sqlite:///{tmp_path / 'service.db'}")
    render_s, render_mb = 40, 768
    svc.cfg.write_text(json.dumps({"api_keys": {"测试员": KEY}, "poll_seconds": 0.2, "pipeline": {
        "dpi": 150, "render_timeout": render_s, "render_memory_mb": render_mb}}), encoding="utf-8")
    svc.start()
    try:
        jobs, refused = {}, {}
        for name in ["form_bomb_60.pdf"] + [n for n in EXPECT if n != "form_bomb_60.pdf"] + ["sample.pdf"]:
            path = SAMPLE if name == "sample.pdf" else fuzz / name
            r = httpx.post(f"{svc.base}/api/jobs", headers={"X-API-Key": KEY}, timeout=60,
                           files={"file": (name, path.read_bytes(), "application/octet-stream")})
            if r.status_code == 202:
                jobs[name] = r.json()["id"]
            else:
                assert 400 <= r.status_code < 500 and r.json()["error"] and r.json()["detail"], (name, r.text)
                refused[name] = r.json()
        total_peak, t0, done = 0.0, time.monotonic(), {}
        while len(done) < len(jobs):
            assert time.monotonic() - t0 < 400, (done, svc.log())
            total_peak = max(total_peak, sum(_rss_mb(p) for p in [svc.proc.pid] + _descendants(svc.proc.pid)))
            for name, jid in jobs.items():
                if name not in done:
                    j = svc.job(jid)
                    if j["state"] in ("done", "failed"):
                        done[name] = (j, time.monotonic() - t0)
            time.sleep(0.1)
        bomb, took = done["form_bomb_60.pdf"]
        assert bomb["state"] == "failed" and ("page_memory" in bomb["error"] or "page_timeout" in bomb["error"]), bomb
        assert took < render_s + 15, took
        for name, want in EXPECT.items():
            if name in refused:
                assert isinstance(want, str), (name, refused[name])  # only whole-file problems are refused
                continue
            j = done[name][0]
            if want == LIMIT_FAILURES:
                assert j["state"] == "failed" and ("page_memory" in j["error"] or "page_timeout" in j["error"]), j
            elif isinstance(want, str) or want:  # unreadable, or no page could be read
                assert j["state"] == "failed" and j["error"], (name, j)
            else:
                assert j["state"] == "done", (name, j)
        assert done["sample.pdf"][0]["state"] == "done", done["sample.pdf"]
        cap = ServiceSettings().pipeline.page_memory_mb + render_mb  # a worker's cap and its helper's
        assert total_peak < cap, total_peak
        print(f"service + worker + helper peak resident memory, together: {total_peak:.0f} MB (cap {cap} MB)")
    finally:
        svc.stop()


@pytest.mark.slow
def test_a_page_past_page_timeout_costs_the_worker_not_the_service(tmp_path):
    """A page that runs past ``page_timeout`` as a whole (here: a page at 400 dpi, with a 1 s limit): the
    supervisor kills the worker, the job and its document fail with page_timeout at once (never
    queued again), and a fresh worker is ready."""
    from test_service_e2e import KEY, Service

    svc = Service(tmp_path, f"sqlite:///{tmp_path / 'service.db'}")
    svc.cfg.write_text(json.dumps({"api_keys": {"测试员": KEY}, "poll_seconds": 0.2,
                                   "pipeline": {"dpi": 400, "page_timeout": 1}}), encoding="utf-8")
    svc.start()
    try:
        before = set(svc.workers())
        job = svc.upload(SAMPLE)
        j = svc.wait(job["id"], timeout=60)
        assert j["state"] == "failed" and j["error"].startswith("page_timeout: page 1:"), j
        assert j["attempts"] == 1
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            h = svc.get("/healthz").json()
            if h["workers_ready"] == 1 and set(svc.workers()) - before:
                break
            time.sleep(0.5)
        else:
            raise AssertionError("no fresh worker\n" + svc.log())
        doc = svc.get(f"/api/documents/{j['document_id']}").json()
        assert doc["status"] == "failed", doc
    finally:
        svc.stop()


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for d in Path("/proc").iterdir():
            if d.name.isdigit():
                try:
                    if int((d / "stat").read_text().rsplit(")", 1)[1].split()[1]) == p:
                        out.append(int(d.name))
                        todo.append(int(d.name))
                except (OSError, IndexError, ValueError):
                    pass
    return out


def _rss_mb(pid: int) -> float:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


def test_a_job_whose_document_failed_ends_failed_with_the_right_label(pipeline, fuzz, tmp_path):
    """A 1x1 PNG uploaded to the service: its job ends ``failed`` (not ``done``) and says the page was
    too small; a job whose document is read ends ``done``."""
    import hashlib

    from extractor.config import ServiceSettings
    from extractor.service.worker import run_job
    from extractor.store import Store

    settings = ServiceSettings(db=f"sqlite:///{tmp_path / 's.db'}")
    with Store(settings.db) as store:
        store.upgrade()
        got = {}
        for name in ("tiny_1x1.png", "sample.pdf"):
            data = (fuzz / name if name != "sample.pdf" else SAMPLE).read_bytes()
            job, _ = store.submit_upload(hashlib.sha256(data).hexdigest(), name, data, 1,
                                         "image/png" if name.endswith(".png") else "application/pdf")
            run_job(store, pipeline, settings, store.next_queued("w"), "w")
            got[name] = (store.get_job(job.id), store.get_document(job.document_id))
    job, doc = got["tiny_1x1.png"]
    assert (job.state, doc.status) == ("failed", "failed") and "page 1: page_too_small" in job.error, job
    job, doc = got["sample.pdf"]
    assert job.state == "done" and doc.status in ("done", "partial"), (job, doc)


def test_a_broken_pdf_after_an_encrypted_one_is_not_called_encrypted(fuzz, tmp_path):
    """pdfium's last error is process-wide: after an encrypted file, a file it cannot load for
    another reason came back as "encrypted" (found running the corpus after the service tests)."""
    import pikepdf

    enc = tmp_path / "locked.pdf"
    with pikepdf.open(SAMPLE) as pdf:
        pdf.save(enc, encryption=pikepdf.Encryption(user="secret", owner="owner"))
    with pytest.raises(ingest.InputError) as e:
        ingest.open_source(enc)
    assert e.value.category == "encrypted"
    for name in ("no_pages.pdf", "truncated.pdf"):
        with pytest.raises(ingest.InputError) as e:
            ingest.open_source(fuzz / name)
        assert e.value.category == "corrupt", (name, e.value)
