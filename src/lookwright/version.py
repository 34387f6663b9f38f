"""The package version (kept in its own module so any stage can read it without importing the public API)."""

__version__ = "0.1.0"
