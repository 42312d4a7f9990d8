"""rtml: serving. The scorer (``rtml serve`` / ``python -m serving``): micro-batches of events, online
features in one Redis round trip, ONNX Runtime (CPU / CUDA / TensorRT) or a native TensorRT engine, hot
swap between batches, at-least-once or exactly-once delivery to ``predictions.<model>``."""
