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

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msgspec

from ..errors import ClusterError
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

_RETRIES = 3
_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


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
    """Seconds to wait for the server to connect or answer one request."""
    page_size: int = PAGE_SIZE
    progress: Callable[[Progress], None] | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class _Request:
    resource: Resource
    namespace: str | None = None
    name: str | None = None


class _RefusedError(Exception):
    """A request the server refused or could not answer: recorded, the read goes on."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _Api:
    """GET requests through lightkube's authenticated HTTP client; every error says where in one line."""

    def __init__(self, target: Target, timeout: float) -> None:
        # lightkube and its HTTP stack cost a third of the start-up time of every other command:
        # imported only when a cluster is read.
        import httpx2 as httpx  # noqa: PLC0415
        from lightkube.config import client_adapter  # noqa: PLC0415
        from lightkube.core.exceptions import ConfigError as LightkubeConfigError  # noqa: PLC0415

        self.target = target
        self.timeout = timeout
        params = client_adapter.ConnectionParams(timeout=httpx.Timeout(timeout), proxy=target.proxy)
        try:
            self.http = client_adapter.Client(target.config, params)
        except (LightkubeConfigError, OSError, ValueError) as e:
            raise ClusterError(f"context {target.context!r}: cannot set up the connection: {e}") from e
        self.decoder = msgspec.json.Decoder()

    def close(self) -> None:
        self.http.close()

    def get(self, path: str, params: dict[str, str] | None = None, accept: str = ACCEPT_JSON) -> Any:
        """The decoded JSON body of ``GET path``.

        Raises :class:`_RefusedError` for an answer that is not 200 nor 401, ClusterError for the rest.
        """
        for attempt in range(_RETRIES + 1):
            response = self._send(path, params, accept)
            status = response.status_code
            if status == 200:
                try:
                    return self.decoder.decode(response.content)
                except msgspec.DecodeError as e:
                    raise ClusterError(f"{self._where(path)}: the server sent invalid JSON") from e
            if status == 401:
                raise ClusterError(
                    f"the API server at {self.target.server} refused the credentials of context"
                    f" {self.target.context!r} (401 Unauthorized)"
                )
            if status in _RETRY_STATUS and attempt < _RETRIES:
                time.sleep(_backoff(response, attempt))
                continue
            raise _RefusedError(status, _status_message(response))
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(self, path: str, params: dict[str, str] | None, accept: str) -> httpx.Response:
        import httpx2 as httpx  # noqa: PLC0415
        from lightkube.core.exceptions import ConfigError as LightkubeConfigError  # noqa: PLC0415

        try:
            return self.http.get(path, params=params, headers={"Accept": accept})
        except httpx.TimeoutException as e:
            raise ClusterError(
                f"the API server at {self.target.server} did not answer within {self.timeout:g} s ({path})"
            ) from e
        except httpx.TransportError as e:
            raise ClusterError(f"cannot reach the API server at {self.target.server}: {_reason(e)}") from e
        except LightkubeConfigError as e:
            raise ClusterError(f"context {self.target.context!r}: credentials: {e}") from e

    def _where(self, path: str) -> str:
        return f"{self.target.server}{path}"


def _backoff(response: httpx.Response, attempt: int) -> float:
    after = response.headers.get("Retry-After", "")
    seconds = float(after) if after.isdigit() else 0.25 * 2**attempt
    return min(seconds, 5.0)


def _status_message(response: httpx.Response) -> str:
    """The message of a ``Status`` body, or the HTTP reason."""
    try:
        body = msgspec.json.decode(response.content)
    except msgspec.DecodeError:
        body = None
    message = body.get("message") if isinstance(body, dict) else None
    reason = response.reason_phrase or "error"
    return f"{response.status_code} {reason}: {message}" if message else f"{response.status_code} {reason}"


