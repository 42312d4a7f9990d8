"""A fix for faust-streaming 0.15.3's fetch loop: a record whose delivery a flow suspension cancelled is read
again after the seek that follows, instead of being dropped as already read.

``Consumer._drain_messages`` hands each fetched record to the app with
``wait_first(callback(message), suspend_flow.wait())`` and then marks the record read
(``_read_offset[tp] = offset``) whether or not the callback finished. A rebalance or a table recovery sets
``suspend_flow`` while a fetched batch is being handed over: the rest of that batch is cancelled, yet its
offsets are marked read; after the seek back to the committed offset, the loop drops the re-fetched records
below the marked offset as duplicates. The records are never acknowledged, so nothing is lost across restarts
(the commit stops before them), but the running monitor never sees them: about 1 run in 4 of
``test_drift_event_and_resume_after_sigkill`` missed a label or two.

The fix (``install``): a record counts as read only when its callback completed; once one is not delivered,
the rest of the batch for that partition is left for the re-fetch. The loop is otherwise the library's own,
line for line; ``install`` patches only the version it was written against.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

log = logging.getLogger(__name__)

FIXED_VERSION = "0.15.3"


def install() -> bool:
    """Patch ``faust.transport.consumer.Consumer._drain_messages``; False (and a warning) on another version."""
    import faust
    from faust.transport import consumer

    if faust.__version__ != FIXED_VERSION:
        log.warning(
            "faust-streaming %s, not %s: its fetch loop is not patched (records fetched while a rebalance "
            "suspends the flow may be skipped until a restart)",
            faust.__version__,
            FIXED_VERSION,
        )
        return False
    consumer.Consumer._drain_messages = _drain_messages  # type: ignore[method-assign]
    return True


async def _drain_messages(self: Any, fetcher: Any) -> None:  # pragma: no cover - runs inside faust
    from faust.transport.consumer import CONSUMER_FETCHING
    from mode import Service

    callback = self.callback
    getmany = self.getmany
    consumer_should_stop = cast(Service, self)._stopped.is_set
    fetcher_should_stop = cast(Service, fetcher)._stopped.is_set

    get_read_offset = self._read_offset.__getitem__
    set_read_offset = self._read_offset.__setitem__
    flag_consumer_fetching = CONSUMER_FETCHING
    set_flag = self.diag.set_flag
    unset_flag = self.diag.unset_flag
    commit_every = self._commit_every
    acks_enabled_for = self.app.topics.acks_enabled_for

    yield_every = 100
    num_since_yield = 0
    sleep = asyncio.sleep

    try:
        while not (consumer_should_stop() or fetcher_should_stop()):
            set_flag(flag_consumer_fetching)
            ait = getmany(timeout=1.0)

            # Sleeping because sometimes getmany is called in a loop
            # never releasing to the event loop
            await self.sleep(0)
            if not self.should_stop:
                undelivered: set[Any] = set()  # partitions whose rest of this batch waits for the re-fetch
                async for tp, message in ait:
                    num_since_yield += 1
                    if num_since_yield > yield_every:
                        await sleep(0)
                        num_since_yield = 0
                    if tp in undelivered:
                        continue

                    offset = message.offset
                    r_offset = get_read_offset(tp)
                    if r_offset is None or offset >= r_offset:
                        gap = offset - (r_offset or 0)
                        # We have a gap in income messages
                        if gap > 1 and r_offset:
                            acks_enabled = acks_enabled_for(message.topic)
                            if acks_enabled:
                                await self._add_gap(tp, r_offset + 1, offset)
                        if commit_every is not None and self._n_acked >= commit_every:
                            self._n_acked = 0
                            await self.commit()
                        delivery = callback(message)
                        waited = await self.wait_first(delivery, self.suspend_flow.wait())
                        if delivery in waited.done:
                            set_read_offset(tp, offset)
                        else:  # cancelled by a suspension (or a stop): not read
                            undelivered.add(tp)
                    else:
                        self.log.dev(
                            "DROPPED MESSAGE ROFF %r: k=%r v=%r",
                            offset,
                            message.key,
                            message.value,
                        )
                unset_flag(flag_consumer_fetching)

    except self.consumer_stopped_errors:
        if self.transport.app.should_stop:
            # we're already stopping so ignore
            self.log.info("Broker stopped consumer, shutting down...")
            return
        raise
    except asyncio.CancelledError:
        if self.transport.app.should_stop:
            # we're already stopping so ignore
            self.log.info("Consumer shutting down for user cancel.")
            return
        raise
    except Exception as exc:
        self.log.exception("Drain messages raised: %r", exc)
        raise
    finally:
        unset_flag(flag_consumer_fetching)
