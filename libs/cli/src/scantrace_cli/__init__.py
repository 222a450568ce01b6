"""scantrace_cli."""
