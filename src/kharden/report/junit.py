"""``--format junit``: JUnit XML, so that CI systems show findings in their test tab.

One ``testsuite`` per rule (``classname`` is the rule ID, which Jenkins splits into
package and class), one ``testcase`` per (rule, object) with findings:

- a ``failure`` when some unsuppressed finding of the rule on the object fails the run (at
  or above ``--fail-on``; ``type`` is the most severe one's severity, the message the first
  finding's, the text every finding with its location and the fix);
- a passing testcase when its unsuppressed findings are all below ``--fail-on``: they are
  listed in its ``system-out`` and fail nothing, as the exit code fails nothing (Jenkins
  would mark the build unstable for a failure the run does not have);
- ``skipped`` when all its findings are suppressed, saying why.

A rule without findings is one passing testcase that says how much it examined; a rule
that was not evaluated (for some objects or at all) has a skipped testcase; input errors
are ``error`` testcases of a ``kharden`` suite. The ``file`` and ``line`` attributes
(GitLab shows them) are left out for findings without a file (a cluster). Property names
are unique in the document (``pod.privileged:severity``): some readers (xunitparser)
merge the suites' properties.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from itertools import groupby

from ..model import Finding, ObjRef, Report, Severity
from ..rules import get as get_rule

__all__ = ["render"]

# Characters XML 1.0 cannot carry, even escaped.
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _text(value: str) -> str:
    return _INVALID_XML.sub("\ufffd", value)


def render(report: Report, *, fail_on: Severity | None = Severity.HIGH) -> str:
    """The report as JUnit XML; findings fail their testcase when at or above ``fail_on`` (never when
    ``None``), as they fail the run."""
    root = ET.Element("testsuites", name="kharden")
    timestamp = report.generated_at.strftime("%Y-%m-%dT%H:%M:%S") if report.generated_at else None
    by_rule: dict[str, list[Finding]] = {}
    for finding in report.findings:
        by_rule.setdefault(finding.rule, []).append(finding)
    examined = {run.rule: run.examined for run in report.rules}
    severities = {run.rule: run.severity for run in report.rules}
    suites: dict[str, ET.Element] = {}

    def suite_of(rule_id: str) -> ET.Element:
        if rule_id not in suites:
            suites[rule_id] = _suite(root, rule_id, timestamp, severity=severities.get(rule_id))
        return suites[rule_id]

    for rule_id in [*examined, *sorted(by_rule.keys() - examined.keys())]:
        suite = suite_of(rule_id)
        findings = sorted(by_rule.get(rule_id, []), key=lambda f: (f.object, f.location.line or 0))
        for ref, group in groupby(findings, key=lambda f: f.object):
            _testcase(suite, rule_id, ref, list(group), fail_on)
        if not findings:
            what = examined.get(rule_id, 0)
            ET.SubElement(
                suite, "testcase", classname=rule_id, name=f"no findings ({what} examined)", time="0"
            )
    for rule_id, items in groupby(sorted(report.not_evaluated, key=lambda n: n.rule), key=lambda n: n.rule):
        case = ET.SubElement(suite_of(rule_id), "testcase", classname=rule_id, name="not evaluated", time="0")
        ET.SubElement(case, "skipped", message=_text("; ".join(dict.fromkeys(i.reason for i in items))))
    if report.errors:
        suite = _suite(root, "kharden", timestamp, name="kharden input errors")
        for error in report.errors:
            attributes = {"classname": "kharden.input", "name": _text(error.file or "input"), "time": "0"}
            if error.file is not None:
                attributes["file"] = _text(error.file)
            if error.line is not None:
                attributes["line"] = str(error.line)
            case = ET.SubElement(suite, "testcase", attributes)
            ET.SubElement(case, "error", message=_text(error.message), type="InputError").text = _text(
                str(error)
            )
    _count(root)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _suite(
    root: ET.Element,
    rule_id: str,
    timestamp: str | None,
    *,
    name: str | None = None,
    severity: Severity | None = None,
) -> ET.Element:
    attributes = {"name": name or rule_id, "time": "0"}
    if timestamp is not None:
        attributes["timestamp"] = timestamp
    suite = ET.SubElement(root, "testsuite", attributes)
    if name is None:
        rule = get_rule(rule_id)
        properties = ET.SubElement(suite, "properties")
        label = (severity or rule.severity).label
        for key, value in (("title", rule.title), ("section", rule.section), ("severity", label)):
            ET.SubElement(properties, "property", name=f"{rule_id}:{key}", value=_text(value))
    return suite


def _testcase(
    suite: ET.Element, rule_id: str, ref: ObjRef, findings: list[Finding], fail_on: Severity | None
) -> None:
    first = findings[0]
    attributes = {"classname": rule_id, "name": _text(str(ref)), "time": "0"}
    if first.location.file is not None:
        attributes["file"] = _text(first.location.file)
        if first.location.line is not None:
            attributes["line"] = str(first.location.line)
    case = ET.SubElement(suite, "testcase", attributes)
    active = [f for f in findings if f.suppressed is None]
    if not active:
        reasons = sorted({f"{f.suppressed.kind}: {f.suppressed.reason}" for f in findings if f.suppressed})
        ET.SubElement(case, "skipped", message=_text("suppressed (" + "; ".join(reasons) + ")"))
        return
    worst = max(active, key=lambda f: f.severity)
    message = active[0].message if len(active) == 1 else f"{len(active)} findings, first: {active[0].message}"
    lines = [f"{f.location} {f.severity.label}: {f.message}" for f in active]
    lines += [f"suppressed ({f.suppressed.kind}): {f.message}" for f in findings if f.suppressed is not None]
    lines.append(f"fix: {first.remediation}")
    if fail_on is None or worst.severity < fail_on:
        below = "the run fails on no finding" if fail_on is None else f"below --fail-on {fail_on.label}"
        ET.SubElement(case, "system-out").text = _text(f"{below}, not failing:\n" + "\n".join(lines))
        return
    failure = ET.SubElement(case, "failure", message=_text(message), type=worst.severity.label)
    failure.text = _text("\n".join(lines))


def _count(root: ET.Element) -> None:
    """The tests/failures/errors/skipped attributes of every suite and of the root."""
    totals = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    for suite in root:
        counts = {
            "tests": len(suite.findall("testcase")),
            "failures": len(suite.findall("testcase/failure")),
            "errors": len(suite.findall("testcase/error")),
            "skipped": len(suite.findall("testcase/skipped")),
        }
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
    for key, value in totals.items():
        root.set(key, str(value))
