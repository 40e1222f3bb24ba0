"""The direct build (data and packed positions in one walk of the composed nodes) gives what the builder with
its table by container, then ``Positions.compact``, gives: the same data, typed alike, the same array; and
it leaves every document it does not handle plainly (merge keys, repeated keys, odd keys, tags that do not
read) to that builder, so that data and errors are the builder's."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from kharden import _yaml
from kharden._yaml import Positions, iter_documents
from kharden.errors import InputError

SCALARS = [
    "web",
    "yes",
    "No",
    "on",
    "OFF",
    "~",
    "null",
    "",
    "0x1F",
    "0o17",
    "017",
    "1_000",
    "1.5",
    "-.inf",
    ".nan",
    "2024-01-01",
    "12:30:00",
    "true",
    "3",
    "-7",
    "1e3",
    "'quoted'",
    '"double"',
    "!!str 5",
    "!!int '5'",
    "!Ref other",
    "!!float 3",
    "|\n  block\n",
    ">-\n  folded\n",
]


def _node(rng: random.Random, depth: int) -> Any:
    roll = rng.random()
    if depth > 4 or roll < 0.45:
        return rng.choice(SCALARS)
    if roll < 0.75:
        keys = ["a{}", "name{}", "yes", "80", "~", "'k{}'", "x/y{}", "on", "1.5"]
        return {rng.choice(keys).format(i): _node(rng, depth + 1) for i in range(rng.randrange(0, 6))}
    return [_node(rng, depth + 1) for _ in range(rng.randrange(0, 5))]


def _text(value: Any, indent: int = 0, flow: bool = False) -> str:
    """Block (or flow) YAML for ``value`` whose scalars are written as they stand in SCALARS."""
    pad = " " * indent
    if isinstance(value, dict):
        if flow or not value:
            return "{" + ", ".join(f"{k}: {_text(v, flow=True)}" for k, v in value.items()) + "}"
        return "".join(f"\n{pad}{k}:" + _block(v, indent + 2) for k, v in value.items())
    if isinstance(value, list):
        if flow or not value:
            return "[" + ", ".join(_text(v, flow=True) for v in value) + "]"
        return "".join(f"\n{pad}-" + _block(v, indent + 2) for v in value)
    if flow and ("\n" in value or not value):
        return '"flow"'
    return str(value)


def _block(value: Any, indent: int) -> str:
    if isinstance(value, str) and value.startswith(("|", ">")):
        return " " + value.replace("\n  ", "\n" + " " * (indent + 2))
    text = _text(value, indent)
    return text if text.startswith("\n") else " " + text


def _strict(data: Any) -> str:
    """Data written so that ``1 == True`` and ``1 == 1.0`` no longer hold."""
    return json.dumps(data, default=repr) + repr(sorted({type(v).__name__ for v in _leaves(data)}))


def _leaves(data: Any) -> list[Any]:
    if isinstance(data, dict):
        return [leaf for value in data.values() for leaf in _leaves(value)]
    if isinstance(data, list):
        return [leaf for value in data for leaf in _leaves(value)]
    return [data]


def _both(text: str) -> tuple[Any, Any]:
    """What the direct build gives for the first document of ``text`` (or ``None`` when it leaves it to the
    builder), and what the builder and ``Positions.compact`` give."""
    parser = _yaml._Parser(text.encode())
    try:
        assert parser.check_node()
        node = parser.get_node()
    finally:
        parser.dispose()
    assert node is not None
    builder = _yaml._Builder("t.yaml", False)
    try:
        data = builder.build(node)
        built: Any = (_strict(data), Positions.compact(data, builder.table)._packed)
    except InputError as e:
        built = str(e)
    try:
        direct_data, packed = _yaml._direct(node)
    except _yaml._Unusual:
        return None, built
    return (_strict(direct_data), packed), built


def test_random_documents_built_directly_as_the_builder_builds_them() -> None:
    direct_count = 0
    for seed in range(400):
        rng = random.Random(seed)  # noqa: S311 - a seeded, repeatable test input
        value = {"root": _node(rng, 0), "list": [_node(rng, 2) for _ in range(3)]}
        text = _text(value) if seed % 3 else _text(value, flow=True)
        direct, built = _both(text)
        if direct is not None:  # else left to the builder (keys typed alike, a tag): iter_documents uses it
            assert direct == built, text
            direct_count += 1
    assert direct_count > 200


@pytest.mark.parametrize(
    ("text", "left"),
    [
        ("a: 1\nb: 2\na: 3\n", True),  # a repeated key: last wins at its place
        ("base: {x: 1}\nm:\n  <<: {y: 2}\n  y: 3\n", True),  # a merge key
        ("? [a, b]\n: 1\n", True),  # a key that is not a scalar: the builder's error
        ("a: !!int nope\n", True),  # a tag that does not read: the builder's error
        ("!!int 5: a\n", True),  # a tagged key
        ("true: 1\n'true': 2\n", True),  # one key twice, once typed
        ("yes: 1\n'yes': 2\n", False),  # two keys: "true" and "yes"
        ("a: !!int '5'\nb: !Ref x\nc: !!str 5\n", False),  # tags that read
    ],
)
def test_what_the_direct_build_leaves_to_the_builder(text: str, left: bool) -> None:
    direct, built = _both(text)
    if left:
        assert direct is None
    else:
        assert direct == built


def test_repeated_and_merged_keys_through_iter_documents() -> None:
    (repeated,) = iter_documents(b"a: 1\nb: 2\na: 3\n", "t.yaml")
    assert repeated.data == {"a": 3, "b": 2}
    assert repeated.positions.locate(repeated.data, "/a") == (3, 1)
    with pytest.raises(InputError, match=r"t.yaml:1: cannot read the value as tag:yaml.org,2002:int"):
        list(iter_documents(b"a: !!int nope\n", "t.yaml"))
    with pytest.raises(InputError, match="a mapping key must be a scalar"):
        list(iter_documents(b"? [a, b]\n: 1\n", "t.yaml"))
