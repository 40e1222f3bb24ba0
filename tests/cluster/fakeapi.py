"""A Kubernetes API server for the tests: HTTPS on 127.0.0.1, answers shaped like the real one's.

It serves, from a list of objects:

- ``/version``; discovery, aggregated (``APIGroupDiscoveryList``, when the client asks for it in
  ``Accept``) or legacy (``APIVersions``, ``APIGroupList``, ``APIResourceList`` per group version);
- lists (``/api/v1/pods``, ``/apis/apps/v1/namespaces/shop/deployments``) as typed ``*List``
  documents whose built-in items carry no apiVersion/kind (custom resources keep theirs),
  ``metadata.resourceVersion``, pages by ``limit`` with an opaque ``continue`` token (410 Gone
  once it has expired), ``remainingItemCount``;
- single objects by name; ``PartialObjectMetadataList`` and ``Table`` when ``Accept`` asks;
- bearer-token authentication (401 ``Status`` otherwise), 403 ``Status`` for forbidden
  resources, 404 for unknown paths, 405 for any method but GET, scripted 503s and delays;
- with a :class:`PodRuntime` (``kharden probe``'s tests), Pods too: ``POST`` creates one and
  hands it to the runtime, which runs it (and fills in its status), ``DELETE`` stops and
  removes it, ``GET .../pods/NAME/log`` is its output; lists honour ``labelSelector``
  (``key``, ``key=value``, comma-separated).

It misbehaves on demand, as a hostile or failing server would (:class:`Behaviour`): connections
dropped halfway through an answer, bodies trickled a byte at a time or never ending, continue
tokens that repeat or never end, persistent statuses (429 with ``Retry-After``, 503), huge
answers, answers replaced by arbitrary JSON (for the fuzz tests).

Every request is recorded (method, path, query, Accept, User-Agent) for the tests to assert on.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

TOKEN = "kharden-test-token"


@dataclass(frozen=True)
class ApiResource:
    group: str
    version: str
    name: str
    kind: str
    namespaced: bool
    verbs: tuple[str, ...] = (
        "create",
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "update",
        "watch",
    )
    builtin: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


def _r(group: str, version: str, name: str, kind: str, namespaced: bool = True) -> ApiResource:
    return ApiResource(group, version, name, kind, namespaced)


# What a 1.31 API server serves (the part the tests need), in discovery order.
RESOURCES: tuple[ApiResource, ...] = (
    _r("", "v1", "configmaps", "ConfigMap"),
    _r("", "v1", "endpoints", "Endpoints"),
    _r("", "v1", "events", "Event"),
    _r("", "v1", "namespaces", "Namespace", namespaced=False),
    _r("", "v1", "nodes", "Node", namespaced=False),
    _r("", "v1", "pods", "Pod"),
    _r("", "v1", "replicationcontrollers", "ReplicationController"),
    _r("", "v1", "secrets", "Secret"),
    _r("", "v1", "serviceaccounts", "ServiceAccount"),
    _r("", "v1", "services", "Service"),
    _r("apps", "v1", "daemonsets", "DaemonSet"),
    _r("apps", "v1", "deployments", "Deployment"),
    _r("apps", "v1", "replicasets", "ReplicaSet"),
    _r("apps", "v1", "statefulsets", "StatefulSet"),
    _r("batch", "v1", "cronjobs", "CronJob"),
    _r("batch", "v1", "jobs", "Job"),
    _r("networking.k8s.io", "v1", "ingressclasses", "IngressClass", namespaced=False),
    _r("networking.k8s.io", "v1", "ingresses", "Ingress"),
    _r("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy"),
    _r("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget"),
    _r("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", namespaced=False),
    _r("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", namespaced=False),
    _r("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
    _r("rbac.authorization.k8s.io", "v1", "roles", "Role"),
    _r(
        "admissionregistration.k8s.io",
        "v1",
        "mutatingwebhookconfigurations",
        "MutatingWebhookConfiguration",
        False,
    ),
    _r(
        "admissionregistration.k8s.io",
        "v1",
        "validatingadmissionpolicies",
        "ValidatingAdmissionPolicy",
        False,
    ),
    _r(
        "admissionregistration.k8s.io",
        "v1",
        "validatingadmissionpolicybindings",
        "ValidatingAdmissionPolicyBinding",
        False,
    ),
    _r(
        "admissionregistration.k8s.io",
        "v1",
        "validatingwebhookconfigurations",
        "ValidatingWebhookConfiguration",
        False,
    ),
    _r("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False),
    _r("metrics.k8s.io", "v1beta1", "pods", "PodMetrics"),
)
PSP = _r("policy", "v1beta1", "podsecuritypolicies", "PodSecurityPolicy", namespaced=False)
KYVERNO = (
    ApiResource("kyverno.io", "v1", "clusterpolicies", "ClusterPolicy", False, builtin=False),
    ApiResource("kyverno.io", "v1", "policies", "Policy", True, builtin=False),
)
GATEKEEPER = (
    ApiResource(
        "templates.gatekeeper.sh", "v1", "constrainttemplates", "ConstraintTemplate", False, builtin=False
    ),
    ApiResource(
        "constraints.gatekeeper.sh", "v1beta1", "k8srequiredlabels", "K8sRequiredLabels", False, builtin=False
    ),
)
SUBRESOURCES = ("pods/exec", "pods/log", "pods/status", "deployments/scale", "nodes/proxy")


class PodRuntime(Protocol):
    """What runs the Pods created through the server (a kubelet and a network plugin, in tests)."""

    def start(self, pod: dict[str, Any]) -> None:
        """Run ``pod``; set its ``status`` (phase, podIP) in place, now and as it runs."""

    def stop(self, pod: dict[str, Any]) -> None:
        """Stop ``pod`` and release what it held."""

    def log(self, pod: dict[str, Any]) -> str:
        """What ``pod``'s container wrote so far."""


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    accept: str
    authorization: str
    user_agent: str = ""


