"""The HTTP client a cluster read uses: credentials read with bounds, exec plugins, kharden's User-Agent.

A kubeconfig names files (``certificate-authority``, ``client-certificate``, ``client-key``,
``tokenFile``) that kharden reads itself, each bounded by :data:`MAX_CREDENTIAL_BYTES` (a
``tokenFile: /dev/zero`` is an error, not gigabytes), and hands to the TLS and HTTP layers as
data. Exec credential plugins (``aws eks get-token``, ``gke-gcloud-auth-plugin``, ``kubelogin``,
``tsh``) are run as kubectl runs them, for ``client.authentication.k8s.io/v1`` and ``v1beta1``
(and the old ``v1alpha1``): ``KUBERNETES_EXEC_INFO`` says the API version and that the session is
not interactive, the plugin's stderr goes to the user, and its answer (a bearer token, or a client
certificate and key) is checked field by field. On a 401 the plugin is run again once, as kubectl
does when a token has expired.

https://kubernetes.io/docs/reference/access-authn-authz/authentication/#client-go-credential-plugins
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import httpx2 as httpx
import msgspec
from lightkube.config import client_adapter
from lightkube.config.models import UserExec

from .. import __version__
from .._files import TooLargeError, read_bounded
from ..errors import ClusterError

if TYPE_CHECKING:
    from lightkube.config.kubeconfig import SingleConfig

    from .kubeconfig import Target

__all__ = [
    "EXEC_API_VERSIONS",
    "MAX_CREDENTIAL_BYTES",
    "USER_AGENT",
    "async_http_client",
    "http_client",
    "inline_files",
]

USER_AGENT = f"kharden/{__version__}"
MAX_CREDENTIAL_BYTES = 1024 * 1024
"""A certificate, key or token file: a few KiB; refused past 1 MiB."""
MAX_EXEC_OUTPUT_BYTES = 1024 * 1024
EXEC_API_VERSIONS = (
    "client.authentication.k8s.io/v1",
    "client.authentication.k8s.io/v1beta1",
    "client.authentication.k8s.io/v1alpha1",
)


def read_credential_file(path: str, what: str) -> bytes:
    """A file a kubeconfig (or a pod's service account) names, read with a bound."""
    try:
        return read_bounded(path, MAX_CREDENTIAL_BYTES)
    except OSError as e:
        raise ClusterError(f"{what} {path}: cannot read: {e.strerror}") from e
    except TooLargeError as e:
        raise ClusterError(f"{what} {path}: larger than {MAX_CREDENTIAL_BYTES // 1024} KiB") from e


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def inline_files(single: SingleConfig, where: str) -> SingleConfig:
    """``single`` with the files its cluster and user name read (bounded) and given as data.

    The token of a ``tokenFile`` is read once per scan (client-go re-reads it every minute; a scan
    is shorter than a token's life).
    """
    cluster, user = single.cluster, single.user
    if cluster.certificate_auth:
        data = read_credential_file(
            str(single.abs_file(cluster.certificate_auth)), f"{where}: certificate-authority"
        )
        cluster = msgspec.structs.replace(cluster, certificate_auth=None, certificate_auth_data=_b64(data))
    if user is not None:
        changes: dict[str, Any] = {}
        if user.client_cert and not user.client_cert_data:
            path = str(single.abs_file(user.client_cert))
            changes["client_cert_data"] = _b64(read_credential_file(path, f"{where}: client-certificate"))
            changes["client_cert"] = None
        if user.client_key and not user.client_key_data:
            path = str(single.abs_file(user.client_key))
            changes["client_key_data"] = _b64(read_credential_file(path, f"{where}: client-key"))
            changes["client_key"] = None
        if user.token_file:
            token = read_credential_file(str(single.abs_file(user.token_file)), f"{where}: tokenFile")
            changes["token"] = token.decode("utf-8", "replace").strip()
            changes["token_file"] = None
        if changes:
            user = msgspec.structs.replace(user, **changes)
    return single._replace(cluster=cluster, user=user)


def http_client(target: Target, timeout: float) -> httpx.Client:
    """An HTTP client for ``target``'s server with its credentials (an exec plugin is run now)."""
    return httpx.Client(**_client_arguments(target, timeout))


def async_http_client(target: Target, timeout: float) -> httpx.AsyncClient:
    """:func:`http_client` for asyncio (the admission webhook's role reader)."""
    return httpx.AsyncClient(**_client_arguments(target, timeout))


def _client_arguments(target: Target, timeout: float) -> dict[str, Any]:
    """The keyword arguments of an httpx client: base URL, TLS, auth, timeout, proxy, User-Agent.

    Raises :class:`ClusterError` for an exec plugin that fails; lightkube's ``ConfigError``,
    ``OSError`` (a certificate that does not load) and ``ValueError`` as they come.
    """
    config = target.config
    auth: httpx.Auth | None = None
    if config.user is not None and config.user.exec is not None:
        plugin = _ExecPlugin(config.user.exec, target.context)
        credential = plugin.run()
        if credential.token is not None:
            auth = _ExecTokenAuth(plugin, credential.token)
        else:
            assert credential.certificate is not None
            assert credential.key is not None
            user = msgspec.structs.replace(
                config.user,
                exec=None,
                client_cert_data=_b64(credential.certificate.encode()),
                client_key_data=_b64(credential.key.encode()),
            )
            config = config._replace(user=user)
    params = client_adapter.ConnectionParams(timeout=httpx.Timeout(timeout), proxy=target.proxy)
    kwargs = params.httpx_params(config)
    if config.user is not None and config.user.exec is not None:
        kwargs["auth"] = auth
    kwargs["headers"] = {"User-Agent": USER_AGENT}
    return kwargs


class _Credential(msgspec.Struct, frozen=True):
    token: str | None = None
    certificate: str | None = None
    key: str | None = None


class _ExecPlugin:
    """One exec credential plugin of a kubeconfig user."""

    def __init__(self, spec: UserExec, context: str) -> None:
        self.spec = spec
        self.name = os.path.basename(spec.command) or spec.command
        self.context = context

    def _error(self, message: str) -> ClusterError:
        return ClusterError(f"context {self.context!r}: exec credential plugin {self.name!r}: {message}")

    def run(self) -> _Credential:
        spec = self.spec
        if spec.apiVersion not in EXEC_API_VERSIONS:
            raise self._error(
                f"apiVersion {spec.apiVersion!r} is not supported (use {EXEC_API_VERSIONS[0]} or"
                f" {EXEC_API_VERSIONS[1]})"
            )
        env = dict(os.environ)
        env.update((var.name, var.value) for var in spec.env or ())
        env["KUBERNETES_EXEC_INFO"] = json.dumps(
            {"apiVersion": spec.apiVersion, "kind": "ExecCredential", "spec": {"interactive": False}}
        )
        try:
            # stdin and stderr are the user's: a plugin may print a login URL or a device code there.
            process = subprocess.Popen([spec.command, *(spec.args or ())], env=env, stdout=subprocess.PIPE)
        except OSError as e:
            hint = f" ({spec.installHint.strip()})" if spec.installHint else ""
            raise self._error(f"cannot run it: {e.strerror}{hint}") from e
        assert process.stdout is not None
        with process:
            output = process.stdout.read(MAX_EXEC_OUTPUT_BYTES + 1)
            if len(output) > MAX_EXEC_OUTPUT_BYTES:
                process.kill()
                raise self._error(f"it wrote more than {MAX_EXEC_OUTPUT_BYTES // 1024} KiB")
        if process.returncode != 0:
            raise self._error(f"it exited with status {process.returncode}")
        return self._credential(output)

    def _credential(self, output: bytes) -> _Credential:
        try:
            answer = json.loads(output)
        except (ValueError, UnicodeDecodeError) as e:
            raise self._error("its output is not JSON (an ExecCredential is expected)") from e
        if not isinstance(answer, dict) or answer.get("kind") != "ExecCredential":
            raise self._error("its output is not an ExecCredential")
        if answer.get("apiVersion") != self.spec.apiVersion:
            raise self._error(
                f"it answered with apiVersion {answer.get('apiVersion')!r}, not the {self.spec.apiVersion!r}"
                " the kubeconfig asks for"
            )
        status = answer.get("status")
        if not isinstance(status, dict):
            raise self._error("its ExecCredential has no status")
        token, certificate, key = (status.get(k) for k in ("token", "clientCertificateData", "clientKeyData"))
        for field, value in (
            ("token", token),
            ("clientCertificateData", certificate),
            ("clientKeyData", key),
        ):
            if value is not None and not isinstance(value, str):
                raise self._error(f"status.{field} of its ExecCredential is not a string")
        if token:
            return _Credential(token=token)
        if certificate and key:
            return _Credential(certificate=certificate, key=key)
        raise self._error(
            "its ExecCredential holds neither status.token nor status.clientCertificateData and clientKeyData"
        )


class _ExecTokenAuth(httpx.Auth):
    """The plugin's bearer token; on a 401 (an expired token) the plugin is run once more."""

    def __init__(self, plugin: _ExecPlugin, token: str) -> None:
        self.plugin = plugin
        self.bearer = f"Bearer {token}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        # One flow for both clients: the plugin runs again only after a 401, briefly.
        request.headers["Authorization"] = self.bearer
        response = yield request
        if response.status_code != 401:
            return
        credential = self.plugin.run()
        if credential.token is None:
            return
        self.bearer = f"Bearer {credential.token}"
        request.headers["Authorization"] = self.bearer
        yield request
