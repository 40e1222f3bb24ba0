"""Shared test helpers: the minimal restricted pod, JSON-pointer mutation, running one rule."""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import pytest
import yaml

from kharden import _pointer
from kharden.model import Finding, Report
from kharden.report import json as json_report
from kharden.report import schema as report_schema
from kharden.rules import select
from kharden.scan import evaluate
from kharden.sources.documents import Collected
from kharden.sources.files import DEFAULT_MAX_FILE_BYTES
from kharden.sources.imagescan import read_image_report
from kharden.sources.node import read_node

# Every JSON report the tests produce is validated against the published schema, closed: a field the schema
# does not describe fails the test that produced it (tests/test_json_schema.py checks that this is on).
_REPORT_SCHEMA = jsonschema.Draft202012Validator(report_schema.closed())
_json_report_pieces = json_report.pieces


def _validated_json_report(report: Report) -> str:
    text = "".join(_json_report_pieces(report))
    problems = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in _REPORT_SCHEMA.iter_errors(json.loads(text))
    ]
    assert not problems, f"the JSON report does not match its schema: {problems[:5]}"
    return text


def _validated_json_pieces(report: Report, size: int = 1 << 20) -> Iterator[str]:
    """What the command line writes, piece by piece: checked whole first."""
    _validated_json_report(report)
    yield from _json_report_pieces(report, size)


json_report.render = _validated_json_report
json_report.pieces = _validated_json_pieces

PRIVILEGED_POD = """\
apiVersion: v1
kind: Pod
metadata: {name: debug, namespace: shop}
spec:
  containers:
  - {name: shell, image: busybox:1.36, securityContext: {privileged: true}}
"""
"""A privileged Pod (shop/debug) as a manifest file would hold it."""

TESTS = Path(__file__).parent
SHARED = TESTS.parent.parent / "shared"
EXAMPLES = TESTS.parent / "examples"
IMAGE_REPORTS = EXAMPLES / "image-reports"
MINIMAL_POD: dict[str, Any] = yaml.safe_load((TESTS / "rules" / "minimal-pod.yaml").read_text())

# Where each workload kind keeps its pod spec, and how to wrap a pod spec into it.
TEMPLATE_KINDS: dict[str, tuple[str, str]] = {
    # kind: (apiVersion, pointer of its pod template; "" for a Pod)
    "Pod": ("v1", ""),
    "Deployment": ("apps/v1", "/spec/template"),
    "StatefulSet": ("apps/v1", "/spec/template"),
    "DaemonSet": ("apps/v1", "/spec/template"),
    "ReplicaSet": ("apps/v1", "/spec/template"),
    "ReplicationController": ("v1", "/spec/template"),
    "Job": ("batch/v1", "/spec/template"),
    "CronJob": ("batch/v1", "/spec/jobTemplate/spec/template"),
}


def as_kind(pod: dict[str, Any], kind: str) -> dict[str, Any]:
    """``pod`` wrapped as a workload of ``kind`` (its metadata becomes the template's)."""
    api_version, template_path = TEMPLATE_KINDS[kind]
    if not template_path:
        return copy.deepcopy(pod)
    template = {"metadata": {"labels": {"app": "minimal"}}, "spec": copy.deepcopy(pod["spec"])}
    template["metadata"].update({k: v for k, v in pod.get("metadata", {}).items() if k == "annotations"})
    obj: dict[str, Any] = {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": pod["metadata"]["name"], "namespace": pod["metadata"]["namespace"]},
    }
    mutate_in_place(obj, template_path, template)
    return obj


def mutate_in_place(obj: dict[str, Any], pointer: str, value: Any) -> None:
    """Set ``pointer`` to ``value``, creating mappings on the way; ``-`` appends to a list."""
    tokens = _pointer.split(pointer)
    node: Any = obj
    for token in tokens[:-1]:
        node = node[int(token)] if isinstance(node, list) else node.setdefault(token, {})
    last = tokens[-1]
    if isinstance(node, list):
        if last == "-":
            node.append(value)
        else:
            node[int(last)] = value
    elif value is _DELETE:
        node.pop(last, None)
    else:
        node[last] = value


class _Delete:
    def __repr__(self) -> str:
        return "DELETE"


_DELETE = _Delete()
DELETE: Any = _DELETE
"""A mutation value that removes the field."""


def mutate(obj: dict[str, Any], *changes: tuple[str, Any]) -> dict[str, Any]:
    """A copy of ``obj`` with each ``(pointer, value)`` applied."""
    result = copy.deepcopy(obj)
    for pointer, value in changes:
        mutate_in_place(result, pointer, value)
    return result


def scan_text(
    text: str,
    rules: list[str] | None = None,
    file: str = "test.yaml",
    image_reports: tuple[str, ...] = (),
    node_roots: tuple[str, ...] = (),
    kube_version: tuple[int, int] | None = None,
    evidence: Iterable[str] = (),
) -> Report:
    """Scan YAML text (with image scan reports, node trees) through the real loaders and runner.

    ``evidence`` adds kinds of evidence (``C``: as if the objects came from a cluster).
    """
    collected = Collected()
    collected.add_stream(text.encode("utf-8"), file)
    collected.evidence |= set(evidence)
    for report in image_reports:
        read_image_report(report, collected, DEFAULT_MAX_FILE_BYTES)
    for root in node_roots:
        read_node(root, collected)
    return evaluate(collected, select(rules or []), kube_version=kube_version)


def scan_objects(*objects: dict[str, Any], rules: list[str] | None = None) -> Report:
    text = yaml.safe_dump_all(list(objects), sort_keys=False)
    return scan_text(text, rules)


def findings(rule: str, *objects: dict[str, Any]) -> list[Finding]:
    report = scan_objects(*objects, rules=[rule])
    assert not report.errors, report.errors
    return [f for f in report.findings if f.rule == rule]


def fired(rule: str, *objects: dict[str, Any]) -> list[tuple[str, str | None]]:
    """``(pointer, container)`` of each finding of ``rule`` on ``objects``, sorted."""
    return sorted(((f.location.path, f.container) for f in findings(rule, *objects)), key=str)


def require_shared() -> Path:
    """``../shared``; a test that needs it skips without it, except under ``CI=true`` (as ``.ci/run`` sets
    it), where a checkout without it must fail, not pass by skipping the catalog contract."""
    if not SHARED.is_dir():
        missing = "../shared (the team's shared corpus and catalog) is not beside this checkout"
        if os.environ.get("CI", "").strip().lower() == "true":
            pytest.fail(f"{missing}, and CI=true: the catalog contract cannot be checked")
        pytest.skip(missing)
    return SHARED


def load_bench(name: str) -> ModuleType:
    """The benchmark script ``bench/NAME.py`` as a module (its input generators serve tests too)."""
    module_name = f"bench_{name}"
    module = sys.modules.get(module_name)
    if module is None:
        spec = importlib.util.spec_from_file_location(module_name, TESTS.parent / "bench" / f"{name}.py")
        assert spec is not None
        assert spec.loader is not None
        module = sys.modules[module_name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return module


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``kharden ARGV...`` in this process: exit code, stdout, stderr."""
    from kharden.cli import main  # noqa: PLC0415 - the CLI imports every renderer; only CLI tests need it

    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err
