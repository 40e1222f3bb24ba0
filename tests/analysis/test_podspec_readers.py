"""The effective pod's fast readers give what the straightforward reading gives."""

from __future__ import annotations

import random
from typing import Any

import pytest

from kharden.analysis.podfields import PodField
from kharden.analysis.podspec import (
    _CONTAINER_LEAVES,
    _INHERITED,
    _POD_SCALARS,
    _READERS,
    EnvVar,
    Field,
    _Annotations,
    _container_scalars,
    _env,
    _first,
    _only_reference,
    _pod_leaves,
    _PodLevel,
    _Reader,
)
from kharden.errors import InputError
from kharden.model import Obj, ObjRef, Origin

_READ = _Reader(Obj({"kind": "Pod"}, ObjRef("Pod", "ns", "p", "v1"), Origin("pod.yaml")))
_VALUES: list[Any] = [
    None,
    "",
    "x",
    "$",
    "$$",
    "$(A)",
    "$(A):$(B)",
    "$$(A)",
    "a$(B)",
    "$(A)/",
    3,
    0,
    True,
    1.5,
]
_NAMES: list[Any] = [None, "", "PASSWORD", "Ünï"]


def _direct_env(at: str, raw: dict[str, Any]) -> EnvVar:
    name = _READ.string(raw, at, "name", "container").value or ""
    value = raw.get("value")
    literal = value is not None and str(value) != "" and not _only_reference(str(value))
    return EnvVar(name=name, path=f"{at}/value" if literal else at, literal=literal)


@pytest.mark.parametrize("name", _NAMES)
@pytest.mark.parametrize("value", _VALUES)
def test_env_vars_read_as_directly(name: Any, value: Any) -> None:
    raw = {"name": name, "value": value} if name is not None else {"value": value}
    assert _env(_READ, "/spec/containers/0/env/1", raw) == _direct_env("/spec/containers/0/env/1", raw)


def test_a_variable_name_of_the_wrong_type_is_still_an_input_error() -> None:
    with pytest.raises(InputError, match="name must be a string"):
        _env(_READ, "/spec/containers/0/env/0", {"name": 3})


@pytest.mark.parametrize("value", [None, True, False, 0, 7, "x", "", 1.5, [1], {"a": 1}])
def test_scalar_readers_make_the_fields_they_made(value: Any) -> None:
    parent = {"k": value}
    for reader, ok in (
        (_READ.boolean, isinstance(value, bool)),
        (_READ.integer, isinstance(value, int) and not isinstance(value, bool)),
        (_READ.string, isinstance(value, str)),
    ):
        if value is None or ok:
            found = reader(parent, "/spec", "k", "pod")
            assert type(found) is Field
            assert found == Field(value, "/spec/k", None if value is None else "pod")
            assert found.is_set is (value is not None)
        else:
            with pytest.raises(InputError):
                reader(parent, "/spec", "k", "pod")


_SC: dict[str, list[Any]] = {
    "runAsNonRoot": [True, False],
    "runAsUser": [0, 1000],
    "runAsGroup": [0, 5],
    "privileged": [True, False],
    "allowPrivilegeEscalation": [False],
    "readOnlyRootFilesystem": [True],
    "procMount": ["Unmasked"],
    "seccompProfile": [{"type": "RuntimeDefault"}, {"type": "Unconfined"}, {}],
    "appArmorProfile": [{"type": "Localhost"}],
    "windowsOptions": [{"hostProcess": True}, {}],
}
_LEGACY = {
    "seccomp.security.alpha.kubernetes.io/pod": ["runtime/default", "localhost/p"],
    "container.seccomp.security.alpha.kubernetes.io/app": ["unconfined"],
    "container.apparmor.security.beta.kubernetes.io/app": ["runtime/default"],
    "container.apparmor.security.beta.kubernetes.io/other": ["unconfined"],
}


def _leaf(root: dict[str, Any], at: str, pointer: str, kind: str, level: str) -> Field[Any]:
    """The typed field at the relative ``pointer`` (``securityContext/runAsUser``) under ``root``."""
    *parents, key = pointer.split("/")
    for parent in parents:
        root, at = _READ.mapping(root, at, parent), f"{at}/{parent}"  # type: ignore[assignment]
    return _READERS[kind](_READ, root, at, key, level)


def _direct_scalars(raw: dict[str, Any], path: str, name: str, pod: _PodLevel) -> dict[str, Field[Any]]:
    """The first set of: the container's field, its legacy annotation, the pod's field and annotation; the
    container's own field when none is."""
    found = {}
    for row, *_ in _CONTAINER_LEAVES:
        candidates = [_leaf(raw, path, row.container or "", row.type, "container")]
        if row.container_annotation is not None:
            candidates.append(pod.annotations.profile(row.container_annotation + name))
        if row.pod is not None:
            candidates.append(pod.own(row))
        found[row.attr] = _first(*candidates)
    return found


