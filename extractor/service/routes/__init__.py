"""The service's routes, one ``APIRouter`` a module (``create_app`` makes the routes of ``ROUTERS`` its own,
in this order):

- ``jobs``: POST /api/jobs (the upload), GET /api/jobs, GET /api/jobs/{job_id}
- ``documents``: GET /api/documents, GET /api/documents/{doc_id}
- ``results``: GET /api/documents/{doc_id}/result.json, result.xlsx, kpis.csv, cells.csv, tables,
  tables/{table_id}.csv
- ``review``: GET /api/documents/{doc_id}/pages/{page}.png, review/queue, review/progress, reviews;
  POST /api/documents/{doc_id}/reviews
- ``service``: GET /api/me, GET /healthz
- ``pages``: GET / (to /review), GET /review, GET /review/{doc_id} (the review page)

``deps`` holds what they share (reached through ``request.app.state``: store, settings, key ring,
worker pool, page cache, health probe; the API key dependency; ``ApiError``), ``schemas`` the request
and response models.
"""
from __future__ import annotations

from . import documents, jobs, pages, results, review, service

ROUTERS = [jobs.router, documents.router, results.router, review.router, service.router, pages.router]

__all__ = ["ROUTERS"]
