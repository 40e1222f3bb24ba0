"""Pod Security Admission per namespace, and the policy engines that can stand in for it.

A namespace's enforced level is its ``pod-security.kubernetes.io/enforce`` label, else the
``defaults.enforce`` of the PodSecurity plugin's configuration (``privileged`` when none). An invalid
level enforces ``restricted`` and an invalid version ``latest`` (pod-security-admission
``api.ParseLevel``/``ParseVersion`` fail closed). A namespace listed in ``exemptions.namespaces`` is
not checked at all, nor is any namespace when the plugin is disabled.
https://kubernetes.io/docs/concepts/security/pod-security-admission/

Equivalent engines recognised (each must enforce, not only audit, and apply to the namespace):
Kyverno (Cluster)Policies with a ``validate.podSecurity`` rule in Enforce mode; Gatekeeper constraints
of the pod-security library (``K8sPSP*``) covering the controls of a level with ``enforcementAction:
deny``; ValidatingAdmissionPolicies bound with ``validationActions: [Deny]`` to pods.

A ValidatingAdmissionPolicy kharden wrote (``kharden.io/generated-by``) is recognised by what it says it
enforces, never by its text: ``kharden admission policies`` writes one policy per rule and names the rule
(``kharden.io/rule``); a namespace is held to a level when the policies bound to it with Deny cover the
rules of every control of that level (:data:`LEVEL_RULES`), and a policy that honours ``kharden.io/ignore``
annotations (``kharden.io/suppressible: "true"``: anyone who writes the pod can exempt it) counts for
nothing. The PodSecurityPolicy migration's policies (``kharden generate psa --from-psp``) name no rule:
they add the PSP's checks to the level the namespace's labels enforce, and count for no level of their
own. Any other policy is judged conservatively by its CEL text: it must test the fields of a level's
controls.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from .. import _pointer
from ..inventory import Inventory
from ..model import Obj
from .selectors import EVERYTHING, NOTHING, LabelSelector, parse_label_selector

__all__ = [
    "GENERATED_BY",
    "LEVELS",
    "LEVEL_RULES",
    "RULE_ANNOTATION",
    "SUPPRESSIBLE_ANNOTATION",
    "Engine",
    "NamespaceLevel",
    "PodSecurityConfig",
    "engines_for",
    "namespace_level",
]

LEVELS = ("privileged", "baseline", "restricted")
ENFORCE = "pod-security.kubernetes.io/enforce"
ENFORCE_VERSION = "pod-security.kubernetes.io/enforce-version"
_VERSION = re.compile(r"^v1\.(0|[1-9][0-9]*)$")

GENERATED_BY = "kharden.io/generated-by"
"""On every object kharden writes."""
RULE_ANNOTATION = "kharden.io/rule"
"""On a ValidatingAdmissionPolicy of ``kharden admission policies``: the one rule it enforces."""
SUPPRESSIBLE_ANNOTATION = "kharden.io/suppressible"
"""``"true"`` on a policy that lets ``kharden.io/ignore`` annotations exempt an object."""

_BASELINE_RULES = frozenset(
    {
        "pod.privileged",  # Privileged Containers, HostProcess
        "pod.host-namespaces",  # Host Namespaces (hostPID, hostIPC)
        "netpol.host-network",  # Host Namespaces (hostNetwork)
        "pod.dangerous-capabilities",  # Capabilities (kharden allows only NET_BIND_SERVICE: stricter)
        "pod.volume-types",  # HostPath Volumes (kharden allows only the restricted set: stricter)
        "exposure.host-port",  # Host Ports
        "pod.apparmor",  # AppArmor
        "pod.selinux",  # SELinux (kharden also refuses container_engine_t: stricter)
        "pod.proc-mount",  # /proc Mount Type
        "pod.seccomp",  # Seccomp (kharden also refuses unset: stricter)
        "pod.unsafe-sysctls",  # Sysctls
    }
)
LEVEL_RULES = {
    "baseline": _BASELINE_RULES,
    "restricted": _BASELINE_RULES | {"pod.privilege-escalation", "pod.run-as-root", "pod.capabilities"},
}
"""The kharden rules whose policies, together, hold pods to each Pod Security Standards level: each rule is
at least as strict as the controls it stands for."""


@dataclass(frozen=True, slots=True)
class PodSecurityConfig:
    """The PodSecurity plugin's configuration (from an AdmissionConfiguration), where it was written."""

    obj: Obj
    path: str
    default_level: str
    exempt_namespaces: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NamespaceLevel:
    level: str
    version: str
    obj: Obj
    path: str
    how: str
    """``label``, ``default`` (the plugin configuration), ``exempt`` or ``invalid``."""


