"""Command line: ``extractor extract INPUT -o OUT.json [--csv DIR] [--dpi N] [--pages 1-5]``,
``extractor schema``, ``extractor db upgrade|info [--db URL]``,
``extractor batch INPUT_DIR_OR_LIST --db URL [--workers N] [--engine local|ray] [--export parquet DIR]``,
``extractor archive-export --db URL [--parquet DIR] [--report FILE]``,
``extractor serve [--db URL] [--host H] [--port P] [--workers N] [--config FILE]``,
``extractor review-export DOC_ID|HASH [--db URL] --format json|csv|xlsx -o OUT``, ``extractor openapi``."""
from __future__ import annotations

import logging
import os
import sys
import time
import unicodedata

import click

from . import __version__
from .policy import REVIEW_BELOW


def shown(text: str) -> str:
    """``text`` for one line of a terminal or log: control characters (a newline, a carriage
    return, an escape sequence's ESC) and line separators in a file name are written as escapes, so
    a hostile name cannot forge a line of output or move the cursor. Other characters (Chinese
    names) are kept."""
    return "".join(ch if unicodedata.category(ch) not in ("Cc", "Zl", "Zp") else ascii(ch)[1:-1]
                   for ch in str(text))


class _Error(click.ClickException):
    """A ClickException whose message is shown with ``shown``."""

    def __init__(self, message: str):
        super().__init__(shown(message))


@click.group()
@click.version_option(__version__)
def main() -> None:
    """Scanned Chinese budget disclosures in, structured tables out."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("rapid_layout", "RapidOCR", "rapidocr"):
        logging.getLogger(noisy).setLevel(logging.ERROR)


@main.command()
@click.argument("input_path", metavar="INPUT", type=click.Path(dir_okay=False))
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False), help="JSON file to write.")
@click.option("--csv", "csv_dir", type=click.Path(file_okay=False), help="Also write one CSV per table here.")
@click.option("--dpi", type=float, help="Rasterisation DPI for PDF pages (default 200).")
@click.option("--pages", help="Pages to process, e.g. 1-5,8 (default: all).")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False), help="YAML settings file.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), help="Where the models run.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def extract(input_path, output, csv_dir, dpi, pages, config_path, device, quiet):
    """Extract the tables and text of one PDF or image file."""
    from tqdm import tqdm

    from .config import Settings
    from .export import write_csvs, write_json
    from .ingest import InputError, open_source, parse_page_range

    try:
        src = open_source(input_path)
        n = len(parse_page_range(pages, src.n_pages))
        src.close()
    except InputError as e:
        raise _Error(str(e)) from None
    except ValueError as e:
        raise _Error(f"{input_path}: {e}") from None

    from .pipeline import Pipeline

    settings = Settings.load(config_path, dpi=dpi, device=device)
    pipe = Pipeline(settings)
    bar = tqdm(total=n, unit="page", desc=shown(os.path.basename(input_path)), disable=quiet, file=sys.stderr)

    def progress(done, total):
        bar.update(done - bar.n)

    t0 = time.perf_counter()
    try:
        doc = pipe.run(input_path, pages=pages, progress=progress)
    except InputError as e:
        raise _Error(str(e)) from None
    finally:
        bar.close()
    write_json(doc, output)
    n_tables = sum(len(p.tables) for p in doc.pages)
    msg = f"{input_path}: {len(doc.pages)} pages, {n_tables} tables in {time.perf_counter() - t0:.1f}s -> {output}"
    if csv_dir:
        paths = write_csvs(doc, csv_dir)
        msg += f", {len(paths)} CSV files in {csv_dir}"
    fails = [f for p in doc.pages for f in p.failures if f.category != "empty_page"]
    if fails:
        msg += f" ({len(fails)} page failures recorded in the JSON)"
    click.echo(shown(msg), err=True)


@main.command()
def schema() -> None:
    """Print the JSON schema of the output document."""
    from .export import json_schema

    click.echo(json_schema())


@main.group()
def db() -> None:
    """The database of the extraction service (see README, "Store (database)")."""


_DB_OPTION = click.option(
    "--db", "url", envvar="EXTRACTOR_DB_URL", show_envvar=True,
    help="Database URL (sqlite:///path.db, postgresql://user@host/name) or a SQLite file path; "
         "default: sqlite:///extractor.db in the current directory.")


@db.command("upgrade")
@_DB_OPTION
def db_upgrade(url):
    """Create the schema or migrate it to the newest revision."""
    from .store import Store

    with Store(url) as store:
        before = store.revision()
        store.upgrade()
        after = store.revision()
        where = store.engine.url.render_as_string(hide_password=True)
    click.echo(f"{where}: " + (f"at revision {after} (already)" if before == after
                                else f"migrated {before or 'empty database'} -> {after}"))


@db.command("info")
@_DB_OPTION
def db_info(url):
    """The database's schema revision and how many documents and jobs it holds."""
    from .store import Store

    with Store(url) as store:
        rev, head = store.revision(), store.head_revision()
        click.echo(f"database  {store.engine.url.render_as_string(hide_password=True)}")
        click.echo(f"revision  {rev or 'none (run: extractor db upgrade)'}"
                   + ("" if rev == head else f" (newest: {head})"))
        if rev is None:
            return
        counts = store.counts()
        for what in ("documents", "jobs"):
            c = counts[what]
            detail = ", ".join(f"{k} {v}" for k, v in sorted(c.items()))
            click.echo(f"{what:<9} {sum(c.values())}" + (f" ({detail})" if detail else ""))


