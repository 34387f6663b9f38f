"""The demo: synthetic export files and the end-to-end pipeline."""
