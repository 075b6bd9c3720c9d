"""Encryption at rest: master key provider, per-clinic data keys, encrypted columns, rotation."""
