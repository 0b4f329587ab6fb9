"""Benchmarks: a data generator (generate.py) and the benchmark runner (run.py). Never part of `make test`."""
