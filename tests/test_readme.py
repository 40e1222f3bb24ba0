"""The README's example output is real: rerun it and compare."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from kharden.cli import main

ROOT = Path(__file__).parent.parent


def test_readme_console_example(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```console\n\$ (?P<command>[^\n]*)\n(?P<output>.*?)```", readme, re.DOTALL)
    assert block is not None
    argv = shlex.split(block["command"])
    assert argv[0] == "kharden"
    monkeypatch.chdir(ROOT)
    main(argv[1:])
    assert capsys.readouterr().out == block["output"]
