"""Deterministic synthetic card transactions and late labels for the fraud demo (pure: no I/O, no clock)."""

from rtml.datagen.config import GeneratorConfig
from rtml.datagen.transactions import GeneratedRecord, TransactionGenerator

__all__ = ["GeneratedRecord", "GeneratorConfig", "TransactionGenerator"]
