"""Business event on ``events.transactions``: one card payment, keyed by ``customer_id``."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

EpochMs = Annotated[int, msgspec.Meta(ge=0, le=32_503_680_000_000, description="epoch milliseconds (UTC)")]
Id = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]

Channel = Literal["pos", "online", "atm"]


class Transaction(msgspec.Struct, tag_field="type", tag="transaction", forbid_unknown_fields=False):
    """A card payment. ``ts`` is event time; amounts are in ``currency`` units, strictly positive."""

    event_id: Id
    ts: EpochMs
    customer_id: Id
    merchant_id: Id
    merchant_category: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    amount: Annotated[float, msgspec.Meta(gt=0, le=1_000_000_000)]
    currency: Annotated[str, msgspec.Meta(pattern="^[A-Z]{3}$")]
    country: Annotated[str, msgspec.Meta(pattern="^[A-Z]{2}$")]
    device_id: Id
    channel: Channel


# Every event type that may appear on events.transactions. A value whose ``type`` is not listed
# here fails with rule ``enum`` at ``$.type`` and goes to the dead-letter topic.
TransactionEvent = Transaction
