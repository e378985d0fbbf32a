"""initial schema: documents, pages, tables, cells, kpis, projects, jobs, reviews

Revision ID: 0001
Revises:
Create Date: 2026-11-22

"""
from typing import Any, Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _ts() -> sa.types.TypeEngine[Any]:
    return sa.DateTime(timezone=True)


def _pk() -> sa.Column[int]:
    return sa.Column("id", sa.Integer(), nullable=False)


def _doc_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["document_id"], ["documents.id"], name=op.f(f"fk_{table}_document_id_documents"),
                                   ondelete="CASCADE")


def _create_documents() -> None:
    """``documents``: one row per source document (its content hash unique), its status and versions."""
    op.create_table(
        "documents",
        _pk(),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("source_name", sa.String(length=255), nullable=False),
        sa.Column("n_pages", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("schema_version", sa.String(length=16), nullable=True),
        sa.Column("extractor_version", sa.String(length=32), nullable=True),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.Column("extra", _json(), nullable=False),
        sa.CheckConstraint("status IN ('pending', 'done', 'partial', 'failed')", name=op.f("ck_documents_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_documents")),
        sa.UniqueConstraint("content_hash", name=op.f("uq_documents_content_hash")),
    )
    op.create_index(op.f("ix_documents_status"), "documents", ["status"])


def _create_pages() -> None:
    """``pages``: one row per page of a document: its status, size, timing, failures and image."""
    op.create_table(
        "pages",
        _pk(),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("page", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.Column("failures", _json(), nullable=False),
        sa.Column("image_png", sa.LargeBinary(), nullable=True),
        sa.Column("extra", _json(), nullable=False),
        sa.CheckConstraint("status IN ('pending', 'done', 'failed')", name=op.f("ck_pages_status")),
        _doc_fk("pages"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pages")),
        sa.UniqueConstraint("document_id", "page", name=op.f("uq_pages_document_id_page")),
    )


def _create_tables() -> None:
    """``tables``: one row per extracted table, on its page."""
    op.create_table(
        "tables",
        _pk(),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("page_id", sa.Integer(), nullable=False),
        sa.Column("page", sa.Integer(), nullable=False),
        sa.Column("ord", sa.Integer(), nullable=False),
        sa.Column("table_id", sa.String(length=64), nullable=False),
        sa.Column("n_rows", sa.Integer(), nullable=False),
        sa.Column("n_cols", sa.Integer(), nullable=False),
        sa.Column("bbox", _json(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("unit", sa.String(length=32), nullable=True),
        sa.Column("continued_from", sa.String(length=64), nullable=True),
        sa.Column("continues_to", sa.String(length=64), nullable=True),
        sa.Column("extra", _json(), nullable=False),
        _doc_fk("tables"),
        sa.ForeignKeyConstraint(["page_id"], ["pages.id"], name=op.f("fk_tables_page_id_pages"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tables")),
        sa.UniqueConstraint("document_id", "table_id", name=op.f("uq_tables_document_id_table_id")),
    )
    op.create_index(op.f("ix_tables_page_id"), "tables", ["page_id"])


def _create_cells() -> None:
    """``cells``: one row per cell of a table, with its confidence, checks and review state."""
    op.create_table(
        "cells",
        _pk(),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("table_pk", sa.Integer(), nullable=False),
        sa.Column("page", sa.Integer(), nullable=False),
        sa.Column("table_id", sa.String(length=64), nullable=False),
        sa.Column("ord", sa.Integer(), nullable=False),
        sa.Column("row", sa.Integer(), nullable=False),
        sa.Column("col", sa.Integer(), nullable=False),
        sa.Column("rowspan", sa.Integer(), nullable=False),
        sa.Column("colspan", sa.Integer(), nullable=False),
        sa.Column("bbox", _json(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("checks", _json(), nullable=False),
        sa.Column("check_failed", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("reviewed", sa.Boolean(), nullable=False),
        sa.Column("extra", _json(), nullable=False),
        sa.CheckConstraint("source IN ('ocr', 'review')", name=op.f("ck_cells_source")),
        _doc_fk("cells"),
        sa.ForeignKeyConstraint(["table_pk"], ["tables.id"], name=op.f("fk_cells_table_pk_tables"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cells")),
        sa.UniqueConstraint("document_id", "table_id", "row", "col", name=op.f("uq_cells_document_id_table_id_row_col")),
    )
    op.create_index(op.f("ix_cells_document_id_reviewed_confidence"), "cells", ["document_id", "reviewed", "confidence"])
    op.create_index(op.f("ix_cells_table_pk"), "cells", ["table_pk"])


def _create_kpis() -> None:
    """``kpis``: one row per KPI record of a document."""
    op.create_table(
        "kpis",
        _pk(),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("ord", sa.Integer(), nullable=False),
        sa.Column("project", sa.Text(), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("level1", sa.Text(), nullable=False),
        sa.Column("level2", sa.Text(), nullable=False),
        sa.Column("level3", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("target", _json(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("table_id", sa.String(length=64), nullable=False),
        sa.Column("row", sa.Integer(), nullable=False),
        sa.Column("notes", _json(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("reviewed", sa.Boolean(), nullable=False),
        sa.Column("extra", _json(), nullable=False),
        sa.CheckConstraint("source IN ('ocr', 'review')", name=op.f("ck_kpis_source")),
        _doc_fk("kpis"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kpis")),
    )
    op.create_index(op.f("ix_kpis_document_id"), "kpis", ["document_id"])


def _create_projects() -> None:
    """``projects``: one row per project of a document: its name, department and the table it is read from."""
    op.create_table(
        "projects",
        _pk(),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("ord", sa.Integer(), nullable=False),
        sa.Column("table_id", sa.String(length=64), nullable=False),
        sa.Column("page", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("department", sa.Text(), nullable=True),
        sa.Column("extra", _json(), nullable=False),
        _doc_fk("projects"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
    )
    op.create_index(op.f("ix_projects_document_id"), "projects", ["document_id"])


def _create_jobs() -> None:
    """``jobs``: one row per extraction job of a document and its state."""
    op.create_table(
        "jobs",
        _pk(),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("pages_done", sa.Integer(), nullable=False),
        sa.Column("pages_total", sa.Integer(), nullable=True),
        sa.Column("worker", sa.String(length=255), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.Column("started_at", _ts(), nullable=True),
        sa.Column("finished_at", _ts(), nullable=True),
        sa.CheckConstraint("state IN ('queued', 'running', 'done', 'failed')", name=op.f("ck_jobs_state")),
        _doc_fk("jobs"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    op.create_index(op.f("ix_jobs_document_id"), "jobs", ["document_id"])
    op.create_index(op.f("ix_jobs_state_id"), "jobs", ["state", "id"])


def _create_reviews() -> None:
    """``reviews``: one row per review action on a cell or a KPI record (exactly one of them)."""
    op.create_table(
        "reviews",
        _pk(),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=8), nullable=False),
        sa.Column("cell_id", sa.Integer(), nullable=True),
        sa.Column("kpi_id", sa.Integer(), nullable=True),
        sa.Column("field", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("reviewer", sa.String(length=255), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("old_value", sa.Text(), nullable=False),
        sa.Column("new_value", sa.Text(), nullable=False),
        sa.Column("old_confidence", sa.Float(), nullable=False),
        sa.Column("old_source", sa.String(length=16), nullable=False),
        sa.CheckConstraint("target IN ('cell', 'kpi')", name=op.f("ck_reviews_target")),
        sa.CheckConstraint("action IN ('accept', 'correct')", name=op.f("ck_reviews_action")),
        sa.CheckConstraint("(target = 'cell' AND cell_id IS NOT NULL AND kpi_id IS NULL) OR "
                           "(target = 'kpi' AND kpi_id IS NOT NULL AND cell_id IS NULL)",
                           name=op.f("ck_reviews_one_target")),
        _doc_fk("reviews"),
        sa.ForeignKeyConstraint(["cell_id"], ["cells.id"], name=op.f("fk_reviews_cell_id_cells"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["kpi_id"], ["kpis.id"], name=op.f("fk_reviews_kpi_id_kpis"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reviews")),
    )
    op.create_index(op.f("ix_reviews_document_id"), "reviews", ["document_id"])
    op.create_index(op.f("ix_reviews_cell_id"), "reviews", ["cell_id"])
    op.create_index(op.f("ix_reviews_kpi_id"), "reviews", ["kpi_id"])


def upgrade() -> None:
    # in this order: each table's foreign keys name tables created before it
    _create_documents()
    _create_pages()
    _create_tables()
    _create_cells()
    _create_kpis()
    _create_projects()
    _create_jobs()
    _create_reviews()


def downgrade() -> None:
    for table in ("reviews", "jobs", "projects", "kpis", "cells", "tables", "pages", "documents"):
        op.drop_table(table)  # its indexes go with it
