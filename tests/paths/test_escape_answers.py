"""The escape rules' hits, asked by the attack-path count before the rules run, are taken by the scan's runner
rather than asked again (``ScanContext.pod_answers``): the same findings, each rule asked once per pod."""

from __future__ import annotations

import importlib
from collections import Counter
from dataclasses import replace
from typing import Any

import pytest
import yaml

from conftest import MINIMAL_POD, as_kind, mutate
from kharden import rules as rules_module
from kharden.analysis.context import ScanContext
from kharden.inventory import Inventory
from kharden.model import Hit, Obj, Origin, Unevaluated
from kharden.rules import Rule, select
from kharden.rules import get as get_rule
from kharden.runner import Judgement, Runner
from kharden.sources.documents import object_ref

_scan = importlib.import_module("kharden.scan")

CSC = "/spec/containers/0/securityContext"
ESCAPE_RULES = ("pod.privileged", "pod.sensitive-mount", "pod.host-namespaces", "pod.dangerous-capabilities")


def _workloads() -> list[dict[str, Any]]:
    """Workloads with every way out of a container onto its node, and one with none; all of them behind a
    load balancer (entry points of attack paths)."""
    exposed = mutate(MINIMAL_POD, ("/metadata/labels", {"app": "web"}))
    privileged = as_kind(mutate(exposed, (CSC + "/privileged", True)), "Deployment")
    mounted = mutate(
        exposed,
        ("/metadata/name", "mounted"),
        ("/spec/volumes", [{"name": "sock", "hostPath": {"path": "/var/run/docker.sock"}}]),
        ("/spec/containers/0/volumeMounts", [{"name": "sock", "mountPath": "/sock"}]),
    )
    traced = as_kind(
        mutate(
            exposed,
            ("/metadata/name", "traced"),
            ("/spec/hostPID", True),
            (CSC + "/capabilities", {"add": ["SYS_PTRACE", "SYS_ADMIN"]}),
        ),
        "CronJob",
    )
    quiet = mutate(exposed, ("/metadata/name", "quiet"))
    return [privileged, mounted, traced, quiet]


BALANCER = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "web", "namespace": "test"},
    "spec": {"type": "LoadBalancer", "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
}


def _collected(tmp_path: Any) -> Any:
    path = tmp_path / "escapes.yaml"
    path.write_text(yaml.safe_dump_all([*_workloads(), BALANCER], sort_keys=False))
    return _scan.collect([str(path)], _scan.ScanOptions())


def _asked(monkeypatch: pytest.MonkeyPatch) -> tuple[Counter[tuple[str, str]], list[Rule]]:
    """(rule, workload) -> how many times the escape rules were asked about it; and every rule, the escape
    rules counting (as the count finds them too)."""
    asked: Counter[tuple[str, str]] = Counter()
    for rule_id in ESCAPE_RULES:
        rule = get_rule(rule_id)

        def check(pod: Any, _check: Any = rule.check, _id: str = rule_id) -> Any:
            asked[(_id, pod.obj.ref.name)] += 1
            return _check(pod)

        monkeypatch.setitem(rules_module._BY_ID, rule_id, replace(rule, check=check))
    return asked, [get_rule(rule.id) for rule in select()]


def test_the_runner_asks_each_escape_rule_once_per_pod_when_the_count_asked_first(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = _scan.evaluate(_collected(tmp_path), select(), attack_paths=False)
    asked, rules = _asked(monkeypatch)
    counted = _scan.evaluate(_collected(tmp_path), rules, attack_paths=True)
    assert counted.findings == plain.findings
    assert {f.rule for f in counted.findings} >= set(ESCAPE_RULES)
    on_paths = {f.rule for f in counted.findings if counted.attack_paths.get(f.fingerprint)}
    assert on_paths >= {"pod.privileged", "pod.sensitive-mount", "pod.dangerous-capabilities"}
    names = {pod["metadata"]["name"] for pod in _workloads()}
    assert asked == {(rule_id, name): 1 for rule_id in ESCAPE_RULES for name in names}


def test_pod_answer_is_asked_once_and_kept_for_the_runner(tmp_path: Any) -> None:
    collected = _collected(tmp_path)
    context = ScanContext(Inventory(collected.objects), frozenset({"M"}), whole_pods=True)
    pod = context.pods[0]
    calls: list[str] = []

    class Rule:
        id = "pod.privileged"

        def check(self, pod: Any) -> Any:
            calls.append(pod.obj.ref.name)
            return iter(get_rule("pod.privileged").check(pod))  # a generator: kept as a list

    first = context.pod_answer(Rule(), pod)
    assert context.pod_answer(Rule(), pod) is first
    assert calls == [pod.obj.ref.name]
    assert context.pod_answers == {id(pod): {"pod.privileged": first}}


def test_the_runner_takes_a_kept_answer_and_forgets_it() -> None:
    raw = mutate(MINIMAL_POD, (CSC + "/privileged", True))
    obj = Obj(raw=raw, ref=object_ref(raw), origin=Origin(None))
    context = ScanContext(Inventory([obj]), frozenset({"M"}), whole_pods=True)
    (pod,) = context.pods
    kept = Hit(CSC + "/privileged", "kept, not asked again")
    answered: dict[int, dict[str, list[Hit | Unevaluated]]] = {id(pod): {"pod.privileged": [kept]}}
    runner = Runner(select(["pod.privileged", "pod.host-namespaces"]), answered=answered)
    judged = Judgement()
    runner.pod(pod, judged)
    assert [(f.rule, f.message) for f in judged.findings] == [("pod.privileged", "kept, not asked again")]
    assert answered == {}  # taken: the runner judges each pod once
