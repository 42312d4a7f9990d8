"""rtml: training."""
