"""The effective pod's fast readers give what the straightforward reading gives."""

from __future__ import annotations

from typing import Any

import pytest

from kharden.analysis.podspec import EnvVar, Field, _env, _only_reference, _Reader
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
