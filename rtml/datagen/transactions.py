"""The transaction stream: legit spending and fraud incidents, with their labels merged in by event time.

Each arrival of the (daily-modulated) Poisson process picks a customer by activity and is either an
ordinary purchase or, with the probability the pattern mix derives from ``fraud_rate``, the start of
a fraud incident whose later transactions wait in a heap. Labels wait in the same heap until their
``ts``, so records come out in non-decreasing ``ts`` across both kinds. Transactions are numbered as
they are emitted; from index ``drift_at`` on (or the index ``schedule_drift`` set, for a stream whose
drift is decided while it runs), amounts scale and the drift pattern mix applies.

Two random streams, both derived from the seed: one for transactions and one for labels, so label
settings never change the transactions.

The customers follow the bank's database (``follow_bank``: the rows as they are now, a customer without one is
closed) and, once ``schedule_bank_changes`` is called, so do the changes: from then on, changes drawn from a
``BankChangeStream`` come out of the stream too (``bank_change`` records, a Poisson process of their own, in
event-time order with the rest), and each applies to the stream as it comes out: a closed customer pays no more
(an incident under way on the card stops), a customer who moved shops at home in the new country, and frauds are
"foreign" relative to it. The caller commits each change to the database when it sends the record.
"""

from __future__ import annotations

import dataclasses
import heapq
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from random import Random
from typing import Literal

import msgspec

from rtml.datagen.arrivals import ArrivalProcess, DailyCycle
from rtml.datagen.bank import CustomerRow
from rtml.datagen.bank_changes import BankChange, BankChangeStream
from rtml.datagen.config import GeneratorConfig
from rtml.datagen.labels import LabelPolicy
from rtml.datagen.patterns import BASELINE_MIX, DRIFT_MIX, PatternMix
from rtml.datagen.population import Population, build_population
from rtml.datagen.spending import Draft, legit_draft
from schemas.label import Label
from schemas.transaction import Transaction

TopicKind = Literal["transaction", "label", "bank_change"]


class GeneratedRecord(msgspec.Struct, frozen=True):
    """One record for a topic: ``key`` is ``customer_id`` for transactions, ``event_id`` for labels.
    ``is_fraud`` and ``pattern`` are the ground truth of the transaction (or of the labelled one). A
    ``bank_change`` is a change to the bank's database (``key``: the customer id), for the caller to commit."""

    topic_kind: TopicKind
    key: str
    record: Transaction | Label | BankChange
    is_fraud: bool
    pattern: str | None


class TransactionGenerator:
    """Deterministic synthetic transactions and labels; every ``events()`` call starts over."""

    def __init__(self, config: GeneratorConfig) -> None:
        self.config = config
        self.population: Population = build_population(config)
        self.drift_at = config.drift_at
        self._closed: set[int] = set()  # customers without a row in the bank database
        self._home: dict[int, str] = {}  # customers whose country there is not the population's
        self._changes: tuple[BankChangeStream, float, int] | None = None  # stream, per second, from ts
        self._index = {c.customer_id: c.index for c in self.population.customers}

    def follow_bank(self, rows: Sequence[CustomerRow]) -> None:
        """Customers as the bank's database holds them now: one without a row is closed (pays no more), one whose
        row names another country lives there. Call it before ``events()`` starts."""
        held = {r.id: r for r in rows}
        customers = self.population.customers
        unknown = {
            cid for cid, r in held.items() if cid not in self._index or customers[self._index[cid]].segment != r.segment
        }
        if unknown:
            raise ValueError(
                f"{len(unknown)} customers of the bank database are not in the generator's population (e.g. "
                f"{sorted(unknown)[0]}): the database was seeded from another population (RTML_BANK_SEED, "
                "RTML_BANK_CUSTOMERS)"
            )
        self._closed = {i for cid, i in self._index.items() if cid not in held}
        self._home = {
            self._index[r.id]: r.country
            for r in rows
            if r.country != self.population.customers[self._index[r.id]].home_country
        }
        if len(self._closed) == len(self._index):
            raise ValueError("every customer of the bank database is closed: nobody can pay")

    def schedule_bank_changes(self, changes: BankChangeStream, rate: float, from_ts: int) -> None:
        """From event time ``from_ts`` on, ``rate`` changes per second of event time drawn from ``changes`` come
        out of the stream and apply to it (a running ``events()`` stream picks this up at its next record)."""
        if not rate > 0:
            raise ValueError(f"the bank change rate must be positive, got {rate!r}")
        self._changes = (changes, float(rate), int(from_ts))

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
        customers = list(pop.customers)
        for i, country in self._home.items():
            customers[i] = dataclasses.replace(customers[i], home_country=country)
        closed = self._closed
        bank_rng = Random(f"rtml-datagen:{cfg.seed}:bank-changes")
        next_change: float | None = None  # event time (ms) of the next bank change, once scheduled
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
            if self._changes is not None:
                changes, change_rate, from_ts = self._changes
                if next_change is None:
                    next_change = from_ts + bank_rng.expovariate(change_rate) * 1000.0
                if next_change <= min(slot_ts, pending[0][0] if pending else slot_ts) and changes.open_customers:
                    change = dataclasses.replace(changes.next(), ts=int(next_change))
                    next_change += bank_rng.expovariate(change_rate) * 1000.0
                    i = self._index[change.customer_id]
                    if change.kind == "closure":
                        closed.add(i)
                    elif change.kind == "country" and change.country is not None:
                        customers[i] = dataclasses.replace(customers[i], home_country=change.country)
                    yield GeneratedRecord("bank_change", change.customer_id, change, False, None)
                    continue
            from_slot = not pending or pending[0][0] > slot_ts
            if from_slot:
                chosen = bisect_right(pop.activity_cum, rng.random() * total_activity)
                while min(chosen, last_customer) in closed:  # a closed card is not used: the next customer pays
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
                if item.customer in closed:  # the card was closed while the incident ran
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
