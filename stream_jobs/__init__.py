"""rtml: stream_jobs."""
