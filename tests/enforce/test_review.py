"""The webhook's application in process (no server): odd requests never crash it, a bug never leaks data."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import MutableMapping
from typing import Any

import pytest
from webhookproc import admission_review

from conftest import MINIMAL_POD, mutate
from kharden.enforce.review import Reviewer, Settings
from kharden.enforce.webhook import Metrics, WebhookApp
from kharden.rules import REGISTRY

SECRET = "hunter2-never-shown"


def _call(app: WebhookApp, body: bytes, path: str = "/validate") -> tuple[int, bytes]:
    sent: list[dict[str, Any]] = []
    chunks = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return chunks.pop(0) if chunks else {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    scope = {"type": "http", "path": path, "method": "POST", "headers": [], "client": ("127.0.0.1", 1)}
    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def _app(**settings: Any) -> WebhookApp:
    return WebhookApp(Reviewer(Settings(rules=tuple(REGISTRY), **settings)), Metrics(), max_body=1 << 20)


ODD_OBJECTS = [
    {"apiVersion": "v1", "kind": "Pod"},
    {"apiVersion": "v1", "kind": "Pod", "metadata": "x", "spec": []},
    {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": 5, "namespace": ["a"]}, "spec": {}},
    {"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "web-"}, "spec": {"containers": "x"}},
    {
        "apiVersion": "v1",
        "kind": "Pod",
        "spec": {"containers": [{"name": "a", "securityContext": {"capabilities": {"add": [1]}}}]},
    },
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {"template": "x"}},
    {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "c"},
        "spec": {"jobTemplate": {"spec": None}},
    },
    {
        "kind": "Service",
        "metadata": {"name": "s"},
        "spec": {"type": "LoadBalancer", "loadBalancerSourceRanges": [None, 7]},
    },
    {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "b"},
        "roleRef": "x",
        "subjects": [1],
    },
    {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "n", "labels": {"pod-security.kubernetes.io/enforce": 3}},
    },
]


@pytest.mark.parametrize("obj", ODD_OBJECTS, ids=[str(i) for i in range(len(ODD_OBJECTS))])
def test_odd_objects_get_an_answer(obj: dict[str, Any]) -> None:
    review = admission_review(obj, kind=obj["kind"])
    review["request"]["kind"]["group"] = 5  # the request's own fields may be odd too
    status, body = _call(_app(), json.dumps(review).encode())
    assert status == 200
    response = json.loads(body)["response"]
    assert response["uid"] == review["request"]["uid"]
    assert isinstance(response["allowed"], bool)


def test_a_bug_allows_with_a_warning_and_logs_no_data(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _app()

    async def broken(request: Any) -> Any:
        raise ValueError(f"cannot handle {SECRET}")

    monkeypatch.setattr(app.reviewer, "review", broken)
    pod = mutate(MINIMAL_POD, ("/spec/containers/0/env", [{"name": "X", "value": SECRET}]))
    with caplog.at_level(logging.INFO, logger="kharden.webhook"):
        status, body = _call(app, json.dumps(admission_review(pod)).encode())
    assert status == 200
    response = json.loads(body)["response"]
    assert response["allowed"] is True
    assert response["warnings"] == ["kharden could not judge Pod test/minimal: internal error (ValueError)"]
    assert "internal error judging review" in caplog.text
    assert SECRET not in caplog.text
    assert SECRET not in body.decode()


def test_routes_without_a_server() -> None:
    app = _app()
    assert _call(app, b"", "/nope")[0] == 404
    status, body = _call(app, b"{}")
    assert (status, body) == (
        400,
        b"the body is not an admission.k8s.io/v1 AdmissionReview (apiVersion and kind)\n",
    )
