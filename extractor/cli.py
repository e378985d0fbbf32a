"""Command line: ``extractor extract INPUT -o OUT.json [--csv DIR] [--dpi N] [--pages 1-5]``,
``extractor schema``, ``extractor db upgrade|info [--db URL]``."""
from __future__ import annotations

import logging
import os
import sys
import time

import click

from . import __version__


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
        raise click.ClickException(str(e)) from None
    except ValueError as e:
        raise click.ClickException(f"{input_path}: {e}") from None

    from .pipeline import Pipeline

    settings = Settings.load(config_path, dpi=dpi, device=device)
    pipe = Pipeline(settings)
    bar = tqdm(total=n, unit="page", desc=os.path.basename(input_path), disable=quiet, file=sys.stderr)

    def progress(done, total):
        bar.update(done - bar.n)

    t0 = time.perf_counter()
    try:
        doc = pipe.run(input_path, pages=pages, progress=progress)
    except InputError as e:
        raise click.ClickException(str(e)) from None
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
    click.echo(msg, err=True)


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


if __name__ == "__main__":
    main()
