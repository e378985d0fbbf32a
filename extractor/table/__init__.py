"""Table structure: ruled-grid detection and a text-box fallback."""
from .grid import (
    GridCell,
    GridTable,
    binarize,
    cell_is_empty,
    find_tables,
    ink_ratio,
    line_masks,
    table_from_text_boxes,
)

__all__ = [
    "GridCell",
    "GridTable",
    "binarize",
    "cell_is_empty",
    "find_tables",
    "ink_ratio",
    "line_masks",
    "table_from_text_boxes",
]