def pod_security_config(admission: Obj) -> PodSecurityConfig | None:
    """The PodSecurity configuration inside an AdmissionConfiguration, or ``None``."""
    plugins = admission.raw.get("plugins")
    if admission.ref.kind == "PodSecurityConfiguration":
        return _config(admission, admission.raw, "")
    for index, plugin in enumerate(plugins if isinstance(plugins, list) else []):
        if isinstance(plugin, Mapping) and plugin.get("name") == "PodSecurity":
            body = plugin.get("configuration")
            if isinstance(body, Mapping):
                return _config(admission, body, f"/plugins/{index}/configuration")
    return None


def _config(obj: Obj, body: Mapping[str, Any], path: str) -> PodSecurityConfig:
    defaults = body.get("defaults")
    level = defaults.get("enforce") if isinstance(defaults, Mapping) else None
    exemptions = body.get("exemptions")
    namespaces = exemptions.get("namespaces") if isinstance(exemptions, Mapping) else None
    return PodSecurityConfig(
        obj,
        path,
        level if isinstance(level, str) else "privileged",
        tuple(n for n in namespaces if isinstance(n, str)) if isinstance(namespaces, list) else (),
    )


def namespace_level(namespace: Obj, config: PodSecurityConfig | None) -> NamespaceLevel:
    """The level Pod Security Admission enforces in ``namespace``."""
    name = namespace.ref.name
    if config is not None and name in config.exempt_namespaces:
        index = config.exempt_namespaces.index(name)
        path = f"{config.path}/exemptions/namespaces/{index}"
        return NamespaceLevel("privileged", "latest", config.obj, path, "exempt")
    labels = namespace.labels
    version = labels.get(ENFORCE_VERSION, "latest")
    if version != "latest" and not _VERSION.match(version):
        version = "latest"
    label_path = _pointer.join("/metadata/labels", ENFORCE)
    if ENFORCE in labels:
        level = labels[ENFORCE]
        if level not in LEVELS:
            return NamespaceLevel("restricted", version, namespace, label_path, "invalid")
        return NamespaceLevel(level, version, namespace, label_path, "label")
    if config is not None:
        return NamespaceLevel(config.default_level, version, config.obj, f"{config.path}/defaults", "default")
    return NamespaceLevel("privileged", version, namespace, "/metadata/labels", "default")


# --- engines -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Engine:
    """A policy that enforces ``level`` (or its equivalent) on the pods of some namespaces."""

    obj: Obj
    level: str
    kind: str
    applies: Any  # Callable[[Obj], bool]: whether it covers a namespace


# Gatekeeper pod-security library constraint kinds per Pod Security Standards level.
_BASELINE_CONSTRAINTS = frozenset(
    {"K8sPSPPrivilegedContainer", "K8sPSPHostNamespace", "K8sPSPHostNetworkingPorts", "K8sPSPCapabilities"}
)
_HOST_PATH_CONSTRAINTS = frozenset({"K8sPSPHostFilesystem", "K8sPSPVolumeTypes"})
_RESTRICTED_CONSTRAINTS = frozenset(
    {"K8sPSPAllowPrivilegeEscalationContainer", "K8sPSPAllowedUsers", "K8sPSPSeccomp", "K8sPSPVolumeTypes"}
)
# Fields a CEL validation must test for a ValidatingAdmissionPolicy to count as a level.
_BASELINE_FIELDS = ("privileged", "hostPID", "hostNetwork", "hostPath", "capabilities")
_RESTRICTED_FIELDS = (*_BASELINE_FIELDS, "allowPrivilegeEscalation", "runAsNonRoot", "seccompProfile")


