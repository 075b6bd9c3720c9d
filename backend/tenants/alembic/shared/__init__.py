"""The shared tree: tables of the `public` schema (registry, users, memberships, tokens)."""