@dataclass
class Behaviour:
    """What the server does besides answering: refusals, failures, delays."""

    forbidden: set[tuple[str, str]] = field(default_factory=set)
    """``(group, resource)`` whose lists and gets answer 403."""
    forbidden_namespaces: set[str] = field(default_factory=set)
    """Namespaces in which every namespaced list answers 403."""
    aggregated: bool = True
    """Serve aggregated discovery when the client asks for it."""
    metadata_only: bool = True
    """Serve PartialObjectMetadataList (else 406 when that is all the client accepts)."""
    unavailable: dict[str, int] = field(default_factory=dict)
    """path -> how many times to answer 503 before answering."""
    expire_continue: set[str] = field(default_factory=set)
    """Paths whose first continue token has expired (410)."""
    delay: float = 0.0
    """Seconds to wait before answering anything but /version."""
    extra: tuple[ApiResource, ...] = ()
    """Resources served besides RESOURCES (PSP, CRDs)."""
    forbidden_list: set[tuple[str, str]] = field(default_factory=set)
    """``(group, resource)`` whose lists answer 403 while a GET by name is allowed."""
    drop: dict[str, set[int]] = field(default_factory=dict)
    """path -> which requests to it (1 for the first) get half their answer, then the connection closes."""
    trickle: set[str] = field(default_factory=set)
    """Paths whose answer comes a byte every ``trickle_interval`` seconds."""
    trickle_interval: float = 0.05
    endless: set[str] = field(default_factory=set)
    """Paths whose answer never ends (a list whose items keep coming)."""
    huge: dict[str, int] = field(default_factory=dict)
    """path -> bytes of a well-formed list answer padded to that size (items with a large annotation)."""
    status: dict[str, tuple[int, dict[str, str]]] = field(default_factory=dict)
    """path -> a status and headers answered every time (429 with Retry-After, 503)."""
    pagination: dict[str, str] = field(default_factory=dict)
    """path -> ``repeat`` (the same continue token every page) or ``endless`` (a new one every page)."""
    replace: dict[str, Any] = field(default_factory=dict)
    """path -> the JSON body to answer instead of the real one (discovery or lists of the wrong shape)."""

    refuse_creates_after: int | None = None
    """Pod creations after this many answer 403 (a RoleBinding missing in some namespace)."""


