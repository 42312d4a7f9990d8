"""``rtml produce``, ``rtml consume`` and ``rtml demo``: put events on topics and read them back."""

from __future__ import annotations

import time
import uuid
from typing import Annotated

import typer
from rich.console import Console

from rtml.settings import Settings, load_settings

console = Console(highlight=False)
produce_app = typer.Typer(help="Produce generated events to Kafka.", no_args_is_help=True)


@produce_app.command("transactions")
def produce_transactions(
    rate: Annotated[
        float,
        typer.Option(
            help="Mean transactions per second over a day, in event time; sends are paced on it (daytime UTC busier)."
        ),
    ] = 100.0,
    count: Annotated[
        int | None, typer.Option(help="Stop after this many transactions (default: run until Ctrl-C).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Same seed, same events.")] = 42,
    start_ts: Annotated[
        int | None, typer.Option(help="Event time of the first event, epoch ms (default: now).")
    ] = None,
    drift_at: Annotated[
        int | None,
        typer.Option(help="From this transaction on, amounts shift and a new fraud pattern appears."),
    ] = None,
    customers: Annotated[int, typer.Option(help="Number of customers.")] = 1000,
    fraud_rate: Annotated[float, typer.Option(help="Share of transactions that are fraud.")] = 0.015,
    fast: Annotated[
        bool,
        typer.Option("--fast", help="Send as fast as the broker takes them; event time still advances at --rate."),
    ] = False,
    stream: Annotated[
        str, typer.Option(help="Event stream name: writes events.<stream> and labels.<stream>.")
    ] = "transactions",
) -> None:
    """Generate realistic card transactions (with late fraud/legit labels) and produce them."""
    from rtml.datagen.config import GeneratorConfig

    try:
        config = GeneratorConfig(
            start_ts=start_ts if start_ts is not None else int(time.time() * 1000),
            seed=seed,
            rate=rate,
            n_customers=customers,
            fraud_rate=fraud_rate,
            drift_at=drift_at,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    settings = load_settings()
    stats = run_producer(settings, config, count=count, paced=not fast, stream=stream)
    console.print(
        f"[green]✓[/] {stats['transactions']} transactions ({stats['fraud']} fraud) to events.{stream}, "
        f"{stats['labels']} labels to labels.{stream} in {stats['seconds']:.1f} s "
        f"({stats['transactions'] / max(stats['seconds'], 1e-9):,.0f} tx/s)"
    )


@produce_app.command("bank-changes")
def produce_bank_changes(
    rate: Annotated[float, typer.Option(help="Changes per second.", min=0.001)] = 1.0,
    count: Annotated[int | None, typer.Option(help="Stop after this many changes (default: until Ctrl-C).")] = None,
    seed: Annotated[int, typer.Option(help="Same seed, same changes (the rows are the stack's seed rows).")] = 1,
) -> None:
    """Change the bank database as its own systems would, one committed statement at a time: credit-limit
    reviews, country moves, closures (DELETE). Debezium carries each to cdc.bank.customers."""
    from rtml.datagen.bank import bank_rows
    from rtml.datagen.bank_changes import BankChangeStream
    from rtml.datagen.config import GeneratorConfig
    from rtml.stack.postgres import PostgresService
    from rtml.stack.process import StackError

    settings = load_settings()
    config = GeneratorConfig(start_ts=0, seed=settings.bank_seed, n_customers=settings.bank_customers)
    changes = BankChangeStream(bank_rows(config)[0], config.countries, seed)
    postgres = PostgresService(settings)
    if not postgres.ready():
        console.print(
            f"[red]✗[/] PostgreSQL is not answering at {settings.host}:{settings.postgres_port}: start it with "
            "`rtml up` (or `rtml up --only postgres,connect` for CDC)"
        )
        raise typer.Exit(1)
    done: dict[str, int] = {}
    began = time.monotonic()
    try:
        with postgres.psql().session() as session:
            for i, change in enumerate(changes):
                if count is not None and i >= count:
                    break
                session.execute(change.sql())
                done[change.kind] = done.get(change.kind, 0) + 1
                time.sleep(max(0.0, began + (i + 1) / rate - time.monotonic()))
    except StackError as exc:
        console.print(f"[red]✗[/] {exc}")
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        pass
    total = sum(done.values())
    console.print(
        f"[green]✓[/] {total} changes to bank.customers ({done.get('credit_limit', 0)} limit reviews, "
        f"{done.get('country', 0)} country moves, {done.get('closure', 0)} closures) in "
        f"{time.monotonic() - began:.1f} s"
    )


def run_producer(
    settings: Settings, config: object, *, count: int | None, paced: bool, stream: str
) -> dict[str, float]:
    from rtml.datagen.transactions import TransactionGenerator
    from rtml.kafka.clients import check_reachable
    from rtml.kafka.producer import RecordProducer

    check_reachable(settings)
    producer = RecordProducer(settings, component="generator")
    events_topic, labels_topic = f"events.{stream}", f"labels.{stream}"
    generator = TransactionGenerator(config)  # type: ignore[arg-type]
    stats = {"transactions": 0, "labels": 0, "fraud": 0, "seconds": 0.0}
    started = time.monotonic()
    last_report = started
    first_ts: int | None = None
    try:
        for item in generator.events(count):
            ts = item.record.ts
            first_ts = ts if first_ts is None else first_ts
            if paced and (count is None or stats["transactions"] < count):
                delay = started + (ts - first_ts) / 1000 - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            if item.topic_kind == "transaction":
                producer.send(events_topic, item.key, item.record)
                stats["transactions"] += 1
                stats["fraud"] += item.is_fraud
            else:
                producer.send(labels_topic, item.key, item.record)
                stats["labels"] += 1
            now = time.monotonic()
            if now - last_report >= 2.0:
                last_report = now
                console.print(
                    f"  {stats['transactions']:>9,} transactions  {stats['labels']:>9,} labels  "
                    f"{stats['fraud']:>6,} fraud  ({stats['transactions'] / (now - started):,.0f} tx/s)"
                )
    finally:
        producer.flush()
        stats["seconds"] = time.monotonic() - started
    return stats


def consume(
    topic: Annotated[str, typer.Argument(help="Topic to read, e.g. events.transactions or dlq.events.transactions.")],
    max_records: Annotated[int | None, typer.Option("--max", help="Stop after this many records.")] = None,
    latest: Annotated[bool, typer.Option("--latest", help="Only records produced from now on.")] = False,
    idle_timeout: Annotated[float | None, typer.Option(help="Stop after this many seconds without a record.")] = None,
    group: Annotated[
        str | None, typer.Option(help="Join this consumer group and commit (default: a throwaway reader).")
    ] = None,
    dlq: Annotated[
        bool,
        typer.Option("--dlq", help="Route invalid records to dlq.<topic>, as a pipeline component does."),
    ] = False,
) -> None:
    """Pretty-print a topic: key, offset, the decoded record; invalid records with the rule they break."""
    from confluent_kafka import Consumer

    from rtml.cli.printer import RecordPrinter
    from rtml.kafka.clients import check_reachable, consumer_config
    from rtml.kafka.dlq import DeadLetterRouter

    settings = load_settings()
    admin = check_reachable(settings)
    if topic not in admin.list_topics(timeout=10).topics:
        raise typer.BadParameter(f"topic {topic!r} does not exist; `rtml topics list` shows the contract topics")
    consumer = Consumer(
        consumer_config(
            settings,
            group or f"rtml-consume-{uuid.uuid4().hex[:8]}",
            **{"auto.offset.reset": "latest" if latest else "earliest"},
        )
    )
    consumer.subscribe([topic])
    router = None
    if dlq:
        from confluent_kafka import Producer

        from rtml.kafka.clients import producer_config

        router = DeadLetterRouter(Producer(producer_config(settings)), component="rtml-consume")
    printer = RecordPrinter(console, topic)
    seen, idle_since = 0, time.monotonic()
    try:
        while max_records is None or seen < max_records:
            message = consumer.poll(0.5)
            if message is None or message.error():
                if idle_timeout is not None and time.monotonic() - idle_since > idle_timeout:
                    break
                continue
            idle_since = time.monotonic()
            seen += 1
            error = printer.show(message)
            if error is not None and router is not None:
                router.route(message, error)
        if router is not None:
            router.flush()
        if group:
            consumer.commit(asynchronous=False) if seen else None
    finally:
        consumer.close()
    console.print(f"[dim]{seen} records, {printer.invalid} invalid[/]")


def demo(
    duration: Annotated[
        float, typer.Option(help="Seconds of live traffic (longer, up to 5 min more, until a new champion serves).")
    ] = 240.0,
    rate: Annotated[float, typer.Option(help="Mean transactions per second.")] = 100.0,
    history: Annotated[int, typer.Option(help="Transactions of generated history the first model trains on.")] = 60_000,
    drift_after: Annotated[float, typer.Option(help="Seconds into live traffic when the data drifts.")] = 60.0,
    seed: Annotated[int | None, typer.Option(help="Generator seed (default: from the clock).")] = None,
    nproc: Annotated[int, typer.Option(help="DDP ranks for each training.")] = 2,
    bank_changes: Annotated[
        float, typer.Option(help="Changes to the bank database (PostgreSQL -> Debezium) per second of live traffic.")
    ] = 1.0,
) -> None:
    """The main job: the whole loop on this machine. Starts the stack and the feature pipelines, trains a
    first model from a generated history, starts the scorer, the drift monitor and the retrain trigger,
    streams traffic that drifts part-way, shows live progress, and ends with a summary and a plot
    under <data dir>/reports/."""
    from rtml.demo.runner import DemoError, DemoOptions, DemoRunner

    try:
        options = DemoOptions(
            duration_s=duration,
            rate=rate,
            history=history,
            drift_after_s=drift_after,
            seed=seed,
            nproc=nproc,
            bank_change_rate=bank_changes,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    try:
        DemoRunner(load_settings(), options, console).run()
    except DemoError as exc:
        console.print(f"[red]demo failed:[/] {exc}")
        raise typer.Exit(1) from None
