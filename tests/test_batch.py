"""Whole archives (extractor/batch): discovery and content-hash dedup, per-page persistence in the
store, bad files failing alone with their reasons, a batch killed half way and resumed (every good
document done exactly once, no page read twice), a worker killed under a page, a page that hangs,
the Ray engine giving the same results as the local one, the Parquet tables and the HTML report.

The archive is rendered once per session (four 2-page sample disclosures: a budget table and a KPI
table each, one duplicate, five bad files) and run through the real pipeline in worker processes."""
from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

import synth
from extractor.batch.discover import discover, group_by_content, hash_files
from extractor.model import Cell, Document, Failure, Page, Table
from extractor.store import Store, sha256_file
from test_store import HASH_A, HASH_B, db_url  # noqa: F401  (db_url: SQLite, and PostgreSQL when configured)

ROOT = Path(__file__).resolve().parents[1]
GOOD = ["a/sample1.pdf", "a/sample2.pdf", "b/sample3.pdf", "b/sample4.pdf"]
DUPLICATE = ("b/sub/copy_of_sample1.pdf", "a/sample1.pdf")
BAD = {"bad/corrupt.pdf": "corrupt", "bad/encrypted.pdf": "encrypted", "bad/notes.pdf": "not a PDF",
       "bad/empty.png": "empty"}
RENAME = ("b/sample3.pdf", "b/sample3_renamed.pdf")  # between the killed run and the resumed one


def _cli(*args: str, **kw) -> list[str]:
    return [sys.executable, "-m", "extractor.cli", *args]


def _env() -> dict:
    return dict(os.environ, HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1", RAY_USAGE_STATS_ENABLED="0")


def _children(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if int((d / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(d.name))
            except (OSError, IndexError, ValueError):
                pass
    return out


def _workers_of(pid: int) -> list[int]:
    """The batch's worker processes (not multiprocessing's helpers)."""
    out = []
    for c in _children(pid):
        try:
            if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes():
                out.append(c)
        except OSError:
            pass
    return out


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is gone for our purposes
        return (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]) != "Z"
    except OSError:
        return False


def _db_rows(db: Path, sql: str) -> list[tuple]:
    if not db.exists():
        return []
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return con.execute(sql).fetchall()
    except sqlite3.OperationalError:  # not migrated yet
        return []
    finally:
        con.close()


def _sample_pdf(path: Path, seed: int, pages: int = 2) -> None:
    tmp = path.parent / f".render_{seed}"
    synth.render_document(tmp, seed=seed, kind="sample", severity="light", dpi=150, max_pages=pages)
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(tmp / "doc.pdf"), path)
    shutil.rmtree(tmp)


def _bad_files(root: Path, good: Path) -> None:
    import pikepdf

    (root / "bad").mkdir(parents=True, exist_ok=True)
    (root / "bad/corrupt.pdf").write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 20)
    with pikepdf.open(good) as pdf:
        pdf.save(root / "bad/encrypted.pdf", encryption=pikepdf.Encryption(user="secret", owner="owner"))
    (root / "bad/notes.pdf").write_text("minutes of the meeting, not a PDF")
    (root / "bad/empty.png").write_bytes(b"")


