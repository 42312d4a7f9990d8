"""Compile changelog views (``ChangelogView``: the latest attributes of a table's rows) to Flink SQL.

Per change topic, two readings of the same records:

- the **changelog table**: ``debezium-json`` with the table's primary key, so Flink turns the envelopes into
  inserts, updates and deletes (``table.exec.source.cdc-events-duplicate=true``, set by the job, adds the
  per-key normalization that makes a change delivered twice harmless, as at-least-once Debezium can do);
- the **raw table**: each value as bytes, checked against the row type's rules (``schemas/debezium.py``) and
  routed to ``dlq.<topic>`` when it is not one Debezium envelope (not JSON, an unknown ``op``, no row for its
  ``op``) or its row breaks a rule on a column a view reads. The changelog table skips what it cannot parse
  (``ignore-parse-errors``); a row that parses but breaks a rule is kept out of the views by the same checks, on
  the typed columns, so what the dead-letter topic holds is what the views did not apply.

Per view, an upsert-kafka sink on ``features.<view>`` keyed by the entity id, written with Kafka transactions
committed at checkpoints (exactly-once, like the windowed views): an insert or update writes the row, a delete a
tombstone. Tombstones of the change topic itself (after each delete, for compaction) are not records: both
readings skip them.
"""

from __future__ import annotations

from typing import Any

from msgspec import inspect as mi

from feature_pipelines.definitions import SNAPSHOT_VERSION_MS, ChangelogSource, ChangelogView
from feature_pipelines.sql_validation import (
    _unwrap,
    column,
    dead_letter_headers,
    extracted_fields,
    ident,
    json_field,
    json_fields_call,
    quote,
    startup_options,
)

_OPS = ("c", "u", "d", "r", "t")
# A snapshot read (``source.snapshot`` set, not ``false`` nor ``incremental``) is the row as it stood before any
# change the connector streams, since a time nobody recorded: its version time is SNAPSHOT_VERSION_MS, the start
# of time (Flink CDC's own connectors give snapshot records an ``op_ts`` of 0; 1 here, since 0 means "no row" in
# the online store). So an event older than the snapshot joins the snapshot's row, not nothing.
_SNAPSHOT_READ = "COALESCE(`change_props`['snapshot'], 'false') NOT IN ('false', 'incremental')"
_VERSION_MS = f"CASE WHEN {_SNAPSHOT_READ} THEN {SNAPSHOT_VERSION_MS} ELSE CAST(`change_props`['ts_ms'] AS BIGINT) END"


def _sql_type(t: Any) -> str:
    t = _unwrap(t)
    if isinstance(t, mi.StrType | mi.LiteralType):
        return "STRING"
    if isinstance(t, mi.IntType):
        return "BIGINT"
    if isinstance(t, mi.FloatType):
        return "DOUBLE"
    if isinstance(t, mi.BoolType):
        return "BOOLEAN"
    if isinstance(t, mi.ListType | mi.VarTupleType):
        return f"ARRAY<{_sql_type(t.item_type)}>"
    raise TypeError(f"cannot read a column of type {t} from a change topic")


def _scalar(source: ChangelogSource, columns: tuple[str, ...]) -> list[str]:
    """The columns whose rules the checks can test on their JSON text (not arrays)."""
    info = mi.type_info(source.schema)
    assert isinstance(info, mi.StructType)
    types = {f.name: _unwrap(f.type) for f in info.fields}
    return [c for c in columns if not isinstance(types[c], mi.ListType | mi.VarTupleType)]


def changelog_table(source: ChangelogSource, columns: tuple[str, ...], kafka: Any) -> str:
    """The versioned table of ``source``'s rows: by primary key, with the commit time as its event time (a change
    topic is in commit order, so the watermark follows it with no delay; a snapshot read's time is
    ``SNAPSHOT_VERSION_MS``): changelog views read its latest rows, as-of joins the row that held at an event's
    time."""
    info = mi.type_info(source.schema)
    assert isinstance(info, mi.StructType)
    types = {f.name: f.type for f in info.fields}
    cols = ",\n  ".join(f"`{c}` {_sql_type(types[c])}" for c in columns)
    return f"""CREATE TABLE `cdc_{ident(source.name)}` (
  {cols},
  `change_props` MAP<STRING, STRING> METADATA FROM 'value.source.properties' VIRTUAL,
  `change_ts` TIMESTAMP_LTZ(3) METADATA FROM 'value.source.timestamp' VIRTUAL,
  `version_ts` AS CASE WHEN {_SNAPSHOT_READ} THEN TO_TIMESTAMP_LTZ({SNAPSHOT_VERSION_MS}, 3) ELSE `change_ts` END,
  PRIMARY KEY (`{source.key}`) NOT ENFORCED,
  WATERMARK FOR `version_ts` AS `version_ts`
) WITH (
  'connector' = 'kafka',
  'topic' = {quote(source.topic)},
  'properties.bootstrap.servers' = {quote(kafka.bootstrap)},
  'properties.group.id' = {quote(kafka.group_id)},
  'properties.isolation.level' = 'read_committed',
  {startup_options(kafka)},
  'value.format' = 'debezium-json',
  'value.debezium-json.ignore-parse-errors' = 'true'
)"""


