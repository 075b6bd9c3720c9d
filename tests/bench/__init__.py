"""Benchmark scripts, run by hand (pytest does not collect tests/bench)."""
