"""Runs: one assistant turn each, executing apart from any HTTP connection. This package keeps
their events and state, in the process (`local`) and, for several workers, in Redis (`redis`)."""