class FakeApi:
    """The answers of the API server, from a list of objects (in process: the fuzz tests ask it directly)."""

    def __init__(
        self,
        objects: list[dict[str, Any]],
        behaviour: Behaviour | None = None,
        runtime: PodRuntime | None = None,
    ) -> None:
        self.behaviour = behaviour or Behaviour()
        self.runtime = runtime
        self.created = 0
        self.resources = (*RESOURCES, *self.behaviour.extra)
        self.by_kind = {(r.group, r.kind): r for r in self.resources}
        self.objects: dict[ApiResource, list[dict[str, Any]]] = {r: [] for r in self.resources}
        for obj in objects:
            group = obj["apiVersion"].rpartition("/")[0]
            self.objects[self.by_kind[(group, obj["kind"])]].append(obj)
        self.sort()
        self.requests: list[Recorded] = []
        self.lock = threading.Lock()
        self.expired: set[str] = set()

    def sort(self) -> None:
        """Lists in the API server's order (namespace, name); objects of any shape (the fuzz tests') too."""
        for items in self.objects.values():
            items.sort(key=lambda o: (str(_meta(o).get("namespace", "")), str(_meta(o).get("name"))))

    # --- pods that run (kharden probe) -----------------------------------------------------------

    def pods(self, selector: str = "") -> list[dict[str, Any]]:
        with self.lock:
            return [p for p in self.objects[self.by_kind[("", "Pod")]] if _selected(p, selector)]

    def create_pod(self, namespace: str, pod: dict[str, Any]) -> tuple[int, dict[str, Any], str]:
        assert self.runtime is not None
        meta = pod.get("metadata") or {}
        name = meta.get("name")
        if pod.get("kind") != "Pod" or not name or meta.get("namespace", namespace) != namespace:
            return _status(400, "BadRequest", "the body must be a Pod of this namespace with a name")
        items = self.objects[self.by_kind[("", "Pod")]]
        with self.lock:
            self.created += 1
            refused = self.behaviour.refuse_creates_after
            if refused is not None and self.created > refused:
                return _status(
                    403,
                    "Forbidden",
                    f'pods is forbidden: User "kharden" cannot create resource "pods" in the namespace "{namespace}"',
                )
            if any(
                p["metadata"]["name"] == name and p["metadata"].get("namespace") == namespace for p in items
            ):
                return _status(409, "AlreadyExists", f'pods "{name}" already exists')
            meta.update(namespace=namespace, uid=f"probe-{self.created}", resourceVersion="1")
            pod["status"] = {"phase": "Pending"}
            items.append(pod)
        self.runtime.start(pod)
        return 201, pod, ""

    def delete_pod(self, namespace: str, name: str) -> tuple[int, dict[str, Any], str]:
        assert self.runtime is not None
        items = self.objects[self.by_kind[("", "Pod")]]
        with self.lock:
            found = [
                p
                for p in items
                if p["metadata"]["name"] == name and p["metadata"].get("namespace") == namespace
            ]
            for pod in found:
                items.remove(pod)
        if not found:
            return _status(404, "NotFound", f'pods "{name}" not found', {"name": name})
        self.runtime.stop(found[0])
        return 200, found[0], ""

    def pod_log(self, namespace: str, name: str) -> tuple[int, str]:
        assert self.runtime is not None
        found = [
            p
            for p in self.pods()
            if p["metadata"]["name"] == name and p["metadata"].get("namespace") == namespace
        ]
        if not found:
            return 404, f'pods "{name}" not found'
        return 200, self.runtime.log(found[0])

    # --- answers -------------------------------------------------------------------------------

    def answer(self, path: str, query: dict[str, list[str]], accept: str) -> tuple[int, dict[str, Any], str]:
        if path == "/version":
            return 200, {"major": "1", "minor": "31", "gitVersion": "v1.31.2", "platform": "linux/amd64"}, ""
        wants_aggregated = self.behaviour.aggregated and "as=APIGroupDiscoveryList" in accept
        if path in {"/api", "/apis"}:
            if wants_aggregated:
                return 200, self._aggregated(core=path == "/api"), _AGGREGATED_TYPE
            return 200, self._api_versions() if path == "/api" else self._group_list(), ""
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) == 2:
            return self._resource_list("", parts[1])
        if parts[0] == "apis" and len(parts) == 3:
            return self._resource_list(parts[1], parts[2])
        return self._objects(parts, query, accept, path)

    def _served_groups(self) -> list[tuple[str, list[str]]]:
        groups: dict[str, list[str]] = {}
        for r in self.resources:
            versions = groups.setdefault(r.group, [])
            if r.version not in versions:
                versions.append(r.version)
        return list(groups.items())

    def _aggregated(self, *, core: bool) -> dict[str, Any]:
        items = []
        for group, versions in self._served_groups():
            if (group == "") != core:
                continue
            items.append(
                {
                    "metadata": {"name": group, "creationTimestamp": None},
                    "versions": [
                        {
                            "version": version,
                            "resources": [
                                {
                                    "resource": r.name,
                                    "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
                                    "scope": "Namespaced" if r.namespaced else "Cluster",
                                    "singularResource": r.kind.lower(),
                                    "verbs": list(r.verbs),
                                }
                                for r in self.resources
                                if r.group == group and r.version == version
                            ],
                            "freshness": "Current",
                        }
                        for version in versions
                    ],
                }
            )
        return {
            "kind": "APIGroupDiscoveryList",
            "apiVersion": "apidiscovery.k8s.io/v2",
            "metadata": {},
            "items": items,
        }

    def _api_versions(self) -> dict[str, Any]:
        return {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "10.0.0.10:6443"}],
        }

    def _group_list(self) -> dict[str, Any]:
        groups = []
        for group, versions in self._served_groups():
            if not group:
                continue
            entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
            groups.append({"name": group, "versions": entries, "preferredVersion": entries[0]})
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}

    def _resource_list(self, group: str, version: str) -> tuple[int, dict[str, Any], str]:
        served = [r for r in self.resources if r.group == group and r.version == version]
        if not served:
            return _status(404, "NotFound", "the server could not find the requested resource")
        if group == "metrics.k8s.io":
            return _status(503, "ServiceUnavailable", "the server is currently unable to handle the request")
        resources: list[dict[str, Any]] = [
            {
                "name": r.name,
                "singularName": r.kind.lower(),
                "namespaced": r.namespaced,
                "kind": r.kind,
                "verbs": list(r.verbs),
            }
            for r in served
        ]
        for sub in SUBRESOURCES:
            parent = sub.split("/")[0]
            if any(r.name == parent for r in served):
                resources.append(
                    {"name": sub, "singularName": "", "namespaced": True, "kind": "Sub", "verbs": ["get"]}
                )
        group_version = f"{group}/{version}" if group else version
        return (
            200,
            {
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": group_version,
                "resources": resources,
            },
            "",
        )

    def _objects(
        self, parts: list[str], query: dict[str, list[str]], accept: str, path: str
    ) -> tuple[int, dict[str, Any], str]:
        if parts[0] == "api":
            group, version, rest = "", parts[1], parts[2:]
        else:
            group, version, rest = parts[1], parts[2], parts[3:]
        namespace = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            namespace, rest = rest[1], rest[2:]
        if not rest or len(rest) > 2:
            return _status(404, "NotFound", "the server could not find the requested resource")
        resource = next(
            (r for r in self.resources if (r.group, r.version, r.name) == (group, version, rest[0])), None
        )
        if resource is None or (namespace is not None and not resource.namespaced):
            return _status(404, "NotFound", "the server could not find the requested resource")
        listing = len(rest) == 1
        if (
            (group, resource.name) in self.behaviour.forbidden
            or namespace in self.behaviour.forbidden_namespaces
            or (listing and (group, resource.name) in self.behaviour.forbidden_list)
        ):
            scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
            verb = "get" if len(rest) == 2 else "list"
            return _status(
                403,
                "Forbidden",
                f'{resource.name} is forbidden: User "system:serviceaccount:kharden:scanner" cannot {verb}'
                f' resource "{resource.name}" in API group "{group}" {scope}',
                {"kind": resource.name},
            )
        items = [
            o
            for o in self.objects[resource]
            if (namespace is None or _meta(o).get("namespace") == namespace)
            and _selected(o, query.get("labelSelector", [""])[0])
        ]
        metadata_only = "as=PartialObjectMetadata" in accept
        if metadata_only and not self.behaviour.metadata_only:
            return _status(
                406, "NotAcceptable", "only the following media types are accepted: application/json"
            )
        if len(rest) == 2:
            found = [o for o in items if _meta(o).get("name") == rest[1]]
            if not found:
                return _status(404, "NotFound", f'{resource.name} "{rest[1]}" not found', {"name": rest[1]})
            return 200, found[0], ""
        return self._list(resource, items, query, accept, path, metadata_only)

    def _list(
        self,
        resource: ApiResource,
        items: list[dict[str, Any]],
        query: dict[str, list[str]],
        accept: str,
        path: str,
        metadata_only: bool,
    ) -> tuple[int, dict[str, Any], str]:
        offset = 0
        token = query.get("continue", [None])[0]
        if token:
            if path in self.behaviour.expire_continue and path not in self.expired:
                self.expired.add(path)
                return _status(
                    410,
                    "Expired",
                    "The provided continue parameter is too old to display a consistent list result.",
                )
            offset = json.loads(base64.urlsafe_b64decode(token))["start"]
        limit = int(query.get("limit", ["0"])[0] or 0)
        page = items[offset : offset + limit] if limit else items[offset:]
        meta: dict[str, Any] = {"resourceVersion": "48213"}
        rest = len(items) - offset - len(page)
        if limit and rest > 0:
            meta["continue"] = base64.urlsafe_b64encode(
                json.dumps({"rv": 48213, "start": offset + len(page)}).encode()
            ).decode()
            meta["remainingItemCount"] = rest
        pagination = self.behaviour.pagination.get(path)
        if pagination is not None:
            # A broken pager: the same token again and again, or a new token for every page.
            page = []
            step = 0 if pagination == "repeat" else offset + 1
            meta["continue"] = base64.urlsafe_b64encode(
                json.dumps({"rv": 1, "start": step}).encode()
            ).decode()
        if "as=Table" in accept:
            rows = [
                {
                    "cells": [_meta(o).get("name")],
                    "object": {
                        "kind": "PartialObjectMetadata",
                        "apiVersion": "meta.k8s.io/v1",
                        "metadata": _meta(o),
                    },
                }
                for o in page
            ]
            table = {
                "kind": "Table",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": meta,
                "columnDefinitions": [{"name": "Name", "type": "string"}],
                "rows": rows,
            }
            return 200, table, "application/json;as=Table;v=v1;g=meta.k8s.io"
        if metadata_only:
            partial = [
                {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": o.get("metadata"),
                }
                for o in page
            ]
            return (
                200,
                {
                    "kind": "PartialObjectMetadataList",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": meta,
                    "items": partial,
                },
                "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io",
            )
        # The API server leaves apiVersion/kind off the items of a built-in list.
        served = [
            {k: v for k, v in o.items() if k not in {"apiVersion", "kind"}} if resource.builtin else o
            for o in page
        ]
        return (
            200,
            {
                "kind": f"{resource.kind}List",
                "apiVersion": resource.api_version,
                "metadata": meta,
                "items": served,
            },
            "",
        )


