"""Benchmarks: speed, memory and accuracy of dedup against its peers."""
