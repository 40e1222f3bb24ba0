"""The checklist's notes on admission: Pod Security Admission, PodSecurityPolicy, admission plugins."""

from __future__ import annotations

from collections.abc import Iterator

from ..analysis.admission import PodSecurityConfig, namespace_level, pod_security_config
from ..analysis.context import ScanContext
from ..analysis.controlplane import APISERVER, Component
from ..model import Hit, Obj, Severity, Unevaluated
from ._controlplane import absent, at, file_objects
from ._ruleset import RuleSet

rules = RuleSet("admission")

PSA_DOC = "https://kubernetes.io/docs/concepts/security/pod-security-admission/"
ENFORCE_LABEL = "pod-security.kubernetes.io/enforce"
PLUGINS_DOC = "https://kubernetes.io/docs/reference/access-authn-authz/admission-controllers/"
_ADMISSION_KINDS = ("AdmissionConfiguration", "PodSecurityConfiguration")


def _enabled_plugins(component: Component) -> tuple[list[str], list[str]]:
    """The plugins enabled (``--enable-admission-plugins`` and the deprecated ``--admission-control``)
    and disabled by ``--disable-admission-plugins``."""
    enabled = [p for p, _ in component.items("enable-admission-plugins")]
    enabled += [p for p, _ in component.items("admission-control")]
    disabled = [p for p, _ in component.items("disable-admission-plugins")]
    return enabled, disabled


@rules.inventory(
    "admission.psp-unenforced",
    Severity.CRITICAL,
    evidence="M, N, C",
    title="PodSecurityPolicy not enforced",
    remediation=(
        "replace PodSecurityPolicies with Pod Security Admission labels (or Kyverno/Gatekeeper"
        " policies); before 1.25, add PodSecurityPolicy to --enable-admission-plugins"
    ),
    references=(
        "https://kubernetes.io/docs/tasks/configure-pod-container/migrate-from-psp/",
        "https://kubernetes.io/blog/2021/04/06/podsecuritypolicy-deprecation-past-present-and-future/",
    ),
)
def psp_unenforced(context: ScanContext) -> Iterator[Hit | Unevaluated]:
    """Fires for PodSecurityPolicies that nothing enforces: on Kubernetes 1.25+ PodSecurityPolicy no
    longer exists; before, the PodSecurityPolicy admission plugin must be enabled on the API server.
    With manifests alone the cluster is taken to be 1.25+ unless --kube-version says older.

    The checklist notes it: a PodSecurityPolicy without its admission controller is never applied,
    and nothing warns that pods are admitted unchecked.

    Without a PodSecurityPolicy in the scan it is judged only where that means something: a cluster
    read holds none, or a kube-apiserver would enforce any (the plugin enabled, or 1.25+, where none can
    exist). Manifests or node files alone (a worker node) cannot say: not evaluated, never a pass.

    Reads: PodSecurityPolicy objects (policy and extensions groups); the Kubernetes version
    (--kube-version, the cluster's, a node root's kube-apiserver image tag; never a kube-apiserver
    manifest among plain manifests); kube-apiserver --enable-admission-plugins,
    --admission-control, --disable-admission-plugins.
    """
    policies = [
        p for p in context.inventory.of_kind("PodSecurityPolicy") if p.ref.group in {"policy", "extensions"}
    ]
    if not policies:
        yield from _no_policy(context)
        return
    plane = context.control_plane
    plane.assume("PodSecurityPolicy, removed in 1.25")
    version = plane.kube_version
    if version >= (1, 25):
        how = "" if plane.version_stated else ", assumed"
        for policy in policies:
            yield Hit(
                "",
                f"PodSecurityPolicy was removed in Kubernetes 1.25"
                f" (the cluster is {version[0]}.{version[1]}{how})",
                obj=policy,
            )
        return
    apiservers = plane.of(APISERVER)
    if not apiservers:
        yield Unevaluated(
            f"Kubernetes {version[0]}.{version[1]}: no kube-apiserver in the scan tells whether the"
            " PodSecurityPolicy admission plugin is enabled"
        )
        return
    for component in apiservers:
        enabled, disabled = _enabled_plugins(component)
        if "PodSecurityPolicy" not in enabled or "PodSecurityPolicy" in disabled:
            setting = component.setting("enable-admission-plugins")
            yield at(
                setting,
                f"{len(policies)} PodSecurityPolicies exist but the PodSecurityPolicy admission plugin is"
                f" not enabled ({setting.describe()})",
            )


