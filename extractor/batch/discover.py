"""Finding an archive's files and telling documents apart by content.

``discover`` walks directories (recursively, hidden entries skipped, symlinked directories not
followed) for PDFs and images, or reads a manifest (a text file: one path a line, relative to the
manifest, ``#`` comments; a listed directory is walked). ``hash_files`` reads every file's sha256 (the
store's key), reusing the hash recorded for a path whose size and mtime have not changed.
``group_by_content`` then makes one document of each distinct content: duplicates and renamed copies
map to the document of their first path.
"""
from __future__ import annotations

import hashlib
import os
import stat
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Optional, Sequence, Union

from ..ingest import IMAGE_SUFFIXES
from ..model import stored_name

DOCUMENT_SUFFIXES = frozenset({".pdf"} | set(IMAGE_SUFFIXES))


@dataclass
class FoundFile:
    path: str  # absolute
    size: Optional[int] = None
    mtime_ns: Optional[int] = None
    content_hash: Optional[str] = None
    error: Optional[str] = None  # why it cannot be read (then no hash)

    def record(self) -> dict:
        return {"path": stored_name(self.path), "size": self.size, "mtime_ns": self.mtime_ns, "content_hash": self.content_hash,
                "error": self.error}


@dataclass
class DocumentGroup:
    """One distinct content: the path it is read from, and every other path with the same bytes."""

    content_hash: str
    path: str
    duplicates: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The path as it is stored and shown (``stored_name``); ``path`` is what is opened."""
        return stored_name(self.path)


def is_document(p: Path) -> bool:
    return p.suffix.lower() in DOCUMENT_SUFFIXES


def _walk(root: Path) -> Iterable[Path]:
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith(".") and is_document(Path(name)):
                yield Path(dirpath) / name


def _manifest(path: Path) -> Iterable[Union[Path, FoundFile]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        yield FoundFile(os.path.abspath(path), error=f"manifest cannot be read ({e})")
        return
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        p = Path(line).expanduser()
        if not p.is_absolute():
            p = path.parent / p
        if p.is_dir():
            yield from _walk(p)
        else:
            yield p


def discover(inputs: Sequence[Union[str, os.PathLike]]) -> list[FoundFile]:
    """Every file the inputs name, in a stable order, each path once. A named path that does not
    exist, or is not a regular file, comes back with ``error`` set."""
    seen: set[str] = set()
    out: list[FoundFile] = []

    def add(p: Union[Path, FoundFile]) -> None:
        if isinstance(p, FoundFile):
            if p.path not in seen:
                seen.add(p.path)
                out.append(p)
            return
        ap = os.path.abspath(p)
        if ap in seen:
            return
        seen.add(ap)
        f = FoundFile(ap)
        try:
            st = os.stat(ap)
        except FileNotFoundError:
            f.error = "no such file"
        except OSError as e:
            f.error = f"cannot be read ({e.strerror or e})"
        else:
            if stat.S_ISDIR(st.st_mode):
                f.error = "is a directory"
            elif not stat.S_ISREG(st.st_mode):
                f.error = "not a regular file"
            else:
                f.size, f.mtime_ns = st.st_size, st.st_mtime_ns
        out.append(f)

    for inp in inputs:
        p = Path(inp).expanduser()
        if p.is_dir():
            for q in _walk(p):
                add(q)
        elif p.is_file() and not is_document(p):
            for q in _manifest(p):
                add(q)
        else:
            add(p)
    return out


def sha256_of(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def hash_files(files: Sequence[FoundFile], known: Optional[Mapping[str, tuple[Optional[int], Optional[int], str]]] = None,
               threads: int = 4) -> None:
    """Fill in ``content_hash`` (or ``error``) of every readable file; a path whose size and mtime
    match ``known`` (path -> (size, mtime_ns, hash)) keeps its recorded hash without reading."""
    known = known or {}

    def one(f: FoundFile) -> None:
        k = known.get(stored_name(f.path))
        if k is not None and k[0] == f.size and k[1] == f.mtime_ns and k[2]:
            f.content_hash = k[2]
            return
        try:
            f.content_hash = sha256_of(f.path)
        except OSError as e:
            f.error = f"cannot be read ({e.strerror or e})"

    todo = [f for f in files if f.error is None]
    with ThreadPoolExecutor(max(1, threads)) as ex:
        list(ex.map(one, todo))


def group_by_content(files: Sequence[FoundFile]) -> list[DocumentGroup]:
    """One group per distinct content hash, in the order of first appearance."""
    groups: dict[str, DocumentGroup] = {}
    for f in files:
        if f.content_hash is None:
            continue
        g = groups.get(f.content_hash)
        if g is None:
            groups[f.content_hash] = DocumentGroup(f.content_hash, f.path)
        else:
            g.duplicates.append(f.path)
    return list(groups.values())
