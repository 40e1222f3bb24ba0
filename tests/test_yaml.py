"""The YAML loader: Kubernetes' scalar typing, positions of every field, and hostile input."""

from __future__ import annotations

import time
from typing import Any

import pytest

from kharden import _yaml
from kharden._yaml import MAX_ALIAS_EXPANSION, iter_documents
from kharden.errors import InputError


def load(text: str) -> list[Any]:
    return [d.data for d in iter_documents(text.encode(), "t.yaml")]


def locate(text: str, pointer: str, index: int = 0) -> tuple[int, int] | None:
    document = list(iter_documents(text.encode(), "t.yaml"))[index]
    return document.positions.locate(document.data, pointer)


def error(text: str | bytes) -> str:
    data = text.encode() if isinstance(text, str) else text
    with pytest.raises(InputError) as raised:
        list(iter_documents(data, "t.yaml"))
    return str(raised.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: yes", {"a": True}),
        ("a: off", {"a": False}),
        ("a: 'yes'", {"a": "yes"}),
        ("a: 0x1F", {"a": 31}),
        ("a: 1_000", {"a": 1000}),
        ("a: 1.5", {"a": 1.5}),
        ("a: ~", {"a": None}),
        ("a:", {"a": None}),
        ("a: 2024-01-01", {"a": "2024-01-01"}),
        ("a: !!str 5", {"a": "5"}),
        ("a: !!int '5'", {"a": 5}),
        ("a: !Ref other", {"a": "other"}),
        ("80: http", {"80": "http"}),
        ("true: x", {"true": "x"}),
        ("a: |\n  line1\n  line2\n", {"a": "line1\nline2\n"}),
        ('{"a": [1, {"b": null}]}', {"a": [1, {"b": None}]}),
    ],
)
def test_scalars_typed_like_kubernetes(text: str, expected: Any) -> None:
    assert load(text) == [expected]


def test_documents_and_empty_documents() -> None:
    assert load("---\na: 1\n---\n---\n# only a comment\n---\nb: 2\n...\n") == [{"a": 1}, None, None, {"b": 2}]


def test_positions_of_keys_and_items() -> None:
    text = "spec:\n  containers:\n    - name: app\n      image: nginx\n    - name: side\n"
    assert locate(text, "/spec") == (1, 1)
    assert locate(text, "/spec/containers/0/image") == (4, 7)
    assert locate(text, "/spec/containers/1") == (5, 7)
    # A missing field falls back to its deepest existing parent.
    assert locate(text, "/spec/containers/1/securityContext/privileged") == (5, 7)
    assert locate(text, "/nothing") is None


def test_positions_in_second_document_and_escaped_keys() -> None:
    text = "a: 1\n---\nmetadata:\n  annotations:\n    example.com/x: y\n"
    assert locate(text, "/metadata/annotations/example.com~1x", index=1) == (5, 5)


def test_positions_of_flow_and_json() -> None:
    assert locate('{"a": {"b": 1}, "c": [1, {"d": 2}]}', "/c/1/d") == (1, 27)


def test_repeated_key_last_wins_at_its_own_line() -> None:
    text = "a: 1\nb: 2\na: 3\n"
    assert load(text) == [{"a": 3, "b": 2}]
    assert locate(text, "/a") == (3, 1)


def test_merge_keys() -> None:
    text = "base: &base {image: nginx, tag: '1'}\nc:\n  <<: *base\n  tag: '2'\n"
    assert load(text)[0]["c"] == {"tag": "2", "image": "nginx"}
    assert locate(text, "/c/tag") == (4, 3)
    assert locate(text, "/c/image") == (1, 14)


def test_aliases_are_shared_not_copied() -> None:
    [data] = load("a: &x {p: 1}\nb: *x\n")
    assert data["a"] is data["b"]


