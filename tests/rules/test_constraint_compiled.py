"""The scan's compiled pod constraints and messages decide and word exactly what the constraint language's
own ``holds`` (a :class:`Subject` per container) and parts do, on random pods and the rule fixtures."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from kharden.analysis.podspec import EffectivePod, effective_pod, pod_template_path
from kharden.errors import InputError
from kharden.model import Hit, Obj, Origin
from kharden.rules import REGISTRY
from kharden.rules._constraint import (
    All,
    Any_,
    Constraint,
    Eq,
    Is,
    Subject,
    Test,
    Violation,
    _compiled,
    _item_field,
)
from kharden.rules._message import Holds, If, Message, Quoted
from kharden.sources.documents import object_ref

_RULES = Path(__file__).parent

_VALUES: dict[str, list[Any]] = {
    "runAsNonRoot": [True, False],
    "runAsUser": [0, 1000],
    "runAsGroup": [0, 3000],
    "privileged": [True, False],
    "allowPrivilegeEscalation": [True, False],
    "readOnlyRootFilesystem": [True, False],
    "procMount": ["Default", "Unmasked"],
    "seccompProfile": [{"type": "RuntimeDefault"}, {"type": "Unconfined"}, {"type": "Localhost"}],
    "appArmorProfile": [{"type": "RuntimeDefault"}, {"type": "Unconfined"}],
    "seLinuxOptions": [{"type": "container_t"}, {"type": "spc_t"}, {"user": "root"}, {}],
    "windowsOptions": [{"hostProcess": True}, {"hostProcess": False}],
    "capabilities": [
        {"drop": ["ALL"]},
        {"drop": ["all"], "add": ["NET_BIND_SERVICE"]},
        {"add": ["SYS_ADMIN", "cap_net_raw", "CHOWN"]},
        {"add": ["ALL"], "drop": ["NET_RAW"]},
    ],
}
_POD_VALUES: dict[str, list[Any]] = {
    "runAsNonRoot": [True, False],
    "runAsUser": [0, 1000],
    "runAsGroup": [0, 3000],
    "fsGroup": [0, 2000],
    "supplementalGroups": [[0], [1, 2]],
    "sysctls": [[{"name": "kernel.shm_rmid_forced"}, {"name": "net.core.somaxconn"}]],
    "seccompProfile": [{"type": "RuntimeDefault"}, {"type": "Unconfined"}],
    "seLinuxOptions": [{"type": "container_t"}, {"level": "s0"}],
    "windowsOptions": [{"hostProcess": True}],
}
_ANNOTATIONS = {
    "seccomp.security.alpha.kubernetes.io/pod": ["runtime/default", "unconfined", "localhost/x"],
    "container.seccomp.security.alpha.kubernetes.io/app": ["unconfined", "docker/default"],
    "container.apparmor.security.beta.kubernetes.io/app": ["unconfined", "runtime/default"],
    "container.apparmor.security.beta.kubernetes.io/init": ["localhost/p"],
}
_VOLUMES = [
    {"name": "h", "hostPath": {"path": "/var/run/docker.sock"}},
    {"name": "l", "hostPath": {"path": "/var/log"}},
    {"name": "e", "emptyDir": {}},
    {"name": "c", "csi": {"driver": "secrets-store.csi.k8s.io"}},
    {"name": "f", "flexVolume": {"driver": "x"}},
    {"name": "n"},
]


def _some(pick: random.Random, table: dict[str, list[Any]]) -> dict[str, Any]:
    return {key: pick.choice(values) for key, values in table.items() if pick.random() < 0.35}


def _random_pod(pick: random.Random) -> dict[str, Any]:
    containers: dict[str, list[dict[str, Any]]] = {}
    for list_name, names in (("containers", ["app", "side"]), ("initContainers", ["init"])):
        for name in names[: pick.randrange(len(names) + 1)]:
            container: dict[str, Any] = {"name": name, "image": "registry.example/app:1"}
            if pick.random() < 0.8:
                container["securityContext"] = _some(pick, _VALUES)
            if pick.random() < 0.3:
                container["ports"] = [{"containerPort": 80, "hostPort": pick.choice([0, 8080])}]
                container["volumeMounts"] = [
                    {"name": "h", "mountPath": "/h", "readOnly": pick.random() < 0.5}
                ]
            containers.setdefault(list_name, []).append(container)
    spec: dict[str, Any] = {**containers, "securityContext": _some(pick, _POD_VALUES)}
    for key in ("hostNetwork", "hostPID", "hostIPC", "hostUsers"):
        if pick.random() < 0.2:
            spec[key] = pick.random() < 0.5
    if pick.random() < 0.4:
        spec["volumes"] = pick.sample(_VOLUMES, pick.randrange(1, 4))
    if pick.random() < 0.1:
        spec["os"] = {"name": "windows"}
    metadata: dict[str, Any] = {"name": "p", "namespace": "ns"}
    annotations = _some(pick, _ANNOTATIONS)
    if annotations:
        metadata["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def _pods_of(raws: list[Any]) -> Iterator[EffectivePod]:
    for raw in raws:
        if not isinstance(raw, dict):
            continue
        obj = Obj(raw, object_ref(raw), Origin(None))
        path = pod_template_path(obj)
        if path is None:
            continue
        try:
            yield effective_pod(obj, path)
        except InputError:
            continue


def _pods() -> list[EffectivePod]:
    pick = random.Random(18)  # noqa: S311 - a seeded, repeatable test input
    pods = list(_pods_of([_random_pod(pick) for _ in range(600)]))
    for path in sorted(_RULES.glob("*/**/*.yaml")):
        pods += _pods_of(list(yaml.safe_load_all(path.read_text())))
    return pods


def _tests(test: Test) -> Iterator[Test]:
    yield test
    if isinstance(test, All | Any_):
        for each in test.tests:
            yield from _tests(each)


def _direct_violations(constraint: Constraint, pod: EffectivePod) -> Iterator[Violation]:
    """``Constraint.violations`` written straight from the constraint language (before it was compiled)."""
    if constraint.linux_only and pod.is_windows:
        return
    owners = pod.containers if constraint.containers else (None,)
    if constraint.items is not None:
        for owner in owners:
            holder = owner if owner is not None else pod
            for item in getattr(holder, constraint.items.attr):
                value, found = _item_field(constraint.items, item)
                if not constraint.test.holds(Subject(pod, owner, value, item)):
                    yield Violation(constraint, pod, found, (owner,) if owner else (), item)
        return
    at = constraint._at()
    assert at is not None
    groups: dict[str, tuple[Any, list[Any]]] = {}
    for owner in owners:
        subject = Subject(pod, owner)
        if constraint.test.holds(subject):
            continue
        found = Is(at, Eq(None)).field_of(subject)
        if owner is None:
            yield Violation(constraint, pod, found)
        elif constraint.group:
            groups.setdefault(found.path, (found, []))[1].append(owner)
        else:
            yield Violation(constraint, pod, found, (owner,))
    for found, members in groups.values():
        yield Violation(constraint, pod, found, tuple(members))


def _direct_message(message: Message, v: Violation) -> str:
    def part(p: Any) -> str:
        if isinstance(p, If):
            cond = p.cond.test.holds(v.subjects[0]) if isinstance(p.cond, Holds) else p.cond.py(v)
            return "".join(part(q) for q in (p.then if cond else p.otherwise))
        if isinstance(p, Quoted):
            return repr(part(p.inner))
        return str(p.py(v))

    return "".join(part(p) for p in message.parts)


def _direct_hit(v: Violation) -> Hit:
    c = v.constraint
    container = v.containers[0].name if len(v.containers) == 1 else None
    severity = c.severity(v) if c.severity is not None else None
    message = _direct_message(c.message, v) if isinstance(c.message, Message) else c.message(v)
    return Hit(v.field.path + c.suffix, message, container, severity)


def test_compiled_tests_hold_where_the_tests_hold() -> None:
    pods = _pods()
    assert len(pods) > 500
    compared = 0
    for rule in REGISTRY:
        for constraint in rule.constraints:
            for test in _tests(constraint.test):
                check = _compiled(test)
                for pod in pods:
                    for owner in pod.containers if constraint.containers else (None,):
                        subjects = [(None, None)]
                        if constraint.items is not None:
                            holder = owner if owner is not None else pod
                            subjects = [
                                (_item_field(constraint.items, item)[0], item)
                                for item in getattr(holder, constraint.items.attr)
                            ]
                        for value, item in subjects:
                            expected = test.holds(Subject(pod, owner, value, item))
                            assert check(pod, owner, value, item) is expected, (rule.id, test, pod.obj.raw)
                            compared += 1
    assert compared > 10_000


def test_violations_and_messages_are_the_direct_ones() -> None:
    pods = _pods()
    hits = 0
    for rule in REGISTRY:
        for constraint in rule.constraints:
            for pod in pods:
                expected = list(_direct_violations(constraint, pod))
                got = list(constraint.violations(pod))
                assert [(v.field, v.containers, v.item) for v in got] == [
                    (v.field, v.containers, v.item) for v in expected
                ], rule.id
                assert [v.hit() for v in got] == [_direct_hit(v) for v in expected], rule.id
                hits += len(got)
    assert hits > 1000
