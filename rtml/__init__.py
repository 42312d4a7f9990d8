"""rtml: rtml."""
