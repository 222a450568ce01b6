"""scantrace_common."""
