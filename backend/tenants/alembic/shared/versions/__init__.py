"""Revisions of the shared tree."""
