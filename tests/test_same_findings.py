"""The same findings, byte for byte, on the real corpus and on generated inputs of every shape.

Speed work (issue 18: symbolic RBAC grants, the network engine's indexes, the per-finding trace,
worker processes) must not change a single byte of a report. This test scans ../shared/corpus/real
and inputs made by the benchmark generators (../shared/bench/, bench/rbac.py) at sizes a test can
afford, renders the JSON report (and who-can and reach answers), and compares a digest of each with
``same-findings.txt``: per input the digest of the whole document, and per rule the number of
findings and the digest of their JSON, so a failure names the rules whose findings changed.

The digests were recorded from the code before the speed work. A change that is meant to alter
findings (a rule fixed, a message reworded) regenerates them; review which lines moved::

    make golden        # also KHARDEN_UPDATE_GOLDEN=1 pytest tests/test_same_findings.py
    git diff tests/data/same-findings.txt
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import TESTS, load_bench, require_shared, run_cli

GOLDEN = TESTS / "data" / "same-findings.txt"
UPDATE = os.environ.get("KHARDEN_UPDATE_GOLDEN") == "1"
ROOT = TESTS.parent


def _generate(script: str, *args: str) -> Callable[[Path], list[str]]:
    def make(where: Path) -> list[str]:
        out = where / "input"
        generator = require_shared() / "bench" / script
        subprocess.run(
            [sys.executable, str(generator), *args, "--out", str(out)], check=True, capture_output=True
        )
        return ["input"]

    return make


def _rbac_inventory(where: Path) -> list[str]:
    docs = [obj.raw for obj in load_bench("rbac").generate(1500, 1500, 1)]
    (where / "rbac.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return ["rbac.yaml"]


def _corpus(where: Path) -> list[str]:
    (where / "real").symlink_to(require_shared() / "corpus" / "real")
    return ["real"]


# name -> (how to make the input in a directory, the commands to run on it: argv after the paths)
INPUTS: dict[str, tuple[Callable[[Path], list[str]], dict[str, list[str]]]] = {
    "corpus": (_corpus, {"scan": ["scan"]}),
    "manifests-2k": (_generate("gen_manifests.py", "--docs", "2000", "--seed", "1"), {"scan": ["scan"]}),
    "cluster-2k": (
        _generate(
            "gen_cluster.py", "--pods", "2000", "--namespaces", "200", "--policies", "600", "--seed", "1"
        ),
        {"scan": ["scan"], "matrix": ["reach", "--matrix"]},
    ),
    "cluster-2k-pods": (
        _generate(
            "gen_cluster.py",
            *("--pods", "2000", "--namespaces", "200", "--policies", "600", "--seed", "2", "--pods-as-pods"),
        ),
        {"scan": ["scan"], "matrix": ["reach", "--matrix"]},
    ),
    "snapshot-3k": (
        _generate("gen_snapshot.py", "--pods", "3000", "--workloads", "120", "--seed", "1"),
        {"scan": ["scan", "--snapshot"]},
    ),
    "rbac-1500": (
        _rbac_inventory,
        {
            "scan": ["scan"],
            "who-can-secrets": ["who-can", "get", "secrets", "-n", "team-003"],
            "who-can-exec": ["who-can", "create", "pods/exec"],
            "who-can-everything": ["who-can", "*", "*", "-n", "team-001"],
        },
    ),
}


def _digest(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:20]


def _lines(name: str, command: str, output: str) -> Iterator[str]:
    """``input command what count digest``: the whole output, and per rule the findings of a scan."""
    data = json.loads(output)
    yield f"{name} {command} * - {_digest(data)}"
    if command != "scan":
        return
    by_rule: dict[str, list[Any]] = {}
    for finding in data["findings"]:
        by_rule.setdefault(finding["rule"], []).append(finding)
    for rule, findings in sorted(by_rule.items()):
        yield f"{name} {command} {rule} {len(findings)} {_digest(findings)}"


def _run(capsys: pytest.CaptureFixture[str], paths: list[str], argv: list[str]) -> str:
    config = ["--no-config"] if argv[0] == "scan" else []
    code, out, err = run_cli(capsys, *argv, *paths, "-f", "json", *config)
    assert code in {0, 1, 2}, err  # 2: input errors, reported in the output too
    return out


@pytest.mark.parametrize("name", INPUTS)
def test_same_findings(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    make, commands = INPUTS[name]
    paths = make(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    found = [
        line
        for command, argv in commands.items()
        for line in _lines(name, command, _run(capsys, paths, argv))
    ]
    recorded = GOLDEN.read_text().splitlines() if GOLDEN.exists() else []
    expected = [line for line in recorded if line.split(" ", 1)[0] == name]
    if UPDATE:
        others = [line for line in recorded if line.split(" ", 1)[0] != name]
        order = list(INPUTS)
        lines = sorted([*others, *found], key=lambda line: order.index(line.split(" ", 1)[0]))
        GOLDEN.write_text("\n".join(lines) + "\n")
        return
    changed = sorted(set(found) ^ set(expected))
    assert found == expected, "changed (- recorded, + now):\n" + "\n".join(
        ("+ " if line in found else "- ") + line for line in changed
    )
