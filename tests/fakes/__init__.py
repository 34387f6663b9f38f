"""Test doubles that speak real protocols (HTTP, git) instead of mocking lookwright's code."""
