"""Review policy, in one place: the confidence under which a value goes to a person, what "needs
review" means, and how a cell's arithmetic check marks read.

A cell's ``checks`` (model.Cell.checks) are names with a mark in front: ``+row_sum`` a check the
cell satisfies, ``-code_hierarchy`` one it breaks, ``~column_sum`` one that holds only after a
suggested correction. Every module that queues, colours, counts or scores cells asks this one.
"""
from __future__ import annotations

from typing import Iterable

# values scored under this go to the review queue (the service's and the CLI's default; a caller
# may pass its own ``below``)
REVIEW_BELOW = 0.9

PASSED, BROKEN, MENDED = "+", "-", "~"


def passed(checks: Iterable[str]) -> list[str]:
    """Names of the checks the cell satisfies."""
    return [c[1:] for c in checks if c.startswith(PASSED)]


def broken(checks: Iterable[str]) -> list[str]:
    """Names of the checks the cell breaks."""
    return [c[1:] for c in checks if c.startswith(BROKEN)]


def mended(checks: Iterable[str]) -> list[str]:
    """Names of the checks that hold after a suggested correction of the cell."""
    return [c[1:] for c in checks if c.startswith(MENDED)]


def check_failed(checks: Iterable[str]) -> bool:
    return any(c.startswith(BROKEN) for c in checks)


def mark(ok: bool, name: str) -> str:
    """The check mark a validator writes: ``+name`` or ``-name``."""
    return (PASSED if ok else BROKEN) + name


def needs_review(confidence: float, checks: Iterable[str] = (), below: float = REVIEW_BELOW) -> bool:
    """A value a person should look at: scored under ``below``, or breaking an arithmetic check."""
    return confidence < below or check_failed(checks)