def raw_table(source: ChangelogSource, kafka: Any) -> str:
    return f"""CREATE TABLE `cdcraw_{ident(source.name)}` (
  `k` BYTES,
  `raw` BYTES,
  `partition` INT METADATA VIRTUAL,
  `offset` BIGINT METADATA VIRTUAL
) WITH (
  'connector' = 'kafka',
  'topic' = {quote(source.topic)},
  'properties.bootstrap.servers' = {quote(kafka.bootstrap)},
  'properties.group.id' = {quote(kafka.group_id + "-checks")},
  'properties.isolation.level' = 'read_committed',
  {startup_options(kafka)},
  'key.format' = 'raw',
  'key.fields' = 'k',
  'value.format' = 'raw',
  'value.fields-include' = 'EXCEPT_KEY'
)"""


def checked_view(source: ChangelogSource, columns: tuple[str, ...], json_fields: str) -> str:
    """Each non-tombstone record with ``err``: NULL when valid, else ``'<rule>|<path>'`` of the first broken rule."""
    scalars = _scalar(source, columns)
    fields = extracted_fields(source.schema, scalars)
    items = ",\n    ".join(f"{json_field('`rm`', source.schema, scalars, c)} AS {column(c)}" for c in scalars)
    row = "CASE WHEN `op` = 'd' THEN JSON_QUERY(`s`, '$.before') ELSE JSON_QUERY(`s`, '$.after') END"
    parse = json_fields_call(json_fields, f"CAST({row} AS BYTES)", source.schema, scalars)
    whens = [
        "WHEN NOT (`s` IS JSON OBJECT) THEN 'json|$'",
        f"WHEN `op` IS NULL OR `op` NOT IN ({', '.join(quote(o) for o in _OPS)}) THEN 'enum|$.op'",
        "WHEN `op` <> 't' AND `rm` IS NULL THEN CONCAT('required_for_op|$.', `side`)",
    ]
    for f in fields:
        whens += [
            f"WHEN `op` <> 't' AND NOT COALESCE({ok}, FALSE) "
            f"THEN CONCAT({quote(rule + '|$.')}, `side`, {quote('.' + f.name)})"
            for rule, ok in f.checks
        ]
    body = "\n    ".join(whens)
    return f"""CREATE TEMPORARY VIEW `cdcchecked_{ident(source.name)}` AS
SELECT `k`, `raw`, `partition`, `offset`,
  CASE
    {body}
    ELSE CAST(NULL AS STRING)
  END AS `err`
FROM (
  SELECT *,
    {items}
  FROM (
    SELECT *, {parse} AS `rm`
    FROM (
      SELECT *, JSON_VALUE(`s`, '$.op') AS `op`,
        CASE WHEN JSON_VALUE(`s`, '$.op') = 'd' THEN 'before' ELSE 'after' END AS `side`
      FROM (SELECT *, CAST(`raw` AS STRING) AS `s` FROM `cdcraw_{ident(source.name)}` WHERE `raw` IS NOT NULL)
    )
  )
)"""


def valid_condition(source: ChangelogSource, columns: tuple[str, ...]) -> str:
    """The checked rules again, on the changelog table's typed columns: a row that breaks one is not applied."""
    conditions = []
    for f in extracted_fields(source.schema, _scalar(source, columns)):
        for rule, ok in f.checks:
            if rule == "type":
                continue  # a value of the wrong type did not parse: the format skipped the record
            text = f"CAST(`{f.name}` AS STRING)"
            conditions.append(ok.replace(column(f.name), text))
    return " AND ".join(f"COALESCE({c}, FALSE)" for c in conditions) or "TRUE"