class FakeApiServer(FakeApi):
    """:class:`FakeApi` over HTTPS on 127.0.0.1 (a port of its own, or ``port``)."""

    def __init__(
        self,
        objects: list[dict[str, Any]],
        certs: Certs,
        behaviour: Behaviour | None = None,
        runtime: PodRuntime | None = None,
        *,
        port: int = 0,
    ) -> None:
        super().__init__(objects, behaviour, runtime)
        handler = type("Handler", (_Handler,), {"api": self})
        self.httpd = _Server(("127.0.0.1", port), handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certs.server_cert, certs.server_key)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> FakeApiServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


_AGGREGATED_TYPE = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


def _meta(obj: Any) -> dict[str, Any]:
    """An object's metadata, ``{}`` when the object or its metadata is not a mapping."""
    metadata = obj.get("metadata") if isinstance(obj, dict) else None
    return metadata if isinstance(metadata, dict) else {}


def _selected(obj: dict[str, Any], selector: str) -> bool:
    """Whether ``obj``'s labels match a label selector of ``key`` and ``key=value`` terms."""
    labels = _meta(obj).get("labels")
    labels = labels if isinstance(labels, dict) else {}
    for term in filter(None, selector.split(",")):
        key, equals, value = term.partition("=")
        if key not in labels or (equals and labels[key] != value):
            return False
    return True