def test_container_fields_are_the_first_set_of_their_candidates() -> None:
    pick = random.Random(7)  # noqa: S311 - a seeded, repeatable test input

    def some(table: dict[str, list[Any]]) -> dict[str, Any]:
        return {key: pick.choice(values) for key, values in table.items() if pick.random() < 0.4}

    for _ in range(400):
        annotations = some(_LEGACY)
        spec = {"securityContext": some(_SC)}
        pod = _PodLevel(_READ, spec, "/spec", _Annotations(annotations, "/metadata/annotations"))
        for name in ("app", "other"):
            raw = {"name": name, "securityContext": some(_SC)} if pick.random() < 0.8 else {"name": name}
            path = "/spec/containers/0"
            assert _container_scalars(_READ, raw, path, name, pod) == _direct_scalars(raw, path, name, pod)


def _one_by_one(spec: dict[str, Any], rows: tuple[PodField, ...], by: str) -> dict[str, Field[Any]] | str:
    try:
        return {getattr(row, by): _leaf(spec, "/spec", row.pod or "", row.type, "pod") for row in rows}
    except InputError as e:
        return str(e)


def _together(spec: dict[str, Any], rows: tuple[PodField, ...], by: str) -> dict[str, Field[Any]] | str:
    try:
        return _pod_leaves(_READ, spec, "/spec", rows, by)
    except InputError as e:
        return str(e)


def _some_of(pick: random.Random, table: dict[str, list[Any]]) -> dict[str, Any]:
    return {key: pick.choice([*values, "text"]) for key, values in table.items() if pick.random() < 0.4}


def test_pod_fields_are_read_as_one_by_one() -> None:
    """The pod's fields, each parent mapping read once, are what reading each field on its own gives
    (the same first error when one has the wrong type)."""
    pick = random.Random(5)  # noqa: S311 - a seeded, repeatable test input
    wrong: list[Any] = ["text", 3, [1]]
    errors = 0
    for _ in range(400):
        spec: dict[str, Any] = {
            "securityContext": {**_some_of(pick, _SC), **_some_of(pick, {"fsGroup": [0, 2]})}
        }
        for key in (
            "hostNetwork",
            "hostPID",
            "hostUsers",
            "automountServiceAccountToken",
            "runtimeClassName",
        ):
            if pick.random() < 0.3:
                spec[key] = pick.choice([True, False, "gvisor", *wrong])
        if pick.random() < 0.1:
            spec["securityContext"] = pick.choice(wrong)
        for rows, by in ((_POD_SCALARS, "attr"), (_INHERITED, "name")):
            expected = _one_by_one(spec, rows, by)
            assert _together(spec, rows, by) == expected
            errors += isinstance(expected, str)
    assert errors > 50


def test_pointers_are_made_once_and_forgotten_past_the_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pods of one kind share their fields' pointers, their unset fields and those set alike; a process that
    reads pods without end (the admission webhook) keeps no more than the bound of them."""
    from kharden.analysis import podspec  # noqa: PLC0415

    def pod(name: str, containers: int) -> Obj:
        spec = {
            "containers": [
                {"name": f"c{i}", "image": "x", "env": [{"name": "A", "value": "1"}]}
                for i in range(containers)
            ]
        }
        return Obj({"kind": "Pod", "spec": spec}, ObjRef("Pod", "ns", name, "v1"), Origin("pod.yaml"))

    first, second = (podspec.effective_pod(pod(n, 2), "", lazy=False) for n in ("a", "b"))
    assert first.containers == second.containers
    for one, other in zip(first.containers, second.containers, strict=True):
        assert one.image.path is other.image.path
        assert one.run_as_user is other.run_as_user  # the same unset field
        assert one.image is other.image  # set alike
        assert one.env[0].path is other.env[0].path == f"{one.path}/env/0/value"
    monkeypatch.setattr(podspec, "_MAX_MADE", 100)
    for made in podspec._MADE:
        made.clear()  # caches: what other tests read is of no account here
    podspec.effective_pod(pod("narrow", 1), "", lazy=False)
    narrow = len(podspec._PATHS)
    podspec.effective_pod(pod("wide", 5), "", lazy=False)
    assert sum(map(len, podspec._MADE)) > 100
    podspec.effective_pod(pod("narrow again", 1), "", lazy=False)  # past the bound: emptied, then its own
    assert len(podspec._PATHS) == narrow
    assert 0 < len(podspec._UNSET) <= narrow
