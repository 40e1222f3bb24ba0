"""JUnit XML: a suite per rule, a testcase per (rule, object), failures for findings."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import junitparser
import pytest
import xunitparser

from conftest import EXAMPLES, run_cli
from kharden.model import Severity
from kharden.report import junit
from samples import edge_report


def parsed() -> ET.Element:
    """The edge report, every unsuppressed finding failing (as with --fail-on info)."""
    return ET.fromstring(junit.render(edge_report(), fail_on=Severity.INFO))


def cases(root: ET.Element, suite: str) -> list[ET.Element]:
    [found] = [s for s in root if s.get("name") == suite]
    return found.findall("testcase")


def test_a_testcase_per_rule_and_object() -> None:
    root = parsed()
    [case] = cases(root, "pod.run-as-root")
    assert case.attrib == {
        "classname": "pod.run-as-root",
        "name": "Deployment shop/web",
        "time": "0",
        "file": "k8s/web.yaml",
        "line": "10",
    }
    # pod.privileged fired on two objects: two testcases, each a failure.
    privileged = cases(root, "pod.privileged")
    assert [c.get("name") for c in privileged] == ["Deployment shop/web", "Pod kube-system/kube-proxy-x7k2p"]
    failure = privileged[0].find("failure")
    assert failure is not None
    assert failure.attrib == {"message": "pod.privileged fired on Deployment shop/web", "type": "critical"}
    assert failure.text == (
        "k8s/web.yaml:12:9 critical: pod.privileged fired on Deployment shop/web\n"
        "fix: set securityContext.privileged to false (and windowsOptions.hostProcess to false)"
    )


def test_findings_without_a_file_have_no_file_attribute() -> None:
    [_, cluster] = cases(parsed(), "pod.privileged")
    assert "file" not in cluster.attrib
    assert "line" not in cluster.attrib
    failure = cluster.find("failure")
    assert failure is not None
    assert failure.text is not None
    assert failure.text.startswith("<unknown> critical: ")


def test_suppressed_findings_are_skipped_with_the_reason() -> None:
    root = parsed()
    for suite, reason in [
        ("pod.run-as-root", "suppressed (annotation: runs as root by design)"),
        ("pod.seccomp", "suppressed (config: the node's default profile applies)"),
        ("image.not-pinned", "suppressed (baseline: in the baseline .kharden-baseline.json)"),
    ]:
        [case] = cases(root, suite)
        skipped = case.find("skipped")
        assert skipped is not None
        assert skipped.get("message") == reason
        assert case.find("failure") is None


def test_counts_errors_and_rules_not_evaluated() -> None:
    root = parsed()
    assert {k: root.get(k) for k in ("tests", "failures", "errors", "skipped")} == {
        "tests": "11",
        "failures": "6",
        "errors": "1",
        "skipped": "4",
    }
    [not_evaluated] = cases(root, "image.vulnerable")
    skipped = not_evaluated.find("skipped")
    assert skipped is not None
    assert skipped.get("message") == "needs an image scan report (--image-report FILE)"
    [error_case] = cases(root, "kharden input errors")
    error = error_case.find("error")
    assert error is not None
    assert error_case.get("file") == "k8s/broken.yaml"
    assert error.get("message") == "invalid YAML: mapping values are not allowed here (column 9)"
    suite = next(s for s in root if s.get("name") == "pod.privileged")
    assert suite.get("timestamp") == "2026-01-02T03:04:05"
    assert {p.get("name"): p.get("value") for p in suite.iter("property")} == {
        "pod.privileged:title": "Privileged container",
        "pod.privileged:section": "pods",
        "pod.privileged:severity": "critical",
    }


def test_characters_xml_cannot_carry_are_replaced() -> None:
    text = junit.render(edge_report(), fail_on=Severity.INFO)
    assert "\x07" not in text
    [case] = cases(ET.fromstring(text), "image.mutable-tag")
    failure = case.find("failure")
    assert failure is not None
    assert "\ufffd" in (failure.get("message") or "")
    assert "<img src=x" in (failure.get("message") or "")  # escaped in the XML, intact once parsed


def test_a_rule_without_findings_is_one_passing_testcase() -> None:
    report = edge_report()
    report.rules.append(type(report.rules[0])("pod.proc-mount", "pods", report.rules[0].severity, 3))
    root = ET.fromstring(junit.render(report))
    [case] = cases(root, "pod.proc-mount")
    assert case.get("name") == "no findings (3 examined)"
    assert list(case) == []


def _failing(root: ET.Element) -> list[tuple[str, str]]:
    return [
        (c.get("classname") or "", c.get("name") or "")
        for c in root.iter("testcase")
        if c.find("failure") is not None
    ]


@pytest.mark.parametrize("fail_on", [Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, None])
def test_only_what_fails_the_run_fails(fail_on: Severity | None) -> None:
    """A finding below --fail-on does not fail its testcase (Jenkins would mark the build unstable while
    kharden exits 0): it is listed in the testcase's output."""
    report = edge_report()
    root = ET.fromstring(junit.render(report, fail_on=fail_on))
    failing = {
        (f.rule, str(f.object)) for f in report.active if fail_on is not None and f.severity >= fail_on
    }
    assert set(_failing(root)) == failing
    listed = [c for c in root.iter("testcase") if c.find("system-out") is not None]
    below = {(f.rule, str(f.object)) for f in report.active} - failing
    assert {(c.get("classname"), c.get("name")) for c in listed} == below
    for case in listed:
        out = case.findtext("system-out") or ""
        assert out.startswith(
            "the run fails on no finding" if fail_on is None else f"below --fail-on {fail_on.label}"
        )


def test_the_scan_passes_its_fail_on(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "scan", str(EXAMPLES / "insecure"), "-f", "junit", "--fail-on", "critical")
    root = ET.fromstring(out)
    assert code == 1
    assert _failing(root)
    severities = {failure.get("type") for failure in root.iter("failure")}
    assert severities == {"critical"}
    code, out, _ = run_cli(capsys, "scan", str(EXAMPLES / "insecure"), "-f", "junit", "--fail-on", "never")
    assert (code, _failing(ET.fromstring(out))) == (0, [])


@pytest.mark.parametrize("fail_on", [Severity.INFO, Severity.HIGH])
def test_loads_in_junitparser_and_xunitparser(fail_on: Severity, tmp_path: Path) -> None:
    report = edge_report()
    path = tmp_path / "kharden.xml"
    path.write_text(junit.render(report, fail_on=fail_on), encoding="utf-8")
    root = ET.parse(path).getroot()

    xml = junitparser.JUnitXml.fromfile(str(path))
    assert (xml.tests, xml.failures, xml.errors, xml.skipped) == tuple(
        int(root.get(k) or 0) for k in ("tests", "failures", "errors", "skipped")
    )
    names = [p.get("name") for p in root.iter("property")]
    assert len(names) == len(set(names))

    _, result = xunitparser.parse(str(path))  # checks the document's totals against its testcases
    assert result.testsRun == int(root.get("tests") or 0)
    assert len(result.failures) == int(root.get("failures") or 0)
    assert len(result.errors) == int(root.get("errors") or 0)
    assert len(result.skipped) == int(root.get("skipped") or 0)
