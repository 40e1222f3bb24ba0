"""A PodSecurityPolicy's checks, field by field, as constraints over the pod: what a
ValidatingAdmissionPolicy runs (their CEL) and what kharden judges a pod by (their Python check).

The constraints are those of the pod rules (``rules/_constraint.py``), so that the migration and
``kharden scan`` read a pod the same way (containers, initContainers and ephemeralContainers; what a
container inherits from the pod; the legacy seccomp and AppArmor annotations):

- where a PSP field means what a pod rule checks, the check is that rule's constraint on the field:
  ``privileged`` is ``pod.privileged``'s, ``hostNetwork`` ``netpol.host-network``'s, ``hostPID`` and
  ``hostIPC`` ``pod.host-namespaces``', ``hostPorts`` ``exposure.host-port``'s, ``runAsUser:
  MustRunAsNonRoot`` ``pod.run-as-root``'s (plus ``runAsNonRoot`` not false), ``readOnlyRootFilesystem``
  ``pod.writable-root-fs``'s, ``allowPrivilegeEscalation: false`` ``pod.privilege-escalation``'s test of
  that field, ``requiredDropCapabilities`` ``pod.capabilities``', ``allowedProcMountTypes``
  ``pod.proc-mount``'s; where the PSP gives the parameter (its host port ranges, allowed volume types,
  capabilities, profiles, ID ranges, sysctls), the rule's constraint takes the PSP's parameter in place
  of its own (``_rule``);
- fields no pod rule checks (allowed host paths, flexVolume and CSI drivers, Localhost profile names,
  SELinux options, sysctl patterns, runtime classes) use the constraint kinds of ``rules/_allowed.py``.

The CEL reads the pod as the admission chain hands it to a ValidatingAdmissionPolicy:
``variables.podSpec`` and ``variables.podMetadata`` (``object.spec``, ``object.metadata``).

A PodSecurityPolicy also *mutated* pods: it set ``allowPrivilegeEscalation: false``, dropped the
required capabilities, chose a user, fsGroup and supplemental groups from its ranges, set the default
seccomp and AppArmor profiles. A ValidatingAdmissionPolicy cannot; it checks what the PSP guaranteed
after its mutation, so pods must now carry those fields themselves (the report lists them). On such
pods, the checks accept exactly what the PSP accepted.

The semantics are those of the PodSecurityPolicy reference (policy/v1beta1) and its admission
controller's strategies: https://kubernetes.io/docs/concepts/security/pod-security-policy/
(kept in the v1.24 documentation).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from .. import rules
from ..analysis.podspec import EffectivePod
from ..rules._allowed import (
    HostPathUnder,
    InRanges,
    LocalhostProfile,
    Matches,
    NotEmpty,
    SELinuxIs,
    VolumeDriverIn,
)
from ..rules._constraint import (
    All,
    Any_,
    CelRoots,
    Constraint,
    Contains,
    Is,
    Ne,
    NoKeyOf,
    Not,
    OneOf,
    Pred,
    Present,
    Test,
    row,
    rule_cel,
)
from ..rules.pods import ALLOWED_VOLUME_TYPES, OTHER_VOLUME_TYPES

__all__ = ["ROOTS", "SAFE_SYSCTLS", "Check", "checks_of", "malformed"]

ROOTS = CelRoots("variables.podSpec", "variables.podMetadata")
SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
    }
)
"""The safe sysctls a PodSecurityPolicy allowed without ``allowedUnsafeSysctls`` (the kubelet's set then)."""

VOLUME_TYPES = (*sorted(ALLOWED_VOLUME_TYPES), *OTHER_VOLUME_TYPES)
"""Every volume source of the core API."""
_PSP_VOLUME_NAMES = {"cephFS": "cephfs"}
"""PSP ``volumes`` names that are not the volume source's key."""

SECCOMP_ALLOWED = "seccomp.security.alpha.kubernetes.io/allowedProfileNames"
SECCOMP_DEFAULT = "seccomp.security.alpha.kubernetes.io/defaultProfileName"
APPARMOR_ALLOWED = "apparmor.security.beta.kubernetes.io/allowedProfileNames"
APPARMOR_DEFAULT = "apparmor.security.beta.kubernetes.io/defaultProfileName"


@dataclass(frozen=True, slots=True)
class Check:
    field: str
    """The PSP field (``spec.runAsUser``) or annotation it comes from."""
    constraints: tuple[Constraint, ...]
    """What a pod must pass (none: a default the PSP set, which nothing checks)."""
    message: str
    """What the API server answers a pod that fails."""
    defaulted: str = ""
    """What the PSP set on pods that omitted it (now the pod's to write), or ``""``."""

    @property
    def cel(self) -> str:
        """True when the pod passes."""
        return rule_cel(self.constraints, ROOTS) if self.constraints else "true"

    def denies(self, pod: EffectivePod) -> bool:
        """The Python check: whether the pod fails it."""
        return any(True for c in self.constraints for _ in c.violations(pod))


def checks_of(spec: Mapping[str, Any], annotations: Mapping[str, str]) -> tuple[list[Check], list[str]]:
    """The checks of a PSP's spec and annotations, and the fields kharden cannot express (named, never
    dropped)."""
    checks: list[Check] = []
    unsupported: list[str] = []
    for build in _BUILDERS:
        build(spec, annotations, checks, unsupported)
    for key in sorted(spec):
        if key not in _KNOWN:
            unsupported.append(f"spec.{key}: not a PodSecurityPolicy field kharden knows")
    return checks, unsupported


_RANGES = [{"min": int, "max": int}]
_STRATEGY = {"rule": str, "ranges": _RANGES}
_FLAGS = (
    "privileged", "hostNetwork", "hostPID", "hostIPC", "readOnlyRootFilesystem", "allowPrivilegeEscalation",
    "defaultAllowPrivilegeEscalation",
)  # fmt: skip
_NAMES = (
    "defaultAddCapabilities", "requiredDropCapabilities", "allowedCapabilities", "volumes",
    "allowedUnsafeSysctls", "forbiddenSysctls", "allowedProcMountTypes",
)  # fmt: skip
_SHAPES: dict[str, Any] = {
    **dict.fromkeys(_FLAGS, bool),
    **{key: [str] for key in _NAMES},
    **dict.fromkeys(("runAsUser", "runAsGroup", "supplementalGroups", "fsGroup"), _STRATEGY),
    "hostPorts": _RANGES,
    "allowedHostPaths": [{"pathPrefix": str, "readOnly": bool}],
    "allowedFlexVolumes": [{"driver": str}],
    "allowedCSIDrivers": [{"name": str}],
    "seLinux": {"rule": str, "seLinuxOptions": {"user": str, "role": str, "type": str, "level": str}},
    "runtimeClass": {"allowedRuntimeClassNames": [str], "defaultRuntimeClassName": str},
}
_TYPE_NAMES = {bool: "true or false", int: "an integer", str: "a string", list: "a list", dict: "a mapping"}


def malformed(spec: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(pointer under spec, what it must be)`` for each field of a PSP's spec whose type the API server
    would refuse (policy/v1beta1): such a PSP is not migrated, as it never could have been in force."""
    found: list[tuple[str, str]] = []
    for key, shape in _SHAPES.items():
        if spec.get(key) is not None:
            _shape(spec[key], shape, f"/{key}", found)
    return found


def _shape(value: Any, shape: Any, at: str, found: list[tuple[str, str]]) -> None:
    """Each value whose type is not the shape's (``bool``, ``[item shape]``, ``{key: shape}``, ...)."""
    kind = list if isinstance(shape, list) else dict if isinstance(shape, dict) else shape
    if type(value) is not kind:
        found.append((at, _TYPE_NAMES[kind]))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _shape(item, shape[0], f"{at}/{index}", found)
    elif isinstance(value, dict):
        for key, inner in shape.items():
            if value.get(key) is not None:
                _shape(value[key], inner, f"{at}/{key}", found)


# ---------------------------------------------------------------------------------------------- sources


def _rule(
    rule_id: str, field: str, pred: Pred | None = None, *, unset: bool | None = None, test: Test | None = None
) -> Constraint:
    """Pod rule ``rule_id``'s constraint on ``field``, reduced to its test of that field; with the PSP's
    ``pred`` and ``unset`` (or a whole ``test`` of the same subject) in place of the rule's."""
    for constraint in rules.get(rule_id).constraints:
        if constraint.items is not None:
            leaf = constraint.test if constraint.items.name == field else None
        else:
            leaf = next(
                (t for t in constraint.test.leaves() if t.row is not None and t.row.name == field), None
            )
        if not isinstance(leaf, Is):
            continue
        if test is None:
            test = replace(leaf, pred=pred or leaf.pred, unset=leaf.unset if unset is None else unset)
        return replace(constraint, test=test)
    raise LookupError(f"{rule_id} has no constraint on {field}")  # pragma: no cover - a renamed field


def _own(test: Test, message: str, **shape: Any) -> Constraint:
    """A constraint of the PSP's own (no pod rule checks the field)."""
    return Constraint(test, lambda _: message, **shape)


def _ranges(strategy: Mapping[str, Any]) -> tuple[tuple[int, int], ...]:
    return tuple((int(r.get("min", 0)), int(r.get("max", 0))) for r in strategy.get("ranges") or [])


def _ranges_text(ranges: Sequence[tuple[int, int]]) -> str:
    return ", ".join(f"{low}-{high}" for low, high in ranges)


# ---------------------------------------------------------------------------------------------- fields


def _privileged(spec: Mapping[str, Any], _: Mapping[str, str], out: list[Check], __: list[str]) -> None:
    if spec.get("privileged") is not True:
        out.append(
            Check(
                "spec.privileged",
                (_rule("pod.privileged", "privileged"),),
                "privileged containers are not allowed",
            )
        )


def _host(spec: Mapping[str, Any], _: Mapping[str, str], out: list[Check], __: list[str]) -> None:
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(key) is not True:
            rule = "netpol.host-network" if key == "hostNetwork" else "pod.host-namespaces"
            out.append(Check(f"spec.{key}", (_rule(rule, key),), f"{key} is not allowed"))
    ranges = _ranges({"ranges": spec.get("hostPorts")})
    # Without ranges, exposure.host-port's own test (hostPort 0 or unset); with them, 0 or in one.
    pred = InRanges(((0, 0), *ranges)) if ranges else None
    out.append(
        Check(
            "spec.hostPorts",
            (_rule("exposure.host-port", "ports", pred),),
            f"host ports outside {_ranges_text(ranges)} are not allowed"
            if ranges
            else "host ports are not allowed",
        )
    )


def _volumes(spec: Mapping[str, Any], _: Mapping[str, str], out: list[Check], unsupported: list[str]) -> None:
    allowed = [str(v) for v in spec.get("volumes") or []]
    if "*" not in allowed:
        keys = {_PSP_VOLUME_NAMES.get(v, v) for v in allowed if v != "none"}
        for name in sorted(keys - set(VOLUME_TYPES)):
            unsupported.append(f"spec.volumes: {name!r} is not a volume type: it allows nothing")
        forbidden = NoKeyOf(tuple(t for t in VOLUME_TYPES if t not in keys))
        named = ", ".join(v for v in allowed if v != "none") or "none"
        out.append(
            Check(
                "spec.volumes",
                (_rule("pod.volume-types", "volumes", forbidden),),
                f"only these volume types are allowed: {named}",
            )
        )
    volumes = {"containers": False, "items": row("volumes")}
    paths = spec.get("allowedHostPaths") or []
    if paths and ("*" in allowed or "hostPath" in allowed):
        prefixes = tuple((str(p.get("pathPrefix", "")), p.get("readOnly") is True) for p in paths)
        message = "hostPath volumes must lie under " + ", ".join(
            p + (" (read-only)" if read_only else "") for p, read_only in prefixes
        )
        out.append(
            Check("spec.allowedHostPaths", (_own(HostPathUnder(prefixes), message, **volumes),), message)
        )
    for field, kind, key in (
        ("allowedFlexVolumes", "flexVolume", "driver"),
        ("allowedCSIDrivers", "csi", "name"),
    ):
        names = tuple(str(d.get(key)) for d in spec.get(field) or [])
        if names:
            message = f"{kind} drivers other than {', '.join(names)} are not allowed"
            out.append(
                Check(f"spec.{field}", (_own(VolumeDriverIn(kind, names), message, **volumes),), message)
            )


def _capabilities(spec: Mapping[str, Any], _: Mapping[str, str], out: list[Check], __: list[str]) -> None:
    allowed = [str(c) for c in spec.get("allowedCapabilities") or []]
    defaults = [str(c) for c in spec.get("defaultAddCapabilities") or []]
    required = [str(c) for c in spec.get("requiredDropCapabilities") or []]
    if "*" not in allowed:
        # The PSP compared names exactly (no case folding, no CAP_ prefix removal), unlike the rule.
        permitted = list(dict.fromkeys(allowed + defaults))
        out.append(
            Check(
                "spec.allowedCapabilities",
                (_rule("pod.dangerous-capabilities", "capabilities.add", OneOf(frozenset(permitted))),),
                f"only these capabilities may be added: {', '.join(permitted) or 'none'}",
            )
        )
    if required:
        out.append(
            Check(
                "spec.requiredDropCapabilities",
                tuple(_rule("pod.capabilities", "capabilities.drop", Contains(c)) for c in required),
                f"containers must drop {', '.join(required)}",
                f"the PSP added {', '.join(required)} to every container's capabilities.drop",
            )
        )


def _user(spec: Mapping[str, Any], _: Mapping[str, str], out: list[Check], unsupported: list[str]) -> None:
    strategy = spec.get("runAsUser") or {}
    rule = strategy.get("rule", "RunAsAny")
    if rule == "MustRunAsNonRoot":
        # pod.run-as-root (runAsUser not 0; runAsUser set or runAsNonRoot true), and runAsNonRoot not
        # false: the PSP's strategy on each container's effective values.
        not_false = _own(
            Is(row("runAsNonRoot"), Ne(False), unset=True), "runAsNonRoot must not be false", group=True
        )
        out.append(
            Check(
                "spec.runAsUser",
                (*rules.get("pod.run-as-root").constraints, not_false),
                "containers must run as a non-root user",
                "the PSP set runAsNonRoot: true on containers that set neither runAsNonRoot nor runAsUser",
            )
        )
    elif rule == "MustRunAs":
        ranges = _ranges(strategy)
        out.append(
            Check(
                "spec.runAsUser",
                (_rule("pod.run-as-root", "runAsUser", InRanges(ranges), unset=False),),
                f"containers must run as a user in {_ranges_text(ranges)}",
                f"the PSP set runAsUser: {ranges[0][0] if ranges else '?'} where it was unset",
            )
        )
    elif rule != "RunAsAny":
        unsupported.append(f"spec.runAsUser.rule: {rule!r} is not a PodSecurityPolicy rule")
    _ranged_id(out, unsupported, "runAsGroup", spec.get("runAsGroup") or {})


def _ranged_id(out: list[Check], unsupported: list[str], key: str, strategy: Mapping[str, Any]) -> None:
    """runAsGroup, supplementalGroups, fsGroup: MustRunAs (set, and in the ranges) or MayRunAs (in the
    ranges when set): pod.root-group's constraint on the field, with the PSP's ranges."""
    rule = strategy.get("rule", "RunAsAny")
    if rule == "RunAsAny" or not strategy:
        return
    if rule not in ("MustRunAs", "MayRunAs"):
        unsupported.append(f"spec.{key}.rule: {rule!r} is not a PodSecurityPolicy rule")
        return
    ranges = _ranges(strategy)
    required = rule == "MustRunAs"
    if key != "supplementalGroups":
        constraints = [_rule("pod.root-group", key, InRanges(ranges), unset=not required)]
    else:  # each group of the list in the ranges, and (MustRunAs) a group at all
        constraints = [_rule("pod.root-group", key, InRanges(ranges))]
        if required:
            constraints.append(_own(Is(row(key), NotEmpty()), f"{key} must be set", containers=False))
    out.append(
        Check(
            f"spec.{key}",
            tuple(constraints),
            f"{key} must be in {_ranges_text(ranges)}",
            f"the PSP set {key} to {ranges[0][0]} where it was unset" if required and ranges else "",
        )
    )


def _groups(spec: Mapping[str, Any], _: Mapping[str, str], out: list[Check], unsupported: list[str]) -> None:
    _ranged_id(out, unsupported, "supplementalGroups", spec.get("supplementalGroups") or {})
    _ranged_id(out, unsupported, "fsGroup", spec.get("fsGroup") or {})


def _filesystem(spec: Mapping[str, Any], _: Mapping[str, str], out: list[Check], __: list[str]) -> None:
    if spec.get("readOnlyRootFilesystem") is True:
        out.append(
            Check(
                "spec.readOnlyRootFilesystem",
                (_rule("pod.writable-root-fs", "readOnlyRootFilesystem"),),
                "containers must have a read-only root filesystem",
                "the PSP set readOnlyRootFilesystem: true where it was unset",
            )
        )
    if spec.get("allowPrivilegeEscalation") is False:
        out.append(
            Check(
                "spec.allowPrivilegeEscalation",
                (_rule("pod.privilege-escalation", "allowPrivilegeEscalation"),),
                "allowPrivilegeEscalation must be false",
                "the PSP set allowPrivilegeEscalation: false where it was unset",
            )
        )
    elif spec.get("defaultAllowPrivilegeEscalation") is False:
        out.append(
            Check(
                "spec.defaultAllowPrivilegeEscalation",
                (),
                "",
                "the PSP set allowPrivilegeEscalation: false where it was unset (a default, not a check)",
            )
        )
    types = frozenset(str(t) for t in spec.get("allowedProcMountTypes") or ["Default"])
    if types != {"Default", "Unmasked"}:
        # An unset procMount is Default; pod.proc-mount's own test when only Default is allowed.
        same = types == {"Default"}
        constraint = _rule(
            "pod.proc-mount", "procMount", None if same else OneOf(types), unset="Default" in types
        )
        out.append(
            Check(
                "spec.allowedProcMountTypes", (constraint,), f"procMount must be {' or '.join(sorted(types))}"
            )
        )


def _selinux(spec: Mapping[str, Any], _: Mapping[str, str], out: list[Check], unsupported: list[str]) -> None:
    strategy = spec.get("seLinux") or {}
    rule = strategy.get("rule", "RunAsAny")
    if rule == "RunAsAny":
        return
    if rule != "MustRunAs":
        unsupported.append(f"spec.seLinux.rule: {rule!r} is not a PodSecurityPolicy rule")
        return
    options = strategy.get("seLinuxOptions") or {}
    test = Is(
        row("seLinuxOptions"),
        SELinuxIs(**{k: str(options.get(k) or "") for k in ("user", "role", "type", "level")}),
    )
    message = f"seLinuxOptions must be {dict(options)}"
    # The pod's own options (the PSP set them where unset) and each container's effective ones.
    out.append(
        Check(
            "spec.seLinux",
            (_own(test, message, containers=False, linux_only=True), _own(test, message, linux_only=True)),
            message,
            "the PSP set the seLinuxOptions where they were unset",
        )
    )


def _sysctls(spec: Mapping[str, Any], _: Mapping[str, str], out: list[Check], __: list[str]) -> None:
    forbidden = tuple(str(s) for s in spec.get("forbiddenSysctls") or [])
    unsafe = tuple(str(s) for s in spec.get("allowedUnsafeSysctls") or [])
    if "*" in unsafe and not forbidden:
        return
    # Not forbidden, then safe or an allowed unsafe one: pod.unsafe-sysctls with the PSP's lists.
    safe: Test = Is(None, OneOf(SAFE_SYSCTLS))
    tests: list[Test] = [Any_((safe, Is(None, Matches(unsafe)))) if unsafe else safe]
    if forbidden:
        tests.insert(0, Is(None, Not(Matches(forbidden))))
    out.append(
        Check(
            "spec.forbiddenSysctls, spec.allowedUnsafeSysctls",
            (
                _rule(
                    "pod.unsafe-sysctls", "sysctls", test=tests[0] if len(tests) == 1 else All(tuple(tests))
                ),
            ),
            "sysctls outside the safe set and allowedUnsafeSysctls, or forbidden, are not allowed",
        )
    )


def _profiles(allowed: Sequence[str]) -> tuple[frozenset[str], tuple[str, ...]]:
    """Allowed profile types and Localhost profile names of an allowedProfileNames list."""
    types, local = set(), []
    for name in allowed:
        if name in ("runtime/default", "docker/default"):
            types.add("RuntimeDefault")
        elif name == "unconfined":
            types.add("Unconfined")
        elif name.startswith("localhost/"):
            local.append(name.removeprefix("localhost/"))
    return frozenset(types), tuple(dict.fromkeys(local))


def _seccomp(
    spec: Mapping[str, Any], annotations: Mapping[str, str], out: list[Check], __: list[str]
) -> None:
    _profile_check(
        out,
        annotations,
        "seccomp",
        "pod.seccomp",
        "seccompProfile",
        SECCOMP_ALLOWED,
        SECCOMP_DEFAULT,
        pod_level=True,
    )


def _apparmor(
    spec: Mapping[str, Any], annotations: Mapping[str, str], out: list[Check], __: list[str]
) -> None:
    _profile_check(
        out, annotations, "AppArmor", "pod.apparmor", "appArmorProfile", APPARMOR_ALLOWED, APPARMOR_DEFAULT
    )


def _profile_check(
    out: list[Check],
    annotations: Mapping[str, str],
    what: str,
    rule: str,
    field: str,
    allowed_key: str,
    default_key: str,
    *,
    pod_level: bool = False,
) -> None:
    """The effective seccomp or AppArmor profile of every container is one the PSP allows: the rule's
    constraint on the profile with the PSP's types, or a Localhost profile of the PSP's names.

    ``pod_level`` (seccomp): the pod's own profile too, as the seccomp strategy's ``ValidatePod`` did,
    even where every container sets its own. The PSP had set the default profile on pods that set none
    (its ``Generate``, on the pod level), so an unset pod profile passes when that default is allowed and
    fails when there is none (the PSP then refused the empty profile). AppArmor had no pod level: the PSP
    read and defaulted each container's annotation only."""
    written = annotations.get(allowed_key)
    names = [n.strip() for n in (written or "").split(",") if n.strip()]
    if written is None or "*" in names:
        return
    types, local = _profiles(names)
    constraint = _rule(rule, field, OneOf(types), unset=False)
    if local:
        either = Any_((constraint.test, LocalhostProfile(row(field), Present(), names=local)))
        constraint = replace(constraint, test=either, at=row(field))
    constraints = [constraint]
    default = annotations.get(default_key)
    message = f"the {what} profile must be one of {written}"
    if pod_level:
        unset = bool(default) and default in names
        test: Test = Is(row(field), OneOf(types), unset=unset)
        if local:
            test = Any_((test, LocalhostProfile(row(field), Present(), unset=unset, names=local)))
        constraints.append(_own(test, message, containers=False, at=row(field), linux_only=True))
    out.append(
        Check(
            f"annotation {allowed_key}",
            tuple(constraints),
            message,
            f"the PSP set the {what} profile {default} where none was set" if default else "",
        )
    )


def _runtime_class(spec: Mapping[str, Any], _: Mapping[str, str], out: list[Check], __: list[str]) -> None:
    strategy = spec.get("runtimeClass") or {}
    names = [str(n) for n in strategy.get("allowedRuntimeClassNames") or []]
    if not strategy or "*" in names:
        return
    default = strategy.get("defaultRuntimeClassName")
    message = f"the runtime class must be one of {', '.join(names) or 'none'}"
    out.append(
        Check(
            "spec.runtimeClass",
            # An unset runtimeClassName was always allowed.
            (
                _own(
                    Is(row("runtimeClassName"), OneOf(frozenset(names)), unset=True),
                    message,
                    containers=False,
                ),
            ),
            message,
            f"the PSP set runtimeClassName: {default} where it was unset" if default else "",
        )
    )


_BUILDERS = (
    _privileged,
    _host,
    _volumes,
    _capabilities,
    _user,
    _groups,
    _filesystem,
    _selinux,
    _sysctls,
    _seccomp,
    _apparmor,
    _runtime_class,
)
_KNOWN = frozenset(
    {
        "privileged", "defaultAddCapabilities", "requiredDropCapabilities", "allowedCapabilities", "volumes",
        "hostNetwork", "hostPorts", "hostPID", "hostIPC", "seLinux", "runAsUser", "runAsGroup",
        "supplementalGroups", "fsGroup", "readOnlyRootFilesystem", "defaultAllowPrivilegeEscalation",
        "allowPrivilegeEscalation", "allowedHostPaths", "allowedFlexVolumes", "allowedCSIDrivers",
        "allowedUnsafeSysctls", "forbiddenSysctls", "allowedProcMountTypes", "runtimeClass",
    }
)  # fmt: skip
