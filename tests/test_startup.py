"""Start-up: each command imports what it needs (``kharden --version`` and ``kharden rules`` do not load the
scanner), and the rendered catalog ``kharden rules``/``explain`` print from is current.

Times are for the benchmarks (bench/README.md); these tests pin what makes them: the modules imported.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kharden import _catalog
from kharden.report import catalog
from kharden.rules import REGISTRY

HEAVY = (
    "kharden.scan",
    "kharden.rules",
    "kharden.analysis.context",
    "kharden.sources.files",
    "yaml",
    "msgspec",
)


def _modules_after(*argv: str) -> tuple[set[str], str]:
    """The modules loaded by ``kharden ARGV`` run in a fresh interpreter, and what it printed."""
    script = (
        "import io, json, sys, contextlib\n"
        "from kharden.cli import main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        f"    try:\n        main({list(argv)!r})\n    except SystemExit:\n        pass\n"
        "print(json.dumps([sorted(sys.modules), out.getvalue()]))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    modules, printed = json.loads(done.stdout)
    return set(modules), printed


@pytest.mark.parametrize(
    "argv",
    [("--version",), ("rules",), ("rules", "--format", "json"), ("explain", "pod.privileged")],
    ids=["version", "rules", "rules-json", "explain"],
)
def test_light_commands_do_not_load_the_scanner(argv: tuple[str, ...]) -> None:
    modules, printed = _modules_after(*argv)
    assert printed
    assert sorted(modules & set(HEAVY)) == []


def test_the_rendered_catalog_is_current() -> None:
    with open(_catalog.CATALOG, encoding="utf-8") as handle:
        assert _catalog.render() == json.load(handle), "run `make docs`"


def test_commands_print_what_the_registry_renders() -> None:
    assert _catalog.rules_text("table") == catalog.rules_table(REGISTRY)
    assert _catalog.rules_text("md") == catalog.rules_markdown(REGISTRY)
    assert _catalog.rules_text("json") == catalog.rules_json(REGISTRY)
    rule = REGISTRY[0]
    assert _catalog.explain_text(rule.id) == catalog.explain(rule)


def test_a_stale_catalog_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sources edited since ``make docs``: the commands render from the registry, never print stale text."""
    monkeypatch.setattr(_catalog, "fingerprint", lambda: "edited since")
    monkeypatch.setattr(catalog, "rules_table", lambda rules: f"{len(rules)} rules, from the registry\n")
    assert _catalog.rules_text("table") == f"{len(REGISTRY)} rules, from the registry\n"


def test_an_unknown_rule_is_named_with_its_neighbours() -> None:
    from kharden.errors import UsageError  # noqa: PLC0415

    with pytest.raises(UsageError, match=r"unknown rule 'pod\.privilegd'.*pod\.privileged"):
        _catalog.explain_text("pod.privilegd")


def test_a_scan_of_files_does_not_load_the_cluster_reader(tmp_path: Path) -> None:
    """The cluster and snapshot readers (HTTP, TLS, their decoders) are for the scans that read a cluster."""
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: nginx}]}\n"
    )
    modules, _ = _modules_after("scan", str(manifest), "-f", "json", "-o", str(tmp_path / "report.json"))
    assert "kharden.scan" in modules
    assert sorted(modules & {"kharden.sources.cluster", "kharden.sources.snapshot", "ssl"}) == []
    assert (tmp_path / "report.json").exists()