def engines_for(inventory: Inventory) -> list[Engine]:
    """Every enforcing engine of the scan that stands for a Pod Security Standards level."""
    engines: list[Engine] = []
    for policy in inventory.of_kind("ClusterPolicy", "Policy"):
        if policy.ref.group == "kyverno.io":
            engines.extend(_kyverno(policy))
    gatekeeper: dict[str, list[Obj]] = {}
    for obj in inventory.objects:
        if obj.ref.group == "constraints.gatekeeper.sh" and obj.ref.kind.startswith("K8sPSP"):
            spec = obj.raw.get("spec")
            action = spec.get("enforcementAction", "deny") if isinstance(spec, Mapping) else "deny"
            if action == "deny":
                gatekeeper.setdefault(obj.ref.kind, []).append(obj)
    engines.extend(_gatekeeper(gatekeeper))
    engines.extend(_vaps(inventory))
    return engines


def _kyverno(policy: Obj) -> Iterable[Engine]:
    spec = policy.raw.get("spec")
    if not isinstance(spec, Mapping):
        return
    default_action = str(spec.get("validationFailureAction") or "Audit").lower()
    rules = spec.get("rules")
    for rule in rules if isinstance(rules, list) else []:
        if not isinstance(rule, Mapping):
            continue
        validate = rule.get("validate")
        if not isinstance(validate, Mapping):
            continue
        security = validate.get("podSecurity")
        action = str(validate.get("failureAction") or default_action).lower()
        if not isinstance(security, Mapping) or action != "enforce":
            continue
        level = security.get("level")
        if level in LEVELS:
            yield Engine(policy, str(level), "Kyverno", _kyverno_scope(policy, rule))


def _kyverno_scope(policy: Obj, rule: Mapping[str, Any]) -> Any:
    def covered(block: Any) -> list[tuple[list[str], LabelSelector | None]]:
        found: list[tuple[list[str], LabelSelector | None]] = []
        if not isinstance(block, Mapping):
            return found
        clauses = [block]
        for key in ("any", "all"):
            if isinstance(block.get(key), list):
                clauses.extend(c for c in block[key] if isinstance(c, Mapping))
        for clause in clauses:
            resources = clause.get("resources")
            if isinstance(resources, Mapping):
                names = resources.get("namespaces")
                selector = resources.get("namespaceSelector")
                found.append(
                    (
                        [n for n in names if isinstance(n, str)] if isinstance(names, list) else [],
                        _selector(selector) if isinstance(selector, Mapping) else None,
                    )
                )
        return found

    matches = covered(rule.get("match"))
    excludes = covered(rule.get("exclude"))

    def applies(namespace: Obj) -> bool:
        if policy.ref.kind == "Policy" and policy.ref.namespace != namespace.ref.name:
            return False
        name = namespace.ref.name

        def hit(names: list[str], selector: LabelSelector | None) -> bool:
            return (not names or any(fnmatchcase(name, n) for n in names)) and (
                selector is None or selector.matches(namespace.labels)
            )

        if matches and not any(hit(n, s) for n, s in matches):
            return False
        return not any((n or s is not None) and hit(n, s) for n, s in excludes)

    return applies


def _gatekeeper(constraints: dict[str, list[Obj]]) -> Iterable[Engine]:
    kinds = set(constraints)
    if not (kinds >= _BASELINE_CONSTRAINTS and kinds & _HOST_PATH_CONSTRAINTS):
        return
    level = "restricted" if kinds >= _RESTRICTED_CONSTRAINTS else "baseline"
    needed = [
        k for k in kinds if k in _BASELINE_CONSTRAINTS | _HOST_PATH_CONSTRAINTS | _RESTRICTED_CONSTRAINTS
    ]

    def applies(namespace: Obj) -> bool:
        return all(
            any(_gatekeeper_applies(c, namespace) for c in constraints[k])
            for k in needed
            if k in _BASELINE_CONSTRAINTS
        )

    first = constraints[sorted(needed)[0]][0]
    yield Engine(first, level, "Gatekeeper", applies)