@pytest.fixture(scope="session")
def archive(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("archive")
    for i, rel in enumerate(GOOD):
        _sample_pdf(root / rel, seed=11 + i)
    (root / DUPLICATE[0]).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(root / DUPLICATE[1], root / DUPLICATE[0])
    _bad_files(root, root / GOOD[0])
    (root / ".hidden").mkdir()
    shutil.copy(root / GOOD[1], root / ".hidden/ignored.pdf")  # hidden folders are not searched
    return root


@pytest.fixture(scope="session")
def good_hashes(archive) -> dict[str, str]:
    return {rel: sha256_file(archive / rel) for rel in GOOD}


# ------------------------------------------------------------------ discovery (no pipeline)

def test_discovery_finds_documents_and_reads_manifests(tmp_path):
    (tmp_path / "x/y").mkdir(parents=True)
    for rel, data in {"x/a.pdf": b"%PDF-1 a", "x/y/b.PNG": b"\x89PNG b", "x/y/c.txt": b"notes",
                      "x/.d.pdf": b"%PDF hidden", "x/y/copy.pdf": b"%PDF-1 a"}.items():
        (tmp_path / rel).write_bytes(data)
    os.mkfifo(tmp_path / "x/pipe.pdf")  # never opened (it would block)
    found = discover([tmp_path / "x"])
    names = {Path(f.path).name: f for f in found}
    assert set(names) == {"a.pdf", "b.PNG", "copy.pdf", "pipe.pdf"}
    assert names["pipe.pdf"].error == "not a regular file" and names["a.pdf"].error is None

    manifest = tmp_path / "list.txt"
    manifest.write_text("# the archive\nx/a.pdf\n\n  x/y  \n/nowhere/gone.pdf\nx/a.pdf\n", encoding="utf-8")
    found = discover([manifest])
    assert [Path(f.path).name for f in found] == ["a.pdf", "b.PNG", "copy.pdf", "gone.pdf"]
    assert found[-1].error == "no such file"
    hash_files(found)
    groups = group_by_content(found)
    assert len(groups) == 2  # a.pdf and copy.pdf hold the same bytes
    g = next(g for g in groups if g.path.endswith("a.pdf"))
    assert g.duplicates == [str(tmp_path / "x/y/copy.pdf")] and g.content_hash == sha256_file(tmp_path / "x/a.pdf")


def test_known_hashes_are_reused_unless_the_file_changed(tmp_path):
    p = tmp_path / "a.pdf"
    p.write_bytes(b"%PDF-1 one")
    f = discover([p])[0]
    hash_files([f], {f.path: (f.size, f.mtime_ns, "f" * 64)})
    assert f.content_hash == "f" * 64  # same size and mtime: the recorded hash, file not read
    p.write_bytes(b"%PDF-1 two!")
    f = discover([p])[0]
    hash_files([f], {f.path: (8, 1, "f" * 64)})
    assert f.content_hash == sha256_file(p)


# ------------------------------------------------------------------ the store's batch section

def _page(n: int, text: str = "1.00", failed: bool = False) -> Page:
    cells = [Cell(row=0, col=0, bbox=[0, 0, 10, 10], text=text, confidence=0.95),
             Cell(row=0, col=1, bbox=[10, 0, 20, 10], text="x", confidence=0.5)]
    return Page(page=n, width=100, height=100, seconds=0.5,
                tables=[Table(id=f"p{n}-t0", bbox=[0, 0, 20, 10], n_rows=1, n_cols=2, cells=cells)],
                failures=[Failure(stage="ocr", category="error", message="boom", page=n)] if failed else [])


def test_store_keeps_pages_one_at_a_time_and_assembles_the_document(db_url):  # noqa: F811
    with Store(db_url) as s:
        s.upgrade()
        run = s.start_batch_run("local", 2, host="h", stats={"inputs": ["x"]})
        doc_id = s.register_document(HASH_A, "/a/x.pdf", 3)
        assert s.save_batch_page(doc_id, _page(2), run_id=run, worker="h:1", peak_rss_mb=512.0)
        assert not s.save_batch_page(doc_id, _page(2, "9.99"), run_id=run)  # a page is kept once
        assert s.save_batch_page(doc_id, _page(1, failed=True), run_id=run, worker="h:2")
        assert s.batch_page_numbers(doc_id) == {1: "failed", 2: "done"}
        assert s.page_statuses(doc_id) == {1: "failed", 2: "done", 3: "pending"}
        assert [p.page for p in s.load_batch_pages(doc_id)] == [1, 2]
        assert s.load_batch_pages(doc_id)[1] == _page(2)
        assert s.get_document(doc_id).status == "pending"

        s.save_batch_page(doc_id, _page(3), run_id=run)
        doc = Document(source="/a/x.pdf", n_pages=3, pages=s.load_batch_pages(doc_id))
        assert s.complete_batch_document(doc, HASH_A) == doc_id
        assert s.get_document(doc_id).status == "partial"
        assert s.load_document(doc_id) == doc
        assert s.load_batch_pages(doc_id) == []  # the JSON is dropped, the timings stay
        log = s.batch_page_log(run)
        assert [(p.page, p.worker, p.peak_rss_mb) for p in log] == [(2, "h:1", 512.0), (1, "h:2", None), (3, "", None)]
        assert not s.save_batch_page(doc_id, _page(3), run_id=run)  # the document is saved whole now
        assert s.cell_confidence_counts([doc_id], below=0.9) == (6, 3)

        bad = s.fail_document(HASH_B, "/a/bad.pdf", "PDF is encrypted (password required)")
        assert s.get_document(bad).status == "failed"
        assert s.load_document(bad).failures[0].message == "PDF is encrypted (password required)"
        assert s.fail_document(HASH_A, "/a/x.pdf", "late") == doc_id and s.get_document(doc_id).status == "partial"

        s.record_batch_files(run, [{"path": "/a/x.pdf", "size": 3, "mtime_ns": 5, "content_hash": HASH_A},
                                   {"path": "/a/gone.pdf", "error": "no such file"}])
        s.record_batch_files(run, [{"path": "/a/x.pdf", "size": 4, "mtime_ns": 6, "content_hash": HASH_A}])
        files = {f.path: f for f in s.batch_files()}
        assert files["/a/x.pdf"].size == 4 and files["/a/gone.pdf"].error == "no such file"
        s.update_batch_run(run, state="done", pages_done=3, stats={"summary": {"ok": 1}})
        r = s.batch_runs()[0]
        assert (r.state, r.pages_done, r.stats["inputs"], r.stats["summary"]) == ("done", 3, ["x"], {"ok": 1})
        assert r.finished_at is not None
        s.delete_document(doc_id)  # its page log goes with it
        assert s.batch_page_log(run) == []


def test_one_batch_at_a_time_per_database(db_url):  # noqa: F811
    from extractor.batch import BatchError
    from extractor.batch.runner import batch_lock

    with Store(db_url) as a, Store(db_url) as b:
        a.upgrade()
        with batch_lock(a):
            with pytest.raises(BatchError, match="another batch is running"):
                with batch_lock(b):
                    pass
        with batch_lock(b):  # released with the first
            pass


# ------------------------------------------------------------------ the archive, killed half way and resumed

@pytest.fixture(scope="session")
def local_run(archive, good_hashes, tmp_path_factory):
    """The archive through `extractor batch` (2 local workers), SIGKILLed once a few pages are kept;
    one document renamed; then the same command again to the end."""
    out = tmp_path_factory.mktemp("local_run")
    db = out / "archive.sqlite"
    cmd = _cli("batch", str(archive), "--db", str(db), "--workers", "2", "--quiet", "--no-report")
    p = subprocess.Popen(cmd, cwd=out, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         start_new_session=True)
    workers: set[int] = set()
    try:
        t0 = time.monotonic()
        while time.monotonic() - t0 < 300:
            workers.update(_children(p.pid))
            n = _db_rows(db, "select count(*) from batch_pages")
            if n and n[0][0] >= 2:
                break
            assert p.poll() is None, p.stdout.read().decode()
            time.sleep(0.1)
        workers.update(_children(p.pid))
        os.kill(p.pid, signal.SIGKILL)
        p.wait(30)
        # the orphaned workers notice the batch is gone and exit by themselves
        t1 = time.monotonic()
        while any(_alive(w) for w in workers) and time.monotonic() - t1 < 60:
            time.sleep(0.2)
        orphans = [w for w in workers if _alive(w)]
    finally:
        for w in workers:  # only ever our own batch's children
            if _alive(w):
                os.kill(w, signal.SIGKILL)
    killed_rows = _db_rows(db, "select document_id, page, run_id, finished_at from batch_pages order by id")
    docs_after_kill = _db_rows(db, "select content_hash, status from documents")
    os.rename(archive / RENAME[0], archive / RENAME[1])
    summary_path = out / "summary.json"
    r = subprocess.run(_cli("batch", str(archive), "--db", str(db), "--workers", "2", "--quiet",
                            "--summary-json", str(summary_path), "--export", "parquet", str(out / "parquet")),
                       cwd=out, env=_env(), capture_output=True, text=True, timeout=600)
    return {"db": db, "out": out, "killed_rows": killed_rows, "docs_after_kill": docs_after_kill,
            "orphans": orphans, "workers": workers, "rc": r.returncode, "stdout": r.stdout, "stderr": r.stderr,
            "summary": json.loads(summary_path.read_text(encoding="utf-8")) if summary_path.exists() else None}


@pytest.mark.slow
def test_killed_batch_resumes_and_reads_every_page_once(local_run, good_hashes):
    r = local_run
    assert r["rc"] == 0, r["stdout"] + r["stderr"]
    assert r["workers"] and not r["orphans"], "workers outlived the killed batch"
    killed = r["killed_rows"]
    assert 2 <= len(killed) < 8, "the kill should land half way through the 8 pages"
    assert {s for _, s in r["docs_after_kill"]} <= {"pending", "done", "partial", "failed"}
    with Store(str(r["db"])) as s:
        docs = {d.content_hash: d for d in s.list_documents()}
        for rel, h in good_hashes.items():  # every good document once, complete
            d = docs[h]
            assert d.status == "done", (rel, d.status)
            assert d.n_pages == 2 and s.batch_page_numbers(d.id) == {1: "done", 2: "done"}
            doc = s.load_document(d.id)
            assert [p.page for p in doc.pages] == [1, 2] and doc.tables() and doc.kpis
        assert len([d for d in docs.values() if d.status != "failed"]) == len(GOOD)
        rows = _db_rows(r["db"], "select document_id, page, run_id, finished_at from batch_pages order by id")
        assert len(rows) == 2 * len(GOOD) == len({(d, p) for d, p, _, _ in rows})  # no page read twice
        assert [x for x in rows if x[2] == 1] == killed  # what the killed run kept stands as it was
        assert all(x[2] == 2 for x in rows if x not in killed)
        runs = s.batch_runs()
        assert [(x.state, x.stats.get("ended")) for x in runs[:2]] == [("interrupted", "killed"), ("done", None)]
        assert _db_rows(r["db"], "select count(*) from batch_pages where data is not null") == [(0,)]
    summ = r["summary"]
    assert summ["state"] == "done" and summ["pages_read"] == 2 * len(GOOD) - len(killed)
    assert summ["counts"] == {"done": len(GOOD), "partial": 0, "failed": len(BAD), "pending": 0}
    assert "low-confidence cells" in r["stdout"] and "pages/min" in r["stdout"]


@pytest.mark.slow
def test_bad_files_fail_alone_with_their_reasons(local_run, archive):
    failed = dict(local_run["summary"]["failed"])
    assert set(failed) == {str(archive / rel) for rel in BAD}
    for rel, why in BAD.items():
        assert why in failed[str(archive / rel)], (rel, failed[str(archive / rel)])
    with Store(str(local_run["db"])) as s:
        for rel in BAD:
            info = s.get_by_hash(sha256_file(archive / rel))
            assert info.status == "failed" and s.load_document(info.id).failures[0].stage == "ingest"
    for rel, why in BAD.items():
        assert f"failed   {archive / rel}: " in local_run["stdout"]


@pytest.mark.slow
def test_duplicates_and_renamed_files_are_read_once(local_run, archive, good_hashes):
    summ = local_run["summary"]
    by_path = {d["path"]: d for d in summ["documents"]}
    assert by_path[str(archive / DUPLICATE[1])]["duplicates"] == [str(archive / DUPLICATE[0])]
    assert str(archive / DUPLICATE[0]) not in by_path
    renamed = by_path[str(archive / RENAME[1])]
    assert renamed["content_hash"] == good_hashes[RENAME[0]] and renamed["source"] == str(archive / RENAME[0])
    assert f"same as  {archive / DUPLICATE[1]}: {archive / DUPLICATE[0]}" in local_run["stdout"]
    assert len(summ["documents"]) == len(GOOD) + len(BAD) and summ["files"] == len(GOOD) + len(BAD) + 1

    # a third run finds nothing to do, reads no page, and says the same
    r = subprocess.run(_cli("batch", str(archive), "--db", str(local_run["db"]), "--quiet", "--no-report"),
                       cwd=local_run["out"], env=_env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 read in this run" in r.stdout and f"{len(GOOD) + len(BAD)} done in earlier runs" in r.stdout


@pytest.mark.slow
def test_parquet_tables_have_confidence_and_review_columns(local_run, tmp_path):
    import pyarrow.parquet as pq

    from extractor.batch.export import export_archive

    d = local_run["out"] / "parquet"
    tables = {n: pq.read_table(d / f"{n}.parquet") for n in ("documents", "pages", "tables", "cells", "kpis", "projects")}
    docs = tables["documents"].to_pylist()
    assert len(docs) == len(GOOD) + len(BAD)
    assert {"status", "low_confidence_share", "needs_review", "review_done_share", "failures"} <= set(docs[0])
    assert sorted(x["status"] for x in docs) == ["done"] * len(GOOD) + ["failed"] * len(BAD)
    cells = tables["cells"]
    for col in ("confidence", "text", "row", "col", "check_failed", "reviewed", "corrected", "needs_review", "x0"):
        assert col in cells.column_names
    assert cells.num_rows > 100 and tables["pages"].num_rows == 2 * len(GOOD)
    assert {"confidence", "reviewed", "needs_review", "level1", "target_kind"} <= set(tables["kpis"].column_names)
    assert tables["kpis"].num_rows > 0 and tables["projects"].num_rows == len(GOOD)
    assert {"mean_confidence", "cells_low_confidence", "kind"} <= set(tables["tables"].column_names)

    # a reviewer's correction shows in the next export
    db = tmp_path / "copy.sqlite"
    with sqlite3.connect(local_run["db"]) as src, sqlite3.connect(db) as dst:
        src.backup(dst)
    with Store(str(db)) as s:
        doc_id = next(x["document_id"] for x in docs if x["status"] == "done")
        item = s.review_queue(doc_id, below=1.01)[0]
        s.record_review("cell", item.id, action="correct", new_value="改正值", reviewer="王芳")
        out = export_archive(s, parquet_dir=tmp_path / "pq")
    assert set(out) == {f"parquet {n}" for n in tables}
    got = [c for c in pq.read_table(tmp_path / "pq/cells.parquet").to_pylist() if c["text"] == "改正值"]
    assert len(got) == 1 and got[0]["corrected"] and got[0]["reviewed"] and not got[0]["needs_review"]
    assert got[0]["confidence"] == 1.0


@pytest.mark.slow
def test_html_report_has_its_plots(local_run, archive):
    html = (local_run["db"].with_name("archive.report.html")).read_text(encoding="utf-8")
    for plot in ("confidence-histogram", "pages-per-minute", "failed-checks", "review-needed"):
        assert f'<svg id="{plot}"' in html
    assert "<script" not in html and "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    assert "PDF is encrypted" in html and "run 2 (local" in html and "<polyline" in html
    assert str(archive / "bad/corrupt.pdf") in html


# ------------------------------------------------------------------ crashes and hangs

@pytest.mark.slow
def test_a_worker_killed_under_a_page_costs_only_a_retry(tmp_path):
    arch = tmp_path / "one"
    _sample_pdf(arch / "doc.pdf", seed=31)
    db = tmp_path / "one.sqlite"
    p = subprocess.Popen(_cli("batch", str(arch), "--db", str(db), "--workers", "1", "--quiet", "--no-report",
                              "--summary-json", str(tmp_path / "s.json")), cwd=tmp_path, env=_env(),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    victim = None
    try:
        t0 = time.monotonic()
        while time.monotonic() - t0 < 180 and victim is None:  # once the document is registered, a page is in flight
            if _db_rows(db, "select count(*) from documents where status = 'pending'") == [(1,)]:
                time.sleep(0.3)  # page 1 is being read (a page takes seconds)
                kids = _workers_of(p.pid)
                if kids:
                    victim = kids[0]
                    os.kill(victim, signal.SIGKILL)
            time.sleep(0.05)
        out, err = p.communicate(timeout=300)
    finally:
        if p.poll() is None:
            p.kill()
    assert victim is not None and p.returncode == 0, err
    assert "trying again" in err
    s = json.loads((tmp_path / "s.json").read_text())
    assert s["counts"]["done"] == 1 and s["pages_read"] == 2
    assert _db_rows(db, "select page, status from batch_pages order by page") == [(1, "done"), (2, "done")]


@pytest.mark.slow
def test_ctrl_c_keeps_the_pages_in_flight_and_the_next_run_resumes(tmp_path, archive):
    arch = tmp_path / "three"
    for i in (0, 1, 3):  # (GOOD[2] is renamed by local_run)
        arch.mkdir(exist_ok=True)
        shutil.copy(archive / GOOD[i], arch / f"doc{i}.pdf")
    db = tmp_path / "three.sqlite"
    cmd = _cli("batch", str(arch), "--db", str(db), "--workers", "2", "--no-report")
    p = subprocess.Popen(cmd, cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    try:
        t0 = time.monotonic()
        while _db_rows(db, "select count(*) from batch_pages") in ([], [(0,)]) and time.monotonic() - t0 < 180:
            assert p.poll() is None
            time.sleep(0.05)
        at_signal = _db_rows(db, "select count(*) from batch_pages")[0][0]
        p.send_signal(signal.SIGINT)  # as Ctrl-C in a terminal (the workers ignore it, the batch stops)
        out, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 130, out + err
    assert "stopped before the end" in out and "Traceback" not in err
    kept = _db_rows(db, "select document_id, page, finished_at from batch_pages order by id")
    assert 1 <= len(kept) <= at_signal + 2 < 6  # only the pages in flight (2 workers) were finished after Ctrl-C
    assert _db_rows(db, "select state from batch_runs") == [("interrupted",)]
    r = subprocess.run(cmd + ["--quiet"], cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    rows = _db_rows(db, "select document_id, page, finished_at from batch_pages order by id")
    assert len(rows) == 6 and rows[:len(kept)] == kept
    assert _db_rows(db, "select status from documents") == [("done",)] * 3


@pytest.mark.slow
def test_a_hanging_file_times_out_and_its_worker_is_replaced(tmp_path, archive):
    from extractor.batch.engines import LocalEngine
    from extractor.config import Settings

    fifo = tmp_path / "hangs.pdf"
    os.mkfifo(fifo)  # opening it blocks forever: a stand-in for a file that hangs the reader
    eng = LocalEngine(Settings().model_dump(), workers=1, task_timeout=3)
    eng.start()
    try:
        eng.submit({"kind": "probe", "path": str(fifo), "hash": "0" * 64})
        got = []
        t0 = time.monotonic()
        while not got and time.monotonic() - t0 < 60:
            got = eng.poll(0.5)
        assert len(got) == 1 and not got[0].ok and "timed out" in got[0].error
        t0 = time.monotonic()
        while not eng.free_slots() and time.monotonic() - t0 < 120:  # a fresh worker loads the models
            eng.poll(0.5)
        eng.submit({"kind": "probe", "path": str(archive / GOOD[1]), "hash": "1" * 64})
        got = []
        while not got and time.monotonic() - t0 < 180:
            got = eng.poll(0.5)
        assert got[0].ok and got[0].result["n_pages"] == 2 and got[0].result["peak_rss_mb"] > 50
    finally:
        eng.close(abort=True)


# ------------------------------------------------------------------ Ray

@pytest.fixture(scope="session")
def ray_head(tmp_path_factory):
    """A one-node Ray cluster (2 CPUs) started like `ray start --head`, for `--address auto`."""
    pytest.importorskip("ray")
    ray_bin = Path(sys.executable).with_name("ray")
    log = tmp_path_factory.mktemp("ray") / "head.log"
    with open(log, "w") as f:
        p = subprocess.Popen([str(ray_bin), "start", "--head", "--block", "--num-cpus=2", "--include-dashboard=false",
                              "--disable-usage-stats"], stdout=f, stderr=subprocess.STDOUT, env=_env(),
                             start_new_session=True)
    try:
        t0 = time.monotonic()
        while "Ray runtime started" not in log.read_text() and time.monotonic() - t0 < 120:
            assert p.poll() is None, log.read_text()
            time.sleep(0.2)
        yield p
    finally:
        os.killpg(p.pid, signal.SIGINT)  # our own process group: `ray start --block` stops what it started
        try:
            p.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(10)


def _comparable(doc: Document) -> dict:
    d = doc.model_dump(mode="json", exclude={"source"})
    for p in d["pages"]:
        p["seconds"] = None
    return d


@pytest.mark.slow
def test_ray_engine_gives_the_same_results_as_local(ray_head, local_run, archive, tmp_path):
    db = tmp_path / "ray.sqlite"
    r = subprocess.run(_cli("batch", str(archive), "--db", str(db), "--engine", "ray", "--address", "auto",
                            "--quiet", "--no-report", "--summary-json", str(tmp_path / "s.json")),
                       cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ray (auto): 2 actors" in r.stdout
    s = json.loads((tmp_path / "s.json").read_text())
    assert s["counts"] == {"done": len(GOOD), "partial": 0, "failed": len(BAD), "pending": 0}
    assert len(s["worker_peak_mb"]) == 2
    with Store(str(local_run["db"])) as local, Store(str(db)) as ray:
        a = {d.content_hash: d for d in local.list_documents()}
        b = {d.content_hash: d for d in ray.list_documents()}
        assert set(a) == set(b)
        for h, info in a.items():
            assert b[h].status == info.status
            assert _comparable(ray.load_document(b[h].id)) == _comparable(local.load_document(info.id)), info.source


@pytest.mark.slow
def test_odd_file_names_never_stop_an_archive(tmp_path):
    """A name with bytes that are not UTF-8 and one with a newline (issue 17): every file is read, the
    store keeps each name in its \\xNN form, the summary names them, and a second run finds them done."""
    from extractor.batch.discover import stored_name

    root = tmp_path / "archive"
    _sample_pdf(root / "ok.pdf", seed=31, pages=1)
    odd = [os.fsdecode(b"bad\xff\xfe.pdf"), "new\nline.pdf"]
    for i, name in enumerate(odd):
        _sample_pdf(root / f"tmp{i}.pdf", seed=32 + i, pages=1)
        os.rename(root / f"tmp{i}.pdf", os.path.join(root, name))
    db = tmp_path / "a.sqlite"
    for attempt in (1, 2):
        r = subprocess.run(_cli("batch", str(root), "--db", str(db), "--workers", "1", "--quiet", "--no-report",
                                "--summary-json", str(tmp_path / "s.json")), cwd=tmp_path, env=_env(),
                           capture_output=True, timeout=600)
        assert r.returncode == 0, r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")
        s = json.loads((tmp_path / "s.json").read_text(encoding="utf-8"))
        assert s["counts"]["done"] == 3 and s["counts"]["failed"] == 0, s
    assert s["pages_read"] == 0  # the second run read nothing again
    with Store(str(db)) as st:
        names = {f.path for f in st.batch_files()}
    assert names == {str(root / "ok.pdf"), str(root) + "/bad\\xff\\xfe.pdf", str(root / "new\nline.pdf")}
    assert stored_name(os.path.join(root, odd[0])) == str(root) + "/bad\\xff\\xfe.pdf"
