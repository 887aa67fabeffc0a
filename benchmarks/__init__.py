"""Benchmark scripts; run ``python -m benchmarks`` (see benchmarks/README.md)."""
