"""Encode and decode topic records: msgspec typed decoders, one per record type."""

from __future__ import annotations

from typing import Generic, TypeVar

import msgspec

from schemas.errors import SchemaError

T = TypeVar("T")

DEFAULT_MAX_BYTES = 1_048_576  # 1 MiB: the broker's default max.message.bytes


class RecordCodec(Generic[T]):
    """JSON codec for one record type.

    ``decode`` validates types, constraints and cross-field rules in one pass and raises only
    ``SchemaError`` (malformed JSON, a missing or mistyped field, an unknown event type, a broken
    cross-field rule, an oversize payload). ``encode`` writes compact JSON with fields in declaration
    order. ``name`` goes into every error: the registry names codecs after their topic.
    """

    def __init__(self, type_: type[T], *, name: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.type = type_
        self.name: str = name or str(getattr(type_, "__name__", type_))
        self.max_bytes = max_bytes
        self._decoder: msgspec.json.Decoder[T] = msgspec.json.Decoder(type_)
        self._encoder = msgspec.json.Encoder()

    def __repr__(self) -> str:
        type_name = self.type.__name__ if isinstance(self.type, type) else repr(self.type)
        return f"{type(self).__name__}({type_name}, name={self.name!r})"

    def decode(self, data: bytes | bytearray | memoryview | str | None) -> T:
        if data is None:
            raise SchemaError(self.name, "$", "required", "record value is empty (tombstone or null payload)")
        if len(data) > self.max_bytes:
            raise SchemaError(
                self.name, "$", "max_bytes", f"record is {len(data)} bytes, the limit is {self.max_bytes}"
            )
        try:
            return self._decoder.decode(data)
        except msgspec.MsgspecError as exc:
            raise SchemaError.from_msgspec(self.name, exc) from None
        except (ValueError, TypeError, OverflowError, UnicodeError) as exc:  # defensive: never leak others
            raise SchemaError(self.name, "$", "invalid", str(exc)) from None

    def encode(self, record: T) -> bytes:
        return self._encoder.encode(record)
