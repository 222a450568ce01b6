"""scantrace_tracer."""
