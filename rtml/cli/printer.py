"""Render Kafka records for people: position, key, decoded value, or the rule a bad record breaks."""

from __future__ import annotations

import datetime as dt

from confluent_kafka import Message
from rich.console import Console
from rich.markup import escape

from schemas.codec import RecordCodec
from schemas.errors import SchemaError
from schemas.registry import codec_for


class RecordPrinter:
    def __init__(self, console: Console, topic: str) -> None:
        self.console = console
        self.invalid = 0
        self.codec: RecordCodec[object] | None
        try:
            self.codec = None if topic.startswith("dlq.") else codec_for(topic)
        except LookupError:
            self.codec = None  # a topic without a contract: print raw

    def show(self, message: Message) -> SchemaError | None:
        key = message.key()
        ts_type, ts = message.timestamp()
        when = dt.datetime.fromtimestamp(ts / 1000, dt.UTC).strftime("%H:%M:%S.%f")[:-3] if ts > 0 else "-"
        head = (
            f"[cyan]{message.topic()}[/][{message.partition()}]@{message.offset()} "
            f"[dim]{when}[/] key=[bold]{escape(key.decode(errors='replace')) if key else '-'}[/]"
        )
        value = message.value() or b""
        text = escape(value.decode(errors="replace"))
        raw_headers = message.headers() or []
        if raw_headers:
            pairs = raw_headers.items() if isinstance(raw_headers, dict) else raw_headers
            headers = " ".join(f"{k}={escape(_text(v))}" for k, v in pairs)
            head += f"\n    [magenta]{headers}[/]"
        if self.codec is None:
            self.console.print(f"{head}\n    {text}")
            return None
        try:
            self.codec.decode(value)
        except SchemaError as exc:
            self.invalid += 1
            self.console.print(f"{head} [bold red]INVALID[/] {escape(str(exc))}\n    [red]{text[:500]}[/]")
            return exc
        self.console.print(f"{head}\n    {text}")
        return None


def _text(value: str | bytes | None) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else (value or "")
