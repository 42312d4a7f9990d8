"""Dead-letter records: the topic name and the headers that say why a record was set aside.

Pure: no Kafka import. A consumer that cannot process a record produces the original key and bytes
to ``dead_letter_topic(topic)`` with ``dead_letter_headers(...)``, counts it, and goes on.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

from schemas.errors import SchemaError

DLQ_PREFIX = "dlq."
MAX_MESSAGE_CHARS = 1000
_MAX_TOPIC_LENGTH = 249  # Kafka's limit

ERROR_CLASS = "rtml.error.class"
ERROR_MESSAGE = "rtml.error.message"
ERROR_FIELD = "rtml.error.field"  # only for SchemaError
ERROR_RULE = "rtml.error.rule"  # only for SchemaError
COMPONENT = "rtml.component"
SOURCE_TOPIC = "rtml.source.topic"
SOURCE_PARTITION = "rtml.source.partition"
SOURCE_OFFSET = "rtml.source.offset"
FAILED_AT = "rtml.failed_at"

HEADER_NAMES: tuple[str, ...] = (
    ERROR_CLASS,
    ERROR_MESSAGE,
    ERROR_FIELD,
    ERROR_RULE,
    COMPONENT,
    SOURCE_TOPIC,
    SOURCE_PARTITION,
    SOURCE_OFFSET,
    FAILED_AT,
)

HeaderValue = bytes | bytearray | memoryview | str | None


def dead_letter_topic(topic: str) -> str:
    """``dlq.<topic>``: where records of ``topic`` go when they cannot be processed."""
    if not topic:
        raise ValueError("topic must not be empty")
    dead = DLQ_PREFIX + topic
    if len(dead) > _MAX_TOPIC_LENGTH:
        raise ValueError(f"dead-letter topic for {topic!r} would exceed Kafka's {_MAX_TOPIC_LENGTH} characters")
    return dead


def dead_letter_headers(
    error: BaseException,
    *,
    component: str,
    topic: str,
    partition: int,
    offset: int,
    failed_at: int | None = None,
) -> list[tuple[str, bytes]]:
    """Kafka headers naming the error and the record's origin; values are UTF-8.

    ``failed_at`` is epoch ms, now by default. The message is cut to ``MAX_MESSAGE_CHARS``. Never
    raises on a strange error (one whose ``str`` fails), since it runs while handling one.
    """
    when = int(time.time() * 1000) if failed_at is None else failed_at
    headers = [
        (ERROR_CLASS, _class_name(error)),
        (ERROR_MESSAGE, _truncate(_message(error))),
    ]
    if isinstance(error, SchemaError):
        headers += [(ERROR_FIELD, _truncate(error.field)), (ERROR_RULE, _truncate(error.rule))]
    headers += [
        (COMPONENT, component),
        (SOURCE_TOPIC, topic),
        (SOURCE_PARTITION, str(partition)),
        (SOURCE_OFFSET, str(offset)),
        (FAILED_AT, str(when)),
    ]
    return [(name, value.encode("utf-8", "replace")) for name, value in headers]


def parse_dead_letter_headers(
    headers: Iterable[tuple[str, HeaderValue]] | Mapping[str, HeaderValue] | None,
) -> dict[str, str]:
    """The ``rtml.*`` headers of a dead-letter record as text; other headers are left out.

    Takes what Kafka clients give (a list of pairs, possibly ``None``, or a mapping). Undecodable
    bytes are replaced, never raised.
    """
    if headers is None:
        return {}
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    parsed: dict[str, str] = {}
    for name, value in pairs:
        if name.startswith("rtml."):
            parsed[name] = _text(value)
    return parsed


def _class_name(error: BaseException) -> str:
    cls = type(error)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def _message(error: BaseException) -> str:
    try:
        return str(error)
    except Exception:  # a broken __str__ must not lose the record
        return f"<unprintable {type(error).__qualname__}>"


def _truncate(text: str) -> str:
    if len(text) <= MAX_MESSAGE_CHARS:
        return text
    return text[: MAX_MESSAGE_CHARS - 1] + "…"


def _text(value: HeaderValue) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return bytes(value).decode("utf-8", "replace")
