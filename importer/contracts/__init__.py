"""Vendor contracts: the declarative files in schemas/, loaded into typed objects."""
