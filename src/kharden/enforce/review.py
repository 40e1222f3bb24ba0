"""One AdmissionReview (``admission.k8s.io/v1``) judged as the scan judges an object.

- Pods and the kinds with a pod template: the pod rules through the rule runner
  (:class:`~kharden.runner.Runner`), image exemptions applied as the admission policies apply them
  (:mod:`.exemptions`), suppressions (``kharden.io/ignore`` annotations, the config's ``ignore:``) as in
  the scan.
- What only admission sees, judged by the scan's whole-inventory rules on the object alone plus what it
  needs from the cluster: RoleBindings and ClusterRoleBindings by the RBAC rules on the binding's
  effective grant (its role read from the cluster with GET; the aggregated rules of a ClusterRole are
  the ones the cluster stored), Roles and ClusterRoles by ``rbac.wildcard``, Services by
  ``exposure.loadbalancer-open`` and ``exposure.external-ips``, Namespaces by ``admission.pod-security``
  (their labels; the API server's PodSecurity configuration is not visible to a webhook).
- An update that leaves the pod template (a Pod's spec and annotations) unchanged is allowed without a
  judgement, like a deletion: an object admitted before the webhook can still be scaled and deleted.

The verdict: denied with a message naming each rule, container and fix (``deny``); allowed with the same
as ``warnings`` (``warn``); allowed, the verdict only logged and counted (``dry-run``). Findings below
``fail_on`` are warnings in every mode. An object kharden cannot judge (a field of the wrong type, a role
it may not read) is allowed with a warning saying why.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from ..analysis.context import ScanContext
from ..analysis.podspec import TEMPLATE_KINDS, effective_pod, pod_template_path
from ..errors import InputError
from ..inventory import Inventory
from ..model import Finding, Obj, Origin, Severity, Unevaluated
from ..rules import Rule
from ..runner import Judgement, Runner, finding, template_annotations
from ..sources.documents import Collected
from ..suppress import Policy
from .exemptions import exempt

__all__ = [
    "ACTIONS",
    "DEFAULT_MAX_BODY",
    "INVENTORY_RULES",
    "ReviewError",
    "Reviewer",
    "RoleReader",
    "RoleUnreadableError",
    "Settings",
    "Verdict",
    "read_review",
]

API_VERSION = "admission.k8s.io/v1"
ACTIONS = ("deny", "warn", "dry-run")
DEFAULT_MAX_BODY = 6 * 1024 * 1024
"""An object is at most 1.5 MiB in etcd; a review carries it twice (object, oldObject) plus its request."""
_MAX_MESSAGE = 4000
_BINDING_KINDS = ("RoleBinding", "ClusterRoleBinding")
_RBAC_GRANT_RULES = (
    "rbac.cluster-admin",
    "rbac.secrets-read",
    "rbac.escalate",
    "rbac.pod-exec",
    "rbac.workload-create",
    "rbac.token-create",
    "rbac.admission-write",
    "rbac.anonymous",
    "rbac.default-sa-bound",
)
INVENTORY_RULES: dict[str, tuple[str, ...]] = {
    "RoleBinding": _RBAC_GRANT_RULES,
    "ClusterRoleBinding": _RBAC_GRANT_RULES,
    "Role": ("rbac.wildcard",),
    "ClusterRole": ("rbac.wildcard",),
    "Service": ("exposure.loadbalancer-open", "exposure.external-ips"),
    "Namespace": ("admission.pod-security",),
}
"""The whole-inventory rules the webhook runs on one object of these kinds (what they need is the object,
and for a binding its role). The others need the rest of the cluster (NetworkPolicies, pods, nodes)."""


class ReviewError(Exception):
    """A request that is not a readable AdmissionReview: answered with HTTP 400 and this message."""


class RoleUnreadableError(Exception):
    """The role a binding names could not be read (forbidden, unreachable): the binding is not judged."""


RoleReader = Callable[[str, str | None, str], Awaitable[Mapping[str, Any] | None]]
"""``(kind, namespace, name) -> the role, or None when it does not exist``; raises RoleUnreadableError."""


@dataclass(frozen=True)
class Settings:
    rules: tuple[Rule, ...]
    policy: Policy = field(default_factory=Policy)
    action: str = "deny"
    fail_on: Severity | None = Severity.INFO
    """Findings at or above it deny (in ``deny`` mode); the others are warnings. ``None``: none denies."""
    exempt_images: tuple[str, ...] = ()


@dataclass
class Verdict:
    uid: str
    allowed: bool
    subject: str
    """``Deployment shop/web`` (``kind`` only when the object has no name yet)."""
    operation: str
    dry_run: bool
    findings: list[Finding] = field(default_factory=list)
    """Unsuppressed findings."""
    denying: list[Finding] = field(default_factory=list)
    """The findings that deny (or would, in ``warn`` and ``dry-run`` modes)."""
    warnings: list[str] = field(default_factory=list)
    message: str | None = None
    judged: bool = True

    def response(self) -> dict[str, Any]:
        """The AdmissionReview answered."""
        answer: dict[str, Any] = {"uid": self.uid, "allowed": self.allowed}
        if not self.allowed:
            answer["status"] = {"code": 403, "reason": "Forbidden", "message": self.message or "denied"}
        if self.warnings:
            answer["warnings"] = self.warnings
        return {"apiVersion": API_VERSION, "kind": "AdmissionReview", "response": answer}


_DECODER = msgspec.json.Decoder()


def read_review(body: bytes) -> Mapping[str, Any]:
    """The ``request`` of an AdmissionReview; :class:`ReviewError` says what is wrong (never echoing data)."""
    try:
        review = _DECODER.decode(body)
    except msgspec.DecodeError as e:
        raise ReviewError(f"the body is not JSON ({str(e).split(' - ')[0]})") from None
    if not isinstance(review, dict):
        raise ReviewError("the body is not an AdmissionReview (a JSON object)")
    if review.get("apiVersion") != API_VERSION or review.get("kind") != "AdmissionReview":
        raise ReviewError(f"the body is not an {API_VERSION} AdmissionReview (apiVersion and kind)")
    request = review.get("request")
    if not isinstance(request, dict):
        raise ReviewError("the AdmissionReview has no request")
    uid = request.get("uid")
    if not isinstance(uid, str) or not uid:
        raise ReviewError("the AdmissionReview request has no uid")
    if not isinstance(request.get("operation"), str):
        raise ReviewError("the AdmissionReview request has no operation")
    for key in ("object", "oldObject"):
        if request.get(key) is not None and not isinstance(request[key], dict):
            raise ReviewError(f"the AdmissionReview request's {key} is not an object")
    kind = request.get("kind")
    if not isinstance(kind, dict) or not isinstance(kind.get("kind"), str):
        raise ReviewError("the AdmissionReview request has no kind")
    return request


def _template(raw: Mapping[str, Any]) -> Any:
    """What an update must change to be judged again: a Pod's spec and annotations, else the template."""
    if raw.get("kind") == "Pod":
        metadata = raw.get("metadata") or {}
        return raw.get("spec"), metadata.get("annotations") if isinstance(metadata, dict) else None
    spec = raw.get("spec") or {}
    if raw.get("kind") == "CronJob":
        job = spec.get("jobTemplate") or {} if isinstance(spec, dict) else {}
        spec = job.get("spec") or {} if isinstance(job, dict) else {}
    return spec.get("template") if isinstance(spec, dict) else None


