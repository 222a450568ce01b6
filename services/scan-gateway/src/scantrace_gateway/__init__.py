"""scantrace_gateway."""
