"""extractor: scanned Chinese budget disclosures in, structured tables out."""
__version__ = "0.1.0"
