"""The proof that the exported policies judge as the scan does.

Every exported policy is compiled with cel-expr-python and evaluated, as the API server would (see
``vap.py``), on every object that carries a pod spec in ``../shared/corpus/real`` (read as ``kharden
scan`` reads it: kustomizations and charts rendered), in ``examples/``, and in the rule test tables
(the mutations of the minimal pod, as a Pod and as a CronJob, and the YAML case files). For each object
and rule the policy denies exactly when the scan reports the rule for that object, and each failing
validation's message is the scan's messages of that constraint, joined. A difference fails the test and
names the object.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from vap import Policy

from conftest import EXAMPLES, MINIMAL_POD, SHARED, as_kind, mutate
from kharden import _pointer
from kharden.analysis.podspec import effective_pod, pod_template_path
from kharden.enforce.exemptions import exempt
from kharden.enforce.policies import PolicyOptions, exportable, rule_policy
from kharden.model import Obj, Origin
from kharden.rules import REGISTRY, Rule
from kharden.runner import judge
from kharden.scan import ScanOptions, collect
from kharden.sources.documents import Collected

sys.path.insert(0, str(Path(__file__).parent.parent / "rules"))
from test_pods import CASES

RULES_DIR = Path(__file__).parent.parent / "rules"
CORPUS = SHARED / "corpus" / "real"
EXPORTED = [r for r in REGISTRY if exportable(r)]
PLAIN = PolicyOptions()
HONOURING = PolicyOptions(honour_annotations=True)
EMPTY_PARAMS = {"data": {"images": ""}}


def _compile(options: PolicyOptions) -> dict[str, Policy]:
    return {rule.id: Policy(rule_policy(rule, options)[0]) for rule in EXPORTED}


POLICIES = _compile(PLAIN)
HONOURING_POLICIES = _compile(HONOURING)


def _with_pod_spec(collected: Collected, label: str) -> Iterator[tuple[str, Obj]]:
    for obj in collected.objects:
        if pod_template_path(obj) is not None:
            where = obj.origin.file or "-"
            yield f"{label}{where}:{obj.origin.line}:{obj.ref}", obj


def _table_objects() -> Iterator[tuple[str, Obj]]:
    for index, (rule, changes, _) in enumerate(p.values for p in CASES):
        for kind in ("Pod", "CronJob"):
            collected = Collected()
            collected.add_raw(as_kind(mutate(MINIMAL_POD, *changes), kind), Origin(None))
            yield from _with_pod_spec(collected, f"table#{index}:{rule}:{kind}:")
    for section in ("pods", "isolation", "exposure"):
        for path in sorted((RULES_DIR / section).glob("*/*.yaml")):
            collected = Collected()
            collected.add_stream(path.read_bytes(), str(path))
            yield from _with_pod_spec(collected, "")


def _corpus_objects(root: Path) -> list[tuple[str, Obj]]:
    return list(_with_pod_spec(collect([str(root)], ScanOptions()), ""))


CORPUS_OBJECTS = _corpus_objects(CORPUS)
EXAMPLE_OBJECTS = _corpus_objects(EXAMPLES)
TABLE_OBJECTS = list(_table_objects())


def _plain(raw: Any) -> Any:
    """The object as the API server hands it to CEL: JSON (YAML timestamps become strings), without the
    fields written as null (decoding into the API types drops them)."""

    def drop_nulls(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: drop_nulls(v) for k, v in node.items() if v is not None}
        if isinstance(node, list):
            return [drop_nulls(v) for v in node]
        return node

    return drop_nulls(json.loads(json.dumps(raw, default=str)))


def _has_names(obj: Obj) -> bool:
    """Every container is named (the API server insists on it; the scan calls a nameless one '#N')."""
    node: Any = obj.raw
    for token in _pointer.split(pod_template_path(obj) or ""):
        node = node.get(token, {}) if isinstance(node, dict) else {}
    spec = node.get("spec", {}) if isinstance(node, dict) else {}
    lists = [spec.get(name) or [] for name in ("containers", "initContainers", "ephemeralContainers")]
    return all(
        isinstance(c, dict) and isinstance(c.get("name"), str) and c["name"] for items in lists for c in items
    )


def _scan_messages(obj: Obj, rule: Rule, globs: tuple[str, ...] = ()) -> list[str]:
    """Per constraint of ``rule``, the scan's messages of its hits on ``obj`` joined as the policy joins them."""
    pod = exempt(effective_pod(obj, pod_template_path(obj) or ""), globs)
    if pod is None:
        return ["" for _ in rule.constraints]
    return ["; ".join(v.hit().message for v in c.violations(pod)) for c in rule.constraints]


def _disagreements(
    obj: Obj, policies: dict[str, Policy], *, honour: bool, params: dict[str, Any] = EMPTY_PARAMS
) -> list[str]:
    judged = judge(obj, EXPORTED)
    if judged.errors:  # the API server refuses a wrong type before admission
        return []
    reported = {f.rule for f in judged.findings if not (honour and f.suppressed)}
    data = _plain(obj.raw)
    named = _has_names(obj)
    problems = []
    for rule in EXPORTED:
        failures = policies[rule.id].evaluate(data, params)
        if bool(failures) != (rule.id in reported):
            problems.append(
                f"{rule.id}: {'the scan reports it, the policy admits' if failures == [] else 'the policy denies, the scan does not report it'}"
            )
            continue
        if not failures or not named:
            continue
        expected = _scan_messages(obj, rule)
        for failure in failures:
            message = failure.message or ""
            want = expected[failure.index]
            if not message.startswith(f"{rule.id}: {want} (fix: "):
                problems.append(f"{rule.id}#{failure.index}: message {message!r}, the scan's {want!r}")
    return problems


@pytest.mark.parametrize(("name", "obj"), CORPUS_OBJECTS, ids=[n for n, _ in CORPUS_OBJECTS])
def test_the_policies_judge_the_corpus_as_the_scan(name: str, obj: Obj) -> None:
    assert _disagreements(obj, POLICIES, honour=False) == [], name


@pytest.mark.parametrize(
    ("name", "obj"), EXAMPLE_OBJECTS + TABLE_OBJECTS, ids=[n for n, _ in EXAMPLE_OBJECTS + TABLE_OBJECTS]
)
def test_the_policies_judge_the_tables_and_examples_as_the_scan(name: str, obj: Obj) -> None:
    assert _disagreements(obj, POLICIES, honour=False) == [], name


def test_the_proof_covers_enough_objects_and_both_outcomes() -> None:
    assert len(CORPUS_OBJECTS) >= 300
    assert len(EXAMPLE_OBJECTS) >= 10
    outcomes: dict[str, set[bool]] = {rule.id: set() for rule in EXPORTED}
    for _, obj in CORPUS_OBJECTS + EXAMPLE_OBJECTS + TABLE_OBJECTS:
        if judge(obj, EXPORTED).errors:
            continue
        data = _plain(obj.raw)
        for rule in EXPORTED:
            outcomes[rule.id].add(bool(POLICIES[rule.id].evaluate(data, EMPTY_PARAMS)))
    assert {rule: seen for rule, seen in outcomes.items() if seen != {True, False}} == {}
