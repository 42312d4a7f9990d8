"""``rtml demo``: the whole loop on one machine, with live progress, a summary and a plot.

1. Start the stack (with PostgreSQL and Debezium), create the topics, wait until the bank database's snapshot is
   in Kafka, start the feature job and both materializers.
2. Produce a generated history at full speed through Kafka (its customers as the bank database holds them); wait
   until the offline store holds its closed windows; train the first model from it and make it the champion.
3. Start the scorer (from the end of the events topic), the drift monitor and the retrain trigger.
4. Stream live traffic at ``rate`` for ``duration_s``, drifting ``drift_after_s`` in, with changes to the bank
   database (``bank_change_rate`` per second, committed in PostgreSQL: Debezium -> Flink), while a subscriber
   joins predictions with their late labels; show events, predictions/s, p99 latency, rolling quality,
   the serving version, drift and retrain events.
5. Summarize (``report.summarize``) and plot under ``<data dir>/reports/``.

The stack and the jobs keep running afterwards (``rtml jobs stop; rtml down`` stops them).
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.live import Live
from rich.table import Table

from rtml.datagen.config import GeneratorConfig
from rtml.demo.observer import Observer
from rtml.demo.report import DemoSummary, plot, summarize
from rtml.demo.traffic import DemoTraffic
from rtml.settings import Settings

if TYPE_CHECKING:
    from feature_pipelines.offline.delta_store import DeltaOfflineStore
    from rtml.datagen.bank import CustomerRow
    from rtml.stack.psql import PsqlSession

MODEL, LABELS = "fraud", "transactions"


class DemoError(RuntimeError):
    """A step of the demo failed; the message says which and what to do."""


@dataclass(frozen=True)
class DemoOptions:
    duration_s: float = 240.0
    rate: float = 100.0
    history: int = 60_000
    drift_after_s: float = 60.0
    seed: int | None = None  # None: from the clock, so a rerun never reuses event ids
    bank_change_rate: float = 1.0  # changes to the bank database per second of live traffic (0: none)
    nproc: int = 2
    epochs: int = 20  # ~0.2 s each here; at 6 the MLP is still learning (val PR-AUC rising every epoch)
    legit_label_delay_s: float = 8.0
    fraud_label_delay_s: float = 20.0
    drift_amount_factor: float = 1.8
    max_extension_s: float = 300.0  # live traffic may run this much longer, waiting for the new champion
    after_swap_s: float = 60.0  # how long the new champion serves before the demo ends

    def __post_init__(self) -> None:
        if not 0 < self.drift_after_s < self.duration_s:
            raise ValueError(
                f"--drift-after ({self.drift_after_s} s) must fall inside --duration ({self.duration_s} s)"
            )
        if self.rate <= 0 or self.history < 1000:
            raise ValueError("--rate must be positive and --history at least 1,000 transactions")
        if self.bank_change_rate < 0:
            raise ValueError("--bank-changes must be 0 or more per second")


# What the jobs the demo starts are told, unless already set in the environment.
# - The monitor watches the features of the event itself, whose distribution does not depend on how the demo
#   runs: the history is minutes long, so counts over 1 h and 24 h windows keep growing through the demo, and the
#   first model trained on 5-minute windows that were filling up (the history starts them empty). Real shifts
#   from the training data, but of the demo's making, not of the world's. (The traffic no longer pauses while
#   the first model trains: after a 7-minute pause a 5-minute count climbed from 0 to its level over the first
#   5 live minutes, so a retrain right after the drift learned from counts a fifth of those it then scored.)
# - The trigger acts on feature and performance drift, not on the score's distribution: the score reads the
#   1 h and 24 h counts too, so it shifts from the training scores before the drift begins (a KS of ~0.2-0.25 on
#   the score in the first minute of live traffic); the monitor still reports it.
# - The trigger retrains on the shift quickly, on a window where the post-drift period dominates (30 s
#   before the drift, then at least 12,000 labelled events after it), so the split's training part holds
#   post-drift data and its newest slices (validation, the gate's test) are all post-drift. Those events are
#   40 s old at least: a fraud's label comes ~20 s after it (lognormal, 95 % within 40 s), a purchase's ~8 s,
#   so younger events hold their legit labels and few of their frauds (a gate's test slice had 6 of ~27).
# - The gate refuses a challenger only when it is worse with 95 % confidence (one-sided, paired bootstrap): its
#   slice is the last ~17 s, ~20 frauds, where PR-AUC moves by ~0.05 from one draw to the next; a challenger at
#   ROC-AUC 0.95 against the drifted champion's 0.55 over the minute before was refused on that slice's draw.
DEMO_ENVIRONMENT = {
    "RTML_MONITOR_FEATURES": json.dumps(["amount", "log_amount", "channel_online", "channel_atm"]),
    "RTML_MONITOR_START_AT": "latest",
    "RTML_RETRAIN_DRIFT_KINDS": json.dumps(["feature", "performance"]),
    "RTML_RETRAIN_COOLDOWN_S": "60",
    "RTML_RETRAIN_HISTORY_S": "30",
    "RTML_RETRAIN_LABEL_MATURITY_S": "40",
    "RTML_GATE_NOISE_Z": "1.645",
    "RTML_RETRAIN_MIN_NEW_LABELS": "12000",
    "RTML_RETRAIN_CHECK_INTERVAL_S": "5",
    "RTML_RETRAIN_MAX_LABEL_WAIT_S": "240",
    "RTML_RETRAIN_EPOCHS": "20",
}


class DemoRunner:
    def __init__(self, settings: Settings, options: DemoOptions, console: Console) -> None:
        self.settings = settings
        self.options = options
        self.console = console
        self.seed = options.seed if options.seed is not None else int(time.time()) % 1_000_000
        self.reports = settings.state_dir / "reports"
        self.bank_rows: list[CustomerRow] = []
        self.bank_session: PsqlSession | None = None

    def say(self, text: str) -> None:
        self.console.print(text)

    # 1 ------------------------------------------------------------------------------------------------
    def start_stack(self) -> None:
        from rtml.cli.stack import up
        from rtml.kafka.clients import check_reachable
        from rtml.topics import create_topics, topic_specs

        up(only="kafka,redis,prometheus,exporter,postgres,connect")
        results = create_topics(check_reachable(self.settings), topic_specs(self.settings))
        self.say(f"[green]✓[/] {len(results)} topics ready")
        for name, value in DEMO_ENVIRONMENT.items():
            os.environ.setdefault(name, value)
        self.wait_for_bank()
        self.start_jobs(["features", "online", "offline"])

    def wait_for_bank(self, timeout_s: float = 180.0) -> None:
        """Read the bank's customers as they are now, and wait until the change topic holds at least as many
        records (Debezium's snapshot): the feature job's as-of join gives the history the limits of its time."""
        from confluent_kafka import Consumer, TopicPartition

        from rtml.kafka.clients import consumer_config
        from rtml.stack.postgres import PostgresService
        from rtml.stack.process import StackError

        try:
            self.bank_rows = PostgresService(self.settings).customers()
        except StackError as exc:
            raise DemoError(f"cannot read the bank database: {exc}") from None
        if not self.bank_rows:
            raise DemoError("the bank database has no customer left: `rtml down`, remove <data dir>/postgres, retry")
        topic, began = "cdc.bank.customers", time.monotonic()
        consumer = Consumer(consumer_config(self.settings, "rtml-demo-probe"))
        try:
            with self.console.status(f"Debezium's snapshot of the bank database into {topic} ..."):
                while True:
                    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
                    held = sum(
                        consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions
                    )
                    if held >= len(self.bank_rows):
                        break
                    if time.monotonic() - began > timeout_s:
                        raise DemoError(
                            f"{topic} holds {held} records after {timeout_s:.0f} s, the bank has "
                            f"{len(self.bank_rows)} customers: see `rtml status` (the connector) and "
                            "<data dir>/logs/connect.log"
                        )
                    time.sleep(1)
        finally:
            consumer.close()
        self.say(f"[green]✓[/] bank database: {len(self.bank_rows):,} customers, their snapshot in {topic}")

    def start_jobs(self, names: list[str]) -> None:
        from rtml.stack.pipelines import PIPELINES, Pipeline

        for name in names:
            pipeline = Pipeline(self.settings, PIPELINES[name])
            with self.console.status(f"starting {name} ..."):
                pid = pipeline.start()
            self.say(f"[green]✓[/] {name:<9} running (pid {pid}): {pipeline.describe()}")

    # 2 ------------------------------------------------------------------------------------------------
    def traffic(self) -> DemoTraffic:
        o = self.options
        from feature_pipelines.definitions import FeatureView
        from feature_pipelines.repository import get_service
        from rtml.stack.postgres import PostgresService

        # A constant rate (no daily cycle), and a history that straddles a window end of the slowest-sliding
        # view (5 min) by 40/60 of its span, so every view has closed windows to train on, however short.
        span_ms = int(o.history / o.rate * 1000)
        views = [v for v in get_service(MODEL).views if isinstance(v, FeatureView)]
        slide = max(int(w.slide.total_seconds() * 1000) for v in views for w in v.windows)
        boundary = (int(time.time() * 1000) - span_ms * 6 // 10) // slide * slide
        config = GeneratorConfig(
            start_ts=boundary - span_ms * 4 // 10,
            daily_cycle=False,
            seed=self.seed,
            population_seed=self.settings.bank_seed,  # the customers and merchants the bank database holds
            rate=o.rate,
            n_customers=self.settings.bank_customers,
            n_merchants=self.settings.bank_merchants,
            legit_label_delay_s=o.legit_label_delay_s,
            fraud_label_delay_s=o.fraud_label_delay_s,
            drift_amount_factor=o.drift_amount_factor,
        )
        self.bank_session = PostgresService(self.settings).psql().session()
        try:
            return DemoTraffic(self.settings, config, o.history, bank=(self.bank_rows, self.bank_session))
        except ValueError as exc:  # the database was seeded from another population
            self.close_bank()
            raise DemoError(str(exc)) from None

    def bootstrap(self, traffic: DemoTraffic) -> str:
        began = time.monotonic()
        with self.console.status("producing the history ...") as status:
            traffic.produce_history(lambda n: status.update(f"producing the history: {n:,} transactions"))
        s = traffic.stats
        assert s.history_last_ts is not None
        self.say(
            f"[green]✓[/] history: {s.transactions:,} transactions ({s.frauds:,} fraud), {s.labels:,} labels "
            f"in {time.monotonic() - began:.0f} s (seed {self.seed})"
        )
        # the stream goes on while the first model trains: the feature windows see no pause (see traffic.py)
        traffic.start_paced()
        self.say(f"[green]✓[/] traffic goes on at {self.options.rate:,.0f}/s while the first model trains")
        self.wait_for_offline(s.history_first_ts or 0, s.history_last_ts)
        return self.train_first(s.history_first_ts or 0, s.history_last_ts)

    def wait_for_offline(self, first_ts: int, last_ts: int, timeout_s: float = 300.0) -> None:
        """Until each view's offline table holds the last window the history closes."""
        from feature_pipelines.definitions import FeatureView
        from feature_pipelines.offline.delta_store import DeltaOfflineStore
        from feature_pipelines.offline.tables import view_layout
        from feature_pipelines.repository import get_service

        store = DeltaOfflineStore.from_settings(self.settings)
        wanted = {}
        for view in get_service(MODEL).views:
            if not isinstance(view, FeatureView):  # a changelog view: its snapshot rows (window_end 1 ms)
                wanted[view_layout(view).table] = 1
                continue
            # windows ending by the source's watermark after the last event are closed
            watermark = last_ts - int(view.source.watermark_delay.total_seconds() * 1000)
            slide = int(view.windows[0].slide.total_seconds() * 1000)
            end = watermark // slide * slide
            if end > first_ts:  # a window of the history closed by its end
                wanted[view_layout(view).table] = end
        began = time.monotonic()
        with self.console.status("the feature job and the offline materializer catch up ...") as status:
            while True:
                behind = {t: end for t, end in wanted.items() if _max_window_end(store, t) < end}
                if not behind:
                    break
                waited = time.monotonic() - began
                if waited > timeout_s:
                    raise DemoError(
                        f"the offline store lacks the history's last windows after {timeout_s:.0f} s "
                        f"({sorted(behind)}); see `rtml jobs status` and the job logs under <data dir>/logs"
                    )
                status.update(f"the feature job and the offline materializer catch up ({waited:.0f} s)")
                time.sleep(2)
        self.say(f"[green]✓[/] offline store holds the history's windows ({time.monotonic() - began:.0f} s)")

    def train_first(self, start_ms: int, end_ms: int) -> str:
        from training.pipeline import TrainingFailed, TrainOptions, run_training
        from training.promotion import promote
        from training.publish import UpdatePublisher
        from training.registry import ModelRegistry

        o = self.options
        began = time.monotonic()
        with self.console.status("training the first model ...") as status:
            try:
                outcome = run_training(
                    self.settings,
                    MODEL,
                    TrainOptions(
                        nproc=o.nproc,
                        epochs=o.epochs,
                        promote=False,
                        publish=False,
                        trigger="demo-bootstrap",
                        start_ms=start_ms,
                        end_ms=end_ms,
                    ),
                    progress=lambda line: status.update(f"training the first model: {line}"),
                )
            except TrainingFailed as exc:
                raise DemoError(f"the first model did not train: {exc}") from None
        assert outcome.version is not None
        registry = ModelRegistry.from_settings(self.settings)
        result = promote(registry, MODEL, outcome.version, force=True)
        if result.change is not None:
            UpdatePublisher(self.settings).publish(result.change)
        metrics = ", ".join(
            f"{k} {v:.3f}" for k, v in outcome.metrics.items() if k.startswith("test.") and k.endswith("_auc")
        )
        self.say(
            f"[green]✓[/] {MODEL} v{outcome.version} is the champion ({time.monotonic() - began:.0f} s; {metrics})"
        )
        return outcome.version

    # 3 ------------------------------------------------------------------------------------------------
    def start_serving(self) -> None:
        """(Re)start the scorer from the end of the events topic, the monitor and the trigger: they load the
        champion just trained."""
        from rtml.stack.pipelines import PIPELINES, Pipeline

        names = ["scorer", "monitor", "trigger"]
        for name in names:
            Pipeline(self.settings, PIPELINES[name]).stop()
        skip_to_end(self.settings, self.settings.scorer_group or f"rtml-scorer-{MODEL}", "events.transactions")
        self.start_jobs(names)

    # 4 ------------------------------------------------------------------------------------------------
    def stream(self, traffic: DemoTraffic, observer: Observer) -> None:
        """Live traffic for ``duration_s``, longer (up to ``max_extension_s``) while a drift was detected and no
        new champion has served ``after_swap_s`` yet, so the summary can measure quality after the swap."""
        o = self.options
        # after the end, the labels of the last transactions go on this long (lognormal delays: ~95 % of frauds'
        # within twice their mean)
        traffic.go_live(
            o.duration_s, o.drift_after_s, o.bank_change_rate, self.seed, label_tail_s=o.fraud_label_delay_s * 2
        )
        extended = 0.0
        with Live(console=self.console, refresh_per_second=2, transient=False) as live:
            while traffic.running:
                now = int(time.time() * 1000)
                tail = (traffic.labels_until_ms - now) / 1000 if traffic.ended else None
                live.update(self.progress(traffic, observer, tail=tail))
                time.sleep(0.5)
                if (
                    traffic.end_ms - now < 5_000
                    and extended < o.max_extension_s
                    and self.waiting_for_swap(observer)
                    and traffic.extend(10)
                ):
                    extended += 10
            end = time.monotonic() + 3
            while time.monotonic() < end:  # the subscriber reads the last labels
                live.update(self.progress(traffic, observer, tail=0.0))
                time.sleep(0.5)
        if extended:
            self.say(f"live traffic ran {extended:.0f} s longer, for the new champion to serve")
        if traffic.stats.error:
            raise DemoError(f"the traffic stopped: {traffic.stats.error}")

    def waiting_for_swap(self, observer: Observer) -> bool:
        """A drift event came, and no later champion has served ``after_swap_s`` yet."""
        with observer.lock:
            board = observer.board
            first = next(iter(board.first_scored), None)
            if not board.drifts:
                return False
            newer = [v for v in board.first_scored if v != first]
            if not newer:
                return True
            return time.time() * 1000 - board.first_scored[newer[-1]] < self.options.after_swap_s * 1000

    def progress(self, traffic: DemoTraffic, observer: Observer, tail: float | None = None) -> Table:
        s, now = traffic.stats, int(time.time() * 1000)
        with observer.lock:
            board = observer.board
            rate, p99 = board.live(now)
            q = board.rolling()
            version = board.serving_version()
            drifts = board.drifts[-1:]
            n_drifts, predictions = len(board.drifts), board.predictions
        elapsed = (now - (s.live_started_ms or now)) / 1000
        table = Table(
            title=f"rtml demo, {elapsed:,.0f} / {self.options.duration_s:,.0f} s"
            + (f" (last labels: {tail:.0f} s)" if tail is not None else ""),
            show_header=False,
        )
        drifted = "drifted" if s.drift_onset_ms else f"drift at {self.options.drift_after_s:.0f} s"
        live = s.transactions - (s.live_first or s.transactions)
        table.add_row("events", f"{live:,} live ({s.live_rate:,.0f}/s, {drifted})")
        table.add_row("predictions", f"{predictions:,} ({rate:,.0f}/s, p99 event->prediction {_ms(p99)})")
        table.add_row("bank changes", _changes(s.bank_changes) + " committed in PostgreSQL (Debezium -> Flink)")
        table.add_row(
            "rolling quality",
            f"accuracy {_f(q.accuracy)}  ROC-AUC {_f(q.roc_auc)}  "
            f"precision {_f(q.precision)}  recall {_f(q.recall)}  ({q.n:,} labelled)",
        )
        table.add_row("serving", f"{MODEL} v{version}" if version else "-")
        last = drifts[0][1] if drifts else None
        table.add_row(
            "drift events",
            f"{n_drifts}"
            + (
                f", last: {last.detector} on {last.feature or 'score'} "
                f"{last.statistic:.3f} (threshold {last.threshold:.3f}, {last.severity})"
                if last
                else ""
            ),
        )
        return table

    # 5 ------------------------------------------------------------------------------------------------
    def report(self, traffic: DemoTraffic, observer: Observer) -> tuple[DemoSummary, Path, Path]:
        s = traffic.stats
        with observer.lock:
            summary = summarize(
                observer.board,
                live_started_ms=s.live_started_ms or 0,
                drift_onset_ms=s.drift_onset_ms,
                transactions=s.transactions,
                live_rate=s.live_rate,
            )
            stamp = time.strftime("%Y%m%d-%H%M%S")
            png = plot(observer.board, summary, self.reports / f"demo-{stamp}.png")
        summary.bank_changes = dict(s.bank_changes)
        js = self.reports / f"demo-{stamp}.json"
        js.write_text(summary.to_json())
        return summary, js, png

    def run(self) -> DemoSummary:
        self.start_stack()
        traffic = self.traffic()
        try:
            self.bootstrap(traffic)
            observer = Observer(self.settings, MODEL, LABELS)
            observer.start()
            try:
                self.start_serving()
                self.stream(traffic, observer)
            finally:
                observer.stop()
        finally:
            traffic.stop()
            self.close_bank()
        summary, js, png = self.report(traffic, observer)
        self.print_summary(summary, js, png)
        return summary

    def close_bank(self) -> None:
        from rtml.stack.process import StackError

        if self.bank_session is None:
            return
        try:
            self.bank_session.close()
        except StackError as exc:  # the traffic already stopped on it, or the demo ends anyway
            self.say(f"[yellow]the bank database session ended with an error:[/] {exc}")
        self.bank_session = None

    def print_summary(self, s: DemoSummary, js: Path, png: Path) -> None:
        table = Table(title="rtml demo: summary", show_header=False)
        onset = s.drift_onset_ms
        table.add_row("drift onset", f"{(onset - s.live_started_ms) / 1000:.0f} s into live traffic" if onset else "-")
        if s.detection_ms is not None and s.detection:
            table.add_row(
                "detected",
                f"{s.detection_delay_s:.1f} s after the onset (~{s.detection_delay_events:,} "
                f"events) by {s.detection['detector']} on {s.detection['feature'] or 'the score'}",
            )
        else:
            table.add_row("detected", "[red]no drift event after the onset[/]")
        if s.latency_ms:
            table.add_row(
                "latency",
                f"event -> prediction p50 {s.latency_ms['p50']:.0f} ms, p99 {s.latency_ms['p99']:.0f} ms "
                f"({s.predictions:,} predictions)",
            )
        table.add_row("false alarms", f"{s.false_alarms} drift event(s) before the onset")
        table.add_row("bank changes", _changes(s.bank_changes))
        if s.new_version and s.detection_to_serving_s is not None:
            table.add_row("new champion", f"v{s.new_version} serving {s.detection_to_serving_s:.0f} s after detection")
        else:
            table.add_row("new champion", "[yellow]none serving before the end[/]")
        for phase in ("before", "during", "after"):
            q = s.quality.get(phase, {})
            table.add_row(
                f"quality {phase}",
                f"accuracy {_f(q.get('accuracy'))}  ROC-AUC {_f(q.get('roc_auc'))}  "
                f"precision {_f(q.get('precision'))}  recall {_f(q.get('recall'))}  ({q.get('n', 0):,.0f})",
            )
        table.add_row("report", f"{js}\n{png}")
        self.console.print(table)
        self.say("the stack and the jobs keep running: `rtml jobs stop; rtml down` stops them")


def skip_to_end(settings: Settings, group: str, topic: str) -> None:
    """Commit ``group``'s offsets at the end of ``topic``: a scorer started next reads only new events."""
    from confluent_kafka import Consumer, TopicPartition

    from rtml.kafka.clients import consumer_config

    consumer = Consumer(consumer_config(settings, group))
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ends = []
        for p in partitions:
            _, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            ends.append(TopicPartition(topic, p, high))
        consumer.commit(offsets=ends, asynchronous=False)
    finally:
        consumer.close()


def _max_window_end(store: DeltaOfflineStore, table: str) -> int:
    """The newest ``window_end`` (epoch ms) in a feature table; -1 while it is empty or not created."""
    import pyarrow.compute as pc

    if not store.exists(table):
        return -1
    ends = store.read(table, columns=["window_end"]).column("window_end")
    return int(pc.max(ends).as_py()) if len(ends) else -1


def _changes(done: dict[str, int]) -> str:
    return (
        f"{sum(done.values()):,} ({done.get('credit_limit', 0)} limit reviews, {done.get('country', 0)} country "
        f"moves, {done.get('closure', 0)} closures)"
    )


def _f(value: float | None) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:,.0f} ms"
