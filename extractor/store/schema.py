"""The store's tables (SQLAlchemy 2.x declarative, typed).

A document is kept *normalised*: one row per page, table, cell, KPI record and project, each with
the model's fields worth querying as columns and every other field of the pydantic object in an
``extra`` JSON column, so that ``extractor.store.convert`` rebuilds the exact ``Document`` and a field
added to the model later is kept without a migration. There is one copy of every value: a review
changes the cell (or KPI) row itself — text, confidence 1.0, ``source="review"``, ``reviewed`` — and
the value it replaced is kept in the ``reviews`` row.

Any change here needs a new Alembic revision in ``migrations/versions`` (``tests/test_store.py``
checks that the migrated schema matches this metadata).
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Optional

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

# the value sets of the state columns (enforced by CHECK constraints)
DOCUMENT_STATUSES = ("pending", "done", "partial", "failed")
PAGE_STATUSES = ("pending", "done", "failed")
JOB_STATES = ("queued", "running", "done", "failed")
SOURCES = ("ocr", "review")
REVIEW_TARGETS = ("cell", "kpi")
REVIEW_ACTIONS = ("accept", "correct")

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# JSON everywhere, JSONB on PostgreSQL
JsonType = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite keeps naive text: UTC is assumed)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Optional[datetime], dialect: Dialect) -> Optional[datetime]:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Optional[datetime], dialect: Dialect) -> Optional[datetime]:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JsonType, list[Any]: JsonType, datetime: UTCDateTime}


class DocumentRow(Base):
    __tablename__ = "documents"
    __table_args__ = (CheckConstraint(_one_of("status", DOCUMENT_STATUSES), name="status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex of the source file
    source: Mapped[str] = mapped_column(Text)  # Document.source (path as given to the pipeline)
    source_name: Mapped[str] = mapped_column(String(255))  # its file name
    n_pages: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    schema_version: Mapped[Optional[str]] = mapped_column(String(16))
    extractor_version: Mapped[Optional[str]] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)  # Document fields not above (failures, checks, …)

    pages: Mapped[list[PageRow]] = relationship(back_populates="document", cascade="all, delete-orphan",
                                                passive_deletes=True, order_by="PageRow.page")


class PageRow(Base):
    __tablename__ = "pages"
    __table_args__ = (
        UniqueConstraint("document_id", "page"),
        CheckConstraint(_one_of("status", PAGE_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    page: Mapped[int] = mapped_column(Integer)  # 1-based
    status: Mapped[str] = mapped_column(String(16), default="pending")
    width: Mapped[int] = mapped_column(Integer, default=0)
    height: Mapped[int] = mapped_column(Integer, default=0)
    seconds: Mapped[Optional[float]] = mapped_column(Float)
    failures: Mapped[list[Any]] = mapped_column(default=list)  # [Failure, …] as JSON
    image_png: Mapped[Optional[bytes]] = mapped_column(LargeBinary, deferred=True)  # the page image, optional
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)  # dpi, transform, regions, paragraphs, …

    document: Mapped[DocumentRow] = relationship(back_populates="pages")


class TableRow(Base):
    __tablename__ = "tables"
    __table_args__ = (UniqueConstraint("document_id", "table_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id", ondelete="CASCADE"), index=True)
    page: Mapped[int] = mapped_column(Integer)
    ord: Mapped[int] = mapped_column(Integer)  # index of the table on its page
    table_id: Mapped[str] = mapped_column(String(64))  # Table.id, "p{page}-t{index}"
    n_rows: Mapped[int] = mapped_column(Integer)
    n_cols: Mapped[int] = mapped_column(Integer)
    bbox: Mapped[list[Any]] = mapped_column()
    kind: Mapped[Optional[str]] = mapped_column(String(64))
    title: Mapped[Optional[str]] = mapped_column(Text)
    unit: Mapped[Optional[str]] = mapped_column(String(32))
    continued_from: Mapped[Optional[str]] = mapped_column(String(64))
    continues_to: Mapped[Optional[str]] = mapped_column(String(64))
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)  # kind_name, department, source, col_edges, …


class CellRow(Base):
    __tablename__ = "cells"
    __table_args__ = (
        UniqueConstraint("document_id", "table_id", "row", "col"),
        CheckConstraint(_one_of("source", SOURCES), name="source"),
        Index(None, "document_id", "reviewed", "confidence"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    table_pk: Mapped[int] = mapped_column(ForeignKey("tables.id", ondelete="CASCADE"), index=True)
    page: Mapped[int] = mapped_column(Integer)
    table_id: Mapped[str] = mapped_column(String(64))
    ord: Mapped[int] = mapped_column(Integer)  # index of the cell in its table's list
    row: Mapped[int] = mapped_column(Integer)
    col: Mapped[int] = mapped_column(Integer)
    rowspan: Mapped[int] = mapped_column(Integer, default=1)
    colspan: Mapped[int] = mapped_column(Integer, default=1)
    bbox: Mapped[list[Any]] = mapped_column()
    text: Mapped[str] = mapped_column(Text, default="")
    confidence: Mapped[float] = mapped_column(Float)
    checks: Mapped[list[Any]] = mapped_column(default=list)  # "+row_sum" satisfied, "-code_hierarchy" broken
    check_failed: Mapped[bool] = mapped_column(Boolean, default=False)  # some check in ``checks`` is broken
    source: Mapped[str] = mapped_column(String(16), default="ocr")  # "review" once a reviewer corrected it
    reviewed: Mapped[bool] = mapped_column(Boolean, default=False)
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)  # ocr evidence, structure evidence, …


class KpiRow(Base):
    __tablename__ = "kpis"
    __table_args__ = (CheckConstraint(_one_of("source", SOURCES), name="source"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    ord: Mapped[int] = mapped_column(Integer)
    project: Mapped[str] = mapped_column(Text)
    period: Mapped[str] = mapped_column(String(16))
    level1: Mapped[str] = mapped_column(Text)
    level2: Mapped[str] = mapped_column(Text)
    level3: Mapped[str] = mapped_column(Text)
    value: Mapped[str] = mapped_column(Text)
    target: Mapped[dict[str, Any]] = mapped_column()  # KpiTarget as JSON
    confidence: Mapped[float] = mapped_column(Float)
    table_id: Mapped[str] = mapped_column(String(64))
    row: Mapped[int] = mapped_column(Integer)
    notes: Mapped[list[Any]] = mapped_column(default=list)
    source: Mapped[str] = mapped_column(String(16), default="ocr")
    reviewed: Mapped[bool] = mapped_column(Boolean, default=False)
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ProjectRow(Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    ord: Mapped[int] = mapped_column(Integer)
    table_id: Mapped[str] = mapped_column(String(64))
    page: Mapped[int] = mapped_column(Integer)
    name: Mapped[Optional[str]] = mapped_column(Text)
    department: Mapped[Optional[str]] = mapped_column(Text)
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)  # implementer, period, funds_*, …


class JobRow(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint(_one_of("state", JOB_STATES), name="state"),
        Index(None, "state", "id"),  # the queue, oldest first
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(16), default="queued")
    pages_done: Mapped[int] = mapped_column(Integer, default=0)
    pages_total: Mapped[Optional[int]] = mapped_column(Integer)
    worker: Mapped[Optional[str]] = mapped_column(String(255))  # who claimed it
    error: Mapped[Optional[str]] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    started_at: Mapped[Optional[datetime]] = mapped_column()
    finished_at: Mapped[Optional[datetime]] = mapped_column()
    # added by revision 0003 ("service"): how many times a worker claimed it (a job whose workers keep dying
    # is given up after a few)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ReviewRow(Base):
    __tablename__ = "reviews"
    __table_args__ = (
        CheckConstraint(_one_of("target", REVIEW_TARGETS), name="target"),
        CheckConstraint(_one_of("action", REVIEW_ACTIONS), name="action"),
        CheckConstraint("(target = 'cell' AND cell_id IS NOT NULL AND kpi_id IS NULL) OR "
                        "(target = 'kpi' AND kpi_id IS NOT NULL AND cell_id IS NULL)", name="one_target"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    target: Mapped[str] = mapped_column(String(8))  # "cell" | "kpi"
    cell_id: Mapped[Optional[int]] = mapped_column(ForeignKey("cells.id", ondelete="CASCADE"), index=True)
    kpi_id: Mapped[Optional[int]] = mapped_column(ForeignKey("kpis.id", ondelete="CASCADE"), index=True)
    field: Mapped[str] = mapped_column(String(32))  # "text" for a cell; level1/level2/level3/value/project for a KPI
    action: Mapped[str] = mapped_column(String(16))  # "accept" | "correct"
    reviewer: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    old_value: Mapped[str] = mapped_column(Text)  # what the export showed before this review
    new_value: Mapped[str] = mapped_column(Text)  # what it shows after (== old_value for accept)
    old_confidence: Mapped[float] = mapped_column(Float)
    old_source: Mapped[str] = mapped_column(String(16))


# ---- batch processing (extractor/batch): runs, the archive's file inventory and per-page results.
# Added by revision 0002 ("batch"). A page read by a batch is kept here (its Page as JSON) as soon as it
# is read, so a killed batch resumes at the first page not yet read; once every page of a document is
# read the document is saved whole (save_document) and the JSON is dropped, the timings stay.
BATCH_RUN_STATES = ("running", "done", "interrupted", "failed")
BATCH_PAGE_STATUSES = ("done", "failed")


class BatchRunRow(Base):
    __tablename__ = "batch_runs"
    __table_args__ = (CheckConstraint(_one_of("state", BATCH_RUN_STATES), name="state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    state: Mapped[str] = mapped_column(String(16), default="running")
    engine: Mapped[str] = mapped_column(String(16))  # local | ray
    workers: Mapped[int] = mapped_column(Integer, default=0)
    host: Mapped[str] = mapped_column(String(255), default="")
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[Optional[datetime]] = mapped_column()
    pages_done: Mapped[int] = mapped_column(Integer, default=0)  # pages read in this run
    stats: Mapped[dict[str, Any]] = mapped_column(default=dict)  # inputs, settings, the run's summary


class BatchFileRow(Base):
    __tablename__ = "batch_files"
    __table_args__ = (UniqueConstraint("path"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(Text)  # absolute path as found
    size: Mapped[Optional[int]] = mapped_column(BigInteger)
    mtime_ns: Mapped[Optional[int]] = mapped_column(BigInteger)
    content_hash: Mapped[Optional[str]] = mapped_column(String(64), index=True)  # None: could not be read
    error: Mapped[Optional[str]] = mapped_column(Text)  # why it could not be read
    run_id: Mapped[Optional[int]] = mapped_column(ForeignKey("batch_runs.id", ondelete="SET NULL"))  # last seen by
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class BatchPageRow(Base):
    __tablename__ = "batch_pages"
    __table_args__ = (
        UniqueConstraint("document_id", "page"),
        CheckConstraint(_one_of("status", BATCH_PAGE_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    page: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    run_id: Mapped[Optional[int]] = mapped_column(ForeignKey("batch_runs.id", ondelete="SET NULL"), index=True)
    worker: Mapped[str] = mapped_column(String(255), default="")  # host:pid of the worker that read it
    seconds: Mapped[Optional[float]] = mapped_column(Float)
    peak_rss_mb: Mapped[Optional[float]] = mapped_column(Float)  # the worker's peak memory when it finished
    finished_at: Mapped[datetime] = mapped_column(default=utcnow)
    data: Mapped[Optional[str]] = mapped_column(Text)  # the Page as JSON, until the document is saved whole


# ---- the extraction service (extractor/service). Added by revision 0003 ("service"): the file a user
# uploaded, kept with its document from the moment the upload is accepted (in the same transaction as the
# document and its job), so a job can be run again after any crash or restart.


class UploadRow(Base):
    __tablename__ = "uploads"
    __table_args__ = (UniqueConstraint("document_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(String(255))  # as the client named it
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
