"""``kharden generate psa --from-psp FILE``: PodSecurityPolicies migrated to what Kubernetes 1.25+ enforces.

For each PodSecurityPolicy of the files:

- the Pod Security Standards level it implies (every pod it admits passes that level) and the level it
  is closest to (most of that level's controls hold; the report names those that do not);
- a ValidatingAdmissionPolicy with one validation per PSP field the implied level does not express
  (:mod:`._pspcel`) and its binding (``validationActions: [Deny]``), so that together the label and the
  policy admit the pods the PSP admitted and reject those it rejected; a field kharden cannot express is
  named in the report, never dropped;
- the namespaces that used the PSP, found through the RBAC ``use`` grants of the other inputs: labelled
  ``pod-security.kubernetes.io/enforce`` at the implied level (so that no pod the PSP admitted is
  refused), ``warn`` and ``audit`` at the closest level, and ``kharden.io/pod-security-policy: NAME``,
  which the binding selects. A PSP granted to every ServiceAccount or user is bound to every namespace.

What the PSP *set* on pods (defaults: ``allowPrivilegeEscalation: false``, dropped capabilities, a user,
fsGroup and groups from its ranges, seccomp and AppArmor profiles) no admission policy sets any more:
the report lists it, and pods must write it themselves (``kharden fix`` does).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..analysis.context import ScanContext
from ..analysis.pss import BASELINE_CAPABILITIES, RESTRICTED_VOLUMES, SELINUX_TYPES
from ..analysis.rbac import Request, Subject
from ..model import ErrorRecord, Obj
from ._pspcel import APPARMOR_ALLOWED, SECCOMP_ALLOWED, Check, checks_of, malformed
from .model import GENERATED_BY, REASON, Generated, Item

__all__ = ["PSP_LABEL", "Migration", "generate_psa", "migrate"]

PSP_LABEL = "kharden.io/pod-security-policy"
ENFORCE = "pod-security.kubernetes.io/enforce"
WARN = "pod-security.kubernetes.io/warn"
AUDIT = "pod-security.kubernetes.io/audit"
_BY = "kharden generate psa"
_EVERYONE = {Subject("Group", "system:serviceaccounts"), Subject("Group", "system:authenticated")}

BASELINE_CONTROLS = (
    "HostProcess", "Host Namespaces", "Privileged Containers", "Capabilities (baseline)", "HostPath Volumes",
    "Host Ports", "AppArmor", "SELinux", "/proc Mount Type", "Seccomp (baseline)", "Sysctls",
)  # fmt: skip
RESTRICTED_CONTROLS = (
    "Volume Types", "Privilege Escalation", "Running as Non-root", "Running as Non-root user",
    "Seccomp (restricted)", "Capabilities (restricted)",
)  # fmt: skip
CLOSE_ENOUGH = 0.8
"""A level is the closest when the PSP implies at least this share of its controls."""


class Migration:
    """One PSP: its checks, the controls it implies, the levels, the namespaces that used it."""

    def __init__(self, psp: Obj) -> None:
        self.psp = psp
        spec = psp.raw.get("spec")
        self.spec: Mapping[str, Any] = spec if isinstance(spec, Mapping) else {}
        self.annotations = psp.annotations
        self.checks, self.unsupported = checks_of(self.spec, self.annotations)
        self.implied = implied_controls(self.spec, self.annotations)
        self.level = _strictest(self.implied, share=1.0)
        self.closest = _strictest(self.implied, share=CLOSE_ENOUGH)

    @property
    def name(self) -> str:
        return self.psp.ref.name

    def missing(self, level: str) -> list[str]:
        controls = BASELINE_CONTROLS + (RESTRICTED_CONTROLS if level == "restricted" else ())
        return [c for c in controls if level != "privileged" and c not in self.implied]

    def validations(self) -> list[Check]:
        """The checks the enforced level does not already make (all of them below baseline)."""
        covered = _COVERED.get(self.level, frozenset())
        return [c for c in self.checks if c.constraints and c.field not in covered]


# PSP fields a level's controls check exactly as the PSP does, once the PSP implies those controls.
_COVERED = {
    "baseline": frozenset({"spec.privileged", "spec.hostNetwork", "spec.hostPID", "spec.hostIPC"}),
}


def implied_controls(spec: Mapping[str, Any], annotations: Mapping[str, str]) -> set[str]:
    """The Pod Security Standards controls every pod this PSP admits passes."""
    found: set[str] = set()
    host_off = all(spec.get(k) is not True for k in ("hostNetwork", "hostPID", "hostIPC"))
    if spec.get("hostNetwork") is not True:
        found.add("HostProcess")  # the API server refuses HostProcess pods without hostNetwork
    if host_off:
        found.add("Host Namespaces")
    if spec.get("privileged") is not True:
        found.add("Privileged Containers")
    allowed = {str(c) for c in spec.get("allowedCapabilities") or []} | {
        str(c) for c in spec.get("defaultAddCapabilities") or []
    }
    if "*" not in allowed and allowed <= BASELINE_CAPABILITIES:
        found.add("Capabilities (baseline)")
    volumes = {str(v) for v in spec.get("volumes") or []}
    if "*" not in volumes and "hostPath" not in volumes:
        found.add("HostPath Volumes")
    if all(int(r.get("max", 0)) == 0 for r in spec.get("hostPorts") or []):
        found.add("Host Ports")
    apparmor = annotations.get(APPARMOR_ALLOWED)
    if apparmor is not None and not {"unconfined", "*"} & {n.strip() for n in apparmor.split(",")}:
        found.add("AppArmor")
    selinux = spec.get("seLinux") or {}
    options = selinux.get("seLinuxOptions") or {}
    if (
        selinux.get("rule") == "MustRunAs"
        and str(options.get("type", "")) in SELINUX_TYPES
        and not options.get("user")
        and not options.get("role")
    ):
        found.add("SELinux")
    if "Unmasked" not in (spec.get("allowedProcMountTypes") or []):
        found.add("/proc Mount Type")
    seccomp = annotations.get(SECCOMP_ALLOWED)
    names = {n.strip() for n in seccomp.split(",")} if seccomp is not None else set()
    if seccomp is not None and not {"unconfined", "*"} & names:
        found.add("Seccomp (baseline)")
        if all(n in ("runtime/default", "docker/default") or n.startswith("localhost/") for n in names):
            found.add("Seccomp (restricted)")
    if not spec.get("allowedUnsafeSysctls"):
        found.add("Sysctls")
    if "*" not in volumes and volumes <= RESTRICTED_VOLUMES:
        found.add("Volume Types")
    if spec.get("allowPrivilegeEscalation") is False:
        found.add("Privilege Escalation")
    user = spec.get("runAsUser") or {}
    if user.get("rule") == "MustRunAsNonRoot" or (
        user.get("rule") == "MustRunAs" and all(int(r.get("min", 0)) >= 1 for r in user.get("ranges") or [{}])
    ):
        found.add("Running as Non-root user")
    # "Running as Non-root" needs runAsNonRoot: true; MustRunAsNonRoot sets it only where runAsUser is unset.
    required = {str(c) for c in spec.get("requiredDropCapabilities") or []}
    if "ALL" in required and allowed <= {"NET_BIND_SERVICE"}:
        found.add("Capabilities (restricted)")
    return found


def _strictest(implied: set[str], share: float) -> str:
    restricted = BASELINE_CONTROLS + RESTRICTED_CONTROLS
    if sum(c in implied for c in restricted) >= share * len(restricted):
        return "restricted"
    if sum(c in implied for c in BASELINE_CONTROLS) >= share * len(BASELINE_CONTROLS):
        return "baseline"
    return "privileged"


def migrate(
    context: ScanContext, files: Sequence[str], errors: list[ErrorRecord] | None = None
) -> list[Migration]:
    """The PodSecurityPolicies read from ``files``; one whose fields have types the API server refuses is
    not migrated, and each such field is an error (file and line) added to ``errors``."""
    wanted = [str(Path(f)) for f in files]
    found = []
    for obj in context.inventory.of_kind("PodSecurityPolicy"):
        origin = str(Path(obj.origin.file)) if obj.origin.file else ""
        if obj.ref.group in {"policy", "extensions"} and any(
            origin == f or origin.startswith(f + "/") for f in wanted
        ):
            spec = obj.raw.get("spec")
            problems = malformed(spec) if isinstance(spec, Mapping) else [("", "a mapping")]
            for pointer, expected in problems:
                location = obj.locate("/spec" + pointer)
                name = ("spec" + pointer.replace("/", ".")).rstrip(".")
                message = f"{obj.ref}: {name} must be {expected}: not migrated"
                if errors is not None:
                    errors.append(ErrorRecord(location.file, location.line, message))
            if not problems:
                found.append(Migration(obj))
    return found


def generate_psa(context: ScanContext, files: Sequence[str]) -> Generated:
    out = Generated("psa")
    migrations = migrate(context, files, out.errors)
    if not migrations and not out.errors:
        out.warn(f"no PodSecurityPolicy in {', '.join(files)}")
        return out
    labels: dict[str, list[Migration]] = {}
    for migration in migrations:
        namespaces, everywhere = _users(context, migration.name)
        _report(out, migration, namespaces, everywhere)
        policy, binding = _policy(migration, None if everywhere else migration.name)
        out.items += [policy, binding]
        for namespace in sorted(namespaces if not everywhere else _all_namespaces(context)):
            labels.setdefault(namespace, []).append(migration)
    for namespace, used in sorted(labels.items()):
        if len(used) > 1:
            out.warn(
                f"namespace {namespace} used {len(used)} PodSecurityPolicies"
                f" ({', '.join(m.name for m in used)}): a pod passed if one admitted it, but each"
                f" ValidatingAdmissionPolicy binding must pass; the namespace is bound to {used[0].name} only"
            )
        out.items.append(_namespace(context, namespace, used[0]))
    return out


def _users(context: ScanContext, name: str) -> tuple[set[str], bool]:
    """The namespaces whose pods could use the PSP (by its RBAC ``use`` grants), and whether every one."""
    namespaces: set[str] = set()
    everywhere = False
    for group in ("policy", "extensions"):
        request = Request("use", "podsecuritypolicies", group, "", name, None, False)
        for grant in context.rbac.who_can(request):
            binding, subject = grant.binding, grant.subject
            if binding.stock or (subject.is_system and subject not in _EVERYONE and not _sa_group(subject)):
                continue
            if binding.namespace is not None:
                namespaces.add(binding.namespace)
            elif subject.kind == "ServiceAccount" and subject.namespace:
                namespaces.add(subject.namespace)
            elif _sa_group(subject):
                namespaces.add(subject.name.removeprefix("system:serviceaccounts:"))
            else:
                everywhere = True
    return namespaces, everywhere


def _sa_group(subject: Subject) -> bool:
    return subject.kind == "Group" and subject.name.startswith("system:serviceaccounts:")


def _all_namespaces(context: ScanContext) -> set[str]:
    return {o.ref.name for o in context.inventory.of_kind("Namespace")}


def _report(out: Generated, migration: Migration, namespaces: set[str], everywhere: bool) -> None:
    name = migration.name
    missing = migration.missing(migration.closest)
    out.summary.append(
        f"PodSecurityPolicy {name}: closest to {migration.closest}"
        + (f" (all but {', '.join(missing)})" if missing else "")
        + f"; enforced: {migration.level} plus ValidatingAdmissionPolicy kharden-psp-{name}"
        f" ({len(migration.validations())} validations)"
    )
    for field in migration.unsupported:
        out.warn(f"PodSecurityPolicy {name}: {field}: no equivalent written, review it by hand")
    for check in migration.checks:
        if check.defaulted:
            out.warn(
                f"PodSecurityPolicy {name}: {check.defaulted}; nothing sets it any more: pods must write it"
                " (kharden fix)",
                "defaults",
            )
    if everywhere:
        out.inform(
            f"PodSecurityPolicy {name}: granted to every user or ServiceAccount: bound to every namespace"
        )
    elif not namespaces:
        out.warn(
            f"PodSecurityPolicy {name}: no RBAC 'use' grant in the inputs: no namespace is labelled;"
            f" label the namespaces that used it {PSP_LABEL}={name} (give their RBAC as PATH to do it)"
        )


def _policy(migration: Migration, selector_value: str | None) -> tuple[Item, Item]:
    name = f"kharden-psp-{migration.name}"
    why = (
        f"the checks of PodSecurityPolicy {migration.name} that Pod Security level {migration.level} does not"
        " make"
    )
    validations = [
        {
            "expression": c.cel,
            "message": f"{c.message} (PodSecurityPolicy {migration.name}: {c.field})",
            "reason": "Forbidden",
        }
        for c in migration.validations()
    ]
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {
            "name": name,
            "labels": {"app.kubernetes.io/managed-by": "kharden"},
            "annotations": {GENERATED_BY: _BY, REASON: why},
        },
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": ["pods", "pods/ephemeralcontainers"],
                    }
                ]
            },
            "variables": [
                {"name": "podSpec", "expression": "object.spec"},
                {"name": "podMetadata", "expression": "object.metadata"},
            ],
            "validations": validations,
        },
    }
    binding_spec: dict[str, Any] = {"policyName": name, "validationActions": ["Deny"]}
    where = "every namespace"
    if selector_value is not None:
        binding_spec["matchResources"] = {"namespaceSelector": {"matchLabels": {PSP_LABEL: selector_value}}}
        where = f"the namespaces labelled {PSP_LABEL}={selector_value}"
    binding = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {
            "name": name,
            "labels": {"app.kubernetes.io/managed-by": "kharden"},
            "annotations": {GENERATED_BY: _BY, REASON: f"applies {name} to the pods of {where}, denying"},
        },
        "spec": binding_spec,
    }
    return Item(policy, why), Item(binding, f"applies {name} to the pods of {where}")


def _namespace(context: ScanContext, namespace: str, migration: Migration) -> Item:
    existing = context.inventory.get("Namespace", None, namespace)
    labels = dict(existing.labels) if existing is not None else {}
    if migration.level != "privileged":
        labels[ENFORCE] = migration.level
    labels[WARN] = migration.closest
    labels[AUDIT] = migration.closest
    labels[PSP_LABEL] = migration.name
    why = (
        f"used PodSecurityPolicy {migration.name}: Pod Security {migration.level} enforced (what it implies),"
        f" {migration.closest} warned about and audited, and the ValidatingAdmissionPolicy kharden-psp-"
        f"{migration.name} for the rest"
    )
    annotations = dict(existing.annotations if existing is not None else {})
    annotations.pop("kubectl.kubernetes.io/last-applied-configuration", None)
    annotations[GENERATED_BY] = _BY
    annotations[REASON] = why
    raw = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": namespace, "labels": labels, "annotations": annotations},
    }
    return Item(raw, why, existing is not None)
