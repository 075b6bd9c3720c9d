"""Revisions of the tenant tree."""
