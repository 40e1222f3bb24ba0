"""The ``kharden`` command, which ends with ``os._exit``, keeps what its scan is done with rather than free it
object by object; a program that calls ``scan`` gets that memory back."""

from __future__ import annotations

import gc
import importlib
import weakref
from pathlib import Path

import pytest
import yaml

from conftest import MINIMAL_POD
from kharden import _fork
from kharden.analysis.context import ScanContext
from kharden.rules import select

_scan = importlib.import_module("kharden.scan")


def _scan_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[weakref.ref[ScanContext]]:
    """A scan of one pod; a weak reference to each context it made."""
    made: list[weakref.ref[ScanContext]] = []
    init = ScanContext.__init__

    def spy(self: ScanContext, *args: object, **kwargs: object) -> None:
        made.append(weakref.ref(self))
        init(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ScanContext, "__init__", spy)
    monkeypatch.setattr(_scan, "_kept", [])
    path = tmp_path / "pod.yaml"
    path.write_text(yaml.safe_dump(MINIMAL_POD))
    report = _scan.scan([str(path)], _scan.ScanOptions(attack_paths=False))
    assert report.errors == []
    assert report.stats.objects == 1
    return made


def test_the_command_keeps_what_the_scan_is_done_with(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_fork, "enabled", True)
    made = _scan_once(tmp_path, monkeypatch)
    assert [type(each).__name__ for each in _scan._kept] == ["ScanContext", "Runner", "Collected", "Report"]
    assert [ref() for ref in made] == [_scan._kept[0]]


def test_a_program_gets_the_memory_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_fork, "enabled", False)
    made = _scan_once(tmp_path, monkeypatch)
    gc.collect()
    assert _scan._kept == []
    assert len(made) == 1
    assert made[0]() is None


def test_an_evaluation_of_its_own_keeps_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``kharden fix`` evaluates each chart it renders: those evaluations are freed as they end."""
    monkeypatch.setattr(_fork, "enabled", True)
    monkeypatch.setattr(_scan, "_kept", [])
    path = tmp_path / "pod.yaml"
    path.write_text(yaml.safe_dump(MINIMAL_POD))
    report = _scan.evaluate(_scan.collect([str(path)], _scan.ScanOptions()), select())
    assert report.stats.objects == 1
    assert _scan._kept == []
