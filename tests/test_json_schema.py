"""The JSON report's published schema: printed by `kharden schema`, documented in docs/json.md, and every
JSON report the tests produce is validated against it (see conftest)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from conftest import run_cli
from kharden.model import Report
from kharden.report import json as json_report
from kharden.report import schema
from samples import edge_report

DOCS = Path(__file__).parent.parent / "docs"
GOLDEN = Path(__file__).parent / "report" / "golden" / "insecure.json"


def test_the_schema_is_a_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(schema.SCHEMA)
    jsonschema.Draft202012Validator.check_schema(schema.closed())


def test_kharden_schema_prints_it_and_the_docs_are_current(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "schema")
    assert code == 0
    assert json.loads(out) == schema.SCHEMA
    assert (DOCS / "report.schema.json").read_text(encoding="utf-8") == out, "run `make docs`"
    code, out, _ = run_cli(capsys, "schema", "--format", "md")
    assert (DOCS / "json.md").read_text(encoding="utf-8") == out, "run `make docs`"
    assert "| `findings[].fingerprint` | string |" in out


def test_the_golden_report_matches_the_closed_schema() -> None:
    jsonschema.validate(json.loads(GOLDEN.read_text(encoding="utf-8")), schema.closed())


def test_the_published_schema_accepts_added_fields_the_tests_do_not(monkeypatch: pytest.MonkeyPatch) -> None:
    report = json.loads(json_report.render(edge_report()))
    report["findings"][0]["new_field"] = 1
    jsonschema.validate(report, schema.SCHEMA)  # consumers keep working when fields are added
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(report, schema.closed())

    document = json_report._document  # what as_dict and render both build the report from

    def with_an_extra_field(r: Report, findings: Iterable[dict[str, Any]]) -> dict[str, Any]:
        data = document(r, findings)
        data["summary"]["undocumented"] = True
        return data

    monkeypatch.setattr(json_report, "_document", with_an_extra_field)
    with pytest.raises(AssertionError, match="does not match its schema"):
        json_report.render(edge_report())  # every JSON report rendered in the tests is checked
    with pytest.raises(AssertionError, match="does not match its schema"):
        list(json_report.pieces(edge_report()))  # and every one the command line writes
