"""Benchmarks for Parley's speech path (see bench/README.md). Not part of the product."""
