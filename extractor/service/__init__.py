"""The extraction service: an HTTP API (FastAPI) over the store, job workers running the pipeline,
and the review page. ``extractor serve`` runs it with uvicorn; ``create_app(settings)`` builds it.

    from extractor.config import ServiceSettings
    from extractor.service import create_app
    app = create_app(ServiceSettings(db="sqlite:///service.db", api_keys={"王芳": "secret"}))
"""
from .app import create_app

__all__ = ["create_app"]
