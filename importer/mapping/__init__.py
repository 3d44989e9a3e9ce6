"""The map stage: source headers to vendor fields (and why), and values normalized."""

from importer.mapping.file import FieldRule, MappingFile, load_mapping_file, mapping_file_text
from importer.mapping.plan import (
    MappingPlan,
    apply_mapping,
    hold_back_misfits,
    plan_mapping,
    sheet_cells,
)

__all__ = [
    "FieldRule",
    "MappingFile",
    "MappingPlan",
    "apply_mapping",
    "hold_back_misfits",
    "load_mapping_file",
    "mapping_file_text",
    "plan_mapping",
    "sheet_cells",
]
