"""``RetrainTrigger``: ``monitoring.drift`` -> ``RetrainPolicy`` -> one retraining at a time -> gate ->
``models.updates`` (docs/decisions/0011).

A drift record's offset is committed once its fate is settled: skipped, or its run ended. Drifts the
policy holds (pending, or absorbed by the run in progress) keep the committed offset before them, so
after a crash they are read again and decided again; the registry's ``trigger`` tags say which drifts
were served, so a finished run is not repeated. The topic has one partition: one trigger per model
holds it, which makes "one run at a time" hold across processes too.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from confluent_kafka import Producer, TopicPartition

from rtml.kafka.clients import check_reachable, producer_config
from rtml.kafka.consumer import Received, ValidatingConsumer
from rtml.kafka.dlq import DeadLetterRouter
from rtml.settings import Settings
from training.pipeline import TrainOptions, TrainOutcome
from training.trigger import metrics
from training.trigger.launcher import Launcher, launcher_for
from training.trigger.policy import (
    Decision,
    DriftGroup,
    LabelCount,
    RetrainPolicy,
    RetrainRules,
    TrainingHistory,
    drift_key,
    training_window,
)
from training.trigger.state import registry_history

if TYPE_CHECKING:
    from training.registry import ModelRegistry

log = logging.getLogger("rtml.trigger")
TOPIC = "monitoring.drift"


def rules_from_settings(settings: Settings, model: str) -> RetrainRules:
    return RetrainRules(
        model=model,
        min_severity=settings.retrain_min_severity,
        cooldown_s=settings.retrain_cooldown_s,
        min_new_labels=settings.retrain_min_new_labels,
        max_label_wait_s=settings.retrain_max_label_wait_s,
        kinds=tuple(settings.retrain_drift_kinds),
        label_maturity_s=settings.retrain_label_maturity_s,
    )


def failed_step(exc: BaseException) -> str:
    """The pipeline step an exception of ``run_training`` comes from, for people and logs."""
    names = {
        "TrainingSetError": "training set",
        "TrainingFailed": "training",
        "RegistryError": "registry",
        "PublishError": "publish to models.updates",
        "KafkaUnavailable": "Kafka check",
        "KubectlMissing": "kubernetes launch",
    }
    return names.get(type(exc).__name__, f"unexpected {type(exc).__name__}")


@dataclasses.dataclass
class _Run:
    group: DriftGroup
    options: TrainOptions
    thread: threading.Thread
    began: float
    outcome: TrainOutcome | None = None
    error: BaseException | None = None


class RetrainTrigger:
    def __init__(
        self,
        settings: Settings,
        model: str,
        *,
        labels: LabelCount,
        registry: ModelRegistry | None = None,
        launcher: Launcher | None = None,
        options: TrainOptions | None = None,
        group: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        from training.registry import ModelRegistry

        check_reachable(settings)  # KafkaUnavailable says `rtml up`
        self.settings = settings
        self.model = model
        self.policy = RetrainPolicy(rules_from_settings(settings, model))
        self.labels = labels
        self.registry = registry or ModelRegistry.from_settings(settings)
        self.launcher = launcher or launcher_for(settings)
        self.options = options or TrainOptions(nproc=settings.retrain_nproc, epochs=settings.retrain_epochs)
        self.clock = clock
        component = f"trigger-{model}"
        self.consumer = ValidatingConsumer(
            settings, [TOPIC], group=group or f"rtml-trigger-{model}", component=component, dead_letters=False
        )
        self.dead_letters = DeadLetterRouter(Producer(producer_config(settings)), component)
        self.run: _Run | None = None
        self.runs_finished = 0
        self._history: TrainingHistory | None = None
        self._where: dict[int, tuple[int, int]] = {}  # id(drift) -> (partition, offset)
        self._arrived: dict[int, int] = {}  # id(drift) -> Kafka timestamp, ms
        self._next: dict[int, int] = {}  # partition -> next offset to read
        self._committed: dict[int, int] = {}
        self._last_tick = 0.0
        self._last_defer = ""
        metrics.init_series(model)

    # The loop.

    def serve(self, stop: threading.Event) -> None:
        """Decide on drift events until ``stop``; then let a run in progress finish, commit, leave."""
        log.info("retrain trigger for %s listening on %s (policy %s)", self.model, TOPIC, self.policy.rules)
        try:
            while not stop.is_set():
                self.step(timeout_s=0.5)
            if self.run is not None:
                log.info("stopping: waiting for the run for drift %s to finish", drift_key(self.run.group.newest))
                self.run.thread.join()
                self._finish()
            self._commit()
        finally:
            self.consumer.close(commit=False)

    def step(self, timeout_s: float = 0.5) -> None:
        """One round: read drift events, decide on each, collect a finished run, re-check the pending drift."""
        received = self.consumer.poll(50, timeout_s)
        self._dead_letter()
        for item in received:
            self._next[item.partition] = max(self._next.get(item.partition, 0), item.offset + 1)
            self._offer(item)
        if self.run is not None and not self.run.thread.is_alive():
            self._finish()
        now = self.clock()
        if now - self._last_tick >= self.settings.retrain_check_interval_s:
            self._last_tick = now
            self._tick()
        self._commit()

    def _offer(self, item: Received) -> None:
        drift = item.record
        self._where[id(drift)] = (item.partition, item.offset)
        self._arrived[id(drift)] = item.timestamp_ms
        decision = self.policy.offer(drift, self._state(), self._now_ms(), self.labels)
        self._report(decision, f"{TOPIC}[{item.partition}]@{item.offset}")
        self._act(decision)

    def _tick(self) -> None:
        decision = self.policy.tick(self._state(), self._now_ms(), self.labels)
        if decision is None:
            return
        if decision.action == "defer":
            if decision.reason.split(":")[0] != self._last_defer.split(":")[0]:
                log.info("still pending drift=%s: %s", decision.drift_id, decision.reason)
            self._last_defer = decision.reason
            return
        self._report(decision, "re-check")
        self._act(decision)

    def _report(self, decision: Decision, source: str) -> None:
        metrics.DECISIONS.labels(self.model, decision.action).inc()
        d = decision.drift
        about = f" severity={d.severity} kind={d.kind} detector={d.detector} feature={d.feature}" if d else ""
        log.info(
            "%s drift=%s model=%s%s (%s): %s",
            decision.action,
            decision.drift_id,
            self.model,
            about,
            source,
            decision.reason,
        )
        self._last_defer = decision.reason if decision.action == "defer" else ""

    def _state(self) -> TrainingHistory:
        """The registry's view, re-read unless a run is in progress (it writes; the view changes after)."""
        if self._history is None or self.run is None:
            self._history = registry_history(self.registry, self.model)
        return self._history

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    # Runs.

    def _act(self, decision: Decision) -> None:
        if decision.action != "train" or decision.group is None:
            return
        group = decision.group
        start_ms, end_ms = training_window(
            group, self.settings.retrain_history_s, self._now_ms(), self.policy.rules.label_maturity_s
        )
        options = dataclasses.replace(self.options, trigger=drift_key(group.newest), start_ms=start_ms, end_ms=end_ms)
        run = _Run(group, options, threading.Thread(target=lambda: None), time.monotonic())
        run.thread = threading.Thread(target=self._train, args=(run,), name=f"retrain-{self.model}", daemon=True)
        self.run = run
        metrics.IN_PROGRESS.labels(self.model).set(1)
        log.info(
            "retraining %s for drift %s on events from %s to %s (the shift began at %s, by %s) (nproc %d, epochs %d)",
            self.model,
            options.trigger,
            _iso(start_ms),
            "the newest labelled one" if end_ms is None else f"{_iso(end_ms)} (labels mature)",
            _iso(group.since_ms),
            group.earliest.drift_id,
            options.nproc,
            options.epochs,
        )
        run.thread.start()

    def _train(self, run: _Run) -> None:
        try:
            run.outcome = self.launcher.run(
                self.model, run.options, lambda m: log.info("[%s] %s", run.options.trigger, m)
            )
        except BaseException as exc:  # reported by the loop; the champion is unchanged
            run.error = exc

    def _finish(self) -> None:
        run, self.run = self.run, None
        assert run is not None
        seconds = time.monotonic() - run.began
        self.runs_finished += 1
        metrics.IN_PROGRESS.labels(self.model).set(0)
        metrics.LAST_DURATION.labels(self.model).set(seconds)
        metrics.RUN_DURATION.labels(self.model).observe(seconds)
        ok = run.outcome is not None and run.error is None
        self.policy.finished(ok, self._now_ms())
        self._history = None
        drift = run.options.trigger
        if not ok or run.outcome is None:
            metrics.RUNS.labels(self.model, "failed").inc()
            exc = run.error
            log.error(
                "retraining %s for drift %s failed at the %s step after %.1f s: %s; the champion is unchanged",
                self.model,
                drift,
                failed_step(exc) if exc else "?",
                seconds,
                exc,
            )
            return
        outcome = run.outcome
        metrics.RUNS.labels(self.model, "promoted" if outcome.promoted else "challenger").inc()
        figures = ", ".join(f"{k} {outcome.metrics[k]:.4f}" for k in ("pr_auc", "roc_auc") if k in outcome.metrics)
        if outcome.promoted:
            first = run.group.drifts[0]
            since = (self._now_ms() - self._arrived.get(id(first), self._now_ms())) / 1000
            metrics.DRIFT_TO_CHAMPION.labels(self.model).observe(since)
            metrics.LAST_DRIFT_TO_CHAMPION.labels(self.model).set(since)
            log.info(
                "retrained %s for drift %s: version %s is the champion (%s) in %.1f s; drift to champion %.1f s",
                self.model,
                drift,
                outcome.version,
                figures,
                seconds,
                since,
            )
        else:
            log.info(
                "retrained %s for drift %s: version %s is the challenger, the gate kept the champion (%s): %s",
                self.model,
                drift,
                outcome.version,
                figures,
                "; ".join(outcome.reasons),
            )

    # Offsets.

    def _dead_letter(self) -> None:
        for message, error in self.consumer.invalid:
            self.dead_letters.route(message, error)
        if self.consumer.invalid:
            self.consumer.invalid.clear()
            self.dead_letters.flush()

    def _commit(self) -> None:
        """Commit, per partition, the first offset whose drift the policy still holds (else all read)."""
        held = [
            *(self.policy.pending.drifts if self.policy.pending else []),
            *(self.run.group.drifts if self.run else []),
        ]
        keep = {id(d) for d in held}
        where = {key: self._where[key] for key in keep if key in self._where}
        self._where = where
        self._arrived = {key: ts for key, ts in self._arrived.items() if key in keep}
        offsets = dict(self._next)
        for partition, offset in where.values():
            offsets[partition] = min(offsets.get(partition, offset), offset)
        changed = [TopicPartition(TOPIC, p, o) for p, o in offsets.items() if self._committed.get(p) != o]
        if not changed:
            return
        try:
            self.consumer.consumer.commit(offsets=changed, asynchronous=False)
        except Exception as exc:  # a revoked partition: the next owner reads from the last commit
            log.warning("offset commit on %s failed (%s); held drifts are read again", TOPIC, exc)
            return
        self._committed.update({tp.partition: tp.offset for tp in changed})


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")
