"""The C reader (``kharden._yamlc``, built from libyaml's events) gives what the Python way gives, document by
document: the same data typed alike, the same positions, lines, columns and Helm source comments, the same
documents before an error and the same error. Whatever it leaves (anchors, merge keys, repeated or tagged
keys, tags that do not read, text libyaml refuses) is read the Python way from that document on."""

from __future__ import annotations

import importlib
import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import require_shared
from kharden import _pointer, _yaml
from kharden._yaml import iter_documents
from kharden.errors import InputError
from test_direct_build import _node, _strict, _text


@pytest.fixture(scope="module", params=["as asked", "ahead"])
def native(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The C reader's class; this machine's build must have it under CI (``.ci/run`` installs libyaml's headers).
    Each test runs twice: with the events parsed as they are asked, and parsed ahead by a thread of their
    own, for every text however short (``_yaml.parse_ahead``)."""
    if _yaml._c_reader is None:
        why = "kharden._yamlc was not compiled (no C compiler or no libyaml headers)"
        if os.environ.get("CI", "").strip().lower() == "true":
            pytest.fail(f"{why}, and CI=true")
        pytest.skip(why)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_yaml, "_ahead_allowed", request.param == "ahead")
        patch.setattr(_yaml, "_AHEAD_MIN_BYTES", 0)
        yield _yaml._c_reader


def _read(text: bytes, reader: Any) -> list[Any]:
    """Everything ``iter_documents`` gives for ``text`` with ``reader`` (``None``: the Python way), and the
    error that ends it, written so that types, positions and the way positions are kept all count."""
    saved = _yaml._c_reader
    _yaml._c_reader = reader
    out: list[Any] = []
    try:
        for document in iter_documents(text, "t.yaml"):
            positions = document.positions
            packed = positions._packed.tobytes() if positions._packed is not None else None
            table = None if positions._table is None else sorted(map(list, positions._table.values()))
            out.append(
                (
                    _strict(document.data),
                    document.index,
                    document.line,
                    document.column,
                    document.source_comment,
                )
            )
            out.append((packed, table, positions._root is document.data))
    except InputError as e:
        out.append(("error", str(e)))
    finally:
        _yaml._c_reader = saved
    return out


def _same(text: bytes | str, native: Any) -> list[Any]:
    data = text.encode() if isinstance(text, str) else text
    through_c = _read(data, native)
    assert through_c == _read(data, None), text
    return through_c


CASES = [
    "",
    "# only a comment\n",
    "---\n",
    "---\n---\n...\n",
    "a: 1\n---\n---\nb: 2\n",
    "--- 5\n",
    "--- 'text'\n--- yes\n",
    "--- !!int 5\n",
    "--- !!int nope\n",
    "- a\n- b\n",
    "[]\n",
    "{}\n",
    "a: {}\nb: []\nc: [{}, []]\n",
    "apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {app: web}}\nspec:\n  containers:\n  - name: c\n    image: nginx\n",
    "true: 1\nfalse: 2\n~: 3\nnull: 4\n1: 5\n1.5: 6\n0x1f: 7\nyes: 8\n2024-01-01: 9\n",
    "'<<': 1\n\"<<\": 2\n",
    "<<: {a: 1}\nb: 2\n",
    "a: &x 1\nb: *x\n",
    "a: *x\n",
    "a: 1\nb: 2\na: 3\n",
    "? [a, b]\n: 1\n",
    "? {a: 1}\n: 1\n",
    "!!str 5: a\n",
    "!foo k: a\n",
    "! k: a\n",
    "a: !!int '5'\nb: !!float 1\nc: !!bool yes\nd: !!str 5\ne: !Ref x\nf: ! 5\ng: ! '5'\nh: !!null ''\n",
    "a: !!int nope\n",
    "a: !!binary aGVsbG8=\nb: !!timestamp 2001-12-14\nc: !!map {x: 1}\nd: !!seq [1]\n",
    "a: =\nb: <<\nc: '='\n",
    "a: |\n  block\n  text\nb: >-\n  folded\n  text\nc: plain\n  multi line\n",
    "a: 'it''s'\nb: \"tab\\there \\u00e9\"\nc: caf\u00e9 \u2603\n",
    "a: 1_000\nb: 0o17\nc: 017\nd: -.inf\ne: .NaN\nf: 1e3\ng: 12:30:00\nh: 190:20:30.15\ni: +12\n",
    "a: 1\r\nb:\r\n  - x\r\n  - y\r\n",
    "a:\tb\n",
    "a: 'unclosed\n",
    "a: 1\n---\nb: [1, 2\n",
    "a: 1\n---\nb: &y {c: 1}\nd: *y\n---\ne: 2\n",
    "a: 1\n---\nb: 2\nb: 3\n---\nc: [1, 2]\n---\n{x: 1}\n",
    "x: [" + ", ".join(str(i) for i in range(200)) + "]\n",
    "m: {" + ", ".join(f"k{i}: {i}" for i in range(100)) + "}\n",
    '{"apiVersion": "v1", "kind": "List", "items": [{"kind": "Pod", "metadata": {"name": "a"}}]}\n',
    "# Source: chart/templates/a.yaml\napiVersion: v1\nkind: A\n---\n# Source: chart/templates/b.yaml\n---\n"
    "# Source: chart/templates/c.yaml\nkind: C\n",
    "   a: 1\n   b: 2\n",
    "a: 1\n... \n--- \nb: 2\n",
    "%YAML 1.1\n---\na: 1\n",
    "%TAG !e! tag:example.com,2000:\n---\na: !e!x 1\n",
    # One text read as a key, a value, quoted, tagged: the C reader keeps what short scalars gave by the way
    # they were read, never one way's answer for another.
    "yes: yes\n'yes': 'yes'\n1: 1\n'1': \"1\"\nnull: null\n~: [~, '~', !!str ~]\n1.5: 1.5\nno: !!str no\n",
    "- {on: off, 'on': 'off', 0x1f: 0x1f, '0x1f': 0x1f}\n- {true: 2, True: 3, x: true}\n",
]


@pytest.mark.parametrize("text", CASES)
def test_the_c_reader_gives_what_the_python_way_gives(text: str, native: Any) -> None:
    _same(text, native)


def test_hostile_texts_read_alike(native: Any) -> None:
    deep = "a:\n" + "".join(" " * (i + 1) + "- \n" for i in range(1100))
    flow = "[" * 1200 + "]" * 1200 + "\n"
    bomb = (
        "a: &a ['x', 'x']\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b]\n"
    )
    for text in [deep, flow, bomb, "a: b\x00c\n"]:
        _same(text, native)
    for raw in [
        b"a: \xff\xfe\n",
        b"\xef\xbb\xbfa: 1\n",
        "a: 1\nb: caf\u00e9\n".encode("utf-16"),
        b"\x89PNG\r\n\x1a\n",
    ]:
        _same(raw, native)


def test_random_documents_read_alike(native: Any) -> None:
    for seed in range(300):
        rng = random.Random(seed)  # noqa: S311 - a seeded, repeatable test input
        documents = [{"root": _node(rng, 0), "list": [_node(rng, 2) for _ in range(3)]} for _ in range(3)]
        text = "---".join(_text(d, flow=seed % 3 == 0) + "\n" for d in documents)
        _same(text, native)


def test_documents_yaml_dumps_read_alike(native: Any) -> None:
    rng = random.Random(7)  # noqa: S311 - a seeded, repeatable test input
    words = [
        "a",
        "yes",
        "1",
        "1.0",
        "",
        " x",
        "x: y",
        "- z",
        "#c",
        "'",
        '"',
        "\u00e9",
        "line\nbreak",
        None,
        True,
        3,
        2.5,
    ]
    for style in (False, True, None):
        for _ in range(40):
            value = {
                f"k{i}": rng.choice([rng.choice(words), [rng.choice(words)], {"n": rng.choice(words)}])
                for i in range(6)
            }
            _same(yaml.safe_dump_all([value, [value]], default_flow_style=style, explicit_start=True), native)


def test_a_text_is_read_the_python_way_from_the_first_document_the_c_reader_leaves(
    native: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    composed: list[int] = []
    built: list[int] = []
    next_node, next_document = _yaml._next_node, _yaml._next_document

    def counted_node(*args: Any) -> Any:
        composed.append(1)
        return next_node(*args)

    def counted_document(*args: Any) -> Any:
        built.append(1)
        return next_document(*args)

    monkeypatch.setattr(_yaml, "_next_node", counted_node)
    monkeypatch.setattr(_yaml, "_next_document", counted_document)
    text = b"a: 1\n---\nb: 2\n---\nc: &x 1\nd: *x\n---\ne: 3\n"
    documents = list(iter_documents(text, "t.yaml"))
    assert [d.data for d in documents] == [{"a": 1}, {"b": 2}, {"c": 1, "d": 1}, {"e": 3}]
    assert [d.index for d in documents] == [0, 1, 2, 3]
    assert len(composed) == 2  # the two the C reader gave, passed over
    assert len(built) == 3  # the anchored one, the last one, and the end of the text
    composed.clear()
    built.clear()
    assert [d.data for d in iter_documents(b"a: 1\n---\nb: [2, 3]\n", "t.yaml")] == [{"a": 1}, {"b": [2, 3]}]
    assert composed == built == []


def test_short_scalars_read_alike_once_the_c_reader_keeps_no_more_of_them(native: Any) -> None:
    # Past some tens of thousands of distinct short scalars, the C reader keeps no more (_yamlc.c, SCALAR_FILL)
    # and reads the others as they come; those it kept are still given.
    many = "".join(f"k{i}: v{i}\n'q{i}': {i}\n" for i in range(40_000))
    _same(many + "kept: [yes, 'yes', 1, k1, v1, q1]\nnew: [fresh, 'fresh', 7e3]\n", native)


def test_an_error_after_documents_the_c_reader_gave_ends_them_as_the_python_way_does(native: Any) -> None:
    documents = iter_documents(b"a: 1\n---\nb: 2\n---\nc: [1\n", "t.yaml")
    assert [next(documents).data, next(documents).data] == [{"a": 1}, {"b": 2}]
    with pytest.raises(InputError, match=r"^t\.yaml:6: invalid YAML: did not find expected") as raised:
        next(documents)
    assert raised.value.line == 6


def test_the_c_reader_packs_positions_as_the_pointer_walk_reads_them(native: Any) -> None:
    module = importlib.import_module("kharden._yamlc")
    assert module.SLOTS_SHIFT == _pointer.SLOTS_SHIFT
    assert module.LINE_SHIFT == _yaml._LINE_SHIFT
    (document,) = iter_documents(b"spec:\n  containers:\n  - name: a\n  - name: b\n    image: x\n", "t.yaml")
    assert document.positions.locate(document.data, "/spec/containers/1/image") == (5, 5)
    assert document.positions.locate(document.data, "/spec/containers/0") == (3, 5)


def test_every_real_manifest_reads_alike(native: Any) -> None:
    shared = require_shared()
    files = sorted(
        p for p in Path(shared, "corpus", "real").rglob("*") if p.suffix in {".yaml", ".yml", ".json"}
    )
    assert len(files) > 500
    for path in files:
        _same(path.read_bytes(), native)


def _pointers(node: Any, at: str) -> Any:
    """Every pointer into ``node``, and some that go past it: missing keys, indexes out of range or
    written oddly, a step into a scalar."""
    yield at
    if type(node) is dict:
        for key, value in node.items():
            if isinstance(key, str):
                yield from _pointers(value, f"{at}/{_pointer.escape(key)}")
        yield from (f"{at}/missing", f"{at}/missing/0", f"{at}/a~1b", f"{at}/name/deeper")
    elif type(node) is list:
        for index, value in enumerate(node):
            yield from _pointers(value, f"{at}/{index}")
        yield from (f"{at}/{len(node)}", f"{at}/01", f"{at}/-1", f"{at}/x/0", f"{at}/", f"{at}/\u0661")
        yield from (f"{at}/99999999999999999999", f"{at}/\u00b2")


TRACED = [
    *CASES,
    "kind: RoleBinding\nsubjects:\n- {kind: ServiceAccount, name: a, namespace: x}\n"
    "- {kind: ServiceAccount, name: a, namespace: y}\n- {kind: User, name: a}\n- {kind: User, name: a}\n"
    "- {name: b}\n- {name: ''}\n- {name: 3}\n- [1, 2]\n- plain\n",
    "spec:\n  containers:\n  - name: app\n    env: [{name: A, value: '1'}, {name: A}, {name: B}]\n"
    "  - name: app\n    ports: [{containerPort: 80}]\n  initContainers: [{name: app}]\n",
    "a/b: 1\n'~x': {c: [1, [2, [3]]]}\n'': {'': 2}\n",
    "apiVersion: v1\nkind: List\nitems:\n- kind: Pod\n  metadata: {name: a}\n  spec: {containers: [{name: c}]}\n"
    "- kind: Pod\n  metadata: {name: b}\n",
]


@pytest.mark.parametrize("text", TRACED)
def test_the_c_walk_of_a_pointer_gives_what_the_python_walk_gives(text: str, native: Any) -> None:
    """Every finding locates its field through ``_pointer.trace_packed``: the C walk, where built, gives
    what the Python walk gives (position and stable pointer), or leaves the pointer to it; and so does a
    document given a key after it was read (the key has no position)."""
    module = importlib.import_module("kharden._yamlc")
    walked = packed = 0
    try:
        documents = list(iter_documents(text.encode(), "t.yaml"))
    except InputError:
        return
    for document in documents:
        positions = document.positions
        if positions is None or positions._table is not None or not isinstance(document.data, dict | list):
            continue  # positions by container (anchors), or none to walk
        packed += 1
        layout = positions._packed
        assert layout is not None
        roots = [(document.data, 0)]
        if isinstance(document.data, dict) and isinstance(document.data.get("items"), list):
            inner = _yaml._inner_blocks(document.data, layout)
            roots += [(item, inner[id(item)]) for item in document.data["items"] if id(item) in inner]
        for read, offset in roots:
            # As read, and given a key after it was read (which has no position).
            for root in (read, {**read, "added": {"x": [1]}}) if isinstance(read, dict) else (read,):
                for pointer in _pointers(root, ""):
                    expected = _pointer.walk_packed(root, pointer, layout, offset)
                    traced = module.trace_packed(root, pointer, layout, offset, _pointer._item_name)
                    assert traced is None or traced == expected, pointer
                    assert _pointer.trace_packed(root, pointer, layout, offset) == expected, pointer
                    walked += traced is not None
    assert walked >= packed


def test_shared_containers_are_one_per_structure_below_the_second_level(native: Any) -> None:
    """``Shared.share`` makes each container two levels or more below the root the first one seen of its
    structure: the data reads the same, and only what is the same (types, order, floats bit for bit) is
    made one."""
    module = importlib.import_module("kharden._yamlc")
    shared = module.Shared()

    def spec(value: Any) -> dict[str, Any]:
        return {
            "spec": {"a": {"x": value, "y": [1, {"z": value}]}, "b": {"x": value, "y": [1, {"z": value}]}}
        }

    first, second = spec(1), spec(1)
    same, copy = spec(1), spec(1)
    for root in (first, second):
        shared.share(root)
    assert first == second == same == copy  # read the same
    assert first["spec"] is not second["spec"]  # the first level is each object's own
    assert first["spec"]["a"] is first["spec"]["b"] is second["spec"]["a"]
    assert first["spec"]["a"]["y"][1] is second["spec"]["b"]["y"][1]
    told_apart = [spec(True), spec(1.0), spec(-0.0), spec(0.0), spec("1"), spec(None), spec([1])]
    for root in told_apart:
        shared.share(root)
    kinds = [root["spec"]["a"] for root in told_apart]
    assert len({id(a) for a in kinds}) == len(kinds)  # none made one with another, nor with 1's
    assert all(a is not first["spec"]["a"] for a in kinds)
    assert [type(a["x"]) for a in kinds[:4]] == [bool, float, float, float]
    assert str(told_apart[2]["spec"]["b"]["x"]) == "-0.0"
    reordered = {"spec": {"a": {"y": [1, {"z": 1}], "x": 1}}}
    shared.share(reordered)
    assert reordered["spec"]["a"] is not first["spec"]["a"]  # keys in another order: another structure
    assert list(reordered["spec"]["a"]) == ["y", "x"]
    odd = {"spec": {"a": {"when": b"bytes"}, "b": {"when": b"bytes"}}}
    shared.share(odd)
    assert odd["spec"]["a"] is not odd["spec"]["b"]  # only str, int, bool, float and None compare
    before = len(shared)
    shared.share({"spec": {"a": {"x": 1, "y": [1, {"z": 1}]}}})
    assert len(shared) == before  # seen already: nothing new kept
    shared.share("scalar")
    assert len(shared) == before
