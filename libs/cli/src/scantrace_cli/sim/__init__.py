"""Synthetic and replayed workloads: a province generator, real-data replay, and the drivers that feed the stack."""
