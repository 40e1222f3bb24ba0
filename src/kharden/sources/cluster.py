"""A live cluster, read-only: discovery, then paginated lists of every kind the rules need.

kharden talks to the API server through lightkube's connection layer (kubeconfig contexts,
TLS, bearer tokens and token files, client certificates, exec credential plugins, proxies;
see :mod:`.kubeconfig`) and sends nothing but ``GET`` requests: discovery, ``/version`` and
lists (``limit``/``continue`` pages of :data:`PAGE_SIZE`), a bounded number at a time.

What is read (:data:`BUILTIN`, :data:`EXTENSIONS`): workloads and Pods, Services, Ingresses,
NetworkPolicies, Namespaces, Nodes, ServiceAccounts, RBAC, PodSecurityPolicies where the
server still serves them, admission webhooks and policies, the ConfigMaps of kube-system
(CNI and kube-proxy settings, kubeadm's ClusterConfiguration) and of the service meshes,
and the policy objects of Istio, Linkerd, Cilium, Calico, Kyverno and Gatekeeper when
discovery shows their API groups. Secrets are listed as metadata only
(``PartialObjectMetadataList``): their data never leaves the API server.

A list the credentials may not read is recorded (``ClusterInfo.unread``) and the scan goes
on; the rules that need that kind report "not evaluated". An unreachable server, refused
credentials and timeouts end the scan with one :class:`~kharden.errors.ClusterError`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import email.utils
import hashlib
import http
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import msgspec

from .._display import printable, without_userinfo
from ..errors import ClusterError, InputError
from ..model import ClusterInfo, Origin
from . import _trim
from .documents import Collected

if TYPE_CHECKING:
    import httpx2 as httpx

    from .kubeconfig import Target

__all__ = [
    "BUILTIN",
    "BUILTIN_KINDS",
    "EXTENSIONS",
    "PAGE_SIZE",
    "ClusterOptions",
    "ClusterReader",
    "Progress",
    "Resource",
    "read_cluster",
]

PAGE_SIZE = 500
ACCEPT_JSON = "application/json"
# Aggregated discovery (one request per root), falling back to the legacy documents.
ACCEPT_DISCOVERY = (
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"
    "application/json"
)
# Metadata only, and nothing else: a server that cannot answer so says 406 and kharden reads no Secret.
ACCEPT_METADATA = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
METADATA_ONLY = frozenset({("", "secrets")})

BUILTIN: tuple[tuple[str, str], ...] = (
    ("", "namespaces"),
    ("", "nodes"),
    ("", "serviceaccounts"),
    ("", "services"),
    ("", "configmaps"),
    ("", "secrets"),
    ("", "replicationcontrollers"),
    ("apps", "deployments"),
    ("apps", "replicasets"),
    ("apps", "statefulsets"),
    ("apps", "daemonsets"),
    ("batch", "cronjobs"),
    ("batch", "jobs"),
    ("networking.k8s.io", "networkpolicies"),
    ("networking.k8s.io", "ingresses"),
    ("networking.k8s.io", "ingressclasses"),
    ("rbac.authorization.k8s.io", "clusterroles"),
    ("rbac.authorization.k8s.io", "clusterrolebindings"),
    ("rbac.authorization.k8s.io", "roles"),
    ("rbac.authorization.k8s.io", "rolebindings"),
    ("policy", "podsecuritypolicies"),
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations"),
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
    ("admissionregistration.k8s.io", "validatingadmissionpolicies"),
    ("admissionregistration.k8s.io", "validatingadmissionpolicybindings"),
    ("admissionregistration.k8s.io", "mutatingadmissionpolicies"),
    ("admissionregistration.k8s.io", "mutatingadmissionpolicybindings"),
    ("", "pods"),  # last: pods are kept as runtime records of the controllers read before them
)
"""``(API group, resource)`` of the built-in kinds read, in reading order."""

BUILTIN_KINDS = frozenset(
    {
        "Namespace", "Node", "ServiceAccount", "Service", "ConfigMap", "Secret", "ReplicationController",
        "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "CronJob", "Job", "NetworkPolicy", "Ingress",
        "IngressClass", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "PodSecurityPolicy",
        "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding", "MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding",
        "Pod",
    }
)  # fmt: skip
"""The kinds of :data:`BUILTIN`."""

EXTENSIONS: dict[str, tuple[str, ...]] = {
    "security.istio.io": ("peerauthentications", "authorizationpolicies", "requestauthentications"),
    "install.istio.io": ("istiooperators",),
    "policy.linkerd.io": (
        "servers",
        "serverauthorizations",
        "authorizationpolicies",
        "meshtlsauthentications",
        "networkauthentications",
    ),
    "cilium.io": ("ciliumnetworkpolicies", "ciliumclusterwidenetworkpolicies"),
    "crd.projectcalico.org": ("networkpolicies", "globalnetworkpolicies", "felixconfigurations"),
    "operator.tigera.io": ("installations",),
    "kyverno.io": ("clusterpolicies", "policies"),
    "templates.gatekeeper.sh": ("constrainttemplates",),
    "constraints.gatekeeper.sh": ("*",),
}
"""Policy and mesh objects of add-ons, read when discovery shows their group (``*``: every resource)."""

CONFIGMAP_NAMESPACES = ("kube-system",)
"""Namespaces whose ConfigMaps are read: CNI (calico-config, cilium-config), kube-proxy, kubeadm-config."""
NAMED_CONFIGMAPS = (
    ("istio-system", "istio"),
    ("linkerd", "linkerd-config"),
    ("kube-flannel", "kube-flannel-cfg"),
)
"""Mesh and CNI settings kept outside kube-system, read by name."""

MAX_PAGES = 2_000
"""Pages of one list at most (a million objects of one kind at 500 a page); past it the list fails."""
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
"""Bytes of one answer at most, decompressed; a page over it is asked again in smaller pages."""
RETRY_BUDGET_SECONDS = 120.0
"""Seconds one read may spend waiting to retry, in all (``Retry-After`` is honoured within it)."""
_RETRIES = 3
_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
_ERROR_BODY_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Resource:
    """One API resource as discovery describes it."""

    group: str
    version: str
    name: str
    kind: str
    namespaced: bool
    verbs: frozenset[str] = frozenset({"get", "list"})

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def label(self) -> str:
        """``deployments.apps``, ``pods``: how kubectl names a resource."""
        return f"{self.name}.{self.group}" if self.group else self.name

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if namespace is not None:
            base += f"/namespaces/{namespace}"
        base += f"/{self.name}"
        return f"{base}/{name}" if name is not None else base


@dataclass(slots=True)
class Progress:
    """What a read has done so far, for a progress display."""

    requests: int = 0
    done: int = 0
    objects: int = 0
    current: str = ""


@dataclass(frozen=True)
class ClusterOptions:
    kubeconfig: str | None = None
    context: str | None = None
    namespaces: tuple[str, ...] = ()
    """Namespaces to read namespaced kinds from; all when empty. Cluster-scoped kinds are always read."""
    parallel: int = 4
    """Requests in flight at most."""
    timeout: float = 30.0
    """Seconds one request may take in all: connecting, waiting for the answer and reading it."""
    page_size: int = PAGE_SIZE
    progress: Callable[[Progress], None] | None = field(default=None, compare=False)
    max_response_bytes: int = MAX_RESPONSE_BYTES
    max_pages: int = MAX_PAGES
    retry_budget: float = RETRY_BUDGET_SECONDS


@dataclass(frozen=True, slots=True)
class _Request:
    resource: Resource
    namespace: str | None = None
    name: str | None = None
    by_name: tuple[str, ...] = ()
    """Objects to GET one by one should the list be forbidden (a namespace admin's own Namespaces)."""


class _RefusedError(Exception):
    """A request the server refused or could not answer: recorded, the read goes on."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _TooLargeError(Exception):
    """An answer larger than ``max_response_bytes``."""


class _ListError(Exception):
    """A list that cannot be completed (a continue token repeated, too many pages): the list fails."""


class _TransportError(Exception):
    """A request that got no complete answer; ``retry`` when trying again may help (refused, dropped)."""

    def __init__(self, message: str, *, retry: bool) -> None:
        super().__init__(message)
        self.message = message
        self.retry = retry


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


class _Api:
    """GET requests through an authenticated HTTP client; every error says what happened, in one line.

    Each request has a deadline (``timeout``) that covers the whole answer, read in chunks and
    capped at ``max_response_bytes``: a body trickled byte by byte, or one that never ends, is
    abandoned. A request that got no answer because the connection was refused or dropped is
    sent again (GET is idempotent), as are 429 and 5xx answers, after a backoff or the
    ``Retry-After`` the server asked for, up to :data:`_RETRIES` times and within the read's
    ``retry_budget`` seconds of waiting in all.
    """

    def __init__(self, target: Target, options: ClusterOptions) -> None:
        # lightkube and its HTTP stack cost a third of the start-up time of every other command:
        # imported only when a cluster is read.
        from lightkube.core.exceptions import ConfigError as LightkubeConfigError  # noqa: PLC0415

        from .credentials import http_client  # noqa: PLC0415

        self.target = target
        self.timeout = options.timeout
        self.max_bytes = options.max_response_bytes
        self._budget = options.retry_budget
        self._budget_lock = threading.Lock()
        try:
            self.http = http_client(target, options.timeout)
        except (LightkubeConfigError, OSError, ValueError) as e:
            reason = without_userinfo(str(e) or type(e).__name__)
            raise ClusterError(f"context {target.context!r}: cannot set up the connection: {reason}") from e
        self.decoder = msgspec.json.Decoder()

    def close(self) -> None:
        self.http.close()

    def get(self, path: str, params: dict[str, str] | None = None, accept: str = ACCEPT_JSON) -> Any:
        """The decoded JSON body of ``GET path``.

        Raises :class:`_RefusedError` for an answer that is not 200 nor 401, :class:`_TooLargeError`
        for one over the size limit, ClusterError for the rest.
        """
        for attempt in range(_RETRIES + 1):
            last = attempt == _RETRIES
            try:
                status, headers, body = self._send(path, params, accept)
            except _TransportError as e:
                if not e.retry or last or not self._wait(0.25 * 2**attempt):
                    attempts = f" ({attempt + 1} attempts)" if attempt else ""
                    raise ClusterError(e.message + attempts) from None
                continue
            if status == 200:
                try:
                    return self.decoder.decode(body)
                except msgspec.DecodeError as e:
                    raise ClusterError(f"{self._where(path)}: the server sent invalid JSON") from e
            if status == 401:
                raise ClusterError(
                    f"the API server at {self.target.server} refused the credentials of context"
                    f" {self.target.context!r} (401 Unauthorized)"
                )
            message = _status_message(status, headers, body)
            if status in _RETRY_STATUS:
                wait = _retry_after(headers.get("Retry-After", ""))
                if wait is not None and wait > self._budget:
                    raise _RefusedError(status, f"{message} (it asked to retry after {wait:g} s)")
                if not last and self._wait(wait if wait is not None else 0.25 * 2**attempt):
                    continue
                if attempt:
                    message += f"; {attempt + 1} attempts"
            raise _RefusedError(status, message)
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait(self, seconds: float) -> bool:
        """Sleep ``seconds`` out of the read's retry budget; ``False`` when the budget cannot pay."""
        with self._budget_lock:
            if seconds > self._budget:
                return False
            self._budget -= seconds
        _sleep(seconds)
        return True

    def _send(self, path: str, params: dict[str, str] | None, accept: str) -> tuple[int, Any, bytes]:
        """Status, headers and body of one GET, whole within the deadline."""
        import httpx2 as httpx  # noqa: PLC0415
        from lightkube.core.exceptions import ConfigError as LightkubeConfigError  # noqa: PLC0415

        deadline = time.monotonic() + self.timeout
        try:
            request = self.http.build_request("GET", path, params=params, headers={"Accept": accept})
            response = self.http.send(request, stream=True)
        except httpx.TimeoutException as e:
            raise _TransportError(self._late(path, "did not answer"), retry=False) from e
        except httpx.TransportError as e:
            raise self._transport_error(e, path) from e
        except LightkubeConfigError as e:
            raise ClusterError(f"context {self.target.context!r}: credentials: {e}") from e
        except httpx.HTTPError as e:  # a URL it will not send, a protocol it will not speak
            raise _TransportError(f"{self._where(path)}: {_reason(e)}", retry=False) from e
        limit = self.max_bytes if response.status_code == 200 else _ERROR_BODY_BYTES
        try:
            return response.status_code, response.headers, self._body(response, deadline, limit, path)
        finally:
            response.close()

    def _body(self, response: httpx.Response, deadline: float, limit: int, path: str) -> bytes:
        """The body, decompressed, read in chunks until the deadline: a watchdog shuts the socket then, so
        that a server trickling bytes (each within the read timeout) cannot keep kharden waiting."""
        import httpx2 as httpx  # noqa: PLC0415

        expired = threading.Event()

        def abort() -> None:
            expired.set()
            stream = response.extensions.get("network_stream")
            sock = stream.get_extra_info("socket") if stream is not None else None
            if sock is not None:
                with contextlib.suppress(OSError):
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)

        watchdog = threading.Timer(max(deadline - time.monotonic(), 0.0), abort)
        watchdog.daemon = True
        watchdog.start()
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > limit:
                    if response.status_code != 200:
                        break  # an error's message is at its start
                    raise _TooLargeError(
                        f"{self._where(path)}: the answer is larger than {limit // 1048576} MiB"
                    )
                chunks.append(chunk)
                if expired.is_set():
                    break
        except httpx.TransportError as e:
            if not expired.is_set():
                raise self._transport_error(e, path) from e
        except httpx.HTTPError as e:  # a body that does not decompress
            raise _TransportError(
                f"{self._where(path)}: the answer does not decode: {_reason(e)}", retry=False
            ) from e
        finally:
            watchdog.cancel()
        if expired.is_set():
            raise _TransportError(self._late(path, "did not finish its answer"), retry=False)
        return b"".join(chunks)

    def _late(self, path: str, what: str) -> str:
        return f"the API server at {self.target.server} {what} within {self.timeout:g} s ({path})"

    def _transport_error(self, error: Exception, path: str) -> _TransportError:
        """Why a request got no answer, in the words of what happened: refused, dropped, TLS, timeout."""
        import httpx2 as httpx  # noqa: PLC0415

        server = self.target.server
        cause = _root_cause(error)
        if isinstance(error, httpx.TimeoutException):
            return _TransportError(self._late(path, "did not answer"), retry=False)
        if isinstance(cause, ssl.SSLCertVerificationError):
            reason = f"certificate verify failed: {cause.verify_message}"
            return _TransportError(f"cannot reach the API server at {server}: TLS: {reason}", retry=False)
        if isinstance(cause, ssl.SSLError):
            reason = f"handshake failed: {cause.reason or cause}"
            return _TransportError(f"cannot reach the API server at {server}: TLS: {reason}", retry=False)
        if isinstance(cause, ConnectionRefusedError):
            return _TransportError(
                f"cannot reach the API server at {server}: the connection was refused", retry=True
            )
        if isinstance(error, httpx.ConnectError | httpx.ProxyError):
            return _TransportError(f"cannot reach the API server at {server}: {_reason(error)}", retry=False)
        # The connection was open and the server (or something between) closed or reset it.
        return _TransportError(
            f"the API server at {server} dropped the connection ({path}): {_reason(error)}", retry=True
        )

    def _where(self, path: str) -> str:
        return f"{self.target.server}{path}"


