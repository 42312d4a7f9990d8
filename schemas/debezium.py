"""Debezium change events on ``cdc.<db>.<table>``, keyed by the row's primary key.

The envelope is the JSON converter's, without schemas (``value.converter.schemas.enable=false``);
the schemas-enabled form ``{"schema": ..., "payload": {...}}`` is accepted too and unwrapped by
``DebeziumCodec``. Rows of the demo ``bank`` database are ``Customer`` and ``Merchant``.

What the row types assume of the connector (Debezium PostgreSQL, pgoutput; ``infra/debezium/``):

- timestamps are epoch **milliseconds** (ints): ``timestamp`` columns with
  ``time.precision.mode=connect`` (the default ``adaptive`` mode writes microseconds, and
  ``timestamptz`` always comes as an ISO string);
- ``numeric`` columns are JSON numbers: ``decimal.handling.mode=double`` (the default ``precise``
  writes base64 bytes);
- tables use ``REPLICA IDENTITY FULL``, so a delete's ``before`` carries the whole row (with
  ``DEFAULT`` it holds only the key and fails the row type);
- topics are ``<topic.prefix>.<schema>.<table>`` with prefix ``cdc`` and the tables in schema ``bank``.

A delete is followed by a tombstone (null value) for compaction: that is "key deleted", not a
record, and is not passed to ``decode``.
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, Literal, TypeVar

import msgspec

from schemas.codec import DEFAULT_MAX_BYTES, RecordCodec
from schemas.errors import RuleViolation, SchemaError
from schemas.fields import CountryCode, EpochMs, Id, Name

Op = Literal["c", "u", "d", "r", "t"]  # create, update, delete, read (snapshot), truncate
RowT = TypeVar("RowT")

_NEEDS_AFTER = frozenset({"c", "u", "r"})


class Customer(msgspec.Struct, forbid_unknown_fields=False):
    """A row of ``bank.customers`` (``infra/postgres/bank.sql``); ``id`` is the generator's ``customer_id``.
    Columns added to the table later arrive as extra fields and are ignored."""

    id: Id
    segment: Name
    country: CountryCode
    credit_limit: Annotated[float, msgspec.Meta(ge=0)]
    account_opened_at: EpochMs
    risk_flags: list[Name] = msgspec.field(default_factory=list)


class Merchant(msgspec.Struct, forbid_unknown_fields=False):
    """A row of ``bank.merchants``; ``id`` is the generator's ``merchant_id``."""

    id: Id
    category: Name
    country: CountryCode


class DebeziumSource(msgspec.Struct, forbid_unknown_fields=False):
    """Where the change came from. ``snapshot`` is ``"true"``, ``"last"``, ``"false"`` ... (a bool
    on some connectors)."""

    version: str
    connector: str
    name: str
    ts_ms: EpochMs
    db: str
    schema: str
    table: str
    snapshot: str | bool | None = None
    lsn: int | None = None
    tx_id: int | None = msgspec.field(default=None, name="txId")


class DebeziumTransaction(msgspec.Struct, forbid_unknown_fields=False):
    """Transaction metadata, present when ``provide.transaction.metadata=true``."""

    id: str
    total_order: int
    data_collection_order: int


class DebeziumEnvelope(msgspec.Struct, Generic[RowT], kw_only=True, forbid_unknown_fields=False):
    """One change to one row. ``op`` ``c``/``r``/``u`` need ``after``, ``d`` needs ``before`` (rule
    ``required_for_op``); ``t`` (truncate) carries neither. ``ts_ms`` is when Debezium processed it;
    ``source.ts_ms`` when the database committed it."""

    before: RowT | None = None
    after: RowT | None = None
    source: DebeziumSource
    op: Op
    ts_ms: EpochMs
    transaction: DebeziumTransaction | None = None

    def __post_init__(self) -> None:
        if self.op in _NEEDS_AFTER and self.after is None:
            raise RuleViolation("after", "required_for_op", f"op {self.op!r} needs the row in `after`")
        if self.op == "d" and self.before is None:
            raise RuleViolation("before", "required_for_op", "op 'd' needs the row in `before`")


class _SchemaWrapped(msgspec.Struct, Generic[RowT], forbid_unknown_fields=False):
    """The schemas-enabled form; ``schema`` is skipped as an unknown field."""

    payload: DebeziumEnvelope[RowT]


class DebeziumCodec(RecordCodec[DebeziumEnvelope[Any]]):
    """Codec for ``DebeziumEnvelope[row_type]`` that also reads ``{"schema": ..., "payload": ...}``.

    The plain form is decoded first, at full speed; only when it misses a top-level field is the
    value read again as the wrapped form. ``encode`` writes the plain form.
    """

    def __init__(self, row_type: type[Any], *, name: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        envelope: Any = DebeziumEnvelope[row_type]  # type: ignore[valid-type]
        super().__init__(envelope, name=name or f"DebeziumEnvelope[{row_type.__name__}]", max_bytes=max_bytes)
        self.row_type = row_type
        self._wrapped: RecordCodec[Any] = RecordCodec(
            _SchemaWrapped[row_type],  # type: ignore[valid-type]
            name=self.name,
            max_bytes=max_bytes,
        )

    def decode(self, data: bytes | bytearray | memoryview | str | None) -> DebeziumEnvelope[Any]:
        try:
            return super().decode(data)
        except SchemaError as plain:
            if plain.rule != "required" or plain.field.count(".") != 1:
                raise
            try:
                wrapped = self._wrapped.decode(data)
            except SchemaError as error:
                if error.rule == "required" and error.field == "$.payload":
                    raise plain from None
                raise
            return wrapped.payload  # type: ignore[no-any-return]
