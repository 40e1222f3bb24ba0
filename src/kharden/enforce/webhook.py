"""The admission webhook as an ASGI application: reviews, health, readiness and metrics.

Routes: ``POST /validate`` (an ``admission.k8s.io/v1`` AdmissionReview; ``/`` too), ``GET /healthz``
(the process answers), ``GET /readyz`` (certificates loaded and not shutting down), ``GET /metrics``
(Prometheus text format: requests by kind, operation and verdict, a latency histogram, denials per rule,
malformed requests, certificate reloads).

A body larger than the limit, or one that is not an AdmissionReview, is answered with HTTP 400 and a
one-line message; nothing of the object is ever logged (a Secret's data included): one log line per
review names its uid, operation, object and verdict.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from .review import Reviewer, ReviewError, Verdict, read_review

__all__ = ["Metrics", "WebhookApp"]

LOG = logging.getLogger("kharden.webhook")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """The webhook's Prometheus metrics, in a registry of its own."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram  # noqa: PLC0415

        self.registry = CollectorRegistry()
        self.requests = Counter(
            "kharden_admission_requests",
            "AdmissionReviews answered, by object kind, operation and verdict (allowed, denied, warned,"
            " would-deny in dry-run, unjudged)",
            ["kind", "operation", "verdict"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "kharden_admission_review_duration_seconds",
            "Time from the request's arrival to the answer, for AdmissionReviews",
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.denials = Counter(
            "kharden_admission_denials",
            "Findings that denied a request (or would have, in warn and dry-run modes), by rule",
            ["rule", "action"],
            registry=self.registry,
        )
        self.bad_requests = Counter(
            "kharden_admission_bad_requests",
            "Requests answered with HTTP 400 (malformed or too large)",
            registry=self.registry,
        )
        self.reloads = Counter(
            "kharden_admission_certificate_reloads",
            "Serving certificate reloads after the files changed, by result",
            ["result"],
            registry=self.registry,
        )

    def text(self) -> bytes:
        from prometheus_client import generate_latest  # noqa: PLC0415

        return bytes(generate_latest(self.registry))

    def record(self, verdict: Verdict, kind: str, action: str) -> None:
        if not verdict.judged:
            outcome = "unjudged"
        elif not verdict.allowed:
            outcome = "denied"
        elif verdict.denying and action == "dry-run":
            outcome = "would-deny"
        elif verdict.warnings:
            outcome = "warned"
        else:
            outcome = "allowed"
        self.requests.labels(kind, verdict.operation, outcome).inc()
        for f in verdict.denying:
            self.denials.labels(f.rule, action).inc()


class WebhookApp:
    """The ASGI application (uvicorn runs it; ``lifespan`` startup and shutdown set readiness)."""

    def __init__(self, reviewer: Reviewer, metrics: Metrics, *, max_body: int) -> None:
        self.reviewer = reviewer
        self.metrics = metrics
        self.max_body = max_body
        self.ready = False
        self.stopping = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":  # pragma: no cover - websockets are not routed to the webhook
            return
        path, method = scope["path"], scope["method"]
        if path in {"/healthz", "/readyz", "/metrics"}:
            if method not in {"GET", "HEAD"}:
                await _answer(send, 405, b"method not allowed\n")
            elif path == "/healthz":
                await _answer(send, 200, b"ok\n")
            elif path == "/readyz":
                ok = self.ready and not self.stopping
                await _answer(send, 200 if ok else 503, b"ok\n" if ok else b"not ready\n")
            else:
                await _answer(send, 200, self.metrics.text(), "text/plain; version=0.0.4; charset=utf-8")
            return
        if path not in {"/", "/validate"}:
            await _answer(send, 404, b"not found\n")
            return
        if method != "POST":
            await _answer(send, 405, b"method not allowed: POST an AdmissionReview\n")
            return
        await self._validate(scope, receive, send)

    async def _validate(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        try:
            body = await self._body(scope, receive)
            request = read_review(body)
        except ReviewError as e:
            self.metrics.bad_requests.inc()
            LOG.warning("bad request from %s: %s", _client(scope), e)
            await _answer(send, 400, f"{e}\n".encode())
            return
        try:
            verdict = await self.reviewer.review(request)
        except Exception as e:  # noqa: BLE001 - a bug must not become a 500 that says nothing, nor leak data
            where = e.__traceback__
            while where is not None and where.tb_next is not None:
                where = where.tb_next
            place = f"{where.tb_frame.f_code.co_filename}:{where.tb_lineno}" if where is not None else "?"
            # The exception's message may quote the object: only its type and where it was raised.
            LOG.error(
                "internal error judging review %s: %s at %s", request.get("uid"), type(e).__name__, place
            )
            verdict = self.reviewer.unjudged(request, f"internal error ({type(e).__name__})")
        payload = json.dumps(verdict.response(), separators=(",", ":")).encode()
        await _answer(send, 200, payload, "application/json")
        kind = str(request["kind"]["kind"])
        action = self.reviewer.settings.action
        self.metrics.record(verdict, kind, action)
        self.metrics.latency.observe(time.perf_counter() - started)
        _log(verdict, action)

    async def _body(self, scope: Scope, receive: Receive) -> bytes:
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_body:
                raise ReviewError(f"the AdmissionReview is larger than {self.max_body} bytes")
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ReviewError("the client went away before sending the whole body")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise ReviewError(f"the AdmissionReview is larger than {self.max_body} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.ready = True
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.stopping = True
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _answer(
    send: Send, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8"
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return f"{client[0]}:{client[1]}" if client else "?"


def _log(verdict: Verdict, action: str) -> None:
    """One line per review: who, what, the verdict and the rules; never the object's content."""
    if not verdict.judged:
        outcome = "allowed (not judged)" if not verdict.warnings else "allowed (could not judge)"
    elif not verdict.allowed:
        outcome = "denied"
    elif verdict.denying:
        outcome = "would deny (dry-run)" if action == "dry-run" else "allowed with warnings"
    else:
        outcome = "allowed"
    rules = sorted({f.rule for f in verdict.findings})
    LOG.info(
        "review %s: %s %s%s: %s%s",
        verdict.uid,
        verdict.operation,
        verdict.subject,
        " (dry run)" if verdict.dry_run else "",
        outcome,
        f" [{', '.join(rules)}]" if rules else "",
    )
