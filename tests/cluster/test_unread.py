"""Kinds a cluster scan could not read make the rules that need them 'not evaluated', never a silent pass."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest

from kharden.analysis.context import ScanContext
from kharden.cli import _ProgressLine
from kharden.model import ClusterInfo, Hit, Severity
from kharden.report import text as text_report
from kharden.rules import RuleSet, get
from kharden.scan import evaluate, unread_reasons
from kharden.sources.cluster import Progress
from kharden.sources.documents import Collected

rules = RuleSet("exposure")


@rules.inventory("exposure.fake-nodes", Severity.LOW, needs=("Node",), title="t", remediation="r")
def fake_nodes(context: ScanContext) -> Iterator[Hit]:
    """Fires never.

    Reads: nodes."""
    yield from ()


@rules.inventory("exposure.fake-everything", Severity.LOW, title="t", remediation="r")
def fake_everything(context: ScanContext) -> Iterator[Hit]:
    """Fires never.

    Reads: everything."""
    yield from ()


NODES, EVERYTHING = rules.rules
UNREAD = {
    "Secret": "forbidden to list secrets",
    "Node": "forbidden to list nodes",
    "Deployment": "forbidden to list deployments.apps",
    "ClusterPolicy": "forbidden to list clusterpolicies.kyverno.io",
}


@pytest.mark.parametrize(
    ("rule", "reasons"),
    [
        pytest.param(NODES, ["forbidden to list nodes"], id="inventory-needs"),
        pytest.param(
            EVERYTHING,
            ["forbidden to list deployments.apps", "forbidden to list nodes"],
            id="inventory-all-but-secrets",
        ),
        pytest.param(get("pod.privileged"), ["forbidden to list deployments.apps"], id="pod-rule"),
        pytest.param(get("exposure.node-public-ip"), ["forbidden to list nodes"], id="object-rule"),
        pytest.param(get("image.not-pinned"), ["forbidden to list deployments.apps"], id="image-rule"),
    ],
)
def test_unread_reasons(rule: object, reasons: list[str]) -> None:
    from kharden.rules import Rule  # noqa: PLC0415

    assert isinstance(rule, Rule)
    assert unread_reasons(rule, UNREAD) == reasons


def test_whole_inventory_rules_do_not_run_on_part_of_a_cluster() -> None:
    ran: list[str] = []
    nodes_rules = RuleSet("exposure")

    @nodes_rules.inventory("exposure.fake-ran", Severity.LOW, needs=("Node",), title="t", remediation="r")
    def fake_ran(context: ScanContext) -> Iterator[Hit]:
        """Records that it ran.

        Reads: nothing."""
        ran.append("yes")
        yield from ()

    collected = Collected(
        evidence={"C", "M"}, cluster=ClusterInfo(unread={"Node": "forbidden to list nodes"})
    )
    report = evaluate(collected, nodes_rules.rules)
    assert ran == []
    assert [(n.rule, n.reason) for n in report.not_evaluated] == [
        ("exposure.fake-ran", "forbidden to list nodes")
    ]
    assert report.rules_run == 0
    text = text_report.render(report)
    assert "not evaluated (1 rule):" in text
    assert "    forbidden to list nodes: exposure.fake-ran" in text


def test_progress_line_on_a_terminal() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    display = _ProgressLine.on(stream)
    assert display is not None
    display(Progress(requests=30, done=30, objects=12345, current="pods"))
    _ProgressLine.clear(display)
    assert stream.getvalue() == "\r\033[Kkharden: 30/30 resources listed, 12,345 objects read (pods)\r\033[K"
    assert _ProgressLine.on(io.StringIO()) is None  # not a terminal: quiet
