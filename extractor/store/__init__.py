"""The database behind the extraction service (extractor/service) and the batch runner: documents,
pages, tables, cells, KPI records and projects as the pipeline extracted them, extraction jobs and
the files submitted for them, and human reviews.

    from extractor.store import Store
    store = Store("postgresql://user@host/extractor")   # or Store() for the SQLite file extractor.db
    store.upgrade()                                      # Alembic migrations to head
    doc_id = store.save_document(doc, sha256_file(path))
    doc = store.load_document(doc_id)                    # reviewed values in place
"""
from .engine import DEFAULT_URL, URL_ENV, normalise_url
from .store import (
    DocumentInfo,
    JobInfo,
    NotFoundError,
    QueueItem,
    ReviewInfo,
    ReviewMarks,
    ReviewProgress,
    Store,
    StoreError,
    Upload,
    sha256_file,
)

__all__ = ["DEFAULT_URL", "URL_ENV", "DocumentInfo", "JobInfo", "NotFoundError", "QueueItem", "ReviewInfo",
           "ReviewMarks", "ReviewProgress", "Store", "StoreError", "Upload", "normalise_url",
           "sha256_file"]