def _no_policy(context: ScanContext) -> Iterator[Unevaluated]:
    """Why a scan without PodSecurityPolicies cannot tell whether some would go unenforced (nothing when
    it can: a cluster read lists none, or every kube-apiserver would enforce them or cannot hold any)."""
    if "C" in context.evidence:
        return
    plane = context.control_plane
    apiservers = plane.of(APISERVER)
    if not apiservers:
        yield Unevaluated(
            "no PodSecurityPolicy and no kube-apiserver in this scan: nothing tells whether the cluster"
            " holds PodSecurityPolicies or enforces them (scan the cluster or a control-plane node)"
        )
        return
    plane.assume("PodSecurityPolicy, removed in 1.25")
    version = plane.kube_version
    if version >= (1, 25):
        return
    for component in apiservers:
        enabled, disabled = _enabled_plugins(component)
        if "PodSecurityPolicy" not in enabled or "PodSecurityPolicy" in disabled:
            yield Unevaluated(
                f"Kubernetes {version[0]}.{version[1]}: kube-apiserver does not enable the PodSecurityPolicy"
                " admission plugin and no PodSecurityPolicy in this scan tells whether the cluster holds"
                " any (scan the cluster)"
            )
            return


@rules.inventory(
    "admission.pod-security",
    Severity.HIGH,
    evidence="M, C",
    title="Namespace without Pod Security enforcement",
    remediation=(
        "label the namespace pod-security.kubernetes.io/enforce=restricted (or enforce an equivalent"
        " Kyverno, Gatekeeper or ValidatingAdmissionPolicy policy)"
    ),
    references=(PSA_DOC, "https://kubernetes.io/docs/concepts/security/pod-security-standards/"),
)
def pod_security(context: ScanContext) -> Iterator[Hit | Unevaluated]:
    """Fires for a namespace (other than kube-system) where Pod Security Admission does not enforce
    restricted (medium when it enforces baseline) and no policy engine enforces an equivalent: no
    enforce label and no restrictive default in the PodSecurity configuration, an exemption, or the
    PodSecurity plugin disabled on the API server.

    Without enforcement any workload may run privileged, share the host's namespaces or mount its
    filesystem; admission is the one place that stops such pods before they run. An invalid level
    label enforces restricted and an invalid version means latest, as the admission plugin does. Each
    finding is the namespace's; where its level is decided elsewhere (the PodSecurity configuration's
    defaults or exemptions, the API server's flags) it points there.

    Reads: Namespace labels pod-security.kubernetes.io/enforce and enforce-version; the PodSecurity
    plugin configuration (defaults.enforce, exemptions.namespaces) of kube-apiserver
    --admission-control-config-file or in the scan; --disable-admission-plugins; Kyverno ClusterPolicies
    and Policies with validate.podSecurity in Enforce mode; Gatekeeper K8sPSP* constraints with
    enforcementAction deny; ValidatingAdmissionPolicies bound with validationActions Deny (kharden's own
    by the rule each names in kharden.io/rule, others by the fields their CEL tests).
    """
    config: PodSecurityConfig | None = None
    config_unknown = False
    disabled_by: Component | None = None
    for component in context.control_plane.of(APISERVER):
        if "PodSecurity" in _enabled_plugins(component)[1]:
            disabled_by = component
        for found in file_objects(context, component, "admission-control-config-file", _ADMISSION_KINDS):
            if isinstance(found, Unevaluated):
                config_unknown = True  # its defaults decide the unlabelled namespaces
                yield found
            elif config is None:
                config = pod_security_config(found)
    if config is None:
        for obj in context.inventory.of_kind(*_ADMISSION_KINDS):
            config = config or pod_security_config(obj)
    engines = context.pod_security_engines
    for namespace in context.inventory.of_kind("Namespace"):
        if namespace.ref.name == "kube-system":
            continue
        level = namespace_level(namespace, config)
        if config_unknown and config is None and level.how == "default" and disabled_by is None:
            continue
        obj, path, how = level.obj, level.path, level.how
        if disabled_by is not None:
            setting = disabled_by.setting("disable-admission-plugins")
            obj, path, how = setting.obj, setting.path, "disabled"
            enforced = "privileged"
        else:
            enforced = level.level
        engine = next((e for e in engines if e.applies(namespace) and _rank(e.level) > _rank(enforced)), None)
        if engine is not None:
            enforced = engine.level
        if enforced == "restricted":
            continue
        severity = Severity.MEDIUM if enforced == "baseline" else None
        message = _message(namespace, enforced, how, engine is not None)
        # The finding is the namespace's (its identity, annotations, baseline; what `kharden paths` reads);
        # where the level is decided elsewhere (the PodSecurity configuration, the API server's flags), the
        # finding points there.
        if obj is namespace:
            yield Hit(path, message, obj=namespace, severity=severity)
        else:
            yield Hit(path, message, obj=namespace, severity=severity, key=_DECIDED_BY[how], at=obj)


