"""Compile feature views to the Flink SQL of the streaming feature job.

Per source topic: a Kafka table reading key and value as raw bytes with an event-time watermark, one
parse of each field the views read, schema rules checked in SQL (``sql_validation``), and a
dead-letter INSERT for records that are invalid or late (behind the watermark). Per view: one HOP
window aggregation per window, all sharing the view's slide, unioned and regrouped by a TUMBLE of the
slide, so each (entity, window end) gives ONE row with every window's features, written to
``features.<view>`` with exactly-once Kafka transactions. Everything runs as one statement set.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from feature_pipelines import flink_cdc
from feature_pipelines.definitions import (
    Aggregation,
    AnyView,
    ChangelogSource,
    ChangelogView,
    FeatureView,
    Source,
    Window,
)
from feature_pipelines.sql_validation import (
    column,
    dead_letter_headers,
    extracted_fields,
    extraction,
    ident,
    json_field,
    json_fields_call,
    quote,
    startup_options,
    validation_case,
)

COMPONENT = "flink-feature-job"
# One JSON parse per record (stream_jobs/java/rtml/flink/JsonFields.java, built by scripts/setup into
# <home>/lib/flink): the built-in JSON_VALUE parses the whole event for every field it reads.
JSON_FIELDS = "RTML_JSON_FIELDS"
JSON_FIELDS_DDL = (
    f"CREATE TEMPORARY SYSTEM FUNCTION IF NOT EXISTS {JSON_FIELDS} AS 'rtml.flink.JsonFields' LANGUAGE JAVA"
)

_AGG_SQL = {
    "count": "COUNT(*)",
    "sum": "SUM({c})",
    "mean": "AVG({c})",
    "min": "MIN({c})",
    "max": "MAX({c})",
    "stddev": "STDDEV_POP({c})",
    "last": "LAST_VALUE({c})",
    "count_distinct": "COUNT(DISTINCT {c})",
}


@dataclass(frozen=True)
class KafkaOptions:
    bootstrap: str
    group_id: str = "rtml-feature-job"
    transactional_id_prefix: str = "rtml-feature-job"
    transaction_timeout_ms: int = 900_000
    bounded: bool = False  # stop at the offsets current at start (tests, benchmarks, backfills)
    startup_mode: str = "group-offsets"
    watermark_emit: str = "on-periodic"  # "on-event": a watermark after every record (deterministic tests)


@dataclass(frozen=True)
class FeatureJobSql:
    ddl: list[str]
    inserts: list[str]

    def script(self) -> str:
        return ";\n\n".join(self.ddl + self.inserts) + ";\n"


def _interval(window_ms: int) -> str:
    return f"INTERVAL '{window_ms // 1000}' SECOND(9)"


def _kafka_source(source: Source, fields: list[str], kafka: KafkaOptions) -> str:
    m = json_fields_call(JSON_FIELDS, "`raw`", source.schema, fields)
    ts = json_field(m, source.schema, fields, source.event_time_field)
    delay_ms = int(source.watermark_delay.total_seconds() * 1000)
    return f"""CREATE TABLE `src_{ident(source.name)}` (
  `k` BYTES,
  `raw` BYTES,
  `partition` INT METADATA VIRTUAL,
  `offset` BIGINT METADATA VIRTUAL,
  `event_ts` AS TO_TIMESTAMP_LTZ(COALESCE(TRY_CAST({ts} AS BIGINT), 0), 3),
  WATERMARK FOR `event_ts` AS `event_ts` - INTERVAL '{delay_ms / 1000:.3f}' SECOND
) WITH (
  'connector' = 'kafka',
  'topic' = {quote(source.topic)},
  'properties.bootstrap.servers' = {quote(kafka.bootstrap)},
  'properties.group.id' = {quote(kafka.group_id)},
  'properties.isolation.level' = 'read_committed',
  {startup_options(kafka)},
  'key.format' = 'raw',
  'key.fields' = 'k',
  'value.format' = 'raw',
  'value.fields-include' = 'EXCEPT_KEY',
  'scan.watermark.emit.strategy' = {quote(kafka.watermark_emit)}
)"""


def _checked_view(source: Source, fields: list[str]) -> str:
    items = ",\n    ".join(extraction(source.schema, fields))
    parse = json_fields_call(JSON_FIELDS, "`raw`", source.schema, fields)
    return f"""CREATE TEMPORARY VIEW `checked_{ident(source.name)}` AS