def _retry_after(value: str) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (delta-seconds or an HTTP date), if it says."""
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


def _status_message(status: int, headers: Any, body: bytes) -> str:
    """The message of a ``Status`` body, or the HTTP reason."""
    try:
        decoded = msgspec.json.decode(body)
    except msgspec.DecodeError:
        decoded = None
    message = decoded.get("message") if isinstance(decoded, dict) else None
    reason = http.HTTPStatus(status).phrase if status in http.HTTPStatus._value2member_map_ else "error"
    if isinstance(message, str) and message:
        return f"{status} {reason}: {printable(message)[:300]}"
    return f"{status} {reason}"


def _root_cause(error: BaseException) -> BaseException:
    cause = error
    while cause.__cause__ is not None or cause.__context__ is not None:
        cause = cause.__cause__ or cause.__context__  # type: ignore[assignment]
    return cause


def _reason(error: Exception) -> str:
    """The root cause of a transport error, in a few words (no traceback, no secret)."""
    cause = _root_cause(error)
    text = str(cause) or str(error) or type(error).__name__
    return without_userinfo(text.splitlines()[0])


class ClusterReader:
    """One read of a cluster: discovery, then lists, delivering objects to a callback.

    Objects come to ``on_items`` in the main thread and in a fixed order (that of
    :data:`BUILTIN`, then of the add-ons; Pods last, page by page), each with its
    apiVersion and kind and trimmed of managedFields, last-applied configuration and
    Secret data.
    """

    def __init__(self, options: ClusterOptions, target: Target | None = None) -> None:
        from .kubeconfig import resolve  # noqa: PLC0415 - lightkube, only when a cluster is read

        self.options = options
        self.target = target if target is not None else resolve(options.kubeconfig, options.context)
        self.progress = Progress()
        self.unread: dict[str, list[str]] = {}
        self.failed: list[str] = []
        """Lists the server failed to give (not those RBAC forbids): input errors, one line each."""
        self._lock = threading.Lock()

    def read(self, on_items: Callable[[Resource, list[dict[str, Any]]], None]) -> ClusterInfo:
        api = _Api(self.target, self.options)
        try:
            version = self._version(api)
            resources, groups = discover(api)
            requests = self._plan(resources)
            self.progress.requests = len(requests)
            first = [r for r in requests if r.resource.kind != "Pod"]
            pods = [r for r in requests if r.resource.kind == "Pod"]
            for request, items in self._parallel(api, first):
                on_items(request.resource, items)
            for request in pods:  # one at a time: pages go straight to the callback
                for page in self._pages(api, request):
                    on_items(request.resource, page)
                    self._report()
                self._done(request)
            self._report()
        finally:
            api.close()
        return ClusterInfo(
            context=self.target.context,
            server=self.target.server,
            version=version,
            namespaces=self.options.namespaces,
            unread={kind: "; ".join(reasons) for kind, reasons in sorted(self.unread.items())},
            api_groups=groups,
            failed=tuple(self.failed),
        )

    def _version(self, api: _Api) -> str | None:
        try:
            body = api.get("/version")
        except (_RefusedError, _TooLargeError):
            return None
        version = body.get("gitVersion") if isinstance(body, dict) else None
        return version if isinstance(version, str) else None

    def _plan(self, resources: dict[tuple[str, str], Resource]) -> list[_Request]:
        wanted = [*BUILTIN]
        served = {group for group, _ in resources}
        for group, names in EXTENSIONS.items():
            if group not in served:
                continue
            if names == ("*",):
                wanted += sorted((g, r) for g, r in resources if g == group)
            else:
                wanted += [(group, name) for name in names]
        if "crd.projectcalico.org" not in served and "projectcalico.org" in served:
            # Calico's API server serves the same objects when its CRD group is hidden.
            wanted += [("projectcalico.org", name) for name in EXTENSIONS["crd.projectcalico.org"]]
        requests: list[_Request] = []
        for key in wanted:
            resource = resources.get(key)
            if resource is None or "list" not in resource.verbs:
                continue
            if key == ("", "configmaps"):
                requests += [_Request(resource, ns) for ns in CONFIGMAP_NAMESPACES]
                requests += [_Request(resource, ns, name) for ns, name in NAMED_CONFIGMAPS]
            elif resource.namespaced and self.options.namespaces:
                requests += [_Request(resource, ns) for ns in self.options.namespaces]
            elif key == ("", "namespaces"):
                # A namespace admin may not list Namespaces but may get their own: the rules need them.
                requests.append(_Request(resource, by_name=self.options.namespaces))
            else:
                requests.append(_Request(resource))
        return requests

    def _parallel(
        self, api: _Api, requests: list[_Request]
    ) -> Iterator[tuple[_Request, list[dict[str, Any]]]]:
        """Fetch every request, ``parallel`` at a time; yield the results in the requests' order."""
        workers = max(1, self.options.parallel)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kharden-list") as pool:
            futures: list[Future[list[dict[str, Any]]]] = [pool.submit(self._fetch, api, r) for r in requests]
            pending = set(futures)
            try:
                while pending:
                    done, pending = wait(pending, timeout=0.2, return_when=FIRST_EXCEPTION)
                    for future in done:
                        future.result()  # a ClusterError ends the read now
                    self._report()
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
            for request, future in zip(requests, futures, strict=True):
                yield request, future.result()

    def _fetch(self, api: _Api, request: _Request) -> list[dict[str, Any]]:
        items = [item for page in self._pages(api, request) for item in page]
        self._done(request)
        return items

    def _pages(self, api: _Api, request: _Request) -> Iterator[list[dict[str, Any]]]:
        """The pages of one list (or the one object of a named request); what the server does not give
        is recorded: unread when RBAC forbids it, failed (and unread) when the server fails."""
        resource = request.resource
        path = resource.path(request.namespace if resource.namespaced else None, request.name)
        key = (resource.group, resource.name)
        accept = ACCEPT_METADATA if key in METADATA_ONLY else ACCEPT_JSON
        if request.name is not None:
            item = self._get(api, request, path, accept)
            yield [item] if item is not None else []
            return
        limit = self.options.page_size
        params = {"limit": str(limit)}
        restarts = 0
        pages = 0
        delivered: set[tuple[str, str]] = set()
        tokens: set[bytes] = set()
        while True:
            try:
                body = api.get(path, params, accept)
            except _TooLargeError as e:
                if limit > 1:
                    # Too large to hold: the same page again in smaller ones (a continue token says where
                    # the list is, not how many objects a page has).
                    limit = max(1, limit // 10)
                    params["limit"] = str(limit)
                    continue
                self._failed(request, str(e))
                return
            except _RefusedError as e:
                if e.status == 410 and "continue" in params and restarts < 2:
                    # The continue token expired (the list took longer than etcd's compaction window):
                    # list again from the start, as client-go's pager does, skipping what was delivered.
                    restarts += 1
                    params.pop("continue")
                    tokens.clear()
                    continue
                if e.status == 403 and request.by_name and "continue" not in params:
                    yield [item for name in request.by_name if (item := self._get_named(api, request, name))]
                    return
                self._refused(request, e)
                return
            pages += 1
            items = body.get("items") if isinstance(body, dict) else None
            page = [self._item(resource, item) for item in _dicts(items)]
            if restarts:
                page = [item for item in page if _identity(item) not in delivered]
            delivered.update(_identity(item) for item in page)
            with self._lock:
                self.progress.objects += len(page)
                self.progress.current = resource.label
            yield page
            metadata = body.get("metadata") if isinstance(body, dict) else None
            token = metadata.get("continue") if isinstance(metadata, dict) else None
            if not token:
                return
            problem = self._endless(token, tokens, pages)
            if problem is not None:
                self._failed(request, problem)
                return
            params["continue"] = token

    def _endless(self, token: object, seen: set[bytes], pages: int) -> str | None:
        """Why a list whose server sent ``token`` for page ``pages + 1`` must stop, if it must."""
        if not isinstance(token, str):
            return "the server sent a continue token that is not a string"
        digest = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
        if digest in seen:
            return (
                f"the server sent a continue token it had sent before, after page {pages}: a list without end"
            )
        if pages >= self.options.max_pages:
            return f"more than {self.options.max_pages:,} pages: stopped (a list that never ends?)"
        seen.add(digest)
        return None

    def _get(self, api: _Api, request: _Request, path: str, accept: str) -> dict[str, Any] | None:
        """The object of a named request; ``None`` when it does not exist or cannot be read."""
        try:
            item = api.get(path, accept=accept)
        except _TooLargeError as e:
            self._failed(request, str(e))
            return None
        except _RefusedError as e:
            self._refused(request, e)
            return None
        return self._item(request.resource, item) if isinstance(item, dict) else None

    def _get_named(self, api: _Api, request: _Request, name: str) -> dict[str, Any] | None:
        one = dataclasses.replace(request, name=name, by_name=())
        return self._get(api, one, request.resource.path(None, name), ACCEPT_JSON)

    @staticmethod
    def _item(resource: Resource, item: dict[str, Any]) -> dict[str, Any]:
        if item.get("kind") == "PartialObjectMetadata" or (resource.group, resource.name) in METADATA_ONLY:
            item = {"metadata": item.get("metadata") or {}}
        # Items of a built-in list come without apiVersion and kind: the list says what they are.
        if "apiVersion" not in item or "kind" not in item:
            item = {"apiVersion": resource.api_version, "kind": resource.kind, **item}
        return _trim.trim(item)

    def _refused(self, request: _Request, error: _RefusedError) -> None:
        """A list or get the server answered with an error: 404 (gone since discovery) is nothing, 403 and
        406 leave the kind unread (not evaluated), any other is a list the server failed to give."""
        if error.status == 404:
            return
        if error.status in (403, 406):
            self._unread(request, error)
        else:
            self._failed(request, error.message)

    def _unread(self, request: _Request, error: _RefusedError) -> None:
        label = request.resource.label
        verb = "get" if request.name is not None else "list"
        if error.status == 403:
            reason = f"forbidden to {verb} {label}"
        else:
            reason = f"cannot {verb} {label} as metadata only (the server does not support it)"
        self._record(request, reason + _scope(request), failed=False)

    def _failed(self, request: _Request, message: str) -> None:
        verb = "get" if request.name is not None else "list"
        self._record(
            request, f"could not {verb} {request.resource.label} ({message}){_scope(request)}", failed=True
        )

    def _record(self, request: _Request, reason: str, *, failed: bool) -> None:
        with self._lock:
            self.unread.setdefault(request.resource.kind, []).append(reason)
            if failed:
                self.failed.append(reason)

    def _done(self, request: _Request) -> None:
        with self._lock:
            self.progress.done += 1

    def _report(self) -> None:
        """Tell the progress display (from the main thread only)."""
        if self.options.progress is not None:
            with self._lock:
                snapshot = dataclasses.replace(self.progress)
            self.options.progress(snapshot)


def _scope(request: _Request) -> str:
    if request.name is not None:
        return f" ({request.namespace}/{request.name})" if request.namespace else f" ({request.name})"
    return f" in namespace {request.namespace}" if request.namespace is not None else ""


def _identity(item: dict[str, Any]) -> tuple[str, str]:
    metadata = item.get("metadata")
    if not isinstance(metadata, dict):
        return "", ""
    return str(metadata.get("namespace") or ""), str(metadata.get("name") or "")


def discover(api: _Api) -> tuple[dict[tuple[str, str], Resource], tuple[str, ...]]:
    """``(group, resource) -> Resource`` for the resources kharden may read, and every served group.

    Asks for aggregated discovery (Kubernetes 1.30+: two requests) and falls back to the
    legacy documents (``/api``, ``/apis``, then one per group version). A resource comes from
    the first version, in the server's order of preference, that serves it (so
    PodSecurityPolicies come from ``policy/v1beta1`` while ``policy/v1`` is preferred).
    """
    resources: dict[tuple[str, str], Resource] = {}
    groups: list[str] = []
    legacy: list[tuple[str, list[str]]] = []
    for root in ("/api", "/apis"):
        try:
            doc = api.get(root, accept=ACCEPT_DISCOVERY)
        except _RefusedError as e:
            raise ClusterError(f"{api.target.server}{root}: discovery failed: {e.message}") from e
        except _TooLargeError as e:
            raise ClusterError(f"discovery failed: {e}") from e
        if not isinstance(doc, dict):
            raise ClusterError(f"{api.target.server}{root}: discovery failed: not a discovery document")
        if doc.get("kind") == "APIGroupDiscoveryList":
            for group_doc in _dicts(doc.get("items")):
                group = _text(_mapping(group_doc.get("metadata")).get("name"))
                groups.append(group)
                for version_doc in _dicts(group_doc.get("versions")):
                    version = _text(version_doc.get("version"))
                    for res in _dicts(version_doc.get("resources")):
                        _add(resources, _aggregated(group, version, res))
        elif root == "/api":
            groups.append("")
            versions = doc.get("versions")
            legacy.append(
                ("", [v for v in versions if isinstance(v, str)] if isinstance(versions, list) else [])
            )
        else:
            for group_doc in _dicts(doc.get("groups")):
                name = _text(group_doc.get("name"))
                preferred = _mapping(group_doc.get("preferredVersion")).get("version")
                versions = [_text(v.get("version")) for v in _dicts(group_doc.get("versions"))]
                if preferred in versions:
                    versions.remove(preferred)
                    versions.insert(0, preferred)
                groups.append(name)
                legacy.append((name, versions))
    wanted = {g for g, _ in BUILTIN} | set(EXTENSIONS) | {"projectcalico.org"}
    for group, versions in legacy:
        if group not in wanted:
            continue
        for version in versions:
            if not _NAME.fullmatch(version):
                continue
            path = f"/apis/{group}/{version}" if group else f"/api/{version}"
            try:
                doc = api.get(path)
            except (_RefusedError, _TooLargeError):
                continue  # an aggregated API that is down: its kinds are not read
            for res in _dicts(doc.get("resources") if isinstance(doc, dict) else None):
                _add(resources, _legacy(group, version, res))
    return resources, tuple(groups)


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _add(resources: dict[tuple[str, str], Resource], resource: Resource | None) -> None:
    if resource is not None:
        resources.setdefault((resource.group, resource.name), resource)


def _aggregated(group: str, version: str, doc: dict[str, Any]) -> Resource | None:
    name, kind = doc.get("resource"), _mapping(doc.get("responseKind")).get("kind")
    return _resource(group, version, name, kind, doc.get("scope") == "Namespaced", doc)


def _legacy(group: str, version: str, doc: dict[str, Any]) -> Resource | None:
    return _resource(group, version, doc.get("name"), doc.get("kind"), doc.get("namespaced") is True, doc)


# What the names of API groups, versions, resources and kinds are made of: anything else (a subresource
# such as pods/exec, a name that would change the path of a request) is not a resource kharden lists.
_NAME = re.compile(r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?")
_KIND = re.compile(r"[A-Za-z][A-Za-z0-9]*")


def _resource(
    group: str, version: str, name: Any, kind: Any, namespaced: bool, doc: dict[str, Any]
) -> Resource | None:
    if not isinstance(name, str) or not isinstance(kind, str) or not _KIND.fullmatch(kind):
        return None
    if not all(_NAME.fullmatch(part) for part in (name, version, *([group] if group else []))):
        return None
    return Resource(group, version, name, kind, namespaced, _verbs(doc))


def _verbs(doc: dict[str, Any]) -> frozenset[str]:
    verbs = doc.get("verbs")
    return frozenset(v for v in verbs if isinstance(v, str)) if isinstance(verbs, list) else frozenset()


def read_cluster(options: ClusterOptions, collected: Collected) -> None:
    """Read a live cluster into ``collected``, Pods kept as runtime records of their controllers."""
    reader = ClusterReader(options)
    origin = Origin(f"cluster {reader.target.context}")
    keep = _trim.Keeper()

    def add(resource: Resource, items: list[dict[str, Any]]) -> None:
        for item in items:
            collected.add_raw(keep(item), origin)

    collected.cluster = reader.read(add)
    collected.evidence |= {"C", "M"}
    for reason in collected.cluster.failed:
        collected.error(InputError(reason, file=origin.file))