# ---- whole archives (extractor/batch)

@main.command()
@click.argument("inputs", metavar="INPUT_DIR_OR_LIST...", nargs=-1, required=True, type=click.Path())
@_DB_OPTION
@click.option("--workers", type=int, default=0, show_default=True,
              help="Local: worker processes (0: one per core, as memory allows). Ray: at most this many actors.")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True)
@click.option("--address", help="Ray: address of an existing cluster ('auto': the one this machine belongs to); "
                                "none: a Ray instance on this machine for the run.")
@click.option("--export", "export", nargs=2, type=(click.Choice(["parquet"]), click.Path(file_okay=False)),
              metavar="parquet DIR", help="Afterwards write the archive's Parquet tables into DIR.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False),
              help="The archive's HTML report (default: beside a SQLite database, NAME.report.html).")
@click.option("--no-report", is_flag=True, help="Write no HTML report.")
@click.option("--dpi", type=float, help="Rasterisation DPI for PDF pages (default 200).")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False), help="YAML settings file.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), help="Where the models run (ray + cuda: one actor per GPU).")
@click.option("--threads", type=int, default=0, help="Threads per worker (0: the cores shared out; Ray: 1 CPU per actor).")
@click.option("--max-pages", type=int, default=5000, show_default=True, help="Refuse files with more pages.")
@click.option("--page-timeout", type=float, default=None,
              help="Seconds a page may take before its worker is replaced and the page recorded as failed "
                   "(page_timeout; default: the settings' page_timeout, 300).")
@click.option("--retry-failed", is_flag=True, help="Read again the documents that failed in earlier runs.")
@click.option("--ship-files/--no-ship-files", default=None,
              help="Ray: send files through the object store (default: only when the cluster has several nodes).")
@click.option("--summary-json", type=click.Path(dir_okay=False), help="Also write the run's summary as JSON.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def batch(inputs, url, workers, engine, address, export, report_path, no_report, dpi, config_path, device, threads,
          max_pages, page_timeout, retry_failed, ship_files, summary_json, quiet):
    """Extract a whole archive into the database, resumably.

    INPUT: folders (searched recursively for PDFs and images) or manifest files (one path a
    line). Each document is known by its content hash: a re-run skips finished documents and resumes
    a half-done one at its first page not yet read; renamed or duplicated files are read once. A file
    that cannot be read is recorded as failed, with the reason, and the batch goes on. Ctrl-C
    finishes the pages in flight and stops; the same command resumes."""
    import json

    from .batch import BatchError, BatchOptions, BatchRunner
    from .config import Settings
    from .store import Store

    settings = Settings.load(config_path, dpi=dpi, device=device, page_timeout=page_timeout)
    opts = BatchOptions(engine=engine, workers=workers, threads=threads, address=address, ship_files=ship_files,
                        dpi=dpi, max_pages=max_pages, task_timeout=settings.page_timeout, retry_failed=retry_failed,
                        quiet=quiet)
    with Store(url) as store:
        store.upgrade()
        try:
            summary = BatchRunner(store, settings, opts).run(inputs)
        except BatchError as e:
            raise _Error(str(e)) from None
        except KeyboardInterrupt:  # before the batch took over Ctrl-C (finding and hashing the files)
            click.echo("stopped before any page was read", err=True)
            sys.exit(130)
        for line in summary.lines():
            click.echo(shown(line))
        if summary_json:
            with open(summary_json, "w", encoding="utf-8") as f:
                json.dump(summary.to_dict(), f, ensure_ascii=False, indent=1, default=str)
        _archive_outputs(store, export[1] if export else None, None if no_report else (report_path or _default_report(store)))
    if summary.state != "done":
        sys.exit(130)


