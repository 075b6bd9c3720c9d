"""HIPAA audit controls: capture in the PHI transaction, the sealed chain, verification, reports."""
