"""Every pod rule written as data compiles to CEL that agrees with its Python check.

The CEL is compiled with cel-expr-python (Google's CEL C++ runtime, with the strings extension
that Kubernetes also enables) over the variables a ValidatingAdmissionPolicy would bind:
``variables.podSpec`` and ``variables.podMetadata``. For every case of the pod rule tables (the
mutations of the minimal pod and the YAML case files), every exported rule must pass in CEL
exactly when the runner reports no finding of it on that object.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cel_expr_python import cel
from cel_expr_python.ext import ext_strings
from test_pods import CASES

from conftest import MINIMAL_POD, as_kind, mutate
from kharden import _pointer
from kharden.analysis.podspec import pod_template_path
from kharden.model import Obj, Origin
from kharden.rules import REGISTRY, Rule
from kharden.rules._constraint import CelRoots, rule_cel
from kharden.runner import judge
from kharden.sources.documents import Collected

EXPORTED = [r for r in REGISTRY if r.constraints]
CASE_DIRS = Path(__file__).parent
_ENV = cel.NewEnv(variables={"variables": cel.Type.DYN}, extensions=[ext_strings.ExtStrings()])
_OPTIONAL = re.compile(r"\.\?|\[\?")


def _compiled(rule: Rule) -> Any:
    return _ENV.compile(rule_cel(rule.constraints))


_PROGRAMS = {rule.id: _compiled(rule) for rule in EXPORTED}


def _objects() -> Iterator[tuple[str, Obj]]:
    """Every object with a pod template in the pod rule tables."""
    for index, (rule, changes, _) in enumerate(p.values for p in CASES):
        for kind in ("Pod", "CronJob"):
            raw = as_kind(mutate(MINIMAL_POD, *changes), kind)
            collected = Collected()
            collected.add_raw(raw, Origin(None))
            yield f"table#{index}:{rule}:{kind}", collected.objects[0]
    for section in ("pods", "isolation", "exposure"):
        for path in sorted((CASE_DIRS / section).glob("*/*.yaml")):
            collected = Collected()
            collected.add_stream(path.read_bytes(), str(path))
            assert collected.errors == []
            for obj in collected.objects:
                if pod_template_path(obj) is not None:
                    yield f"{path.relative_to(CASE_DIRS)}:{obj.ref}", obj


def _variables(obj: Obj) -> dict[str, Any]:
    template: Any = obj.raw
    for token in _pointer.split(pod_template_path(obj) or ""):
        template = template[token]
    return {"variables": {"podSpec": template.get("spec", {}), "podMetadata": template.get("metadata", {})}}


OBJECTS = list(_objects())


@pytest.mark.parametrize("rule", EXPORTED, ids=[r.id for r in EXPORTED])
def test_cel_uses_only_what_the_api_server_accepts(rule: Rule) -> None:
    text = rule_cel(rule.constraints, CelRoots())
    assert not _OPTIONAL.search(text), "no optional chaining"
    assert _PROGRAMS[rule.id].return_type() == cel.Type.BOOL


@pytest.mark.parametrize(("name", "obj"), OBJECTS, ids=[n for n, _ in OBJECTS])
def test_cel_agrees_with_the_python_check(name: str, obj: Obj) -> None:
    judged = judge(obj, EXPORTED)
    assert judged.errors == []
    fired = {f.rule for f in judged.findings}
    data = _variables(obj)
    disagree = [
        (rule.id, "python fires" if rule.id in fired else "CEL denies")
        for rule in EXPORTED
        if _PROGRAMS[rule.id].eval(data=data).value() is (rule.id in fired)
    ]
    assert disagree == [], name


def test_the_tables_exercise_every_exported_rule_both_ways() -> None:
    seen: dict[str, set[bool]] = {r.id: set() for r in EXPORTED}
    for _, obj in OBJECTS:
        data = _variables(obj)
        for rule in EXPORTED:
            seen[rule.id].add(bool(_PROGRAMS[rule.id].eval(data=data).value()))
    assert {rule: outcomes for rule, outcomes in seen.items() if outcomes != {True, False}} == {}
