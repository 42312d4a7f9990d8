"""Business event on ``events.transactions``: one card payment, keyed by ``customer_id``."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from schemas.fields import CountryCode, CurrencyCode, EpochMs, Id

__all__ = ["Channel", "EpochMs", "Id", "Transaction", "TransactionEvent"]

Channel = Literal["pos", "online", "atm"]


class Transaction(msgspec.Struct, tag_field="type", tag="transaction", forbid_unknown_fields=False):
    """A card payment. ``ts`` is event time; amounts are in ``currency`` units, strictly positive."""

    event_id: Id
    ts: EpochMs
    customer_id: Id
    merchant_id: Id
    merchant_category: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    amount: Annotated[float, msgspec.Meta(gt=0, le=1_000_000_000)]
    currency: CurrencyCode
    country: CountryCode
    device_id: Id
    channel: Channel


# Every event type that may appear on events.transactions. A value whose ``type`` is not listed
# here fails with rule ``enum`` at ``$.type`` and goes to the dead-letter topic.
TransactionEvent = Transaction
