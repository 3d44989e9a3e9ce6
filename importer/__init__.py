"""Bulk-import CSV and Excel sheets into vendors' HTTP APIs, accounting for every row."""

__version__ = "0.1.0"
