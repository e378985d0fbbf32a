"""The store (extractor/store): documents saved and loaded back whole, idempotent per content hash,
all-or-nothing saves, reviews that replace values in every export while the extracted value stays
on record, the review queue's order, job claiming by concurrent workers, and migrations that build
exactly the schema the code declares.

Every test runs on SQLite; with ``EXTRACTOR_TEST_PG_URL`` set (``.ci/run`` sets it) each runs on
PostgreSQL too, in a schema of its own that is dropped afterwards."""
from __future__ import annotations

import copy
import csv
import io
import json
import os
import threading
import uuid
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from PIL import Image
from sqlalchemy import create_engine, event, func, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from conftest import BUDGET_HEADER, BUDGET_ROWS
from extractor.export import write_csvs, write_kpi_csv
from extractor.kpi.numbers import parse_target
from extractor.model import Cell, Document, Failure, KpiRecord, KpiTarget, OcrEvidence, Page, Table
from extractor.store import NotFoundError, Store, StoreError, normalise_url, sha256_file
from extractor.store import migrate
from extractor.store.schema import Base, CellRow, KpiRow
from extractor.validate import validate

ROOT = Path(__file__).resolve().parents[1]
PG_ENV = "EXTRACTOR_TEST_PG_URL"
HASH_A, HASH_B = "a" * 64, "b" * 64


# ---- databases

