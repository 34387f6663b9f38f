"""LookML: render the IR, dump it, read hand-written projects, validate them, match aggregate tables."""
