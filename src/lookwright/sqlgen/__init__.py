"""Warehouse SQL from the IR: dialects and the DDL / rollup / incremental / check renderers."""
