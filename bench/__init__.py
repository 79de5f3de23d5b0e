"""Settle's benchmark suite: `python -m bench --help`. Not part of `make test` (see README.md)."""
