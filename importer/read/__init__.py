"""The read stage: CSV and XLSX files into chunks of rows stamped with their row numbers."""

from importer.read.limits import ReadLimits
from importer.read.sheet import Chunk, Sheet, open_sheet

__all__ = ["Chunk", "ReadLimits", "Sheet", "open_sheet"]
