"""Run RTML_JSON_FIELDS (the feature job's Java function) in a batch MiniCluster over the values read as
JSON lines on stdin; print one JSON line per value: the array it returned, or null.

    python -m tests.support.json_fields_probe name1,name2 < values.jsonl
"""

from __future__ import annotations

import json
import sys

from feature_pipelines.flink_sql import JSON_FIELDS, JSON_FIELDS_DDL
from feature_pipelines.sql_validation import quote
from rtml.settings import load_settings
from stream_jobs.feature_job import flink_tmp_dir, use_tmp_dir


def main() -> None:
    from pyflink.common import Configuration
    from pyflink.table import EnvironmentSettings, TableEnvironment

    names = sys.argv[1].split(",")
    values = [json.loads(line) for line in sys.stdin if line.strip()]
    settings = load_settings()
    jars = sorted((settings.lib_dir / "flink").glob("rtml-flink-udf*.jar"))
    conf = Configuration()
    for key, value in use_tmp_dir(flink_tmp_dir(settings)).items():
        conf.set_string(key, value)
    conf.set_string("pipeline.jars", ";".join(f"file://{j}" for j in jars))
    conf.set_string("parallelism.default", "1")
    env = TableEnvironment.create(EnvironmentSettings.new_instance().in_batch_mode().with_configuration(conf).build())
    env.execute_sql(JSON_FIELDS_DDL)
    rows = ", ".join(f"({i}, CAST({quote(v)} AS BYTES))" for i, v in enumerate(values))
    args = ", ".join(quote(n) for n in names)
    elements = ", ".join(f"m[{k + 1}]" for k in range(len(names)))
    parsed = f"SELECT i, {JSON_FIELDS}(v, {args}) AS m FROM (VALUES {rows}) AS t(i, v)"
    query = f"SELECT i, m IS NULL, {elements} FROM ({parsed})"
    with env.execute_sql(query).collect() as results:
        out = {row[0]: None if row[1] else list(row[2:]) for row in results}
    for i in range(len(values)):
        print(json.dumps(out[i]))


if __name__ == "__main__":
    main()