def _reason(error: Exception) -> str:
    """The root cause of a transport error, in a few words (no traceback, no secret)."""
    cause: BaseException = error
    while cause.__cause__ is not None or cause.__context__ is not None:
        cause = cause.__cause__ or cause.__context__  # type: ignore[assignment]
    text = str(cause) or str(error) or type(error).__name__
    return text.splitlines()[0]


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
        self._lock = threading.Lock()

    def read(self, on_items: Callable[[Resource, list[dict[str, Any]]], None]) -> ClusterInfo:
        api = _Api(self.target, self.options.timeout)
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
        )

    def _version(self, api: _Api) -> str | None:
        try:
            body = api.get("/version")
        except _RefusedError:
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
        resource = request.resource
        path = resource.path(request.namespace if resource.namespaced else None, request.name)
        key = (resource.group, resource.name)
        accept = ACCEPT_METADATA if key in METADATA_ONLY else ACCEPT_JSON
        if request.name is not None:
            try:
                item = api.get(path, accept=accept)
            except _RefusedError as e:
                if e.status != 404:
                    self._unread(request, e)
                return
            yield [self._item(resource, item)] if isinstance(item, dict) else []
            return
        params = {"limit": str(self.options.page_size)}
        restarts = 0
        delivered: set[tuple[str, str]] = set()
        while True:
            try:
                body = api.get(path, params, accept)
            except _RefusedError as e:
                if e.status == 410 and "continue" in params and restarts < 2:
                    # The continue token expired (the list took longer than etcd's compaction window):
                    # list again from the start, as client-go's pager does, skipping what was delivered.
                    restarts += 1
                    params.pop("continue")
                    continue
                if e.status != 404:  # 404: the resource went away after discovery (a CRD deleted)
                    self._unread(request, e)
                return
            items = body.get("items") if isinstance(body, dict) else None
            page = [self._item(resource, item) for item in items or () if isinstance(item, dict)]
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
            params["continue"] = token

    @staticmethod
    def _item(resource: Resource, item: dict[str, Any]) -> dict[str, Any]:
        if item.get("kind") == "PartialObjectMetadata" or (resource.group, resource.name) in METADATA_ONLY:
            item = {"metadata": item.get("metadata") or {}}
        # Items of a built-in list come without apiVersion and kind: the list says what they are.
        if "apiVersion" not in item or "kind" not in item:
            item = {"apiVersion": resource.api_version, "kind": resource.kind, **item}
        return _trim.trim(item)

    def _unread(self, request: _Request, error: _RefusedError) -> None:
        label = request.resource.label
        if error.status == 403:
            reason = f"forbidden to list {label}"
        elif error.status == 406:
            reason = f"cannot list {label} as metadata only (the server does not support it)"
        else:
            reason = f"could not list {label} ({error.message})"
        if request.name is not None:
            reason += f" ({request.namespace}/{request.name})"
        elif request.namespace is not None:
            reason += f" in namespace {request.namespace}"
        with self._lock:
            self.unread.setdefault(request.resource.kind, []).append(reason)

    def _done(self, request: _Request) -> None:
        with self._lock:
            self.progress.done += 1

    def _report(self) -> None:
        """Tell the progress display (from the main thread only)."""
        if self.options.progress is not None:
            with self._lock:
                snapshot = dataclasses.replace(self.progress)
            self.options.progress(snapshot)


def _identity(item: dict[str, Any]) -> tuple[str, str]:
    metadata = item.get("metadata") or {}
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
        if not isinstance(doc, dict):
            raise ClusterError(f"{api.target.server}{root}: discovery failed: not a discovery document")
        if doc.get("kind") == "APIGroupDiscoveryList":
            for group_doc in _dicts(doc.get("items")):
                group = str((group_doc.get("metadata") or {}).get("name") or "")
                groups.append(group)
                for version_doc in _dicts(group_doc.get("versions")):
                    version = str(version_doc.get("version") or "")
                    for res in _dicts(version_doc.get("resources")):
                        _add(resources, _aggregated(group, version, res))
        elif root == "/api":
            groups.append("")
            legacy.append(("", [v for v in doc.get("versions") or () if isinstance(v, str)]))
        else:
            for group_doc in _dicts(doc.get("groups")):
                name = str(group_doc.get("name") or "")
                preferred = (group_doc.get("preferredVersion") or {}).get("version")
                versions = [str(v.get("version")) for v in _dicts(group_doc.get("versions"))]
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
            path = f"/apis/{group}/{version}" if group else f"/api/{version}"
            try:
                doc = api.get(path)
            except _RefusedError:
                continue  # an aggregated API that is down: its kinds are not read
            for res in _dicts(doc.get("resources") if isinstance(doc, dict) else None):
                _add(resources, _legacy(group, version, res))
    return resources, tuple(groups)


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _add(resources: dict[tuple[str, str], Resource], resource: Resource | None) -> None:
    if resource is not None:
        resources.setdefault((resource.group, resource.name), resource)


def _aggregated(group: str, version: str, doc: dict[str, Any]) -> Resource | None:
    name, kind = doc.get("resource"), (doc.get("responseKind") or {}).get("kind")
    if not isinstance(name, str) or not isinstance(kind, str) or not kind:
        return None
    verbs = frozenset(v for v in doc.get("verbs") or () if isinstance(v, str))
    return Resource(group, version, name, kind, doc.get("scope") == "Namespaced", verbs)


def _legacy(group: str, version: str, doc: dict[str, Any]) -> Resource | None:
    name, kind = doc.get("name"), doc.get("kind")
    if not isinstance(name, str) or "/" in name or not isinstance(kind, str):
        return None  # a subresource (pods/exec)
    verbs = frozenset(v for v in doc.get("verbs") or () if isinstance(v, str))
    return Resource(group, version, name, kind, doc.get("namespaced") is True, verbs)


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
