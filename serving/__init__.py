"""rtml: serving."""