SELECT *,
  {validation_case(source.schema, fields)} AS `err`,
  CURRENT_WATERMARK(`event_ts`) IS NOT NULL AND `event_ts` < CURRENT_WATERMARK(`event_ts`) AS `late`
FROM (
  SELECT `k`, `raw`, `partition`, `offset`, `event_ts`,
    {items}
  FROM (SELECT *, {parse} AS `m` FROM `src_{ident(source.name)}`)
)"""


def _valid_view(source: Source, fields: list[str]) -> str:
    casts = ",\n  ".join(
        f"CAST({column(f.name)} AS {f.sql_type}) AS `{f.name}`" for f in extracted_fields(source.schema, fields)
    )
    return f"""CREATE TEMPORARY VIEW `valid_{ident(source.name)}` AS
SELECT `event_ts`,
  {casts}
FROM `checked_{ident(source.name)}`
WHERE `err` IS NULL AND NOT `late`"""


def _exactly_once_sink(topic: str, kafka: KafkaOptions, txn_id: str, *, key: str, value_format: str) -> str:
    """WITH options of a Kafka sink whose writes commit with Flink's checkpoints."""
    fields_include = "EXCEPT_KEY" if value_format == "raw" else "ALL"
    return f"""WITH (
  'connector' = 'kafka',
  'topic' = {quote(topic)},
  'properties.bootstrap.servers' = {quote(kafka.bootstrap)},
  'properties.transaction.timeout.ms' = '{kafka.transaction_timeout_ms}',
  'sink.delivery-guarantee' = 'exactly-once',
  'sink.transactional-id-prefix' = {quote(f"{kafka.transactional_id_prefix}-{txn_id}")},
  'key.format' = 'raw',
  'key.fields' = {quote(key)},
  'value.format' = {quote(value_format)},
  'value.fields-include' = '{fields_include}'
)"""


def _dlq_sink(source: Source, kafka: KafkaOptions) -> str:
    options = _exactly_once_sink("dlq." + source.topic, kafka, f"dlq-{ident(source.name)}", key="k", value_format="raw")
    return f"""CREATE TABLE `dlq_{ident(source.name)}` (
  `k` BYTES,
  `raw` BYTES,
  `headers` MAP<STRING, BYTES> METADATA
) {options}"""


def _dlq_insert(source: Source) -> str:
    rule = "CASE WHEN `err` IS NULL THEN 'late' ELSE SPLIT_INDEX(`err`, '|', 0) END"
    field = f"CASE WHEN `err` IS NULL THEN '$.{source.event_time_field}' ELSE SPLIT_INDEX(`err`, '|', 1) END"
    message = (
        "CASE WHEN `err` IS NULL THEN CONCAT('event time ', CAST(`event_ts` AS STRING), "
        "' is behind the watermark ', CAST(CURRENT_WATERMARK(`event_ts`) AS STRING)) "
        f"ELSE CONCAT({quote(source.topic + ': field `')}, SPLIT_INDEX(`err`, '|', 1), '` breaks rule `', "
        "SPLIT_INDEX(`err`, '|', 0), '`') END"
    )
    headers = dead_letter_headers(topic=source.topic, component=COMPONENT, message=message, field=field, rule=rule)
    return f"""INSERT INTO `dlq_{ident(source.name)}`
SELECT `k`, `raw`, MAP[{headers}]
FROM `checked_{ident(source.name)}`
WHERE `err` IS NOT NULL OR `late`"""


def _agg(agg: Aggregation) -> str:
    return _AGG_SQL[agg.function].format(c=f"`{agg.column}`")


def _input(view: FeatureView) -> str:
    """The relation a view's windows read: its source's valid events, or those joined as of their time."""
    return f"joined_{view.name}" if view.join is not None else f"valid_{ident(view.source.name)}"


def _window_view(view: FeatureView, window: Window) -> str:
    key = f"`{view.entity.join_key}`"
    columns = []
    for other in view.windows:
        for agg in view.aggregations:
            name = f"`{agg.base_name}_{other.label}`"
            if other == window:
                columns.append(f"{_agg(agg)} AS {name}")
            else:
                columns.append(f"CAST(NULL AS {'BIGINT' if agg.dtype == 'int64' else 'DOUBLE'}) AS {name}")
    cols = ",\n  ".join(columns)
    hop = f"HOP(TABLE `{_input(view)}`, DESCRIPTOR(`event_ts`), {_interval(window.slide_ms)}, "
    return f"""SELECT {key} AS `entity_id`, `window_time`,
  {cols}
FROM TABLE({hop}{_interval(window.size_ms)}))
GROUP BY {key}, `window_start`, `window_end`, `window_time`"""


