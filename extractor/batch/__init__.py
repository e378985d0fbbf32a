"""Whole archives: every PDF and image under a folder (or in a manifest) extracted once into the
store, resumable at the page, on local worker processes or on a Ray cluster.

    extractor batch archive/ --db archive.sqlite [--workers N] [--engine local|ray] [--export parquet DIR]

    from extractor.batch import BatchOptions, run_batch
    summary = run_batch(["archive/"], "archive.sqlite", options=BatchOptions(workers=2))

Modules: ``discover`` (files, manifests, content hashes, duplicates), ``worker`` (what a worker
process or Ray actor runs), ``engines`` (local processes, Ray actors), ``runner`` (the run: resume,
per-page persistence, document completion, Ctrl-C, the summary), ``progress`` (the bar),
``export`` (Parquet tables of the archive) and ``report`` (the HTML report).
"""
from .runner import BatchError, BatchOptions, BatchRunner, BatchSummary, DocOutcome, run_batch

__all__ = ["BatchError", "BatchOptions", "BatchRunner", "BatchSummary", "DocOutcome", "run_batch"]
