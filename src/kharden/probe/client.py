"""The one place kharden writes to a cluster: probe pods, created and deleted by ``kharden probe``.

Kept apart from :mod:`kharden.sources.cluster`, which reads with GET only and stays so. This
client creates, reads and deletes Pods (and reads their logs) in the namespaces it is told,
through lightkube's connection layer with the same kubeconfig resolution as the reader. Every
error is one line naming the request; nothing else is ever written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import msgspec

from ..errors import ClusterError

if TYPE_CHECKING:
    import httpx2 as httpx

    from ..sources.kubeconfig import Target

__all__ = ["PodClient", "connect"]


def connect(kubeconfig: str | None, context: str | None, timeout: float) -> PodClient:
    """A client for the cluster of this kubeconfig and context (as ``scan --cluster`` resolves them)."""
    from ..sources.kubeconfig import resolve  # noqa: PLC0415 - lightkube, only when a cluster is used

    return PodClient(resolve(kubeconfig, context), timeout)


class PodClient:
    """Pods of one cluster: create, get, list by label, delete, logs."""

    def __init__(self, target: Target, timeout: float) -> None:
        from lightkube.core.exceptions import ConfigError as LightkubeConfigError  # noqa: PLC0415

        from ..sources.credentials import http_client  # noqa: PLC0415 - the reader's: exec plugins, User-Agent

        self.target = target
        self.timeout = timeout
        try:
            self.http = http_client(target, timeout)
        except (LightkubeConfigError, OSError, ValueError) as e:
            raise ClusterError(f"context {target.context!r}: cannot set up the connection: {e}") from e

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> PodClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- pods -------------------------------------------------------------------------------------

    def create(self, pod: dict[str, Any]) -> dict[str, Any]:
        namespace = pod["metadata"]["namespace"]
        response = self._send("POST", _pods(namespace), json=pod)
        if response.status_code == 403:
            raise ClusterError(
                f"forbidden to create pods in namespace {namespace!r}: bind the ClusterRole of"
                " deploy/probe/ there (create, get and delete pods, get pods/log)"
            )
        return self._body(response, f"create pod {namespace}/{pod['metadata']['name']}")

    def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        response = self._send("GET", f"{_pods(namespace)}/{quote(name)}")
        if response.status_code == 404:
            return None
        return self._body(response, f"get pod {namespace}/{name}")

    def list(self, namespace: str | None, selector: str) -> list[dict[str, Any]]:
        """Pods with this label selector, in ``namespace`` or in every namespace."""
        path = _pods(namespace) if namespace is not None else "/api/v1/pods"
        items: list[dict[str, Any]] = []
        params = {"labelSelector": selector, "limit": "500"}
        while True:
            response = self._send("GET", path, params=params)
            where = f"in namespace {namespace!r}" if namespace else "in every namespace"
            if response.status_code == 403:
                raise ClusterError(f"forbidden to list pods {where}")
            body = self._body(response, f"list pods {where}")
            items += [i for i in body.get("items") or () if isinstance(i, dict)]
            token = (body.get("metadata") or {}).get("continue")
            if not token:
                return items
            params["continue"] = token

    def delete(self, namespace: str, name: str) -> bool:
        """Delete now (no grace period); ``False`` when the pod was already gone."""
        response = self._send(
            "DELETE",
            f"{_pods(namespace)}/{quote(name)}",
            params={"gracePeriodSeconds": "0", "propagationPolicy": "Background"},
        )
        if response.status_code == 404:
            return False
        self._body(response, f"delete pod {namespace}/{name}")
        return True

    def log(self, namespace: str, name: str) -> str:
        response = self._send("GET", f"{_pods(namespace)}/{quote(name)}/log")
        if response.status_code in (400, 404):
            return ""  # not started yet, or gone
        if response.status_code != 200:
            raise ClusterError(
                f"{self.target.server}: get the log of pod {namespace}/{name}: {_status(response)}"
            )
        return response.text

    # -- HTTP -------------------------------------------------------------------------------------

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        import httpx2 as httpx  # noqa: PLC0415
        from lightkube.core.exceptions import ConfigError as LightkubeConfigError  # noqa: PLC0415

        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.TimeoutException as e:
            raise ClusterError(
                f"the API server at {self.target.server} did not answer within {self.timeout:g} s"
                f" ({method} {path})"
            ) from e
        except httpx.TransportError as e:
            raise ClusterError(f"cannot reach the API server at {self.target.server}: {e}") from e
        except LightkubeConfigError as e:
            raise ClusterError(f"context {self.target.context!r}: credentials: {e}") from e
        if response.status_code == 401:
            raise ClusterError(
                f"the API server at {self.target.server} refused the credentials of context"
                f" {self.target.context!r} (401 Unauthorized)"
            )
        return response

    def _body(self, response: httpx.Response, what: str) -> dict[str, Any]:
        if response.status_code not in (200, 201, 202):
            raise ClusterError(f"{self.target.server}: {what}: {_status(response)}")
        try:
            body = msgspec.json.decode(response.content)
        except msgspec.DecodeError as e:
            raise ClusterError(f"{self.target.server}: {what}: the server sent invalid JSON") from e
        if not isinstance(body, dict):
            raise ClusterError(f"{self.target.server}: {what}: the server sent no object")
        return body


def _pods(namespace: str | None) -> str:
    return f"/api/v1/namespaces/{quote(namespace or '')}/pods"


def _status(response: httpx.Response) -> str:
    try:
        body = msgspec.json.decode(response.content)
    except msgspec.DecodeError:
        body = None
    message = body.get("message") if isinstance(body, dict) else None
    reason = response.reason_phrase or "error"
    return f"{response.status_code} {reason}: {message}" if message else f"{response.status_code} {reason}"