def view_sink(view: ChangelogView, kafka: Any) -> str:
    fields = ", ".join(f"`{a.name}` {'BIGINT' if a.dtype == 'int64' else 'DOUBLE'}" for a in view.attributes)
    prefix = f"{kafka.transactional_id_prefix}-{view.name}"
    return f"""CREATE TABLE `sink_{view.name}` (
  `view` STRING,
  `entity_id` STRING,
  `window_start` BIGINT,
  `window_end` BIGINT,
  `values` ROW<{fields}>,
  PRIMARY KEY (`entity_id`) NOT ENFORCED
) WITH (
  'connector' = 'upsert-kafka',
  'topic' = {quote(view.topic)},
  'properties.bootstrap.servers' = {quote(kafka.bootstrap)},
  'properties.transaction.timeout.ms' = '{kafka.transaction_timeout_ms}',
  'sink.delivery-guarantee' = 'exactly-once',
  'sink.transactional-id-prefix' = {quote(prefix)},
  'key.format' = 'raw',
  'value.format' = 'json',
  'value.fields-include' = 'ALL'
)"""


def view_insert(view: ChangelogView) -> str:
    source = view.source
    committed = _VERSION_MS
    values = ", ".join(
        f"CAST({a.expression} AS {'BIGINT' if a.dtype == 'int64' else 'DOUBLE'})" for a in view.attributes
    )
    return f"""INSERT INTO `sink_{view.name}`
SELECT {quote(view.name)}, `{source.key}`, {committed} - 1, {committed}, ROW({values})
FROM `cdc_{ident(source.name)}`
WHERE `{source.key}` IS NOT NULL AND {committed} IS NOT NULL AND {valid_condition(source, view.columns)}"""


def dlq_sink(source: ChangelogSource, kafka: Any) -> str:
    return f"""CREATE TABLE `cdcdlq_{ident(source.name)}` (
  `k` BYTES,
  `raw` BYTES,
  `headers` MAP<STRING, BYTES> METADATA
) WITH (
  'connector' = 'kafka',
  'topic' = {quote("dlq." + source.topic)},
  'properties.bootstrap.servers' = {quote(kafka.bootstrap)},
  'properties.transaction.timeout.ms' = '{kafka.transaction_timeout_ms}',
  'sink.delivery-guarantee' = 'exactly-once',
  'sink.transactional-id-prefix' = {quote(f"{kafka.transactional_id_prefix}-dlq-{ident(source.name)}")},
  'key.format' = 'raw',
  'key.fields' = 'k',
  'value.format' = 'raw',
  'value.fields-include' = 'EXCEPT_KEY'
)"""


def dlq_insert(source: ChangelogSource, component: str) -> str:
    rule, field = "SPLIT_INDEX(`err`, '|', 0)", "SPLIT_INDEX(`err`, '|', 1)"
    message = (
        f"CONCAT({quote(source.topic + ': ')}, CASE WHEN SPLIT_INDEX(`err`, '|', 0) = 'json' "
        "THEN 'not one JSON object' ELSE CONCAT('field `', SPLIT_INDEX(`err`, '|', 1), '` breaks rule `', "
        "SPLIT_INDEX(`err`, '|', 0), '`') END)"
    )
    headers = dead_letter_headers(topic=source.topic, component=component, message=message, field=field, rule=rule)
    return f"""INSERT INTO `cdcdlq_{ident(source.name)}`
SELECT `k`, `raw`, MAP[{headers}]
FROM `cdcchecked_{ident(source.name)}`
WHERE `err` IS NOT NULL"""


def joined_view(view: Any, source_relation: str) -> str:
    """``joined_<view>``: the view's valid events, each with the joined columns of the table's row as it was at
    the event's time (event-time temporal join; a left join, so an entity without a row yet gets NULLs) and the
    derived values computed from both."""
    join = view.join
    event = ", ".join(f"e.`{c}`" for c in view.event_columns)
    joined = ", ".join(f"c.`{c}` AS `{c}`" for c in join.columns)
    derived = "".join(f",\n  CAST({d.expression} AS DOUBLE) AS `{d.name}`" for d in join.derived)
    return f"""CREATE TEMPORARY VIEW `joined_{view.name}` AS
SELECT *{derived}
FROM (
  SELECT e.`event_ts`, {event}, {joined}
  FROM `{source_relation}` AS e
  LEFT JOIN `cdc_{ident(join.table.name)}` FOR SYSTEM_TIME AS OF e.`event_ts` AS c
  ON e.`{join.on}` = c.`{join.table.key}`
)"""