class Reviewer:
    """Judges AdmissionReview requests with one set of rules and settings."""

    def __init__(self, settings: Settings, roles: RoleReader | None = None) -> None:
        self.settings = settings
        self.roles = roles
        self.runner = Runner(settings.rules, settings.policy)
        chosen = {r.id: r for r in settings.rules}
        self.inventory_rules = {
            kind: [chosen[i] for i in ids if i in chosen] for kind, ids in INVENTORY_RULES.items()
        }

    async def review(self, request: Mapping[str, Any]) -> Verdict:
        uid = str(request["uid"])
        operation = str(request["operation"])
        dry_run = request.get("dryRun") is True
        raw = request.get("object")
        kind = str(request["kind"]["kind"])
        subject = _subject(kind, request, raw)
        verdict = Verdict(uid, True, subject, operation, dry_run)
        if operation not in {"CREATE", "UPDATE"} or not isinstance(raw, dict):
            verdict.judged = False
            return verdict
        old = request.get("oldObject")
        if operation == "UPDATE" and isinstance(old, dict) and _template(old) == _template(raw):
            verdict.judged = False
            return verdict
        obj = self._obj(raw, request)
        if isinstance(obj, str):
            return self._unjudged(verdict, obj)
        try:
            findings = await self._findings(obj)
        except (InputError, RoleUnreadableError) as e:
            return self._unjudged(verdict, str(e))
        return self._decide(verdict, findings)

    def unjudged(self, request: Mapping[str, Any], why: str) -> Verdict:
        """The verdict on a request kharden could not judge: allowed, with a warning saying why."""
        kind = str(request["kind"]["kind"])
        subject = _subject(kind, request, request.get("object"))
        verdict = Verdict(
            str(request["uid"]), True, subject, str(request["operation"]), request.get("dryRun") is True
        )
        return self._unjudged(verdict, why)

    def _obj(self, raw: dict[str, Any], request: Mapping[str, Any]) -> Obj | str:
        """The object as the scan reads it (its namespace from the request when it has none), or why not."""
        raw = dict(raw)
        metadata = dict(raw.get("metadata") or {}) if isinstance(raw.get("metadata"), dict) else {}
        namespace = request.get("namespace")
        if isinstance(namespace, str) and namespace and not metadata.get("namespace"):
            metadata["namespace"] = namespace
        raw["metadata"] = metadata
        kind = request["kind"]
        if not isinstance(raw.get("kind"), str):
            raw["kind"] = kind["kind"]
        if not isinstance(raw.get("apiVersion"), str):
            group, version = kind.get("group") or "", kind.get("version") or "v1"
            raw["apiVersion"] = f"{group}/{version}" if group else version
        collected = Collected()
        collected.add_raw(raw, Origin(None))
        if collected.errors:
            return collected.errors[0].message
        return collected.objects[0]

    async def _findings(self, obj: Obj) -> list[Finding]:
        out = Judgement()
        kind = obj.ref.kind
        if pod_template_path(obj) is not None and kind in TEMPLATE_KINDS:
            pod = exempt(effective_pod(obj, pod_template_path(obj) or ""), self.settings.exempt_images)
            if pod is not None:
                self.runner.pod(pod, out)
        self.runner.object(obj, out)
        if out.errors:
            raise out.errors[0]
        findings = out.findings
        rules = self.inventory_rules.get(kind)
        if rules:
            findings += await self._inventory_findings(obj, rules)
        elif pod_template_path(obj) is None and kind not in self.runner.object_rules:
            raise InputError(f"kharden has no rule for {kind}")
        return findings

    async def _inventory_findings(self, obj: Obj, rules: Sequence[Rule]) -> list[Finding]:
        objects = [obj]
        if obj.ref.kind in _BINDING_KINDS and self.roles is not None:
            role = await self._role_of(obj)
            if role is not None:
                objects.append(role)
        context = ScanContext(Inventory(objects), frozenset({"M", "G"}))
        found = []
        for rule in rules:
            for hit in rule.check(context):
                if isinstance(hit, Unevaluated) or hit.obj is None or hit.obj.ref != obj.ref:
                    continue
                found.append(finding(rule, obj, hit, template_annotations(obj), self.settings.policy))
        if context.errors:
            raise context.errors[0]
        return found

    async def _role_of(self, binding: Obj) -> Obj | None:
        ref = binding.raw.get("roleRef")
        if not isinstance(ref, dict) or ref.get("kind") not in {"Role", "ClusterRole"}:
            return None
        kind, name = str(ref["kind"]), str(ref.get("name") or "")
        namespace = binding.ref.namespace if kind == "Role" else None
        assert self.roles is not None
        raw = await self.roles(kind, namespace, name)
        if raw is None:
            return None
        role = dict(raw)
        role.setdefault("apiVersion", "rbac.authorization.k8s.io/v1")
        role.setdefault("kind", kind)
        # The cluster stored the aggregated rules; the engine would aggregate again from the roles it sees.
        role.pop("aggregationRule", None)
        collected = Collected()
        collected.add_raw(role, Origin(None))
        return collected.objects[0] if collected.objects else None

    def _unjudged(self, verdict: Verdict, why: str) -> Verdict:
        verdict.judged = False
        verdict.warnings.append(f"kharden could not judge {verdict.subject}: {why}")
        return verdict

    def _decide(self, verdict: Verdict, findings: list[Finding]) -> Verdict:
        settings = self.settings
        verdict.findings = [f for f in findings if f.suppressed is None]
        fail_on = settings.fail_on
        verdict.denying = [f for f in verdict.findings if fail_on is not None and f.severity >= fail_on]
        lines = [_line(f) for f in verdict.findings]
        if verdict.denying and settings.action == "deny":
            verdict.allowed = False
            text = "; ".join(_line(f) for f in verdict.denying)
            if len(text) > _MAX_MESSAGE:
                text = text[: _MAX_MESSAGE - 20].rsplit("; ", 1)[0] + "; and more"
            verdict.message = f"kharden denied {verdict.subject}: {text}"
            verdict.warnings = [_line(f) for f in verdict.findings if f not in verdict.denying]
        elif settings.action in {"deny", "warn"}:
            verdict.warnings = lines
        return verdict


def _line(f: Finding) -> str:
    return f"{f.rule}: {f.message} (fix: {f.remediation})"


def _subject(kind: str, request: Mapping[str, Any], raw: Any) -> str:
    metadata = raw.get("metadata") if isinstance(raw, dict) else None
    name = request.get("name") or (metadata.get("name") if isinstance(metadata, dict) else None)
    if not name and isinstance(metadata, dict):
        generate = metadata.get("generateName")
        name = f"{generate}*" if isinstance(generate, str) and generate else None
    namespace = request.get("namespace")
    if not isinstance(name, str) or not name:
        return kind
    return f"{kind} {namespace}/{name}" if isinstance(namespace, str) and namespace else f"{kind} {name}"
