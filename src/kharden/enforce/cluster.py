"""What the webhook reads from the cluster: the Role or ClusterRole a binding under review names.

One GET per role (``/apis/rbac.authorization.k8s.io/v1/clusterroles/NAME`` or
``.../namespaces/NS/roles/NAME``), with the webhook's own credentials (its ServiceAccount in a pod, a
kubeconfig elsewhere, resolved as ``kharden scan --cluster`` resolves them), answers kept
``ttl`` seconds. Its ServiceAccount needs ``get`` on ``roles`` and ``clusterroles``
(``deploy/admission/rbac.yaml``) and nothing else. A role it may not read, or a server that does not
answer within ``timeout``, leaves the binding unjudged (allowed, with a warning saying why).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import msgspec

from ..errors import ClusterError
from ..sources.kubeconfig import resolve
from .review import RoleUnreadableError

__all__ = ["ClusterRoles"]

_RBAC = "/apis/rbac.authorization.k8s.io/v1"


class ClusterRoles:
    """A :data:`~kharden.enforce.review.RoleReader` over the API server, with a small cache."""

    def __init__(
        self,
        kubeconfig: str | None = None,
        context: str | None = None,
        *,
        timeout: float = 2.0,
        ttl: float = 30.0,
    ) -> None:
        from lightkube.core.exceptions import ConfigError as LightkubeConfigError  # noqa: PLC0415

        from ..sources.credentials import async_http_client  # noqa: PLC0415 - exec plugins, User-Agent

        target = resolve(kubeconfig, context)
        self.server = target.server
        try:
            self.http = async_http_client(target, timeout)
        except (LightkubeConfigError, OSError, ValueError) as e:
            raise ClusterError(f"context {target.context!r}: cannot set up the connection: {e}") from e
        self.ttl = ttl
        self.cache: dict[tuple[str, str | None, str], tuple[float, Mapping[str, Any] | None]] = {}

    async def __call__(self, kind: str, namespace: str | None, name: str) -> Mapping[str, Any] | None:
        key = (kind, namespace, name)
        now = time.monotonic()
        cached = self.cache.get(key)
        if cached is not None and now - cached[0] < self.ttl:
            return cached[1]
        role = await self._get(kind, namespace, name)
        self.cache[key] = (now, role)
        return role

    async def _get(self, kind: str, namespace: str | None, name: str) -> Mapping[str, Any] | None:
        import httpx2 as httpx  # noqa: PLC0415

        path = (
            f"{_RBAC}/clusterroles/{name}"
            if kind == "ClusterRole"
            else f"{_RBAC}/namespaces/{namespace}/roles/{name}"
        )
        what = f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"
        try:
            response = await self.http.get(path, headers={"Accept": "application/json"})
        except httpx.HTTPError as e:
            raise RoleUnreadableError(f"cannot read {what} from {self.server}: {type(e).__name__}") from None
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise RoleUnreadableError(
                f"cannot read {what} ({response.status_code} {response.reason_phrase}): the webhook needs get"
                " on roles and clusterroles"
            )
        try:
            found = msgspec.json.decode(response.content)
        except msgspec.DecodeError:
            raise RoleUnreadableError(f"cannot read {what}: the API server sent invalid JSON") from None
        return found if isinstance(found, dict) else None

    async def close(self) -> None:
        await self.http.aclose()
