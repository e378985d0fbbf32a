"""Table structure: ruled grids (``grid``), grids from text alignment where there are no rulings
(``align``), and tables continued across pages (``continuation``)."""
from .grid import (
    GridCell,
    GridTable,
    binarize,
    find_tables,
    line_masks,
)

__all__ = [
    "GridCell",
    "GridTable",
    "binarize",
    "find_tables",
    "line_masks",
]
