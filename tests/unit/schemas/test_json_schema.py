"""JSON Schema export: one deterministic file per record type, kept current in schemas/json/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings

from schemas.json_schema import JSON_DIR, REGENERATE, main, render, render_all, stale_files, write_all
from schemas.registry import RECORD_TYPES
from tests.support.schema_strategies import valid_records


def test_committed_schema_files_are_current() -> None:
    stale = stale_files()
    assert not stale, f"schemas/json is out of date ({', '.join(stale)}): run `{REGENERATE}`"


def test_one_file_per_record_type() -> None:
    assert sorted(render_all()) == sorted(f"{name}.schema.json" for name in RECORD_TYPES)
    assert sorted(path.name for path in JSON_DIR.glob("*.schema.json")) == sorted(render_all())


def test_rendering_is_deterministic_sorted_and_newline_terminated() -> None:
    for name, record_type in RECORD_TYPES.items():
        text = render(record_type)
        assert text == render(record_type), name
        assert text.endswith("}\n") and not text.endswith("\n\n")
        parsed = json.loads(text)
        assert json.dumps(parsed, indent=2, sort_keys=True, ensure_ascii=False) + "\n" == text
        assert parsed["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_docstrings_lose_their_source_indentation() -> None:
    definition = json.loads(render(RECORD_TYPES["feature_row"]))["$defs"]["FeatureRow"]
    assert "\n    " not in definition["description"]
    assert "after_window_start" in definition["description"]


def test_check_and_write_on_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--check", "--dir", str(tmp_path)]) == 1
    assert REGENERATE in capsys.readouterr().err

    assert main(["--dir", str(tmp_path)]) == 0
    assert main(["--check", "--dir", str(tmp_path)]) == 0
    assert write_all(tmp_path) == []

    (tmp_path / "label.schema.json").write_text("{}\n")
    (tmp_path / "retired.schema.json").write_text("{}\n")
    assert stale_files(tmp_path) == ["label.schema.json", "retired.schema.json"]
    assert main(["--check", "--dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "label.schema.json" in err and "retired.schema.json" in err

    assert write_all(tmp_path) == ["label.schema.json", "retired.schema.json"]
    assert not (tmp_path / "retired.schema.json").exists()
    assert stale_files(tmp_path) == []


def _validator(name: str) -> Any:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((JSON_DIR / f"{name}.schema.json").read_text())
    return jsonschema.Draft202012Validator(schema, format_checker=None)


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)  # the jsonschema validator is slow under load
@given(valid_records())
def test_schema_files_accept_valid_records(named: tuple[str, Any]) -> None:
    name, record = named
    value = json.loads(msgspec.json.encode(record))
    errors = list(_validator(name).iter_errors(value))
    assert not errors, errors[0].message


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("transaction", {"type": "transaction", "event_id": "e", "amount": -1}),
        (
            "model_update",
            {"model": "m", "version": "1", "alias": "a", "artifact_uri": "u", "sha256": "X", "ts": 1},
        ),
        ("cdc_merchant", {"op": "z", "ts_ms": 1, "source": {}}),
    ],
)
def test_schema_files_reject_invalid_records(name: str, value: dict[str, Any]) -> None:
    assert list(_validator(name).iter_errors(value))
