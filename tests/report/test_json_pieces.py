"""The JSON report written piece by piece (as the command line writes it) is the report rendered whole."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
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
    # The text report comes a file at a time, then its summary; the other formats in one piece.
    assert "".join(render_pieces("text", report)) == render("text", report)
    assert len(list(render_pieces("text", report))) == len({f.location.file for f in report.findings}) + 1
    assert list(render_pieces("markdown", report)) == [render("markdown", report)]


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


def test_a_report_that_fails_half_way_leaves_the_previous_file_whole(tmp_path: Path) -> None:
    from kharden.cli import _write  # noqa: PLC0415

    written = tmp_path / "report.json"
    written.write_text("previous report\n")
    written.chmod(0o640)

    def failing() -> Iterator[str]:
        yield "{"
        raise RuntimeError("rendering failed")

    with pytest.raises(RuntimeError):
        _write(failing(), str(written))
    assert written.read_text() == "previous report\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]  # no scratch file left
    _write(iter(["{", "}\n"]), str(written))
    assert written.read_text() == "{}\n"
    assert written.stat().st_mode & 0o777 == 0o640  # the file's mode kept


def test_what_is_no_regular_file_is_written_in_place(tmp_path: Path) -> None:
    from kharden.cli import _write  # noqa: PLC0415

    target = tmp_path / "target.json"
    target.write_text("")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    _write(iter(["{", "}\n"]), str(link))
    assert link.is_symlink()
    assert target.read_text() == "{}\n"
    _write(iter(["{}\n"]), os.devnull)  # not replaced by a file
    assert Path(os.devnull).is_char_device()
