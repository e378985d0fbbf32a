"""The store: extracted documents, extraction jobs (with the files submitted to the service) and
human reviews in one database.

Callers see ``Document`` objects and the small frozen records below (``DocumentInfo``, ``JobInfo``,
``ReviewInfo``, ``QueueItem``, ``ReviewProgress``), never ORM rows or sessions.

Reviews: ``record_review`` changes the reviewed cell (or KPI record) itself — a correction sets the
new text with confidence 1.0 and ``source="review"``, an acceptance keeps the text and sets
confidence 1.0 — and writes a ``reviews`` row with the value, confidence and source it replaced.
``load_document`` (and so every export made from it: JSON, CSV, KPI CSV) therefore shows the
reviewed values, and the extraction's own values stay on record in the reviews.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Mapping, Optional, Sequence, TypeVar, Union, cast, get_args

from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ..kpi.numbers import parse_target
from ..model import Document, Failure, KpiTarget, Page
from ..policy import REVIEW_BELOW, broken as broken_checks
from . import migrate
from .convert import PageRows, document_from_rows, document_to_rows
from .engine import SQLITE_IMMEDIATE, make_engine, normalise_url
from .schema import (
    CellRow,
    DocumentRow,
    JobRow,
    KpiRow,
    PageRow,
    ProjectRow,
    ReviewRow,
    TableRow,
    UploadRow,
    utcnow,
)
from .batch_records import BatchFileInfo, BatchPageInfo, BatchRunInfo, BatchRunState
from .schema import BatchFileRow, BatchPageRow, BatchRunRow

DocumentStatus = Literal["pending", "done", "partial", "failed"]
JobState = Literal["queued", "running", "done", "failed"]
ReviewTarget = Literal["cell", "kpi"]
ReviewAction = Literal["accept", "correct"]

R = TypeVar("R", PageRow, TableRow, CellRow, KpiRow, ProjectRow)

# the KPI record fields a reviewer may correct
KPI_REVIEW_FIELDS = ("value", "level1", "level2", "level3", "project")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class StoreError(Exception):
    """A request the store cannot carry out."""


class NotFoundError(StoreError, LookupError):
    """No such document, job, cell or KPI record."""


def sha256_file(path: Union[str, os.PathLike[str]]) -> str:
    """The content hash the store keys documents by: sha256 of the file's bytes, lowercase hex."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _check_hash(content_hash: str) -> str:
    h = content_hash.strip().lower()
    if len(h) != 64 or any(c not in "0123456789abcdef" for c in h):
        raise ValueError(f"not a sha256 hex digest: {content_hash!r}")
    return h


@dataclass(frozen=True)
class DocumentInfo:
    id: int
    content_hash: str
    source: str
    source_name: str
    n_pages: int
    status: DocumentStatus
    schema_version: Optional[str]
    extractor_version: Optional[str]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class JobInfo:
    id: int
    document_id: int
    state: JobState
    pages_done: int
    pages_total: Optional[int]
    worker: Optional[str]
    error: Optional[str]
    created_at: datetime
    updated_at: datetime
    started_at: Optional[datetime]
    finished_at: Optional[datetime]
    attempts: int = 0  # how many times a worker claimed it


@dataclass(frozen=True)
class Upload:
    """The file a client submitted to the service (``submit_upload``)."""

    document_id: int
    filename: str
    media_type: str
    size: int
    data: bytes


@dataclass(frozen=True)
class ReviewInfo:
    id: int
    document_id: int
    target: ReviewTarget
    target_id: int  # the cell's or KPI record's id in the store
    field: str  # "text" for a cell; a KPI_REVIEW_FIELDS name for a KPI record
    action: ReviewAction
    reviewer: str
    created_at: datetime
    old_value: str
    new_value: str
    old_confidence: float
    old_source: str


@dataclass(frozen=True)
class QueueItem:
    """One value waiting for review. ``ref`` names it as the document does: a cell
    ``"{table_id}:{row}:{col}"`` (as in ``Check.cells``), a KPI record ``"{table_id}:{row}:{period}"``."""

    target: ReviewTarget
    id: int
    ref: str
    page: Optional[int]
    table_id: str
    row: int
    col: Optional[int]  # None for a KPI record
    field: str
    value: str
    confidence: float
    broken_checks: tuple[str, ...]  # names of the arithmetic checks the cell breaks
    bbox: Optional[tuple[float, ...]]  # the cell's box on the page image (None for a KPI record)


@dataclass(frozen=True)
class ReviewProgress:
    below: float  # the threshold the queue was taken at
    cells: int
    cells_reviewed: int
    cells_corrected: int
    kpis: int
    kpis_reviewed: int
    kpis_corrected: int
    queue: int  # values still waiting (what review_queue(doc_id, below) lists)

    @property
    def fraction_done(self) -> float:
        """Share of the values that needed review (queued or already reviewed) that are reviewed."""
        done = self.cells_reviewed + self.kpis_reviewed
        return 1.0 if done + self.queue == 0 else done / (done + self.queue)


@dataclass(frozen=True)
class ReviewMarks:
    """Reviewed values by reference (as in ``QueueItem.ref``) -> source: ``"review"`` when corrected,
    ``"ocr"`` when the extracted value was accepted."""

    cells: dict[str, str]
    kpis: dict[str, str]


