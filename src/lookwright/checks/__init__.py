"""Checks against a warehouse or the LookML: validate sql, validate rollups, validate aggregates, the umbrella."""
