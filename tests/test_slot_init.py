"""``model.slot_init``: the __init__ that sets each slot directly makes what the dataclass's own makes."""

from __future__ import annotations

import dataclasses
import pickle
from collections.abc import Hashable
from typing import Any

import pytest

from kharden.analysis.podspec import EnvVar, Field, Port, Volume
from kharden.analysis.runtime import RunningPod
from kharden.model import Location, Obj, ObjRef, Origin, slot_init
from kharden.paths.model import Evidence, Vertex


def _twin(cls: type) -> type:
    """``cls`` as the dataclass decorator alone makes it (its own __init__ with object.__setattr__)."""
    params = cls.__dataclass_params__  # type: ignore[attr-defined]
    fields = [(f.name, f.type, f) for f in dataclasses.fields(cls)]
    return dataclasses.make_dataclass(
        cls.__name__, fields, frozen=True, slots=True, eq=params.eq, order=params.order
    )


_REF = ObjRef("Pod", "shop", "web-1", "v1")
_ORIGIN = Origin("snapshot.json", 12)
_OBJ = Obj({"kind": "Pod"}, _REF, _ORIGIN)
CASES: list[tuple[type, tuple[Any, ...], dict[str, Any]]] = [
    (Origin, ("snapshot.json",), {}),
    (Origin, ("snapshot.json", 12), {}),
    (Origin, ("a.yaml", 3, 5), {"template": "t.yaml", "renderer": "helm", "node": "/", "tracer": print}),
    (ObjRef, ("Pod", "shop", "web-1"), {}),
    (ObjRef, ("ClusterRole", None, "admin", "rbac.authorization.k8s.io/v1"), {}),
    (ObjRef, (), {"kind": "Pod", "namespace": "a", "name": "b", "api_version": "v1"}),
    (Obj, ({"kind": "Pod"}, _REF, _ORIGIN), {}),
    (RunningPod, (_OBJ, "node-1", None, (), False, "Running"), {}),
    (
        RunningPod,
        (),
        {"obj": _OBJ, "node_name": None, "node": None, "owners": (_OBJ,), "mirror": True, "phase": None},
    ),
    (EnvVar, ("DB_PASSWORD", "/spec/containers/0/env/1", True), {}),
    (Port, (8080, Field(None, "/spec/containers/0/ports/0/hostPort", None), "TCP"), {"name": "http"}),
    (Volume, ("data", "hostPath", "/spec/volumes/0/hostPath", {"path": "/"}), {}),
    (Vertex, ("workload:Deployment/shop/web", "workload", "Deployment shop/web"), {"object": _REF}),
    (Evidence, ("a privileged container",), {}),
    (
        Evidence,
        (
            "reads Secrets",
            "rbac.secrets-read",
            _REF,
            "/subjects/0",
            Location("rbac.yaml", 3, 5, "/subjects/0"),
        ),
        {"fix": "remove the binding", "aspect": "Ingress", "findings": (("pod.privileged", _REF, None),)},
    ),
]


@pytest.mark.parametrize(("cls", "args", "kwargs"), CASES)
def test_the_same_instance_as_the_dataclass_makes(
    cls: type, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    made, twin = cls(*args, **kwargs), _twin(cls)(*args, **kwargs)
    assert dataclasses.astuple(made) == dataclasses.astuple(twin)
    assert repr(made) == repr(twin)
    if cls.__dataclass_params__.eq:  # type: ignore[attr-defined]
        assert made == cls(*args, **kwargs)
        if all(isinstance(value, Hashable) for value in (*args, *kwargs.values())):  # (a Volume's source)
            assert hash(made) == hash(cls(*args, **kwargs))
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.__setattr__(dataclasses.fields(cls)[0].name, None)
    if cls is not Obj and cls is not RunningPod and "tracer" not in kwargs:
        assert pickle.loads(pickle.dumps(made)) == made  # noqa: S301 - our own bytes


def test_missing_and_unknown_arguments_are_refused_as_before() -> None:
    with pytest.raises(TypeError):
        ObjRef("Pod", "shop")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Origin("a", colour=1)  # type: ignore[call-arg]


def test_classes_it_cannot_make_an_init_for_are_refused() -> None:
    @dataclasses.dataclass(frozen=True, slots=True)
    class Listed:
        items: list[int] = dataclasses.field(default_factory=list)

    with pytest.raises(TypeError, match="slot_init"):
        slot_init(Listed)