def _view_union(view: FeatureView) -> str:
    body = "\nUNION ALL\n".join(_window_view(view, w) for w in view.windows)
    return f"CREATE TEMPORARY VIEW `windows_{view.name}` AS\n{body}"


def _feature_sink(view: FeatureView, kafka: KafkaOptions) -> str:
    fields = ", ".join(f"`{f.name}` {'BIGINT' if f.dtype == 'int64' else 'DOUBLE'}" for f in view.features)
    options = _exactly_once_sink(view.topic, kafka, view.name, key="entity_id", value_format="json")
    return f"""CREATE TABLE `sink_{view.name}` (
  `view` STRING,
  `entity_id` STRING,
  `window_start` BIGINT,
  `window_end` BIGINT,
  `values` ROW<{fields}>
) {options}"""


def _feature_insert(view: FeatureView) -> str:
    values = []
    for f in view.features:
        agg = f"MAX(`{f.name}`)"
        values.append(f"COALESCE({agg}, 0)" if f.aggregation.zero_when_empty else agg)
    end = "1000 * UNIX_TIMESTAMP(CAST(`window_end` AS STRING))"
    return f"""INSERT INTO `sink_{view.name}`
SELECT {quote(view.name)}, `entity_id`, {end} - {view.max_window.size_ms}, {end},
  ROW({", ".join(values)})
FROM TABLE(TUMBLE(TABLE `windows_{view.name}`, DESCRIPTOR(`window_time`), {_interval(view.slide_ms)}))
GROUP BY `entity_id`, `window_start`, `window_end`"""


def compile_feature_job(views: Sequence[AnyView], kafka: KafkaOptions) -> FeatureJobSql:
    """The whole job: sources (shared by views reading the same topic), dead letters, view sinks. Changelog
    views (``ChangelogView``) compile through ``flink_cdc``."""
    if not views:
        raise ValueError("no feature views to compile")
    windowed = [v for v in views if isinstance(v, FeatureView)]
    changelog = [v for v in views if isinstance(v, ChangelogView)]
    job = FeatureJobSql([JSON_FIELDS_DDL], [])
    # change sources first: changelog views read them, and as-of joins of windowed views too
    tables: dict[str, tuple[ChangelogSource, list[str]]] = {}
    for source, columns in [(v.source, v.columns) for v in changelog] + [
        (v.join.table, (v.join.table.key, *v.join.columns)) for v in windowed if v.join is not None
    ]:
        known, wanted = tables.setdefault(source.name, (source, []))
        if known != source:
            raise ValueError(f"two different change sources are named {source.name!r}")
        wanted += columns
    for source, wanted in tables.values():
        columns = tuple(dict.fromkeys(wanted))
        job.ddl.extend(
            [
                flink_cdc.changelog_table(source, columns, kafka),
                flink_cdc.raw_table(source, kafka),
                flink_cdc.checked_view(source, columns, JSON_FIELDS),
                flink_cdc.dlq_sink(source, kafka),
            ]
        )
    if windowed:
        _compile_windowed(windowed, kafka, job)
    job.inserts.extend(flink_cdc.dlq_insert(source, COMPONENT) for source, _ in tables.values())
    for view in changelog:
        job.ddl.append(flink_cdc.view_sink(view, kafka))
        job.inserts.append(flink_cdc.view_insert(view))
    return job


def _compile_windowed(views: list[FeatureView], kafka: KafkaOptions, job: FeatureJobSql) -> None:
    sources: dict[str, tuple[Source, list[str]]] = {}
    for view in views:
        source, fields = sources.setdefault(view.source.name, (view.source, [view.source.event_time_field]))
        if source != view.source:
            raise ValueError(f"two different sources are named {source.name!r}")
        fields += view.event_columns
    for source, fields in sources.values():
        unique = list(dict.fromkeys(fields))
        job.ddl.extend(
            [_kafka_source(source, unique, kafka), _checked_view(source, unique), _valid_view(source, unique)]
        )
        job.ddl.append(_dlq_sink(source, kafka))
        job.inserts.append(_dlq_insert(source))
    for view in views:
        if view.join is not None:
            job.ddl.append(flink_cdc.joined_view(view, f"valid_{ident(view.source.name)}"))
        job.ddl.extend([_view_union(view), _feature_sink(view, kafka)])
        job.inserts.append(_feature_insert(view))
