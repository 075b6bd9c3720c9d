"""Alembic trees: `shared` (the `public` schema) and `tenant` (run once per clinic schema).

Packages (with `__init__.py`) so the templates and revisions ship in the wheel.
"""
