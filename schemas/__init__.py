"""rtml: schemas."""
