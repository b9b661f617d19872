"""Latency and quality benchmarks that print tables and write JSON reports to benchmarks/out/."""
