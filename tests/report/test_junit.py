"""JUnit XML: a suite per rule, a testcase per (rule, object), failures for findings."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from kharden.report import junit
from samples import edge_report


def parsed() -> ET.Element:
    return ET.fromstring(junit.render(edge_report()))


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
        "title": "Privileged container",
        "section": "pods",
        "severity": "critical",
    }


def test_characters_xml_cannot_carry_are_replaced() -> None:
    text = junit.render(edge_report())
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
