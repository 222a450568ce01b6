"""scantrace_reporter."""