@main.command("archive-export")
@_DB_OPTION
@click.option("--parquet", "parquet_dir", type=click.Path(file_okay=False), help="Write the Parquet tables here.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False), help="Write the HTML report here.")
def archive_export(url, parquet_dir, report_path):
    """The archive's Parquet tables and HTML report from the database as it is now (reviews included)."""
    from .store import Store

    if not parquet_dir and not report_path:
        raise click.UsageError("nothing to do: give --parquet DIR and/or --report FILE")
    with Store(url) as store:
        _archive_outputs(store, parquet_dir, report_path)


def _default_report(store) -> "str | None":
    db = store.engine.url.database if store.dialect == "sqlite" else None
    if not db or db == ":memory:":
        return None
    root, _ = os.path.splitext(db)
    return root + ".report.html"


def _archive_outputs(store, parquet_dir, report_path) -> None:
    if not parquet_dir and not report_path:
        return
    from .batch.export import export_archive

    res = export_archive(store, parquet_dir=parquet_dir, report_path=report_path)
    for what, path in res.items():
        click.echo(shown(f"{what}: {path}"))


# ---- the service (extractor/service)

@main.command()
@_DB_OPTION
@click.option("--host", help="Address to listen on (default 127.0.0.1; 0.0.0.0 for every interface).")
@click.option("--port", type=int, help="Port (default 8000).")
@click.option("--workers", type=int, help="Job worker processes, each with its own models (~1 GB); "
                                          "0 = one per core, at most 4 (default).")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False),
              help="Service YAML (see configs/service.yaml): API keys, limits, review threshold, pipeline settings.")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info", show_default=True)
def serve(url, host, port, workers, config_path, log_level):
    """Run the HTTP service: uploads, jobs, results (JSON, CSV, Excel) and the review page (/review).

    Jobs are kept in the database and survive a restart: queued ones run, a job cut off by a crash
    is queued again. API keys for uploads and reviews come from --config (api_keys) or
    $EXTRACTOR_API_KEYS ("name:key,..."); OpenAPI at /docs and /openapi.json."""
    import uvicorn

    from .config import ServiceSettings
    from .service import create_app

    try:
        settings = ServiceSettings.load(config_path, db=url, host=host, port=port, workers=workers)
    except ValueError as e:
        raise _Error(str(e)) from None
    logging.getLogger("extractor").setLevel(getattr(logging, log_level.upper()))
    app = create_app(settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=log_level, timeout_graceful_shutdown=90)


@main.command("review-export")
@click.argument("document")
@_DB_OPTION
@click.option("--format", "fmt", type=click.Choice(["json", "csv", "xlsx"]), required=True)
@click.option("-o", "--output", "output", required=True, type=click.Path(),
              help="The file to write (json, xlsx) or the folder (csv: a CSV per table, the KPI records and "
                   "every cell with its review marks).")
@click.option("--below", type=float, default=REVIEW_BELOW, show_default=True,
              help="xlsx: values under this confidence are highlighted.")
def review_export(document, url, fmt, output, below):
    """Export a stored document with its reviews applied: corrected values in place (confidence 1.0,
    source "review"), every reviewed value marked. DOCUMENT: its id in the database, or the sha256 of
    its file (or the first 8+ hex digits of it)."""
    from .export import write_cells_csv, write_csvs, write_json, write_xlsx
    from .store import Store, StoreError

    with Store(url) as store:
        try:
            doc_id = _find_document(store, document)
            doc = store.load_document(doc_id)
        except StoreError as e:
            raise _Error(str(e)) from None
    if fmt == "json":
        paths = [write_json(doc, output)]
    elif fmt == "xlsx":
        os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
        write_xlsx(doc, output, below=below)
        paths = [output]
    else:
        stem = os.path.splitext(os.path.basename(doc.source))[0]
        paths = write_csvs(doc, output) + [write_cells_csv(doc, os.path.join(output, f"{stem}_cells.csv"))]
    reviewed = sum(c.reviewed for t in doc.tables() for c in t.cells) + sum(k.reviewed for k in doc.kpis)
    click.echo(f"document {doc_id} ({os.path.basename(doc.source)}), {reviewed} reviewed values -> "
               + (str(paths[0]) if len(paths) == 1 else f"{len(paths)} files in {output}"))


def _find_document(store, ref: str) -> int:
    from .store import NotFoundError

    ref = ref.strip().lower()
    if ref.isdigit() and len(ref) < 16:
        store.get_document(int(ref))
        return int(ref)
    if len(ref) >= 8 and all(c in "0123456789abcdef" for c in ref):
        if len(ref) == 64:
            info = store.get_by_hash(ref)
            if info is None:
                raise NotFoundError(f"no document with hash {ref}")
            return info.id
        found = [d for d in store.list_documents() if d.content_hash.startswith(ref)]
        if len(found) == 1:
            return found[0].id
        raise NotFoundError(f"{len(found)} documents have a hash starting {ref}")
    raise NotFoundError(f"not a document id or sha256: {ref}")


@main.command()
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write here (default: print).")
def openapi(output):
    """The service's OpenAPI document (docs/openapi.json is this)."""
    import json

    from .config import ServiceSettings
    from .service import create_app

    app = create_app(ServiceSettings(db="sqlite://", api_keys={"-": "-"}), start_workers=False)
    text = json.dumps(app.openapi(), ensure_ascii=False, indent=1) + "\n"
    if output:
        with open(output, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        click.echo(text, nl=False)


if __name__ == "__main__":
    main()
