"""The JSON report written piece by piece (as the command line writes it) is the report rendered whole."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import PRIVILEGED_POD, run_cli, scan_text
from kharden.report import json as json_report
from kharden.report import render, render_pieces


@pytest.mark.parametrize("size", [1, 200, 1 << 20])
def test_pieces_join_into_the_rendered_report(size: int) -> None:
    report = scan_text(PRIVILEGED_POD + "---\n" + PRIVILEGED_POD.replace("debug", "other"))
    whole = json_report.render(report)
    pieces = list(json_report.pieces(report, size))
    assert "".join(pieces) == whole
    # Small pieces end at each item of a list past the size; the default keeps a small report in one piece.
    if size == 1 << 20:
        assert len(pieces) == 1
    else:
        assert len(pieces) > len(report.findings) > 1
    assert "".join(render_pieces("json", report)) == render("json", report)
    assert list(render_pieces("text", report)) == [render("text", report)]


def test_the_command_line_writes_the_pieces_to_a_file_and_to_stdout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(PRIVILEGED_POD)
    code, out, _ = run_cli(capsys, "scan", str(manifest), "-f", "json", "--no-config")
    assert code == 1
    report = scan_text(PRIVILEGED_POD, file=str(manifest))
    written = tmp_path / "out" / "report.json"
    code, _, _ = run_cli(capsys, "scan", str(manifest), "-f", "json", "-o", str(written), "--no-config")
    assert code == 1
    assert written.read_text(encoding="utf-8") == out
    assert [f["rule"] for f in json.loads(out)["findings"]] == [f.rule for f in report.findings]