def test_alias_bomb_is_refused_quickly() -> None:
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for n in range(1, 9):
        levels.append(f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 10) + "]")
    started = time.monotonic()
    message = error("\n".join(levels) + "\n")
    assert time.monotonic() - started < 2
    assert message == (
        f"t.yaml:4: aliases of the anchor on this line expand the document past {MAX_ALIAS_EXPANSION:,} nodes"
        " (a YAML alias bomb?)"
    )


def test_recursive_alias_is_refused() -> None:
    assert error("a: &a [*a]\n") == "t.yaml:1: an alias refers to the node that contains it"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "a: b\n c: d\n",
            "t.yaml:2: invalid YAML: mapping values are not allowed in this context (column 3)",
        ),
        ("a: [1, 2\n", "t.yaml:2: invalid YAML: did not find expected ',' or ']' (column 1)"),
        ("a: *missing\n", "t.yaml:1: invalid YAML: found undefined alias (column 4)"),
        ("a:\n\t- b\n", "t.yaml:2: invalid YAML: found character that cannot start any token (column 1)"),
        ("[" * 2000 + "]" * 2000, "t.yaml:1: invalid YAML: nesting deeper than 1000 levels (column 1001)"),
        ("? [a]\n: b\n", "t.yaml:1: a mapping key must be a scalar"),
    ],
)
def test_broken_yaml(text: str, message: str) -> None:
    assert error(text) == message


def test_invalid_utf8_names_line() -> None:
    assert error(b"a: 1\nb: \xff\xfe\n") == "t.yaml:2: not valid UTF-8 or UTF-16 text (byte 8)"


def test_utf16_with_bom() -> None:
    data = "kind: Pod\nname: caf\u00e9\n".encode("utf-16")
    assert [d.data for d in iter_documents(data, "t.yaml")] == [{"kind": "Pod", "name": "caf\u00e9"}]


def test_error_never_echoes_the_offending_text() -> None:
    message = error("password: s3cret-value\n  bad: [\n")
    assert "s3cret" not in message


def test_documents_before_an_error_are_yielded() -> None:
    documents = iter_documents(b"a: 1\n---\nb: [\n", "t.yaml")
    assert next(documents).data == {"a": 1}
    with pytest.raises(InputError):
        next(documents)


def test_helm_source_comments() -> None:
    text = (
        "---\n# Source: web/templates/deployment.yaml\napiVersion: apps/v1\nkind: Deployment\n"
        "---\n# Source: web/templates/service.yaml\nkind: Service\n---\nkind: NoComment\n"
    )
    documents = list(iter_documents(text.encode(), "t.yaml"))
    assert [d.source_comment for d in documents] == [
        "web/templates/deployment.yaml",
        "web/templates/service.yaml",
        None,
    ]
    assert [d.line for d in documents] == [3, 7, 9]


@pytest.mark.parametrize(
    "text",
    [
        b"# Source: a/t.yaml\nk: 1\n",
        b"x: 1 # Source: not/a/comment.yaml\n#  Source: neither\n # Source: indented/either\n# Source: ok\n",
        b"k: 1\r\n# Source: crlf/t.yaml  \r\n# Source:\n# Source:    \n# Source:tight.yaml\n",
        b"# Source: a\n# Source: b\n\n\n# Source: c # with a hash\nk: '# Source: quoted'\n# Source: z",
    ],
)
def test_source_comments_are_those_the_pattern_finds_at_line_starts(text: bytes) -> None:
    by_pattern = []
    for match in _yaml._SOURCE_COMMENT.finditer(text):
        by_pattern.append((text.count(b"\n", 0, match.start()), match.group(1).decode()))
    assert _yaml._source_comments(text) == by_pattern
    assert by_pattern  # each case has one at least


def test_deep_but_legal_nesting() -> None:
    depth = 900
    text = "".join("  " * i + f"k{i}:\n" for i in range(depth)) + "  " * depth + "v\n"
    assert locate(text, "/k0/k1/k2") == (3, 5)