def _doc_info(r: DocumentRow) -> DocumentInfo:
    return DocumentInfo(r.id, r.content_hash, r.source, r.source_name, r.n_pages, cast(DocumentStatus, r.status),
                        r.schema_version, r.extractor_version, r.created_at, r.updated_at)


def _job_info(r: JobRow) -> JobInfo:
    return JobInfo(r.id, r.document_id, cast(JobState, r.state), r.pages_done, r.pages_total, r.worker, r.error,
                   r.created_at, r.updated_at, r.started_at, r.finished_at, r.attempts or 0)


def _review_info(r: ReviewRow) -> ReviewInfo:
    target_id = r.cell_id if r.target == "cell" else r.kpi_id
    assert target_id is not None
    return ReviewInfo(r.id, r.document_id, cast(ReviewTarget, r.target), target_id, r.field,
                      cast(ReviewAction, r.action), r.reviewer, r.created_at, r.old_value, r.new_value,
                      r.old_confidence, r.old_source)


class Store:
    """``Store()`` opens ``$EXTRACTOR_DB_URL`` or the SQLite file ``extractor.db``; ``Store(url)`` any
    SQLAlchemy URL (``postgresql://user@host/db`` goes through psycopg 3) or a SQLite file path.
    Call ``upgrade()`` once to create or migrate the schema."""

    def __init__(self, url: Optional[str] = None, *, echo: bool = False) -> None:
        self.url = normalise_url(url)
        self.engine: Engine = make_engine(self.url, echo=echo)
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        # writes take SQLite's write lock at BEGIN, so concurrent writers queue instead of failing
        self._write = sessionmaker(self.engine.execution_options(**{SQLITE_IMMEDIATE: True}), expire_on_commit=False)
        # several reads that must agree (load_document, review_queue) see one snapshot
        snapshot = self.engine.execution_options(isolation_level="REPEATABLE READ") \
            if self.engine.dialect.name == "postgresql" else self.engine
        self._snapshot = sessionmaker(snapshot, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.engine.url.render_as_string(hide_password=True)!r})"

    # ---- schema

    def upgrade(self, revision: str = "head") -> None:
        """Create or migrate the schema (Alembic, migrations shipped in the package)."""
        migrate.upgrade(self.engine, revision)

    def revision(self) -> Optional[str]:
        """The schema revision of the database (None: never migrated)."""
        return migrate.current_revision(self.engine)

    @staticmethod
    def head_revision() -> str:
        return migrate.head_revision()

    # ---- documents

    def register_document(self, content_hash: str, source: str, n_pages: int = 0) -> int:
        """A document to be extracted (status ``pending``, with ``n_pages`` pending pages), so that
        a job can point at it. Returns the existing id when the hash is already known."""
        h = _check_hash(content_hash)
        try:
            with self._write.begin() as s:
                found = s.scalar(select(DocumentRow.id).where(DocumentRow.content_hash == h))
                if found is not None:
                    return found
                row = DocumentRow(content_hash=h, source=source, source_name=os.path.basename(source)[:255],
                                  n_pages=n_pages, status="pending", extra={})
                row.pages = [PageRow(page=n, status="pending", failures=[], extra={}) for n in range(1, n_pages + 1)]
                s.add(row)
                s.flush()
                return row.id
        except IntegrityError:
            found_info = self.get_by_hash(h)
            if found_info is None:
                raise
            return found_info.id

    def save_document(self, doc: Document, content_hash: str,
                      images: Optional[Mapping[int, bytes]] = None) -> int:
        """Store an extracted document; returns its id. Idempotent per content hash: a document
        already extracted under this hash is left as it is and its id returned; a ``pending`` one
        (``register_document``) is filled in. ``images`` maps page numbers to PNG bytes. Everything
        is written in one transaction: on any error nothing of it is left."""
        h = _check_hash(content_hash)
        numbers = {p.page for p in doc.pages}
        for n, png in (images or {}).items():
            if n not in numbers:
                raise ValueError(f"image for page {n}, which is not in the document")
            if not bytes(png[:8]) == PNG_SIGNATURE:
                raise ValueError(f"image for page {n} is not a PNG")
        rows = document_to_rows(doc)
        try:
            with self._write.begin() as s:
                drow = s.scalars(select(DocumentRow).where(DocumentRow.content_hash == h).with_for_update()).first()
                if drow is not None and drow.status != "pending":
                    return drow.id
                if drow is None:
                    drow = DocumentRow(content_hash=h, **rows.document)
                    s.add(drow)
                else:
                    for k, v in rows.document.items():
                        setattr(drow, k, v)
                s.flush()
                doc_id = drow.id
                existing = {p.page: p for p in s.scalars(select(PageRow).where(PageRow.document_id == doc_id))}
                page_rows: list[tuple[PageRow, PageRows]] = []
                for pr in rows.pages:
                    number = pr.page["page"]
                    prow = existing.get(number)
                    if prow is None:
                        prow = PageRow(document_id=doc_id, **pr.page)
                        s.add(prow)
                    else:
                        for k, v in pr.page.items():
                            setattr(prow, k, v)
                    if images and number in images:
                        prow.image_png = bytes(images[number])
                    page_rows.append((prow, pr))
                s.flush()  # page ids
                tables: list[tuple[TableRow, list[dict[str, Any]]]] = []
                for prow, pr in page_rows:
                    for tr in pr.tables:
                        trow = TableRow(document_id=doc_id, page_id=prow.id, **tr.table)
                        s.add(trow)
                        tables.append((trow, tr.cells))
                s.flush()  # table ids
                cells = [{**c, "document_id": doc_id, "table_pk": trow.id} for trow, cs in tables for c in cs]
                if cells:
                    s.execute(insert(CellRow), cells)
                if rows.kpis:
                    s.execute(insert(KpiRow), [{**k, "document_id": doc_id} for k in rows.kpis])
                if rows.projects:
                    s.execute(insert(ProjectRow), [{**p, "document_id": doc_id} for p in rows.projects])
                return doc_id
        except IntegrityError:
            # a concurrent save of the same file won the race: its document stands
            other = self.get_by_hash(h)
            if other is None or other.status == "pending":
                raise
            return other.id

    def get_by_hash(self, content_hash: str) -> Optional[DocumentInfo]:
        with self._read() as s:
            r = s.scalars(select(DocumentRow).where(DocumentRow.content_hash == _check_hash(content_hash))).first()
            return None if r is None else _doc_info(r)

    def get_document(self, doc_id: int) -> DocumentInfo:
        with self._read() as s:
            return _doc_info(self._doc_row(s, doc_id))

    def list_documents(self, status: Optional[DocumentStatus] = None) -> list[DocumentInfo]:
        q = select(DocumentRow).order_by(DocumentRow.id)
        if status is not None:
            q = q.where(DocumentRow.status == status)
        with self._read() as s:
            return [_doc_info(r) for r in s.scalars(q)]

    def load_document(self, doc_id: int) -> Document:
        """The stored Document, reviewed values in place (see the module docstring)."""
        with self._snapshot.begin() as s:
            drow = self._doc_row(s, doc_id)
            if drow.status == "pending":
                raise StoreError(f"document {doc_id} has not been extracted yet")

            def of_doc(cls: type[R]) -> Sequence[R]:
                return s.scalars(select(cls).where(cls.document_id == doc_id)).all()

            return document_from_rows(drow, of_doc(PageRow), of_doc(TableRow), of_doc(CellRow), of_doc(KpiRow),
                                      of_doc(ProjectRow))

    def delete_document(self, doc_id: int) -> None:
        """The document and everything of it: pages, tables, cells, KPI records, jobs, reviews."""
        with self._write.begin() as s:
            self._doc_row(s, doc_id)
            s.execute(delete(DocumentRow).where(DocumentRow.id == doc_id))

    def save_page_image(self, doc_id: int, page: int, png: bytes) -> None:
        if not bytes(png[:8]) == PNG_SIGNATURE:
            raise ValueError(f"image for page {page} is not a PNG")
        with self._write.begin() as s:
            row = s.scalars(select(PageRow).where(PageRow.document_id == doc_id, PageRow.page == page)).first()
            if row is None:
                raise NotFoundError(f"no page {page} in document {doc_id}")
            row.image_png = bytes(png)

    def page_image(self, doc_id: int, page: int) -> Optional[bytes]:
        """The page image (PNG) if one was stored."""
        with self._read() as s:
            r = s.execute(select(PageRow.id, PageRow.image_png)
                          .where(PageRow.document_id == doc_id, PageRow.page == page)).first()
        if r is None:
            raise NotFoundError(f"no page {page} in document {doc_id}")
        return r[1]

    def page_size(self, doc_id: int, page: int) -> tuple[int, int]:
        """(width, height) of the page image the document's boxes refer to (0, 0 until it is read)."""
        with self._read() as s:
            r = s.execute(select(PageRow.width, PageRow.height)
                          .where(PageRow.document_id == doc_id, PageRow.page == page)).first()
        if r is None:
            raise NotFoundError(f"no page {page} in document {doc_id}")
        return int(r[0]), int(r[1])

    def page_statuses(self, doc_id: int) -> dict[int, str]:
        """Page number -> pending / done / failed."""
        with self._read() as s:
            self._doc_row(s, doc_id)
            rows = s.execute(select(PageRow.page, PageRow.status).where(PageRow.document_id == doc_id)
                             .order_by(PageRow.page)).all()
        return {page: status for page, status in rows}

    # ---- jobs

    def create_job(self, doc_id: int, pages_total: Optional[int] = None) -> JobInfo:
        with self._write.begin() as s:
            self._doc_row(s, doc_id)
            row = JobRow(document_id=doc_id, state="queued", pages_done=0, pages_total=pages_total)
            s.add(row)
            s.flush()
            return _job_info(row)

    def get_job(self, job_id: int) -> JobInfo:
        with self._read() as s:
            return _job_info(self._job_row(s, job_id))

    def list_jobs(self, doc_id: Optional[int] = None, state: Optional[JobState] = None) -> list[JobInfo]:
        q = select(JobRow).order_by(JobRow.id)
        if doc_id is not None:
            q = q.where(JobRow.document_id == doc_id)
        if state is not None:
            q = q.where(JobRow.state == state)
        with self._read() as s:
            return [_job_info(r) for r in s.scalars(q)]

    def update_job(self, job_id: int, *, state: Optional[JobState] = None, pages_done: Optional[int] = None,
                   pages_total: Optional[int] = None, error: Optional[str] = None) -> JobInfo:
        """Progress and outcome of a job. Entering ``running`` stamps ``started_at``, entering
        ``done``/``failed`` stamps ``finished_at``; back to ``queued`` clears the claim."""
        if state is not None and state not in get_args(JobState):
            raise ValueError(f"unknown job state {state!r}")
        for name, v in (("pages_done", pages_done), ("pages_total", pages_total)):
            if v is not None and v < 0:
                raise ValueError(f"{name} must not be negative")
        with self._write.begin() as s:
            row = self._job_row(s, job_id, lock=True)
            now = utcnow()
            if state is not None and state != row.state:
                row.state = state
                if state == "running":
                    row.started_at = row.started_at or now
                elif state in ("done", "failed"):
                    row.finished_at = now
                elif state == "queued":
                    row.worker, row.started_at, row.finished_at = None, None, None
            if pages_done is not None:
                row.pages_done = pages_done
            if pages_total is not None:
                row.pages_total = pages_total
            if error is not None:
                row.error = error
            row.updated_at = now
            s.flush()
            return _job_info(row)

    def next_queued(self, worker: Optional[str] = None) -> Optional[JobInfo]:
        """Claim the oldest queued job for ``worker``: it becomes ``running`` and is returned; None
        when no job is queued. Safe with many workers: each job goes to exactly one of them
        (PostgreSQL: ``SELECT … FOR UPDATE SKIP LOCKED``; SQLite: the claim runs in a
        ``BEGIN IMMEDIATE`` transaction, which holds the database's write lock)."""
        with self._write.begin() as s:
            q = (select(JobRow).where(JobRow.state == "queued").order_by(JobRow.id).limit(1)
                 .with_for_update(skip_locked=True))
            row = s.scalars(q).first()
            if row is None:
                return None
            now = utcnow()
            row.state, row.worker, row.started_at, row.updated_at = "running", worker, now, now
            row.attempts = (row.attempts or 0) + 1
            s.flush()
            return _job_info(row)

    def has_queued_jobs(self) -> bool:
        """Whether any job is queued (a cheap read, for workers that poll before claiming)."""
        with self._read() as s:
            return s.scalar(select(JobRow.id).where(JobRow.state == "queued").limit(1)) is not None

    def release_job(self, job_id: int, worker: Optional[str] = None) -> bool:
        """Put a ``running`` job back in the queue (its worker died or was stopped), only if it is still
        running (and, with ``worker``, still claimed by that worker). Returns whether it was released."""
        q = update(JobRow).where(JobRow.id == job_id, JobRow.state == "running")
        if worker is not None:
            q = q.where(JobRow.worker == worker)
        with self._write.begin() as s:
            n = s.execute(q.values(state="queued", worker=None, started_at=None, finished_at=None,
                                   updated_at=utcnow())).rowcount
        return bool(n)

    # ---- uploads (the extraction service)

    def submit_upload(self, content_hash: str, filename: str, data: bytes, n_pages: int,
                      media_type: str = "application/octet-stream") -> tuple[JobInfo, bool]:
        """A file submitted for extraction: the document is registered (``pending``, with its pages),
        the file's bytes kept, and a job queued, all in one transaction (on any error nothing of it is
        left). Returns (the job, whether it is new). The same content again: no new rows; the
        document's newest job is returned — unless that job failed before the document was
        extracted, when a new job is queued (a retry). A document already extracted (by a batch, say)
        gets a job that is ``done`` at once."""
        h = _check_hash(content_hash)
        name = os.path.basename(filename)[:255] or "upload"
        for attempt in (1, 2):
            try:
                with self._write.begin() as s:
                    drow = s.scalars(select(DocumentRow).where(DocumentRow.content_hash == h).with_for_update()).first()
                    if drow is None:
                        drow = DocumentRow(content_hash=h, source=name, source_name=name, n_pages=n_pages,
                                           status="pending", extra={})
                        drow.pages = [PageRow(page=n, status="pending", failures=[], extra={})
                                      for n in range(1, n_pages + 1)]
                        s.add(drow)
                        s.flush()
                    else:
                        last = s.scalars(select(JobRow).where(JobRow.document_id == drow.id)
                                         .order_by(JobRow.id.desc()).limit(1)).first()
                        if last is not None and not (last.state == "failed" and drow.status == "pending"):
                            return _job_info(last), False
                    if s.scalar(select(UploadRow.id).where(UploadRow.document_id == drow.id)) is None:
                        s.add(UploadRow(document_id=drow.id, filename=name, media_type=media_type[:100],
                                        size=len(data), data=bytes(data)))
                    now = utcnow()
                    if drow.status == "pending":
                        job = JobRow(document_id=drow.id, state="queued", pages_done=0, pages_total=n_pages,
                                     attempts=0)
                    else:  # extracted before: nothing to do
                        done = sum(1 for p in drow.pages if p.status != "pending")
                        job = JobRow(document_id=drow.id, state="done", pages_done=done, pages_total=done,
                                     attempts=0, started_at=now, finished_at=now)
                    s.add(job)
                    s.flush()
                    return _job_info(job), True
            except IntegrityError:
                if attempt == 2:  # a concurrent submission of the same new file won twice: give up
                    raise
        raise AssertionError("unreachable")

    def load_upload(self, doc_id: int) -> Upload:
        """The file submitted for the document (``submit_upload``)."""
        with self._read() as s:
            r = s.execute(select(UploadRow.filename, UploadRow.media_type, UploadRow.size, UploadRow.data)
                          .where(UploadRow.document_id == doc_id)).first()
        if r is None:
            raise NotFoundError(f"no uploaded file for document {doc_id}")
        return Upload(doc_id, r[0], r[1], r[2], bytes(r[3]))

    # ---- reviews

    def find_cell(self, doc_id: int, ref: str) -> int:
        """The store id of the cell ``"{table_id}:{row}:{col}"`` (the form ``Check.cells`` uses)."""
        try:
            table_id, row, col = ref.rsplit(":", 2)
            r, c = int(row), int(col)
        except ValueError:
            raise ValueError(f"not a cell reference: {ref!r}") from None
        with self._read() as s:
            found = s.scalar(select(CellRow.id).where(CellRow.document_id == doc_id, CellRow.table_id == table_id,
                                                      CellRow.row == r, CellRow.col == c))
        if found is None:
            raise NotFoundError(f"no cell {ref} in document {doc_id}")
        return found

    def find_kpi(self, doc_id: int, table_id: str, row: int, period: str) -> int:
        """The store id of the KPI record read from ``table_id`` row ``row`` for ``period``."""
        with self._read() as s:
            found = s.scalar(select(KpiRow.id).where(KpiRow.document_id == doc_id, KpiRow.table_id == table_id,
                                                     KpiRow.row == row, KpiRow.period == period))
        if found is None:
            raise NotFoundError(f"no KPI record {table_id}:{row}:{period} in document {doc_id}")
        return found

    def record_review(self, target: ReviewTarget, target_id: int, *, action: ReviewAction, reviewer: str,
                      new_value: Optional[str] = None, field: Optional[str] = None,
                      document_id: Optional[int] = None) -> ReviewInfo:
        """A reviewer's verdict on one cell or KPI record (ids from ``review_queue``/``find_*``;
        with ``document_id``, a target of another document is not found).

        ``accept``: the value is right as it is — confidence becomes 1.0, the record is marked
        reviewed. ``correct``: ``new_value`` replaces the value, with confidence 1.0 and source
        ``review`` (a KPI ``value`` correction re-parses the record's target). Either way a review
        row keeps the previous value, confidence and source."""
        if target not in get_args(ReviewTarget):
            raise ValueError(f"review target must be 'cell' or 'kpi', not {target!r}")
        if action not in get_args(ReviewAction):
            raise ValueError(f"review action must be 'accept' or 'correct', not {action!r}")
        if not reviewer or not reviewer.strip():
            raise ValueError("a review needs the reviewer's name")
        if action == "correct" and new_value is None:
            raise ValueError("a correction needs new_value")
        if target == "cell":
            field = field or "text"
            if field != "text":
                raise ValueError(f"a cell review changes its text, not {field!r}")
        else:
            field = field or "value"
            if field not in KPI_REVIEW_FIELDS:
                raise ValueError(f"a KPI review changes one of {KPI_REVIEW_FIELDS}, not {field!r}")
        with self._write.begin() as s:
            row: Union[CellRow, KpiRow, None] = (s.get(CellRow, target_id, with_for_update=True) if target == "cell"
                                                 else s.get(KpiRow, target_id, with_for_update=True))
            if row is None or (document_id is not None and row.document_id != document_id):
                raise NotFoundError(f"no {target} with id {target_id}"
                                    + ("" if document_id is None else f" in document {document_id}"))
            old = cast(str, getattr(row, field))
            if action == "accept" and new_value is not None and new_value != old:
                raise ValueError("an acceptance keeps the value; use action='correct' to change it")
            new = old if action == "accept" else cast(str, new_value)
            review = ReviewRow(document_id=row.document_id, target=target, field=field, action=action,
                               reviewer=reviewer.strip()[:255], old_value=old, new_value=new,
                               old_confidence=row.confidence, old_source=row.source,
                               cell_id=row.id if target == "cell" else None,
                               kpi_id=row.id if target == "kpi" else None)
            setattr(row, field, new)
            row.confidence, row.reviewed = 1.0, True
            if action == "correct":
                row.source = "review"
                if isinstance(row, KpiRow) and field == "value":
                    row.target = KpiTarget(**parse_target(new).__dict__).model_dump(mode="json")
                if isinstance(row, CellRow) and new != old:
                    self._carry_to_kpis(s, row, old, new)
            s.add(review)
            s.execute(update(DocumentRow).where(DocumentRow.id == row.document_id).values(updated_at=utcnow()))
            s.flush()
            return _review_info(review)

    @staticmethod
    def _carry_to_kpis(s: Session, cell: CellRow, old: str, new: str) -> None:
        """A corrected cell of a KPI table corrects the KPI records read from it: every record of the
        cell's rows (a merged 一级/二级 cell covers several) whose value or level held the cell's old
        text takes the new one, with source ``review`` (a new value re-parses the target)."""
        rows = range(cell.row, cell.row + max(1, cell.rowspan or 1))
        for k in s.scalars(select(KpiRow).where(KpiRow.document_id == cell.document_id, KpiRow.table_id == cell.table_id,
                                                KpiRow.row.in_(list(rows)))):
            changed = [f for f in ("value", "level3", "level2", "level1") if getattr(k, f) == old]
            for f in changed:
                setattr(k, f, new)
                if f == "value":
                    k.target = KpiTarget(**parse_target(new).__dict__).model_dump(mode="json")
            if changed:
                k.source = "review"  # not ``reviewed``: the record itself stays in the queue for a look
                k.notes = list(k.notes or []) + [f"{'/'.join(changed)} corrected in review of cell "
                                                 f"{cell.table_id}:{cell.row}:{cell.col}"]

    def reviews(self, doc_id: int) -> list[ReviewInfo]:
        """Every review of the document, oldest first."""
        with self._read() as s:
            return [_review_info(r) for r in s.scalars(select(ReviewRow).where(ReviewRow.document_id == doc_id)
                                                       .order_by(ReviewRow.id))]

    def review_marks(self, doc_id: int) -> ReviewMarks:
        """The reviewed cells and KPI records of the document by reference, with their source."""
        with self._snapshot.begin() as s:
            self._doc_row(s, doc_id)
            cells = s.execute(select(CellRow.table_id, CellRow.row, CellRow.col, CellRow.source)
                              .where(CellRow.document_id == doc_id, CellRow.reviewed.is_(True))).all()
            kpis = s.execute(select(KpiRow.table_id, KpiRow.row, KpiRow.period, KpiRow.source)
                             .where(KpiRow.document_id == doc_id, KpiRow.reviewed.is_(True))).all()
        return ReviewMarks({f"{t}:{r}:{c}": src for t, r, c, src in cells},
                           {f"{t}:{r}:{p}": src for t, r, p, src in kpis})

    def review_queue(self, doc_id: int, below: float = REVIEW_BELOW, limit: Optional[int] = None) -> list[QueueItem]:
        """Unreviewed cells and KPI records that need a look (``policy.needs_review``, in SQL),
        riskiest first: every cell that breaks an arithmetic check, and every value with confidence
        under ``below``; ordered by broken check first, then confidence (lowest first), then
        position in the document."""
        with self._snapshot.begin() as s:
            self._doc_row(s, doc_id)
            cells = s.scalars(select(CellRow).where(
                CellRow.document_id == doc_id, CellRow.reviewed.is_(False),
                (CellRow.confidence < below) | CellRow.check_failed.is_(True))).all()
            where = s.execute(select(TableRow.table_id, TableRow.page, TableRow.ord)
                              .where(TableRow.document_id == doc_id)).all()
            kpis = s.scalars(select(KpiRow).where(KpiRow.document_id == doc_id, KpiRow.reviewed.is_(False),
                                                  KpiRow.confidence < below)).all()
        table_pos = {t.table_id: (t.page, t.ord) for t in where}
        keyed: list[tuple[tuple[Any, ...], QueueItem]] = []
        for c in cells:
            broken = tuple(broken_checks(c.checks))
            item = QueueItem("cell", c.id, f"{c.table_id}:{c.row}:{c.col}", c.page, c.table_id, c.row, c.col, "text",
                             c.text, c.confidence, broken, tuple(c.bbox))
            keyed.append(((not broken, c.confidence, table_pos.get(c.table_id, (0, 0)), c.row, c.col, 0), item))
        for k in kpis:
            item = QueueItem("kpi", k.id, f"{k.table_id}:{k.row}:{k.period}", table_pos.get(k.table_id, (None, 0))[0], k.table_id,
                             k.row, None, "value", k.value, k.confidence, (), None)
            keyed.append(((True, k.confidence, table_pos.get(k.table_id, (0, 0)), k.row, 1 << 30, k.ord), item))
        keyed.sort(key=lambda kv: kv[0])
        items = [item for _, item in keyed]
        return items if limit is None else items[:limit]

    def review_progress(self, doc_id: int, below: float = REVIEW_BELOW) -> ReviewProgress:
        def counts(s: Session, cls: type[CellRow] | type[KpiRow]) -> tuple[int, int, int]:
            r = s.execute(select(func.count(), func.count().filter(cls.reviewed.is_(True)),
                                 func.count().filter(cls.reviewed.is_(True), cls.source == "review"))
                          .where(cls.document_id == doc_id)).one()
            return int(r[0]), int(r[1]), int(r[2])

        with self._read.begin() as s:
            self._doc_row(s, doc_id)
            cells, kpis = counts(s, CellRow), counts(s, KpiRow)
        queue = len(self.review_queue(doc_id, below))
        return ReviewProgress(below, *cells, *kpis, queue)

    def counts(self) -> dict[str, dict[str, int]]:
        """How many documents per status and jobs per state."""
        with self._read() as s:
            docs = s.execute(select(DocumentRow.status, func.count()).group_by(DocumentRow.status)).all()
            jobs = s.execute(select(JobRow.state, func.count()).group_by(JobRow.state)).all()
        return {"documents": {k: int(n) for k, n in docs}, "jobs": {k: int(n) for k, n in jobs}}

    def write_problem(self) -> Optional[str]:
        """None when the database takes writes; else why not: "read-only" (a SQLite file or URI opened
        read-only, a PostgreSQL standby or read-only transaction default) or "unavailable" (no
        connection). Nothing is written: on SQLite a write that touches no row is started and rolled
        back (SQLite refuses it at once on a read-only database), waiting at most 0.2 s for another
        writer's lock (a busy database is a writable one)."""
        from sqlalchemy import text
        from sqlalchemy.exc import DBAPIError

        try:
            with self.engine.connect() as c:
                if self.dialect == "postgresql":
                    ro = c.exec_driver_sql("SHOW transaction_read_only").scalar()
                    return "read-only" if str(ro).lower() == "on" else None
                c.exec_driver_sql("PRAGMA busy_timeout = 200")
                try:
                    c.execute(text("DELETE FROM jobs WHERE 0"))
                except DBAPIError as e:
                    msg = str(e.orig).lower()
                    if "readonly" in msg or "read-only" in msg:
                        return "read-only"
                    if "locked" in msg or "busy" in msg:
                        return None
                    raise
                finally:
                    c.rollback()
                    c.exec_driver_sql("PRAGMA busy_timeout = 30000")
        except DBAPIError:
            return "unavailable"
        return None

    # ---- batch processing (extractor/batch): runs, the file inventory, page results one at a time
    #
    # A batch registers a document (``register_document``), keeps each page as soon as it is read
    # (``save_batch_page``: the Page as JSON; the page row's status follows), and once every page is in
    # builds the Document from ``load_batch_pages``, runs the document-level stages and saves it whole
    # (``complete_batch_document``, which then drops the pages' JSON). A file that cannot be read at all
    # is recorded by ``fail_document``. Runs and the files seen are kept for the report.

    def start_batch_run(self, engine: str, workers: int, *, host: str = "",
                        stats: Optional[Mapping[str, Any]] = None) -> int:
        with self._write.begin() as s:
            row = BatchRunRow(engine=engine[:16], workers=workers, host=host[:255], state="running", pages_done=0,
                              stats=dict(stats or {}))
            s.add(row)
            s.flush()
            return row.id

    def update_batch_run(self, run_id: int, *, state: Optional[BatchRunState] = None, pages_done: Optional[int] = None,
                         stats: Optional[Mapping[str, Any]] = None) -> None:
        """Progress or outcome of a run; leaving ``running`` stamps ``finished_at``; ``stats`` are
        merged into what is there."""
        if state is not None and state not in get_args(BatchRunState):
            raise ValueError(f"unknown batch run state {state!r}")
        with self._write.begin() as s:
            row = s.get(BatchRunRow, run_id, with_for_update=True)
            if row is None:
                raise NotFoundError(f"no batch run with id {run_id}")
            if state is not None:
                row.state = state
                row.finished_at = None if state == "running" else utcnow()
            if pages_done is not None:
                row.pages_done = pages_done
            if stats:
                row.stats = {**(row.stats or {}), **stats}

    def batch_runs(self) -> list[BatchRunInfo]:
        with self._read() as s:
            return [BatchRunInfo(r.id, cast(BatchRunState, r.state), r.engine, r.workers, r.host, r.started_at,
                                 r.finished_at, r.pages_done, dict(r.stats or {}))
                    for r in s.scalars(select(BatchRunRow).order_by(BatchRunRow.id))]

    def record_batch_files(self, run_id: Optional[int], files: Sequence[Mapping[str, Any]]) -> None:
        """The files a run found, by path (keys ``path``, ``size``, ``mtime_ns``, ``content_hash``,
        ``error``): new paths are added, known ones updated."""
        now = utcnow()
        with self._write.begin() as s:
            for i in range(0, len(files), 500):
                chunk = files[i:i + 500]
                known = {r.path: r for r in s.scalars(select(BatchFileRow).where(
                    BatchFileRow.path.in_([f["path"] for f in chunk])))}
                for f in chunk:
                    row = known.get(f["path"])
                    if row is None:
                        row = BatchFileRow(path=f["path"])
                        s.add(row)
                        known[f["path"]] = row
                    row.size, row.mtime_ns = f.get("size"), f.get("mtime_ns")
                    row.content_hash, row.error = f.get("content_hash"), f.get("error")
                    row.run_id, row.seen_at = run_id, now

    def batch_files(self) -> list[BatchFileInfo]:
        with self._read() as s:
            return [BatchFileInfo(r.path, r.size, r.mtime_ns, r.content_hash, r.error, r.run_id, r.seen_at)
                    for r in s.scalars(select(BatchFileRow).order_by(BatchFileRow.path))]

    def save_batch_page(self, doc_id: int, page: Page, *, run_id: Optional[int] = None, worker: str = "",
                        peak_rss_mb: Optional[float] = None) -> bool:
        """Keep one page a batch has read of a registered (``pending``) document, in one short
        transaction. Returns False and keeps what is there when the page was kept before or the
        document is no longer pending: a page is taken once."""
        from .convert import page_status

        status, data = page_status(page), page.model_dump_json()
        try:
            with self._write.begin() as s:
                drow = self._doc_row(s, doc_id)
                if drow.status != "pending":
                    return False
                if s.scalar(select(BatchPageRow.id).where(BatchPageRow.document_id == doc_id,
                                                          BatchPageRow.page == page.page)) is not None:
                    return False
                s.add(BatchPageRow(document_id=doc_id, page=page.page, status=status, run_id=run_id,
                                   worker=worker[:255], seconds=page.seconds, peak_rss_mb=peak_rss_mb, data=data))
                s.execute(update(PageRow).where(PageRow.document_id == doc_id, PageRow.page == page.page)
                          .values(status=status))
                return True
        except IntegrityError:  # another writer kept this page first
            return False

    def batch_page_numbers(self, doc_id: int) -> dict[int, str]:
        """Page number -> done / failed, for the pages of the document that batches have read."""
        with self._read() as s:
            rows = s.execute(select(BatchPageRow.page, BatchPageRow.status)
                             .where(BatchPageRow.document_id == doc_id).order_by(BatchPageRow.page)).all()
        return {p: st for p, st in rows}

    def load_batch_pages(self, doc_id: int) -> list[Page]:
        """The pages batches have read and kept (not yet dropped by ``complete_batch_document``), in order."""
        with self._read() as s:
            rows = s.execute(select(BatchPageRow.data).where(BatchPageRow.document_id == doc_id,
                                                             BatchPageRow.data.is_not(None))
                             .order_by(BatchPageRow.page)).all()
        return [Page.model_validate_json(r[0]) for r in rows]

    def complete_batch_document(self, doc: Document, content_hash: str) -> int:
        """Save the document a batch assembled from its pages (``save_document``: one transaction,
        idempotent per hash), then drop the pages' JSON (the timings stay). Returns its id."""
        doc_id = self.save_document(doc, content_hash)
        with self._write.begin() as s:
            s.execute(update(BatchPageRow).where(BatchPageRow.document_id == doc_id, BatchPageRow.data.is_not(None))
                      .values(data=None))
        return doc_id

    def fail_document(self, content_hash: str, source: str, reason: str, *, category: str = "input_error",
                      stage: str = "ingest", n_pages: int = 0) -> int:
        """Record a file that could not be extracted at all (status ``failed``, the reason as a
        document failure). A document already extracted is left as it is. Returns its id."""
        h = _check_hash(content_hash)
        failure = Failure(stage=stage, category=category, message=reason).model_dump(mode="json")
        with self._write.begin() as s:
            row = s.scalars(select(DocumentRow).where(DocumentRow.content_hash == h).with_for_update()).first()
            if row is None:
                from .. import __version__
                from ..model import SCHEMA_VERSION

                row = DocumentRow(content_hash=h, source=source, source_name=os.path.basename(source)[:255],
                                  n_pages=n_pages, status="failed", schema_version=SCHEMA_VERSION,
                                  extractor_version=__version__, extra={"failures": [failure]})
                s.add(row)
                s.flush()
            elif row.status == "pending":
                from .. import __version__
                from ..model import SCHEMA_VERSION

                extra = dict(row.extra or {})
                extra["failures"] = list(extra.get("failures") or []) + [failure]
                row.status, row.extra = "failed", extra
                row.schema_version = row.schema_version or SCHEMA_VERSION
                row.extractor_version = row.extractor_version or __version__
            return row.id

    def batch_page_log(self, run_id: Optional[int] = None) -> list[BatchPageInfo]:
        """Every page batches have read (of one run, or all), in the order they were finished."""
        q = select(BatchPageRow.document_id, BatchPageRow.page, BatchPageRow.status, BatchPageRow.run_id,
                   BatchPageRow.worker, BatchPageRow.seconds, BatchPageRow.peak_rss_mb, BatchPageRow.finished_at)
        if run_id is not None:
            q = q.where(BatchPageRow.run_id == run_id)
        with self._read() as s:
            return [BatchPageInfo(*r) for r in s.execute(q.order_by(BatchPageRow.finished_at, BatchPageRow.id))]

    def cell_confidence_counts(self, doc_ids: Optional[Sequence[int]] = None, below: float = REVIEW_BELOW) -> tuple[int, int]:
        """(cells, cells with confidence under ``below``) of these documents (or of all)."""
        q = select(func.count(), func.count().filter(CellRow.confidence < below))
        chunks: list[Optional[Sequence[int]]] = [None] if doc_ids is None else \
            [doc_ids[i:i + 500] for i in range(0, len(doc_ids), 500)]
        total = low = 0
        with self._read() as s:
            for chunk in chunks:
                r = s.execute(q if chunk is None else q.where(CellRow.document_id.in_(chunk))).one()
                total, low = total + int(r[0]), low + int(r[1])
        return total, low

    # ---- internals

    @staticmethod
    def _doc_row(s: Session, doc_id: int) -> DocumentRow:
        row = s.get(DocumentRow, doc_id)
        if row is None:
            raise NotFoundError(f"no document with id {doc_id}")
        return row

    @staticmethod
    def _job_row(s: Session, job_id: int, lock: bool = False) -> JobRow:
        row = s.get(JobRow, job_id, with_for_update=lock or None)
        if row is None:
            raise NotFoundError(f"no job with id {job_id}")
        return row


__all__ = ["DocumentInfo", "JobInfo", "NotFoundError", "QueueItem", "ReviewInfo", "ReviewMarks", "ReviewProgress",
           "Store", "StoreError", "Upload", "sha256_file"]
