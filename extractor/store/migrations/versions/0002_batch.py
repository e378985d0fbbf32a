"""batch processing: batch_runs, batch_files, batch_pages (extractor/batch)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

"""
from typing import Any, Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: Union[str, Sequence[str], None] = "0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _ts() -> sa.types.TypeEngine[Any]:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "batch_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("engine", sa.String(length=16), nullable=False),
        sa.Column("workers", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("started_at", _ts(), nullable=False),
        sa.Column("finished_at", _ts(), nullable=True),
        sa.Column("pages_done", sa.Integer(), nullable=False),
        sa.Column("stats", _json(), nullable=False),
        sa.CheckConstraint("state IN ('running', 'done', 'interrupted', 'failed')", name=op.f("ck_batch_runs_state")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batch_runs")),
    )

    op.create_table(
        "batch_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("mtime_ns", sa.BigInteger(), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("seen_at", _ts(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["batch_runs.id"], name=op.f("fk_batch_files_run_id_batch_runs"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batch_files")),
        sa.UniqueConstraint("path", name=op.f("uq_batch_files_path")),
    )
    op.create_index(op.f("ix_batch_files_content_hash"), "batch_files", ["content_hash"])

    op.create_table(
        "batch_pages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("page", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("worker", sa.String(length=255), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.Column("peak_rss_mb", sa.Float(), nullable=True),
        sa.Column("finished_at", _ts(), nullable=False),
        sa.Column("data", sa.Text(), nullable=True),
        sa.CheckConstraint("status IN ('done', 'failed')", name=op.f("ck_batch_pages_status")),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"], name=op.f("fk_batch_pages_document_id_documents"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["run_id"], ["batch_runs.id"], name=op.f("fk_batch_pages_run_id_batch_runs"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batch_pages")),
        sa.UniqueConstraint("document_id", "page", name=op.f("uq_batch_pages_document_id_page")),
    )
    op.create_index(op.f("ix_batch_pages_run_id"), "batch_pages", ["run_id"])


def downgrade() -> None:
    for table in ("batch_pages", "batch_files", "batch_runs"):
        op.drop_table(table)  # its indexes go with it
