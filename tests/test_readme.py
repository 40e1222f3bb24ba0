"""The README's example outputs are real: rerun each console block and compare."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from kharden.cli import main

ROOT = Path(__file__).parent.parent
BLOCKS = re.findall(
    r"```console\n\$ ([^\n]*)\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.DOTALL
)


def test_readme_has_examples() -> None:
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize(("command", "output"), BLOCKS, ids=[c.split()[1] for c, _ in BLOCKS])
def test_readme_console_example(
    command: str, output: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = shlex.split(command)
    assert argv[0] == "kharden"
    monkeypatch.chdir(ROOT)
    main(argv[1:])
    assert capsys.readouterr().out == output
