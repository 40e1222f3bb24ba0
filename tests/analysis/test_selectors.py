"""Label selector semantics (https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/)."""

from __future__ import annotations

from typing import Any

import pytest

from kharden.analysis.selectors import EVERYTHING, NOTHING, parse_label_selector, parse_set_selector

WEB = {"app": "web", "tier": "frontend"}
DB = {"app": "db"}
BARE: dict[str, str] = {}


@pytest.mark.parametrize(
    ("selector", "web", "db", "bare"),
    [
        pytest.param({}, True, True, True, id="empty-matches-everything"),
        pytest.param({"matchLabels": {"app": "web"}}, True, False, False, id="matchLabels"),
        pytest.param({"matchLabels": {"app": "web", "tier": "frontend"}}, True, False, False, id="matchLabels-and"),
        pytest.param({"matchExpressions": [{"key": "app", "operator": "In", "values": ["web", "db"]}]}, True, True, False, id="In"),
        pytest.param({"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["web"]}]}, False, True, True, id="NotIn-matches-missing-key"),
        pytest.param({"matchExpressions": [{"key": "tier", "operator": "Exists"}]}, True, False, False, id="Exists"),
        pytest.param({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}, False, True, True, id="DoesNotExist"),
        pytest.param(
            {"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["frontend"]}]},
            False, False, False, id="labels-and-expressions-are-anded",
        ),
    ],
)  # fmt: skip
def test_label_selector(selector: dict[str, Any], web: bool, db: bool, bare: bool) -> None:
    parsed = parse_label_selector(selector, absent=NOTHING)
    assert (parsed.matches(WEB), parsed.matches(DB), parsed.matches(BARE)) == (web, db, bare)


def test_absent_selector_means_what_the_field_says() -> None:
    assert parse_label_selector(None, absent=EVERYTHING).matches(DB)
    assert not parse_label_selector(None, absent=NOTHING).matches(DB)


@pytest.mark.parametrize(
    ("selector", "reason"),
    [
        ([], "a label selector must be a mapping"),
        ({"matchLabels": {"version": 1}}, "the value of label 'version' must be a string"),
        ({"matchExpressions": [{"key": "a", "operator": "Equals", "values": ["x"]}]}, "matchExpressions operator 'Equals' is not one of In, NotIn, Exists, DoesNotExist"),
        ({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]}, "matchExpressions In for 'a' needs a non-empty values list"),
        ({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}, "matchExpressions Exists for 'a' must not have values"),
    ],
)  # fmt: skip
def test_malformed_selectors(selector: Any, reason: str) -> None:
    with pytest.raises(ValueError, match="^" + reason.replace("(", r"\(").replace(")", r"\)") + "$"):
        parse_label_selector(selector, absent=NOTHING)


def test_service_selector() -> None:
    assert parse_set_selector({"app": "web"}).matches(WEB)
    assert not parse_set_selector({"app": "web"}).matches(DB)
    # A Service without a selector (or with an empty one) selects no pods: its endpoints are manual.
    assert not parse_set_selector(None).matches(WEB)
    assert not parse_set_selector({}).matches(WEB)


def test_str() -> None:
    selector = parse_label_selector(
        {
            "matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["dev", "qa"]}],
        },
        absent=NOTHING,
    )
    assert str(selector) == "app=web,env notin (dev,qa)"
    assert (str(EVERYTHING), str(NOTHING)) == ("<everything>", "<nothing>")