def _status(
    code: int, reason: str, message: str, details: dict[str, Any] | None = None
) -> tuple[int, dict[str, Any], str]:
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = details
    return code, body, ""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (the timeout tests) is no error of the server's."""


class _Handler(BaseHTTPRequestHandler):
    api: FakeApi
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _record(self) -> tuple[str, dict[str, list[str]]]:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        with self.api.lock:
            self.api.requests.append(
                Recorded(
                    self.command,
                    url.path,
                    query,
                    self.headers.get("Accept", ""),
                    self.headers.get("Authorization", ""),
                    self.headers.get("User-Agent", ""),
                )
            )
        return url.path, query

    def do_GET(self) -> None:
        path, query = self._record()
        behaviour = self.api.behaviour
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self._send(*_status(401, "Unauthorized", "Unauthorized"))
            return
        if behaviour.delay and path != "/version":
            time.sleep(behaviour.delay)
        with self.api.lock:
            failures = behaviour.unavailable.get(path, 0)
            if failures:
                behaviour.unavailable[path] = failures - 1
        if failures:
            self._send(
                *_status(503, "ServiceUnavailable", "the server is currently unable to handle the request")
            )
            return
        if path in behaviour.status:
            code, headers = behaviour.status[path]
            phrase = {429: "TooManyRequests", 503: "ServiceUnavailable"}.get(code, "InternalError")
            self._send(*_status(code, phrase, f"scripted {code}"), headers=headers)
            return
        if path in behaviour.endless:
            self._stream_endless(path)
            return
        if path in behaviour.huge:
            self._send_huge(path, behaviour.huge[path])
            return
        if path in behaviour.replace:
            self._send(200, behaviour.replace[path], "")
            return
        where = self._pod_path()
        if where is not None and where[2] == "log" and where[1] is not None:
            self._send_text(*self.api.pod_log(where[0], where[1]))
            return
        self._send(*self.api.answer(path, query, self.headers.get("Accept", "")))

    def _send_text(self, code: int, text: str) -> None:
        data = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _misbehave(self, path: str, data: bytes) -> bool:
        """Drop or trickle the answer ``data`` when the behaviour says so; ``True`` when it did."""
        behaviour = self.api.behaviour
        with self.api.lock:
            ordinal = sum(1 for r in self.api.requests if r.path == path)
        if ordinal in behaviour.drop.get(path, ()):
            # Half the body, then the connection closes: what a load balancer that restarts does.
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return True
        if path in behaviour.trickle:
            for index in range(len(data)):
                self.wfile.write(data[index : index + 1])
                self.wfile.flush()
                time.sleep(behaviour.trickle_interval)
            return True
        return False

    def _stream_endless(self, path: str) -> None:
        """A list whose items never stop coming (until the client goes away)."""
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        item = b'{"metadata": {"name": "x", "namespace": "default"}},'
        try:
            self.wfile.write(b'{"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": [')
            while True:
                self.wfile.write(item * 1000)
                if path in self.api.behaviour.trickle:
                    time.sleep(self.api.behaviour.trickle_interval)
        except OSError:
            return

    def _send_huge(self, path: str, size: int) -> None:
        """A well-formed list of ``size`` bytes, written in pieces (never held whole here)."""
        pad = "p" * 60_000
        item = json.dumps({"metadata": {"name": "x", "namespace": "default", "annotations": {"pad": pad}}})
        head = b'{"kind": "ConfigMapList", "apiVersion": "v1", "metadata": {}, "items": ['
        count = max(1, (size - len(head)) // (len(item) + 1))
        body_size = len(head) + count * (len(item) + 1) - 1 + 2
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(body_size))
        self.end_headers()
        try:
            self.wfile.write(head)
            for index in range(count):
                self.wfile.write(item.encode() + (b"," if index < count - 1 else b""))
            self.wfile.write(b"]}")
        except OSError:
            return

    def _refuse(self) -> None:
        self._record()
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self._send(*_status(405, "MethodNotAllowed", f"{self.command} is not served by this test server"))

    do_PUT = do_PATCH = _refuse  # noqa: N815

    def _pod_path(self) -> tuple[str, str | None, str | None] | None:
        """``(namespace, name, subresource)`` of a Pod path, when the server runs pods."""
        parts = urlsplit(self.path).path.strip("/").split("/")
        if self.api.runtime is None or parts[:3] != ["api", "v1", "namespaces"] or len(parts) < 5:
            return None
        if parts[4] != "pods" or len(parts) > 7:
            return None
        return parts[3], parts[5] if len(parts) > 5 else None, parts[6] if len(parts) > 6 else None

    def do_POST(self) -> None:
        where = self._pod_path()
        if where is None or where[1] is not None:
            self._refuse()
            return
        self._record()
        pod = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        self._send(*self.api.create_pod(where[0], pod))

    def do_DELETE(self) -> None:
        where = self._pod_path()
        if where is None or where[1] is None or where[2] is not None:
            self._refuse()
            return
        self._record()
        self._send(*self.api.delete_pod(where[0], where[1]))

    def _send(
        self, code: int, body: Any, content_type: str, *, headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type or "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Audit-Id", "3a7f0c1e-5f43-4b0e-9c36-7f1d2c1c8f00")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        try:
            if not self._misbehave(urlsplit(self.path).path, data):
                self.wfile.write(data)
        except OSError:
            self.close_connection = True  # the client gave up (a deadline): nothing more to say


@dataclass(frozen=True)
class Certs:
    ca_cert: Path
    server_cert: Path
    server_key: Path

    @property
    def ca_data(self) -> str:
        return base64.b64encode(self.ca_cert.read_bytes()).decode()


def make_certs(directory: Path) -> Certs:
    """A CA and a server certificate for 127.0.0.1, made for this test run."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    certs = Certs(directory / "ca.crt", directory / "apiserver.crt", directory / "apiserver.key")
    certs.ca_cert.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    certs.server_cert.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    certs.server_key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return certs


def write_kubeconfig(
    path: Path, server: str, certs: Certs, *, token: str = TOKEN, context: str = "kind-test"
) -> Path:
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": context,
                "clusters": [
                    {
                        "name": context,
                        "cluster": {"server": server, "certificate-authority-data": certs.ca_data},
                    }
                ],
                "users": [{"name": f"{context}-admin", "user": {"token": token}}],
                "contexts": [{"name": context, "context": {"cluster": context, "user": f"{context}-admin"}}],
            }
        )
    )
    return path


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("pki"))


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests talk to 127.0.0.1 only: never through a proxy from the environment."""
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.delenv("KUBECONFIG", raising=False)
