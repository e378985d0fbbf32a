"""The PDF's own text layer, where it can be trusted (issue 20): born-digital pages are read from
their characters and vector rulings, with no OCR.

- ``read``: a page's characters with their boxes, its image cover and its rulings drawn alone
  (run in the render sandbox, under its limits);
- ``trust``: whether the layer can be read, and why not (an OCR layer over a scan, garbage
  decoding, characters off the ink);
- ``page``: the Page built from a trusted layer, with the same table stages as a scan.
"""
from .page import page_from_layer
from .read import Layer, read_layer
from .trust import Verdict, common_set, judge

__all__ = ["Layer", "Verdict", "common_set", "judge", "page_from_layer", "read_layer"]