def _gatekeeper_applies(constraint: Obj, namespace: Obj) -> bool:
    spec = constraint.raw.get("spec")
    match = spec.get("match") if isinstance(spec, Mapping) else None
    if not isinstance(match, Mapping):
        return True
    name = namespace.ref.name
    names = match.get("namespaces")
    if (
        isinstance(names, list)
        and names
        and not any(fnmatchcase(name, n) for n in names if isinstance(n, str))
    ):
        return False
    excluded = match.get("excludedNamespaces")
    if isinstance(excluded, list) and any(fnmatchcase(name, n) for n in excluded if isinstance(n, str)):
        return False
    selector = match.get("namespaceSelector")
    return not isinstance(selector, Mapping) or _selector(selector).matches(namespace.labels)


def _selector(raw: Any) -> LabelSelector:
    """A namespace selector; a malformed one (the API server would refuse it) selects nothing."""
    try:
        return parse_label_selector(raw, absent=EVERYTHING)
    except ValueError:
        return NOTHING


def _vaps(inventory: Inventory) -> Iterable[Engine]:
    policies = {p.ref.name: p for p in inventory.of_kind("ValidatingAdmissionPolicy")}
    enforced: list[tuple[Obj, str, LabelSelector | None]] = []  # kharden's: policy, rule, namespaces
    for binding in inventory.of_kind("ValidatingAdmissionPolicyBinding"):
        spec = binding.raw.get("spec")
        actions = spec.get("validationActions") if isinstance(spec, Mapping) else None
        if not isinstance(spec, Mapping) or not isinstance(actions, list) or "Deny" not in actions:
            continue
        policy = policies.get(str(spec.get("policyName")))
        if policy is None or not _vap_for_pods(policy):
            continue
        resources = spec.get("matchResources")
        selector = resources.get("namespaceSelector") if isinstance(resources, Mapping) else None
        parsed = _selector(selector) if isinstance(selector, Mapping) else None
        annotations = policy.annotations
        if GENERATED_BY in annotations:
            rule = annotations.get(RULE_ANNOTATION)
            if rule and annotations.get(SUPPRESSIBLE_ANNOTATION) != "true":
                enforced.append((policy, rule, parsed))
            continue
        expressions = " ".join(_vap_expressions(policy))
        if not all(f in expressions for f in _BASELINE_FIELDS):
            continue
        level = "restricted" if all(f in expressions for f in _RESTRICTED_FIELDS) else "baseline"
        yield Engine(
            policy, level, "ValidatingAdmissionPolicy", lambda ns, s=parsed: s is None or s.matches(ns.labels)
        )
    if enforced:
        yield from _kharden_levels(enforced)


def _kharden_levels(enforced: list[tuple[Obj, str, LabelSelector | None]]) -> Iterable[Engine]:
    """A level for the namespaces where kharden's policies bound with Deny cover every rule of the level."""

    def covered(namespace: Obj) -> set[str]:
        return {rule for _, rule, s in enforced if s is None or s.matches(namespace.labels)}

    first = min((policy for policy, _, _ in enforced), key=lambda p: p.ref.name)
    for level in ("restricted", "baseline"):
        needed = LEVEL_RULES[level]
        yield Engine(first, level, "kharden admission policies", lambda ns, n=needed: n <= covered(ns))


def _vap_for_pods(policy: Obj) -> bool:
    spec = policy.raw.get("spec")
    constraints = spec.get("matchConstraints") if isinstance(spec, Mapping) else None
    rules = constraints.get("resourceRules") if isinstance(constraints, Mapping) else None
    for rule in rules if isinstance(rules, list) else []:
        resources = rule.get("resources") if isinstance(rule, Mapping) else None
        if isinstance(resources, list) and ("pods" in resources or "*" in resources):
            return True
    return False


def _vap_expressions(policy: Obj) -> Iterable[str]:
    spec = policy.raw.get("spec")
    validations = spec.get("validations") if isinstance(spec, Mapping) else None
    for validation in validations if isinstance(validations, list) else []:
        if isinstance(validation, Mapping) and isinstance(validation.get("expression"), str):
            yield validation["expression"]
