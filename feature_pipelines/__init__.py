"""rtml: feature_pipelines."""
