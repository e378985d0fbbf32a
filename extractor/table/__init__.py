"""Table structure: ruled-grid detection and a text-box fallback."""
from .grid import (
    GridCell,
    GridTable,
    binarize,
    find_tables,
    line_masks,
    table_from_text_boxes,
)

__all__ = [
    "GridCell",
    "GridTable",
    "binarize",
    "find_tables",
    "line_masks",
    "table_from_text_boxes",
]