@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A fresh, empty database: a SQLite file, or a new schema in the PostgreSQL database of
    $EXTRACTOR_TEST_PG_URL (dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} is not set")
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(normalise_url(base), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(normalise_url(base)).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def store(db_url):
    s = Store(db_url)
    s.upgrade()
    yield s
    s.close()


def _row_counts(store: Store) -> dict[str, int]:
    with store.engine.connect() as c:
        return {t.name: c.execute(select(func.count()).select_from(t)).scalar_one()
                for t in Base.metadata.sorted_tables}


# ---- documents to store

def budget_doc(planted_error: bool = True) -> Document:
    """A two-page document: a 支出 table (conftest's budget rows) with a planted misread that the
    arithmetic checks catch (validate() marks the cells), a KPI record, a blank second page."""
    rows = copy.deepcopy(BUDGET_ROWS)
    if planted_error:
        rows[2][2] = "871.29"  # 2013101 行政运行: 821.29 misread as 871.29
    cells = []
    for r, row in enumerate([BUDGET_HEADER] + rows):
        for k, txt in enumerate(row):
            x0, y0 = 100 + 200 * k, 100 + 50 * r
            conf = round(0.80 + 0.011 * ((r * 5 + k) % 17), 4)
            cells.append(Cell(row=r, col=k, bbox=[x0, y0, x0 + 200, y0 + 50.5], text=txt, confidence=conf,
                              ocr=OcrEvidence(mean_prob=conf, min_prob=conf - 0.1, n_chars=len(txt), n_lines=1,
                                              char_probs=[conf] * len(txt), ink=0.07)))
    cells[1].confidence = 0.2  # 科目名称 header: the least sure cell, yet no check covers it
    table = Table(id="p1-t0", bbox=[100, 100, 1100, 100 + 50 * (len(rows) + 1)], n_rows=len(rows) + 1, n_cols=5,
                  cells=cells, col_edges=[100 + 200 * k for k in range(6)], kind="t03_expenditure_summary",
                  title="2024年部门支出总表", unit="万元")
    kpi = KpiRecord(project="新闻宣传", period="年度", level1="产出指标", level2="质量指标", level3="刊发新闻达标率",
                    value="≥98%", target=KpiTarget(**parse_target("≥98%").__dict__), confidence=0.55,
                    table_id="p1-t0", row=3, notes=["levels agreed"])
    doc = Document(source="/data/uploads/budget.pdf", n_pages=2, extractor_version="0.1.0", kpis=[kpi], pages=[
        Page(page=1, width=1654, height=2339, dpi=200, tables=[table], seconds=1.25),
        Page(page=2, width=1654, height=2339, dpi=200, seconds=0.5,
             failures=[Failure(stage="clean", category="empty_page", message="page is blank", page=2)]),
    ])
    validate(doc)
    return doc


@pytest.fixture(scope="session")
def sample_doc(pipeline) -> Document:
    """The bundled scan read by the real pipeline (once per session)."""
    truth = json.loads((ROOT / "samples" / "sample.truth.json").read_text(encoding="utf-8"))
    return pipeline.run(ROOT / "samples" / "sample.pdf", dpi=truth["dpi"])


def _png(color: int = 200) -> bytes:
    buf = io.BytesIO()
    Image.new("L", (40, 30), color).save(buf, format="PNG")
    return buf.getvalue()


# ---- URLs and migrations

def test_urls_are_normalised(tmp_path, monkeypatch):
    assert normalise_url("postgresql://u:p@h:5433/db") == "postgresql+psycopg://u:p@h:5433/db"
    assert normalise_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url(str(tmp_path / "x.db")) == f"sqlite:///{tmp_path / 'x.db'}"
    monkeypatch.delenv("EXTRACTOR_DB_URL", raising=False)
    assert normalise_url(None) == "sqlite:///extractor.db"
    monkeypatch.setenv("EXTRACTOR_DB_URL", "postgresql://x@y/z")
    assert normalise_url(None) == "postgresql+psycopg://x@y/z"


def test_migrations_build_exactly_the_declared_schema(db_url):
    """`alembic check`: the schema the migrations build has no difference from schema.py."""
    s = Store(db_url)
    try:
        assert s.revision() is None
        s.upgrade()
        assert s.revision() == Store.head_revision()
        with s.engine.connect() as conn:
            mc = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
            assert compare_metadata(mc, Base.metadata) == []
            # autogenerate does not compare CHECK constraints: every declared one must be there
            insp = inspect(conn)
            for t in Base.metadata.sorted_tables:
                want = {c.name for c in t.constraints if c.__class__.__name__ == "CheckConstraint"}
                assert want <= {c["name"] for c in insp.get_check_constraints(t.name)}, t.name
        s.upgrade()  # at head: nothing to do
        migrate.downgrade(s.engine, "base")
        assert s.revision() is None
        assert set(inspect(s.engine).get_table_names()) <= {"alembic_version"}
        s.upgrade()
        assert s.revision() == Store.head_revision()
    finally:
        s.close()


def test_migrations_ship_in_the_package():
    assert (migrate.MIGRATIONS / "env.py").is_file() and (migrate.MIGRATIONS / "script.py.mako").is_file()
    assert list((migrate.MIGRATIONS / "versions").glob("0001_*.py"))
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert "store/migrations/script.py.mako" in pyproject
    assert (migrate.MIGRATIONS / "__init__.py").is_file() and (migrate.MIGRATIONS / "versions" / "__init__.py").is_file()


def test_cli_db_upgrade_and_info(tmp_path):
    from click.testing import CliRunner

    from extractor.cli import main

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    r = CliRunner().invoke(main, ["db", "upgrade", "--db", url])
    assert r.exit_code == 0, r.output
    assert f"-> {Store.head_revision()}" in r.output
    r = CliRunner().invoke(main, ["db", "upgrade", "--db", url])
    assert r.exit_code == 0 and "already" in r.output
    with Store(url) as s:
        doc_id = s.register_document(HASH_A, "x.pdf", 3)
        s.create_job(doc_id)
    r = CliRunner().invoke(main, ["db", "info"], env={"EXTRACTOR_DB_URL": url})
    assert r.exit_code == 0, r.output
    assert f"revision  {Store.head_revision()}" in r.output
    assert "documents 1 (pending 1)" in r.output and "jobs      1 (queued 1)" in r.output


# ---- documents

@pytest.mark.slow
def test_pipeline_document_round_trip(store, sample_doc):
    """The real pipeline's document comes back equal, field for field; a second save of the same
    file is a no-op returning the same id."""
    h = sha256_file(ROOT / "samples" / "sample.pdf")
    doc_id = store.save_document(sample_doc, h, images={1: _png()})
    assert store.load_document(doc_id) == sample_doc
    counts = _row_counts(store)
    assert counts["cells"] == sum(len(t.cells) for t in sample_doc.tables()) > 100
    assert counts["kpis"] == len(sample_doc.kpis) > 0 and counts["projects"] == len(sample_doc.projects) > 0
    assert counts["pages"] == len(sample_doc.pages) == 3

    again = sample_doc.model_copy(deep=True)
    assert store.save_document(again, h) == doc_id
    assert _row_counts(store) == counts
    info = store.get_by_hash(h)
    assert info.id == doc_id and info.source_name == "sample.pdf" and info.n_pages == 3
    assert info.status == "done" and info.extractor_version == sample_doc.extractor_version
    assert store.page_image(doc_id, 1) == _png() and store.page_image(doc_id, 2) is None
    assert store.page_statuses(doc_id) == {1: "done", 2: "done", 3: "done"}


def test_document_round_trip_and_statuses(store):
    doc = budget_doc()
    doc_id = store.save_document(doc, HASH_A)
    back = store.load_document(doc_id)
    assert back == doc
    assert back.pages[1].failures[0].category == "empty_page"  # a blank page is not a failed page
    assert store.page_statuses(doc_id) == {1: "done", 2: "done"}
    assert store.get_document(doc_id).status == "done" and store.get_by_hash(HASH_B) is None

    failed = budget_doc()
    failed.pages[1].failures = [Failure(stage="ocr", category="error", message="boom", page=2)]
    other = store.save_document(failed, HASH_B)
    assert store.page_statuses(other) == {1: "done", 2: "failed"}
    assert store.get_document(other).status == "partial"
    assert [d.id for d in store.list_documents(status="partial")] == [other]
    assert store.load_document(other) == failed

    store.delete_document(doc_id)
    with pytest.raises(NotFoundError):
        store.load_document(doc_id)
    assert _row_counts(store)["documents"] == 1


def test_save_is_idempotent_per_content_hash(store):
    doc = budget_doc()
    first = store.save_document(doc, HASH_A.upper())  # hex digits in either case
    counts = _row_counts(store)
    changed = budget_doc(planted_error=False)
    assert store.save_document(changed, HASH_A) == first
    assert _row_counts(store) == counts
    assert store.load_document(first) == doc  # the first extraction stands
    with pytest.raises(ValueError):
        store.save_document(doc, "not-a-hash")


def test_a_failure_mid_save_leaves_nothing(store):
    """Two cells at the same grid position: the cells insert fails after the document, pages and
    tables were written; the transaction takes them all back."""
    bad = budget_doc()
    bad.pages[0].tables[0].cells.append(bad.pages[0].tables[0].cells[-1].model_copy())
    inserted = []

    @event.listens_for(store.engine, "before_cursor_execute")
    def seen(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("INSERT INTO"):
            inserted.append(statement.split()[2].strip('"'))

    with pytest.raises(IntegrityError):
        store.save_document(bad, HASH_A)
    event.remove(store.engine, "before_cursor_execute", seen)
    assert {"documents", "pages", "tables", "cells"} <= set(inserted)
    assert all(n == 0 for n in _row_counts(store).values()), _row_counts(store)
    assert store.get_by_hash(HASH_A) is None

    # a registered (pending) document stays as it was
    doc_id = store.register_document(HASH_A, "/data/budget.pdf", n_pages=2)
    before = _row_counts(store)
    with pytest.raises(IntegrityError):
        store.save_document(bad, HASH_A)
    assert _row_counts(store) == before and store.get_document(doc_id).status == "pending"
    assert store.page_statuses(doc_id) == {1: "pending", 2: "pending"}
    # a bad image is refused before anything is written
    with pytest.raises(ValueError):
        store.save_document(budget_doc(), HASH_A, images={1: b"GIF89a..."})
    with pytest.raises(ValueError):
        store.save_document(budget_doc(), HASH_A, images={7: _png()})
    assert _row_counts(store) == before
    # and the good document then fills the registered one in
    assert store.save_document(budget_doc(), HASH_A, images={2: _png(9)}) == doc_id
    assert store.get_document(doc_id).status == "done" and store.page_image(doc_id, 2) == _png(9)
    assert store.load_document(doc_id) == budget_doc()


def test_registered_document_is_filled_in_by_the_worker(store):
    doc_id = store.register_document(HASH_A, "/data/uploads/budget.pdf", n_pages=3)
    assert store.register_document(HASH_A, "/elsewhere/same.pdf", n_pages=3) == doc_id
    with pytest.raises(StoreError):
        store.load_document(doc_id)  # nothing extracted yet
    store.save_page_image(doc_id, 3, _png(50))
    doc = budget_doc()  # pages 1-2 processed, page 3 not asked for
    assert store.save_document(doc, HASH_A) == doc_id
    assert store.page_statuses(doc_id) == {1: "done", 2: "done", 3: "pending"}
    assert store.load_document(doc_id) == doc and store.page_image(doc_id, 3) == _png(50)
    with pytest.raises(NotFoundError):
        store.page_image(doc_id, 9)


# ---- reviews

def test_correction_replaces_the_value_everywhere_and_keeps_the_original(store, tmp_path):
    doc = budget_doc()
    doc_id = store.save_document(doc, HASH_A)
    bad = next(c for c in doc.pages[0].tables[0].cells if c.text == "871.29")
    assert "-row_sum" in bad.checks and bad.confidence < 0.5
    cell_id = store.find_cell(doc_id, "p1-t0:3:2")
    rv = store.record_review("cell", cell_id, action="correct", new_value="821.29", reviewer="王芳")
    assert (rv.old_value, rv.new_value, rv.old_confidence, rv.old_source) == ("871.29", "821.29", bad.confidence, "ocr")
    assert rv.document_id == doc_id and rv.field == "text" and rv.reviewer == "王芳"

    back = store.load_document(doc_id)
    cell = next(c for c in back.pages[0].tables[0].cells if (c.row, c.col) == (3, 2))
    assert cell.text == "821.29" and cell.confidence == 1.0
    assert cell.bbox == bad.bbox and cell.ocr == bad.ocr  # the rest of the cell is untouched
    assert store.review_marks(doc_id).cells == {"p1-t0:3:2": "review"}
    with store.engine.connect() as c:  # the stored row itself, as any SQL export would read it
        row = c.execute(select(CellRow.text, CellRow.confidence, CellRow.source, CellRow.reviewed)
                        .where(CellRow.id == cell_id)).one()
    assert tuple(row) == ("821.29", 1.0, "review", True)
    # the exports made from the store show the corrected value
    paths = write_csvs(back, tmp_path / "csv")
    grid = list(csv.reader(open(paths[0], encoding="utf-8-sig")))
    assert grid[3][2] == "821.29"

    # accepting another cell: same text, confidence 1.0, source stays ocr
    other = store.find_cell(doc_id, "p1-t0:0:1")
    store.record_review("cell", other, action="accept", reviewer="李雷")
    back = store.load_document(doc_id)
    accepted = next(c for c in back.pages[0].tables[0].cells if (c.row, c.col) == (0, 1))
    assert accepted.text == "科目名称" and accepted.confidence == 1.0
    assert store.review_marks(doc_id).cells == {"p1-t0:3:2": "review", "p1-t0:0:1": "ocr"}
    # a second correction of the same cell keeps the whole history
    store.record_review("cell", cell_id, action="correct", new_value="821.30", reviewer="王芳")
    hist = [(r.old_value, r.new_value, r.action, r.old_source) for r in store.reviews(doc_id)]
    assert hist == [("871.29", "821.29", "correct", "ocr"), ("科目名称", "科目名称", "accept", "ocr"),
                    ("821.29", "821.30", "correct", "review")]


def test_kpi_correction_reparses_the_target(store, tmp_path):
    doc_id = store.save_document(budget_doc(), HASH_A)
    kpi_id = store.find_kpi(doc_id, "p1-t0", 3, "年度")
    rv = store.record_review("kpi", kpi_id, action="correct", new_value="≥95%", reviewer="王芳")
    assert (rv.target, rv.field, rv.old_value, rv.old_confidence) == ("kpi", "value", "≥98%", 0.55)
    k = store.load_document(doc_id).kpis[0]
    assert k.value == "≥95%" and k.confidence == 1.0 and k.target.value == 95 and k.target.comparator == "≥"
    with store.engine.connect() as c:
        assert c.execute(select(KpiRow.source).where(KpiRow.id == kpi_id)).scalar_one() == "review"
    rows = list(csv.DictReader(open(write_kpi_csv(store.load_document(doc_id), tmp_path / "k.csv"),
                                    encoding="utf-8-sig")))
    assert rows[0]["value"] == "≥95%" and rows[0]["target_value"] == "95.0"
    store.record_review("kpi", kpi_id, action="correct", new_value="质量指标（修）", field="level2", reviewer="李雷")
    assert store.load_document(doc_id).kpis[0].level2 == "质量指标（修）"
    assert store.review_marks(doc_id).kpis == {"p1-t0:3:年度": "review"}


def test_cell_correction_carries_into_the_kpi_records_read_from_it(store, tmp_path):
    """Correcting a KPI table's cell corrects the records read from its rows: the 指标值 of one row,
    and the merged 一级 cell's text in every row it covers."""
    grid = [["一级指标", "二级指标", "三级指标", "指标值"],
            ["产出指橱", "数量指标", "培训人次", "≥200人次"],
            ["", "质量指标", "培训合格率", "≥95%"]]
    cells = []
    for r, row in enumerate(grid):
        for k, txt in enumerate(row):
            if r == 2 and k == 0:
                continue  # covered by the merged 一级 cell
            cells.append(Cell(row=r, col=k, rowspan=2 if (r, k) == (1, 0) else 1, bbox=[100 * k, 40 * r, 100 * k + 100, 40 * r + 40],
                              text=txt, confidence=0.7))
    table = Table(id="p1-t0", bbox=[0, 0, 400, 120], n_rows=3, n_cols=4, cells=cells, kind="kpi_project")
    kpis = [KpiRecord(project="培训", period="年度", level1="产出指橱", level2=g[1], level3=g[2], value=g[3],
                      target=KpiTarget(**parse_target(g[3]).__dict__), confidence=0.6, table_id="p1-t0", row=r)
            for r, g in ((1, grid[1]), (2, ["", "质量指标", "培训合格率", "≥95%"]))]
    doc = Document(source="kpi.pdf", n_pages=1, extractor_version="0.1.0", kpis=kpis,
                   pages=[Page(page=1, width=400, height=120, dpi=200, tables=[table])])
    doc_id = store.save_document(doc, HASH_A)
    store.record_review("cell", store.find_cell(doc_id, "p1-t0:1:3"), action="correct", new_value="≥300人次", reviewer="王芳")
    store.record_review("cell", store.find_cell(doc_id, "p1-t0:1:0"), action="correct", new_value="产出指标", reviewer="王芳")
    back = store.load_document(doc_id).kpis
    assert [k.level1 for k in back] == ["产出指标", "产出指标"]
    assert back[0].value == "≥300人次" and back[0].target.value == 300 and back[0].target.comparator == "≥"
    assert back[1].value == "≥95%" and back[1].target.value == 95  # its own value untouched
    assert [k.source for k in back] == ["review", "review"]
    rows = list(csv.DictReader(open(write_kpi_csv(store.load_document(doc_id), tmp_path / "k.csv"), encoding="utf-8-sig")))
    assert rows[0]["value"] == "≥300人次" and rows[1]["level1"] == "产出指标"


def test_bad_reviews_are_refused(store):
    doc_id = store.save_document(budget_doc(), HASH_A)
    cell_id = store.find_cell(doc_id, "p1-t0:3:2")
    with pytest.raises(ValueError):
        store.record_review("cell", cell_id, action="correct", reviewer="王芳")  # no new value
    with pytest.raises(ValueError):
        store.record_review("cell", cell_id, action="accept", new_value="1", reviewer="王芳")
    with pytest.raises(ValueError):
        store.record_review("cell", cell_id, action="approve", reviewer="王芳")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        store.record_review("cell", cell_id, action="accept", reviewer=" ")
    with pytest.raises(ValueError):
        store.record_review("kpi", store.find_kpi(doc_id, "p1-t0", 3, "年度"), action="accept",
                            field="confidence", reviewer="王芳")
    with pytest.raises(NotFoundError):
        store.record_review("cell", 10**6, action="accept", reviewer="王芳")
    with pytest.raises(NotFoundError):
        store.find_cell(doc_id, "p1-t0:99:0")
    assert store.reviews(doc_id) == [] and store.review_marks(doc_id).cells == {}


def test_review_queue_puts_broken_checks_first_then_lowest_confidence(store):
    doc = budget_doc()
    doc_id = store.save_document(doc, HASH_A)
    cells = {f"p1-t0:{c.row}:{c.col}": c for c in doc.pages[0].tables[0].cells}
    broken = {ref for ref, c in cells.items() if any(ch.startswith("-") for ch in c.checks)}
    assert "p1-t0:3:2" in broken and len(broken) >= 3  # the misread and the cells its checks cover

    q = store.review_queue(doc_id, below=0.9)
    refs = [i.ref for i in q if i.target == "cell"]
    # exactly the unreviewed cells under 0.9 or breaking a check, plus the KPI record under 0.9
    assert set(refs) == {ref for ref, c in cells.items() if c.confidence < 0.9 or ref in broken}
    assert [i.ref for i in q if i.target == "kpi"] == ["p1-t0:3:年度"]
    # broken checks first — even before the 0.2 header cell — each group by rising confidence
    assert {i.ref for i in q[:len(broken)]} == broken
    assert all(i.broken_checks for i in q[:len(broken)]) and not any(i.broken_checks for i in q[len(broken):])
    assert "row_sum" in next(i for i in q if i.ref == "p1-t0:3:2").broken_checks
    for group in (q[:len(broken)], q[len(broken):]):
        assert [i.confidence for i in group] == sorted(i.confidence for i in group)
    assert q[len(broken)].ref == "p1-t0:0:1" and q[len(broken)].confidence == 0.2
    first = q[0]
    assert first.value == cells[first.ref].text and first.bbox == tuple(cells[first.ref].bbox) and first.page == 1

    p = store.review_progress(doc_id, below=0.9)
    assert (p.cells, p.cells_reviewed, p.kpis, p.queue) == (len(cells), 0, 1, len(q)) and p.fraction_done == 0.0
    store.record_review("cell", first.id, action="correct", new_value="821.29", reviewer="王芳")
    store.record_review("kpi", q[-1].id if q[-1].target == "kpi" else next(i.id for i in q if i.target == "kpi"),
                        action="accept", reviewer="王芳")
    q2 = store.review_queue(doc_id, below=0.9)
    assert [i.ref for i in q2] == [i.ref for i in q if i.ref not in (first.ref, "p1-t0:3:年度")]
    p = store.review_progress(doc_id, below=0.9)
    assert (p.cells_reviewed, p.cells_corrected, p.kpis_reviewed, p.kpis_corrected, p.queue) == (1, 1, 1, 0, len(q) - 2)
    assert p.fraction_done == pytest.approx(2 / len(q))
    assert len(store.review_queue(doc_id, below=0.9, limit=3)) == 3
    assert store.review_queue(doc_id, below=0.0) == q2[:len(broken) - 1]  # only broken checks left at 0


# ---- jobs

def test_job_life_cycle(store):
    doc_id = store.register_document(HASH_A, "/data/budget.pdf", n_pages=2)
    job = store.create_job(doc_id, pages_total=2)
    assert (job.state, job.pages_done, job.pages_total, job.started_at) == ("queued", 0, 2, None)
    assert job.created_at.tzinfo is not None
    assert store.next_queued("w1").id == job.id
    assert store.next_queued("w2") is None
    running = store.get_job(job.id)
    assert running.state == "running" and running.worker == "w1" and running.started_at is not None
    store.update_job(job.id, pages_done=1)
    store.save_document(budget_doc(), HASH_A)
    done = store.update_job(job.id, state="done", pages_done=2)
    assert done.state == "done" and done.finished_at >= done.started_at and done.pages_done == 2
    assert [j.id for j in store.list_jobs(doc_id=doc_id, state="done")] == [job.id]
    failed = store.update_job(store.create_job(doc_id).id, state="failed", error="worker died")
    assert failed.error == "worker died" and failed.finished_at is not None
    requeued = store.update_job(failed.id, state="queued")
    assert requeued.worker is None and requeued.finished_at is None
    with pytest.raises(ValueError):
        store.update_job(job.id, state="paused")  # type: ignore[arg-type]
    with pytest.raises(NotFoundError):
        store.create_job(10**6)
    assert store.counts() == {"documents": {"done": 1}, "jobs": {"done": 1, "queued": 1}}


def test_concurrent_workers_claim_each_job_exactly_once(store, db_url):
    doc_id = store.register_document(HASH_A, "/data/budget.pdf", n_pages=1)
    jobs = [store.create_job(doc_id).id for _ in range(30)]
    claimed: dict[str, list[int]] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def worker(name: str) -> None:
        s = Store(db_url)  # each worker its own connection pool, as separate processes would have
        try:
            barrier.wait()
            mine = claimed.setdefault(name, [])
            while (job := s.next_queued(name)) is not None:
                mine.append(job.id)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)
        finally:
            s.close()

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    got = [j for ids in claimed.values() for j in ids]
    assert sorted(got) == jobs  # every job once, none twice
    assert all(store.get_job(j).worker == name for name, ids in claimed.items() for j in ids)
    assert store.list_jobs(state="queued") == []


# ---- uploads (the service's submissions)

def test_an_upload_is_one_transaction_and_known_by_content(store):
    job, new = store.submit_upload(HASH_A, "/client/path/部门预算.pdf", b"%PDF-1.7 one", 2, "application/pdf")
    assert new and (job.state, job.pages_total, job.attempts) == ("queued", 2, 0)
    info = store.get_document(job.document_id)
    assert (info.status, info.source_name, info.n_pages) == ("pending", "部门预算.pdf", 2)
    assert store.page_statuses(info.id) == {1: "pending", 2: "pending"}
    up = store.load_upload(info.id)
    assert (up.filename, up.media_type, up.size, up.data) == ("部门预算.pdf", "application/pdf", 12, b"%PDF-1.7 one")
    counts = _row_counts(store)
    assert store.submit_upload(HASH_A, "again.pdf", b"%PDF-1.7 one", 2) == (job, False)  # same content: same job
    assert _row_counts(store) == counts

    # a job that failed before the document was extracted: a new submission retries it
    claimed = store.next_queued("w1")
    assert claimed.attempts == 1 and store.has_queued_jobs() is False
    store.update_job(job.id, state="failed", error="boom")
    retry, new = store.submit_upload(HASH_A, "again.pdf", b"%PDF-1.7 one", 2)
    assert new and retry.id != job.id and retry.state == "queued" and store.has_queued_jobs()
    assert _row_counts(store)["uploads"] == 1
    # released jobs go back to the queue only if still running (by that worker)
    assert store.next_queued("w2").id == retry.id
    assert not store.release_job(retry.id, "w1") and store.release_job(retry.id, "w2")
    assert store.get_job(retry.id).state == "queued" and store.get_job(retry.id).worker is None

    # a document extracted earlier (a batch, say): its job is done at once
    done_id = store.save_document(budget_doc(), HASH_B)
    job_b, new = store.submit_upload(HASH_B, "budget.pdf", b"%PDF-1.7 two", 2)
    assert new and job_b.document_id == done_id and (job_b.state, job_b.pages_done) == ("done", 2)

    # a failure half way (the job insert) leaves nothing: no document, pages or stored file
    before = _row_counts(store)

    @event.listens_for(store.engine, "before_cursor_execute")
    def fail_jobs(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("INSERT INTO JOBS"):
            raise RuntimeError("disk full")

    with pytest.raises(Exception, match="disk full"):
        store.submit_upload("c" * 64, "new.pdf", b"%PDF-1.7 three", 3)
    event.remove(store.engine, "before_cursor_execute", fail_jobs)
    assert _row_counts(store) == before and store.get_by_hash("c" * 64) is None
    with pytest.raises(NotFoundError):
        store.load_upload(10**6)