_DECIDED_BY = {
    "exempt": "PodSecurity exemptions.namespaces",
    "default": "PodSecurity defaults.enforce",
    "disabled": "kube-apiserver --disable-admission-plugins PodSecurity",
}
"""The key of a namespace's finding decided outside the namespace (by how its level was found)."""


def _rank(level: str) -> int:
    return (
        ("privileged", "baseline", "restricted").index(level)
        if level in {"privileged", "baseline", "restricted"}
        else 0
    )


def _message(namespace: Obj, level: str, how: str, by_engine: bool) -> str:
    name = namespace.ref.name
    if by_engine:
        return f"namespace {name!r} is held only to the baseline level by a policy engine"
    if how == "disabled":
        return f"namespace {name!r} is not checked: the PodSecurity admission plugin is disabled"
    if how == "exempt":
        return f"namespace {name!r} is exempt from Pod Security Admission"
    if how == "label":
        return f"namespace {name!r} enforces only the {level} level ({ENFORCE_LABEL}: {level})"
    if level == "privileged":
        return (
            f"namespace {name!r} enforces no Pod Security level (no pod-security.kubernetes.io/enforce label)"
        )
    return f"namespace {name!r} enforces only the {level} level (the PodSecurity configuration's default)"


@rules.inventory(
    "admission.plugins",
    Severity.MEDIUM,
    evidence="N, C",
    title="Admission plugins",
    remediation="add NodeRestriction to --enable-admission-plugins and remove AlwaysAdmit",
    references=(PLUGINS_DOC + "#noderestriction", PLUGINS_DOC + "#alwaysadmit"),
)
def plugins(context: ScanContext) -> Iterator[Hit | Unevaluated]:
    """Fires when kube-apiserver does not enable NodeRestriction (it is not on by default) or disables
    it, or enables AlwaysAdmit.

    Without NodeRestriction a kubelet's credentials can change any Node and any pod, so one
    compromised node takes over the others; AlwaysAdmit turns admission control off.

    Reads: kube-apiserver --enable-admission-plugins, --admission-control (deprecated),
    --disable-admission-plugins (k3s and RKE2 enable NodeRestriction themselves).
    """
    yield from absent(context, APISERVER)
    for component in context.control_plane.of(APISERVER):
        enabled, disabled = _enabled_plugins(component)
        setting = component.setting("enable-admission-plugins")
        if "NodeRestriction" in disabled:
            found = component.setting("disable-admission-plugins")
            yield at(
                found,
                f"kube-apiserver disables the NodeRestriction admission plugin ({found.written})",
                item="NodeRestriction",
            )
        elif "NodeRestriction" not in enabled:
            yield at(
                setting,
                f"kube-apiserver does not enable the NodeRestriction admission plugin ({setting.describe()})",
                item="NodeRestriction",
            )
        for name, found in component.items("enable-admission-plugins") + component.items("admission-control"):
            if name == "AlwaysAdmit":
                yield at(
                    found, f"kube-apiserver admits every request (AlwaysAdmit in {found.written})", item=name
                )
