"""JSON Schema files for every record type, kept in ``schemas/json/`` for non-Python producers.

``python -m schemas.json_schema`` rewrites them; ``--check`` only lists the stale ones and exits 1.
Rendering is deterministic (sorted keys, two-space indent, trailing newline), so the files diff
cleanly and a unit test can require them to be current.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import msgspec

from schemas.registry import RECORD_TYPES

JSON_DIR = Path(__file__).resolve().parent / "json"
SUFFIX = ".schema.json"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
REGENERATE = "python -m schemas.json_schema"


def render(record_type: Any) -> str:
    """The JSON Schema of one record type, as file text."""
    schema = {"$schema": DIALECT, **msgspec.json.schema(record_type)}
    for definition in schema.get("$defs", {}).values():
        if "description" in definition:  # docstrings, without their source indentation
            definition["description"] = inspect.cleandoc(definition["description"])
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render_all(record_types: Mapping[str, Any] = RECORD_TYPES) -> dict[str, str]:
    """File name (``<name>.schema.json``) -> text, for every record type."""
    return {f"{name}{SUFFIX}": render(record_type) for name, record_type in sorted(record_types.items())}


def stale_files(directory: Path = JSON_DIR, record_types: Mapping[str, Any] = RECORD_TYPES) -> list[str]:
    """File names under ``directory`` that are missing, differ from the rendering, or have no record."""
    rendered = render_all(record_types)
    stale = [name for name, text in rendered.items() if _read(directory / name) != text]
    extra = [path.name for path in directory.glob(f"*{SUFFIX}") if path.name not in rendered]
    return sorted(stale + extra)


def write_all(directory: Path = JSON_DIR, record_types: Mapping[str, Any] = RECORD_TYPES) -> list[str]:
    """Bring ``directory`` up to date: write changed files, remove orphans; returns the names touched."""
    directory.mkdir(parents=True, exist_ok=True)
    rendered = render_all(record_types)
    touched = stale_files(directory, record_types)
    for name in touched:
        path = directory / name
        if name in rendered:
            path.write_text(rendered[name], encoding="utf-8")
        else:
            path.unlink()
    return touched


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m schemas.json_schema", description=__doc__)
    parser.add_argument("--check", action="store_true", help="list stale files and exit 1; write nothing")
    parser.add_argument("--dir", type=Path, default=JSON_DIR, help=f"output folder (default: {JSON_DIR})")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files(args.dir)
        for name in stale:
            print(f"stale: {args.dir / name}", file=sys.stderr)
        if stale:
            print(f"run `{REGENERATE}` to regenerate", file=sys.stderr)
        return 1 if stale else 0
    touched = write_all(args.dir)
    print(f"{len(touched)} file(s) updated in {args.dir}" + "".join(f"\n  {name}" for name in touched))
    return 0


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


if __name__ == "__main__":
    sys.exit(main())
