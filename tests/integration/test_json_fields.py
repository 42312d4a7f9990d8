"""RTML_JSON_FIELDS, the feature job's one JSON parse per record, run in a real (batch) MiniCluster: the named
top-level scalar fields as text in the order named; NULL for what is not exactly one JSON object."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

NAMES = ["type", "ts", "amount", "customer_id", "missing", "ok", "n", "arr", "ts"]
CASES = [
    # (raw value, expected array or None)
    (
        '{"type": "transaction", "ts": 17, "amount": 1.5e2, "x": {"ts": 9, "ok": 1}, "customer_id": "c\\u00e9"}',
        ["transaction", "17", "1.5e2", "cé", None, None, None, None, "17"],
    ),
    (
        '{"ts": 1, "ts": 2, "ok": false, "n": null, "arr": [1, {"a": 2}]}',
        [None, "2", None, None, None, "false", None, None, "2"],
    ),
    ("{}", [None] * len(NAMES)),
    ("[1, 2]", None),
    ('{"a": 1} trailing', None),
    ('{"a": 1}{"b": 2}', None),
    ('{"a": ', None),
    ("not json", None),
    ('"a string"', None),
]


def test_named_scalar_fields_from_one_parse_and_null_for_what_is_not_one_object(tmp_path: Path) -> None:
    lines = "".join(json.dumps(raw) + "\n" for raw, _ in CASES)
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.json_fields_probe", ",".join(NAMES)],
        input=lines,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "RTML_DATA_DIR": str(tmp_path)},  # the MiniCluster's temp dirs go there
    )
    assert done.returncode == 0, done.stderr[-3000:]
    got = [json.loads(line) for line in done.stdout.splitlines()]
    assert got == [expected for _, expected in CASES]
