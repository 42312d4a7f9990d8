"""The transaction stream: legit spending and fraud incidents, with their labels merged in by event time.

Each arrival of the (daily-modulated) Poisson process picks a customer by activity and is either an
ordinary purchase or, with the probability the pattern mix derives from ``fraud_rate``, the start of
a fraud incident whose later transactions wait in a heap. Labels wait in the same heap until their
``ts``, so records come out in non-decreasing ``ts`` across both kinds. Transactions are numbered as
they are emitted; from index ``drift_at`` on (or the index ``schedule_drift`` set, for a stream whose
drift is decided while it runs), amounts scale and the drift pattern mix applies.

Two random streams, both derived from the seed: one for transactions and one for labels, so label
settings never change the transactions.
"""

from __future__ import annotations

import heapq
from bisect import bisect_right
from collections.abc import Iterator
from random import Random
from typing import Literal

import msgspec

from rtml.datagen.arrivals import ArrivalProcess, DailyCycle
from rtml.datagen.config import GeneratorConfig
from rtml.datagen.labels import LabelPolicy
from rtml.datagen.patterns import BASELINE_MIX, DRIFT_MIX, PatternMix
from rtml.datagen.population import Population, build_population
from rtml.datagen.spending import Draft, legit_draft
from schemas.label import Label
from schemas.transaction import Transaction

TopicKind = Literal["transaction", "label"]


class GeneratedRecord(msgspec.Struct, frozen=True):
    """One record for a topic: ``key`` is ``customer_id`` for transactions, ``event_id`` for labels.
    ``is_fraud`` and ``pattern`` are the ground truth of the transaction (or of the labelled one)."""

    topic_kind: TopicKind
    key: str
    record: Transaction | Label
    is_fraud: bool
    pattern: str | None


class TransactionGenerator:
    """Deterministic synthetic transactions and labels; every ``events()`` call starts over."""

    def __init__(self, config: GeneratorConfig) -> None:
        self.config = config
        self.population: Population = build_population(config)
        self.drift_at = config.drift_at

    def schedule_drift(self, index: int) -> None:
        """Drift from transaction ``index`` on, in place of ``config.drift_at``; a running ``events()`` stream
        applies it when it reaches ``index`` (one already past it has drifted, or drifts at its next one)."""
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise ValueError(f"the drift index must be a non-negative integer, got {index!r}")
        self.drift_at = index

    def events(self, count: int | None = None) -> Iterator[GeneratedRecord]:
        """Records in event-time order. ``count`` bounds the transactions (None: endless); at the end
        the labels still pending are flushed in ``ts`` order and unfinished incidents are dropped."""
        if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 0):
            raise ValueError(f"count must be a non-negative integer or None, got {count!r}")
        return self._run(count)

    def event_id(self, index: int) -> str:
        return f"tx-{self.config.seed}-{index:010d}"

    def _mix(self, drifted: bool) -> PatternMix:
        return DRIFT_MIX if drifted and self.config.drift_new_pattern else BASELINE_MIX

    def _run(self, count: int | None) -> Iterator[GeneratedRecord]:
        cfg = self.config
        pop = self.population
        rng = Random(f"rtml-datagen:{cfg.seed}:transactions")
        labels = LabelPolicy(cfg, Random(f"rtml-datagen:{cfg.seed}:labels"))
        arrivals = ArrivalProcess(rng, cfg.start_ts, DailyCycle() if cfg.daily_cycle else None)
        customers = pop.customers
        last_customer = len(customers) - 1
        total_activity = pop.activity_cum[-1]
        pending: list[tuple[int, int, Draft | GeneratedRecord]] = []  # (ts, sequence, item)
        sequence = 0
        emitted = 0

        def emit(draft: Draft, ts: int) -> GeneratedRecord:
            nonlocal sequence
            customer = customers[draft.customer]
            merchant = pop.merchants[draft.merchant]
            tx = Transaction(
                event_id=self.event_id(emitted),
                ts=ts,
                customer_id=customer.customer_id,
                merchant_id=merchant.merchant_id,
                merchant_category=merchant.category,
                amount=draft.amount,
                currency=cfg.currency,
                country=merchant.country,
                device_id=draft.device_id,
                channel=draft.channel,
            )
            label = labels.label_for(tx, draft.is_fraud)
            if label is not None:
                record = GeneratedRecord("label", tx.event_id, label, draft.is_fraud, draft.pattern)
                heapq.heappush(pending, (label.ts, sequence, record))
                sequence += 1
            return GeneratedRecord("transaction", customer.customer_id, tx, draft.is_fraud, draft.pattern)

        drifted = self.drift_at == 0
        mix = self._mix(drifted)
        factor = cfg.drift_amount_factor if drifted else 1.0
        incident_p = mix.incident_probability(cfg.fraud_rate)
        slot = arrivals.next(0.0, cfg.rate / mix.transactions_per_arrival(cfg.fraud_rate))
        while count is None or emitted < count:
            slot_ts = cfg.start_ts + int(slot * 1000.0)
            from_slot = not pending or pending[0][0] > slot_ts
            if from_slot:
                chosen = bisect_right(pop.activity_cum, rng.random() * total_activity)
                victim = customers[min(chosen, last_customer)]  # min: float rounding at the top end
                if rng.random() < incident_p:
                    first, *rest = mix.pick(rng).plan(rng, pop, victim, slot, factor)
                    for draft in rest:
                        heapq.heappush(pending, (cfg.start_ts + int(draft.t * 1000.0), sequence, draft))
                        sequence += 1
                else:
                    first = legit_draft(rng, pop, victim, slot, factor)
                yield emit(first, slot_ts)
            else:
                ts, _, item = heapq.heappop(pending)
                if isinstance(item, GeneratedRecord):
                    yield item
                    continue
                yield emit(item, ts)
            emitted += 1
            if not drifted and self.drift_at is not None and emitted >= self.drift_at:
                drifted = True
                mix = self._mix(drifted)
                factor = cfg.drift_amount_factor
                incident_p = mix.incident_probability(cfg.fraud_rate)
            if from_slot:
                slot = arrivals.next(slot, cfg.rate / mix.transactions_per_arrival(cfg.fraud_rate))
        for _, _, item in sorted(pending):  # ties broken by sequence: stable and deterministic
            if isinstance(item, GeneratedRecord):
                yield item
