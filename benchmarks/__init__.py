"""Benchmarks; results and how to reproduce them are in BENCHMARKS.md at the repository root."""
