"""Kafka adapters every component shares: client configuration, validated consume, typed produce, DLQ."""
