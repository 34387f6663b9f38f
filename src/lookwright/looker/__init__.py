"""Looker: the API client, deploy and verify."""
