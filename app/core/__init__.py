"""Pure code: the review document and everything computed from it, with no web framework and no
database (tests/core/test_purity.py holds it to that)."""
