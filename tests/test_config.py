""".kharden.yaml: found upward, checked key by key (errors name file and line), applied in one place."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from conftest import MINIMAL_POD, as_kind, mutate
from kharden.config import Config, find_config, load_config
from kharden.errors import ConfigError
from kharden.model import ObjRef, Severity, Suppression
from kharden.rules import REGISTRY
from kharden.scan import ScanOptions, scan
from kharden.suppress import Ignore

PRIVILEGED = mutate(MINIMAL_POD, ("/spec/containers/0/securityContext/privileged", True))

FULL = """\
rules:
  include: ["pod.*", "image.*"]
  exclude: [image.not-minimal]
severity:
  image.*: low
  image.not-pinned: medium
ignore:
  - rule: pod.privileged
    kind: DaemonSet
    namespace: logging
    name: "fluent-*"
    reason: the log agent reads every container's logs on the node
  - rule: "pod.*"
    reason: vendor chart, reviewed
fail-on: medium
baseline: baselines/kharden.json
"""


def write(tmp_path: Path, text: str, name: str = ".kharden.yaml") -> str:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def test_full_config(tmp_path: Path) -> None:
    path = write(tmp_path, FULL)
    config = load_config(path)
    assert config == Config(
        file=path,
        include=("pod.*", "image.*"),
        exclude=("image.not-minimal",),
        severity=(("image.*", Severity.LOW), ("image.not-pinned", Severity.MEDIUM)),
        ignores=(
            Ignore(
                rule="pod.privileged",
                reason="the log agent reads every container's logs on the node",
                kind="DaemonSet",
                namespace="logging",
                name="fluent-*",
            ),
            Ignore(rule="pod.*", reason="vendor chart, reviewed"),
        ),
        fail_on="medium",
        baseline=str(tmp_path / "baselines" / "kharden.json"),
    )


def test_later_severity_entries_override_earlier_ones(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, FULL))
    severities = config.severities(list(REGISTRY))
    assert severities["image.not-pinned"] is Severity.MEDIUM
    assert severities["image.mutable-tag"] is Severity.LOW
    assert "pod.privileged" not in severities


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rulez: {}\n", ":1: unknown key 'rulez' in the config (did you mean 'rules'?)"),
        (
            "colour: red\n",
            ":1: unknown key 'colour' in the config (expected one of: rules, severity, ignore, fail-on, baseline)",
        ),
        ("rules:\n  exclude: [pod.privilegd]\n", ":2: unknown rule 'pod.privilegd' (rules of 'pod': "),
        (
            "rules:\n  include: ['netpol.x*']\n",
            ":2: rule glob 'netpol.x*' matches no rule (see 'kharden rules')",
        ),
        ("rules:\n  include: pod.*\n", ":2: 'rules.include' must be a list of rule IDs or globs"),
        (
            "rules:\n  only: [pod.*]\n",
            ":2: unknown key 'only' in 'rules' (expected one of: include, exclude)",
        ),
        (
            "severity:\n  pod.privileged: severe\n",
            ":2: unknown severity 'severe' (expected one of: info, low",
        ),
        ("severity:\n  image.latest: low\n", ":2: unknown rule 'image.latest' (rules of 'image': "),
        (
            "severity: [pod.privileged]\n",
            ":1: 'severity' must be a mapping of rule IDs (or globs) to severities",
        ),
        ("ignore:\n  - rule: pod.privileged\n    name: debug\n", ":2: an ignore entry needs a 'reason' (why"),
        ("ignore:\n  - kind: Pod\n    reason: x\n", ":2: an ignore entry needs 'rule' (a rule ID or glob)"),
        ("ignore:\n  - rule: pod.privileged\n    reason: '  '\n", ":3: 'reason' must be a non-empty string"),
        (
            "ignore:\n  - rule: pod.privileged\n    reason: ok\n    namespaces: [a]\n",
            ":4: unknown key 'namespaces' in an ignore entry (did you mean 'namespace'?)",
        ),
        ("ignore:\n  rule: pod.privileged\n", ":1: 'ignore' must be a list of entries"),
        ("ignore:\n  - pod.privileged\n", ":2: an ignore entry must be a mapping"),
        ("fail-on: sometimes\n", ":1: unknown severity 'sometimes'"),
        ("baseline: 3\n", ":1: 'baseline' must be a non-empty string"),
        ("- rules\n", ":1: the config must be a mapping"),
        ("rules: {}\n---\nrules: {}\n", ":3: a config file holds one YAML document"),
        ("rules: [\n", ":2: invalid YAML: did not find expected node content (column 1)"),
    ],
)
def test_errors_name_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).startswith(path + message), str(caught.value)


def test_empty_config(tmp_path: Path) -> None:
    path = write(tmp_path, "# nothing yet\n")
    assert load_config(path) == Config(file=path)


def test_found_upward_from_the_working_directory(tmp_path: Path) -> None:
    path = write(tmp_path, "fail-on: low\n")
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert find_config(str(deep)) == path
    nearer = write(tmp_path / "a", "fail-on: high\n")
    assert find_config(str(deep)) == nearer


def test_not_found(tmp_path: Path) -> None:
    assert find_config(str(tmp_path)) is None


def scan_with(tmp_path: Path, config_text: str, *objects: dict[str, object]) -> list[tuple[str, str, str]]:
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text(yaml.safe_dump_all(list(objects), sort_keys=False))
    config = load_config(write(tmp_path, config_text, "config.yaml"))
    report = scan([str(manifest)], ScanOptions(config=config))
    return sorted(
        (
            f"{f.object.kind}/{f.object.name} {f.rule}",
            f.severity.label,
            f.suppressed.kind if f.suppressed else "",
        )
        for f in report.findings
    )


def test_include_exclude_and_severity(tmp_path: Path) -> None:
    found = scan_with(
        tmp_path,
        "rules: {include: ['pod.privileged', 'pod.privilege-escalation']}\nseverity: {pod.privileged: medium}\n",
        PRIVILEGED,
    )
    assert found == [
        ("Pod/minimal pod.privilege-escalation", "high", ""),
        ("Pod/minimal pod.privileged", "medium", ""),
    ]


@pytest.mark.parametrize(
    ("entry", "suppressed"),
    [
        ("{rule: pod.privileged, reason: r}", True),
        ("{rule: 'pod.*', kind: Deployment, reason: r}", True),
        ("{rule: pod.privileged, kind: DaemonSet, reason: r}", False),
        ("{rule: pod.privileged, namespace: 'def*', reason: r}", True),
        ("{rule: pod.privileged, namespace: kube-system, reason: r}", False),
        ("{rule: pod.privileged, name: 'mini*', reason: r}", True),
        ("{rule: pod.privileged, name: 'Minimal', reason: r}", False),  # globs are case-sensitive
        ("{rule: pod.privilege-escalation, reason: r}", False),
    ],
)
def test_ignore_entries(tmp_path: Path, entry: str, suppressed: bool) -> None:
    deployment = mutate(as_kind(PRIVILEGED, "Deployment"), ("/metadata/namespace", "default"))
    config = f"rules: {{include: [pod.privileged]}}\nignore:\n  - {entry}\n"
    [(_, _, kind)] = scan_with(tmp_path, config, deployment)
    assert kind == ("config" if suppressed else "")


def test_ignore_matches_cluster_scoped_objects_by_an_empty_namespace() -> None:
    node = ObjRef("Node", None, "worker-1", "v1")
    assert Ignore(rule="*", reason="r").matches("exposure.node-public-ip", node)
    assert not Ignore(rule="*", reason="r", namespace="?*").matches("exposure.node-public-ip", node)


def test_the_annotation_wins_over_the_config(tmp_path: Path) -> None:
    annotated = mutate(PRIVILEGED, ("/metadata/annotations", {"kharden.io/ignore": "pod.privileged=by hand"}))
    manifest = tmp_path / "m.yaml"
    manifest.write_text(yaml.safe_dump(annotated))
    config = load_config(write(tmp_path, "ignore: [{rule: pod.privileged, reason: by config}]\n"))
    report = scan([str(manifest)], ScanOptions(rules=("pod.privileged",), config=config))
    assert [f.suppressed for f in report.findings] == [Suppression("annotation", "by hand")]
