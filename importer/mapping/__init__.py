"""The map stage: source headers to vendor fields (and why), and values normalized."""

from importer.mapping.plan import MappingPlan, apply_mapping, load_mapping_file, plan_mapping

__all__ = ["MappingPlan", "apply_mapping", "load_mapping_file", "plan_mapping"]
