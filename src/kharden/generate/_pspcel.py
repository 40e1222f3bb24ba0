"""A PodSecurityPolicy's checks, field by field, as CEL over a pod (what a ValidatingAdmissionPolicy runs).

Each :class:`Check` is one PSP field (or annotation) and the CEL that holds when a pod passes it. The
CEL reads the pod as the admission chain hands it to a ValidatingAdmissionPolicy: ``variables.podSpec``
and ``variables.podMetadata`` (``object.spec``, ``object.metadata``) and ``variables.containers`` (the
containers, initContainers and ephemeralContainers). It uses only what the API server's CEL accepts:
``has``, ``all``, ``exists``, the strings extension; no optional chaining.

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

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["CONTAINERS_CEL", "SAFE_SYSCTLS", "Check", "checks_of"]

V, W = "@V@", "@W@"
"""Placeholders in test templates: the value tested, an annotation's value."""
S = "variables.podSpec"
M = "variables.podMetadata"
CONTAINERS_CEL = (
    "(has(object.spec.containers) ? object.spec.containers : [])"
    " + (has(object.spec.initContainers) ? object.spec.initContainers : [])"
    " + (has(object.spec.ephemeralContainers) ? object.spec.ephemeralContainers : [])"
)
SAFE_SYSCTLS = (
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
)
"""The safe sysctls a PodSecurityPolicy allowed without ``allowedUnsafeSysctls`` (the kubelet's set then)."""

SECCOMP_ALLOWED = "seccomp.security.alpha.kubernetes.io/allowedProfileNames"
SECCOMP_DEFAULT = "seccomp.security.alpha.kubernetes.io/defaultProfileName"
APPARMOR_ALLOWED = "apparmor.security.beta.kubernetes.io/allowedProfileNames"
APPARMOR_DEFAULT = "apparmor.security.beta.kubernetes.io/defaultProfileName"
SECCOMP_POD = "seccomp.security.alpha.kubernetes.io/pod"
SECCOMP_CONTAINER = "container.seccomp.security.alpha.kubernetes.io/"
APPARMOR_CONTAINER = "container.apparmor.security.beta.kubernetes.io/"


@dataclass(frozen=True, slots=True)
class Check:
    field: str
    """The PSP field (``spec.runAsUser``) or annotation it comes from."""
    cel: str
    """True when the pod passes."""
    message: str
    """What the API server answers a pod that fails."""
    defaulted: str = ""
    """What the PSP set on pods that omitted it (now the pod's to write), or ``""``."""


def lit(value: Any) -> str:
    """A CEL literal: strings single-quoted, lists bracketed."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return "'" + json.dumps(value)[1:-1].replace("'", "\\'") + "'"
    return "[" + ", ".join(lit(v) for v in value) + "]"


def _sc(owner: str, key: str) -> str:
    return f"(has({owner}.securityContext) && has({owner}.securityContext.{key}))"


def _each_container(body: str) -> str:
    return f"variables.containers.all(c, {body})"


def _inherited(key: str, test: str, unset: str) -> str:
    """``test`` (over ``v``) on a container's effective ``key``: its own, else the pod's; ``unset`` else."""
    own, pod = _sc("c", key), _sc(S, key)
    on_pod = test.replace(V, f"{S}.securityContext.{key}")
    return _each_container(
        f"({own} ? ({test.replace(V, f'c.securityContext.{key}')}) : ({pod} ? ({on_pod}) : {unset}))"
    )


def _in_ranges(expr: str, ranges: Sequence[Mapping[str, Any]]) -> str:
    parts = [f"({expr} >= {int(r['min'])} && {expr} <= {int(r['max'])})" for r in ranges]
    return "(" + " || ".join(parts) + ")" if parts else "false"


def _ranges_text(ranges: Sequence[Mapping[str, Any]]) -> str:
    return ", ".join(f"{r['min']}-{r['max']}" for r in ranges)


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


def _privileged(spec: Mapping[str, Any], _: Mapping[str, str], out: list[Check], __: list[str]) -> None:
    if spec.get("privileged") is not True:
        out.append(
            Check(
                "spec.privileged",
                _each_container(f"!({_sc('c', 'privileged')} && c.securityContext.privileged == true)"),
                "privileged containers are not allowed",
            )
        )


def _host(spec: Mapping[str, Any], _: Mapping[str, str], out: list[Check], __: list[str]) -> None:
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(key) is not True:
            out.append(
                Check(f"spec.{key}", f"!(has({S}.{key}) && {S}.{key} == true)", f"{key} is not allowed")
            )
    ranges = spec.get("hostPorts") or []
    port_ok = _in_ranges("p.hostPort", ranges) if ranges else "false"
    out.append(
        Check(
            "spec.hostPorts",
            _each_container(
                f"!has(c.ports) || c.ports.all(p, !has(p.hostPort) || p.hostPort == 0 || {port_ok})"
            ),
            f"host ports outside {_ranges_text(ranges) or 'none'} are not allowed",
        )
    )


def _volumes(spec: Mapping[str, Any], _: Mapping[str, str], out: list[Check], unsupported: list[str]) -> None:
    allowed = [str(v) for v in spec.get("volumes") or []]
    if "*" not in allowed:
        kinds = [v for v in allowed if v != "none"]
        body = " || ".join(f"has(v.{k})" for k in kinds) or "false"
        out.append(
            Check(
                "spec.volumes",
                f"!has({S}.volumes) || {S}.volumes.all(v, {body})",
                f"only these volume types are allowed: {', '.join(kinds) or 'none'}",
            )
        )
    paths = spec.get("allowedHostPaths") or []
    if paths and ("*" in allowed or "hostPath" in allowed):
        prefixes = []
        for entry in paths:
            prefix = str(entry.get("pathPrefix", "")).rstrip("/") or "/"
            matches = (
                "true"
                if prefix == "/"
                else f"(v.hostPath.path == {lit(prefix)} || v.hostPath.path.startsWith({lit(prefix + '/')}))"
            )
            if entry.get("readOnly") is True:
                read_only = _each_container(
                    "!has(c.volumeMounts) || c.volumeMounts.all(m, m.name != v.name"
                    " || (has(m.readOnly) && m.readOnly == true))"
                )
                matches = f"({matches} && {read_only})"
            prefixes.append(matches)
        out.append(
            Check(
                "spec.allowedHostPaths",
                f"!has({S}.volumes) || {S}.volumes.all(v, !has(v.hostPath) || {' || '.join(prefixes)})",
                "hostPath volumes must lie under "
                + ", ".join(
                    str(p.get("pathPrefix")) + (" (read-only)" if p.get("readOnly") else "") for p in paths
                ),
            )
        )
    drivers = spec.get("allowedFlexVolumes") or []
    if drivers:
        names = [str(d.get("driver")) for d in drivers]
        out.append(
            Check(
                "spec.allowedFlexVolumes",
                f"!has({S}.volumes)"
                f" || {S}.volumes.all(v, !has(v.flexVolume) || v.flexVolume.driver in {lit(names)})",
                f"flexVolume drivers other than {', '.join(names)} are not allowed",
            )
        )
    csi = spec.get("allowedCSIDrivers") or []
    if csi:
        names = [str(d.get("name")) for d in csi]
        out.append(
            Check(
                "spec.allowedCSIDrivers",
                f"!has({S}.volumes) || {S}.volumes.all(v, !has(v.csi) || v.csi.driver in {lit(names)})",
                f"CSI drivers other than {', '.join(names)} are not allowed",
            )
        )
    del unsupported


def _capabilities(spec: Mapping[str, Any], _: Mapping[str, str], out: list[Check], __: list[str]) -> None:
    allowed = [str(c) for c in spec.get("allowedCapabilities") or []]
    defaults = [str(c) for c in spec.get("defaultAddCapabilities") or []]
    required = [str(c) for c in spec.get("requiredDropCapabilities") or []]
    caps = "c.securityContext.capabilities"
    has_caps = f"{_sc('c', 'capabilities')}"
    if "*" not in allowed:
        permitted = [c for c in dict.fromkeys(allowed + defaults) if c not in required]
        out.append(
            Check(
                "spec.allowedCapabilities",
                _each_container(
                    f"!({has_caps} && has({caps}.add)) || {caps}.add.all(a, a in {lit(permitted)})"
                ),
                f"only these capabilities may be added: {', '.join(permitted) or 'none'}",
            )
        )
    if required:
        out.append(
            Check(
                "spec.requiredDropCapabilities",
                _each_container(
                    f"{has_caps} && has({caps}.drop) && {lit(required)}.all(r, r in {caps}.drop)"
                ),
                f"containers must drop {', '.join(required)}",
                f"the PSP added {', '.join(required)} to every container's capabilities.drop",
            )
        )


def _user(spec: Mapping[str, Any], _: Mapping[str, str], out: list[Check], unsupported: list[str]) -> None:
    strategy = spec.get("runAsUser") or {}
    rule = strategy.get("rule", "RunAsAny")
    if rule == "MustRunAsNonRoot":
        # Like the PSP's strategy on the container's effective values: not runAsNonRoot false, not user 0,
        # and one of the two set (the PSP set runAsNonRoot: true where neither was).
        not_false = _inherited("runAsNonRoot", f"{V} != false", "true")
        not_root = _inherited("runAsUser", f"{V} != 0", "true")
        either = _each_container(
            f"{_sc('c', 'runAsNonRoot')} || {_sc('c', 'runAsUser')} || {_sc(S, 'runAsNonRoot')}"
            f" || {_sc(S, 'runAsUser')}"
        )
        out.append(
            Check(
                "spec.runAsUser",
                f"{not_false} && {not_root} && {either}",
                "containers must run as a non-root user",
                "the PSP set runAsNonRoot: true on containers that set neither runAsNonRoot nor runAsUser",
            )
        )
    elif rule == "MustRunAs":
        ranges = strategy.get("ranges") or []
        out.append(
            Check(
                "spec.runAsUser",
                _inherited("runAsUser", _in_ranges(V, ranges), "false"),
                f"containers must run as a user in {_ranges_text(ranges)}",
                f"the PSP set runAsUser: {ranges[0]['min'] if ranges else '?'} where it was unset",
            )
        )
    elif rule != "RunAsAny":
        unsupported.append(f"spec.runAsUser.rule: {rule!r} is not a PodSecurityPolicy rule")
    group = spec.get("runAsGroup") or {}
    _ranged_id(out, unsupported, "runAsGroup", group, inherited=True)


def _ranged_id(
    out: list[Check], unsupported: list[str], key: str, strategy: Mapping[str, Any], *, inherited: bool
) -> None:
    rule = strategy.get("rule", "RunAsAny")
    ranges = strategy.get("ranges") or []
    if rule == "RunAsAny" or not strategy:
        return
    if rule not in ("MustRunAs", "MayRunAs"):
        unsupported.append(f"spec.{key}.rule: {rule!r} is not a PodSecurityPolicy rule")
        return
    unset = "false" if rule == "MustRunAs" else "true"
    if inherited:
        cel = _inherited(key, _in_ranges(V, ranges), unset)
    elif key == "supplementalGroups":
        present = f"has({S}.securityContext) && has({S}.securityContext.supplementalGroups)"
        groups = f"{S}.securityContext.supplementalGroups"
        empty = f"(!({present}) || size({groups}) == 0)"
        all_in = f"{groups}.all(g, {_in_ranges('g', ranges)})"
        cel = f"({empty} ? {unset} : {all_in})"
    else:
        present = _sc(S, key)
        cel = f"({present} ? {_in_ranges(f'{S}.securityContext.{key}', ranges)} : {unset})"
    out.append(
        Check(
            f"spec.{key}",
            cel,
            f"{key} must be in {_ranges_text(ranges)}",
            f"the PSP set {key} to {ranges[0]['min']} where it was unset"
            if rule == "MustRunAs" and ranges
            else "",
        )
    )


def _groups(spec: Mapping[str, Any], _: Mapping[str, str], out: list[Check], unsupported: list[str]) -> None:
    _ranged_id(out, unsupported, "supplementalGroups", spec.get("supplementalGroups") or {}, inherited=False)
    _ranged_id(out, unsupported, "fsGroup", spec.get("fsGroup") or {}, inherited=False)


def _filesystem(spec: Mapping[str, Any], _: Mapping[str, str], out: list[Check], __: list[str]) -> None:
    if spec.get("readOnlyRootFilesystem") is True:
        out.append(
            Check(
                "spec.readOnlyRootFilesystem",
                _each_container(
                    f"{_sc('c', 'readOnlyRootFilesystem')}"
                    " && c.securityContext.readOnlyRootFilesystem == true"
                ),
                "containers must have a read-only root filesystem",
                "the PSP set readOnlyRootFilesystem: true where it was unset",
            )
        )
    if spec.get("allowPrivilegeEscalation") is False:
        out.append(
            Check(
                "spec.allowPrivilegeEscalation",
                _each_container(
                    f"{_sc('c', 'allowPrivilegeEscalation')}"
                    " && c.securityContext.allowPrivilegeEscalation == false"
                ),
                "allowPrivilegeEscalation must be false",
                "the PSP set allowPrivilegeEscalation: false where it was unset",
            )
        )
    elif spec.get("defaultAllowPrivilegeEscalation") is False:
        out.append(
            Check(
                "spec.defaultAllowPrivilegeEscalation",
                "true",
                "",
                "the PSP set allowPrivilegeEscalation: false where it was unset (a default, not a check)",
            )
        )
    types = [str(t) for t in spec.get("allowedProcMountTypes") or ["Default"]]
    if "Unmasked" not in types:
        out.append(
            Check(
                "spec.allowedProcMountTypes",
                _each_container(f"!{_sc('c', 'procMount')} || c.securityContext.procMount == 'Default'"),
                "procMount must be Default",
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
    tests = " && ".join(
        f"has({V}.{k}) && {V}.{k} == {lit(str(options[k]))}"
        for k in ("user", "role", "type", "level")
        if k in options
    )
    out.append(
        Check(
            "spec.seLinux",
            _inherited("seLinuxOptions", f"({tests or 'true'})", "false"),
            f"seLinuxOptions must be {dict(options)}",
            "the PSP set the seLinuxOptions where they were unset",
        )
    )


def _sysctls(spec: Mapping[str, Any], _: Mapping[str, str], out: list[Check], __: list[str]) -> None:
    forbidden = [str(s) for s in spec.get("forbiddenSysctls") or []]
    unsafe = [str(s) for s in spec.get("allowedUnsafeSysctls") or []]

    def matches(patterns: Iterable[str]) -> str:
        parts = []
        for pattern in patterns:
            if pattern == "*":
                parts.append("true")
            elif pattern.endswith("*"):
                parts.append(f"x.name.startsWith({lit(pattern[:-1])})")
            else:
                parts.append(f"x.name == {lit(pattern)}")
        return "(" + " || ".join(parts) + ")" if parts else "false"

    allowed = f"(x.name in {lit(list(SAFE_SYSCTLS))} || {matches(unsafe)})"
    body = f"!{matches(forbidden)} && {allowed}"
    out.append(
        Check(
            "spec.forbiddenSysctls, spec.allowedUnsafeSysctls",
            f"!({_sc(S, 'sysctls')}) || {S}.securityContext.sysctls.all(x, {body})",
            "sysctls outside the safe set and allowedUnsafeSysctls, or forbidden, are not allowed",
        )
    )


def _legacy(expr: str) -> str:
    """A legacy profile annotation value as the field's type (``runtime/default`` -> ``RuntimeDefault``)."""
    return (
        f"({expr} in ['runtime/default', 'docker/default'] ? 'RuntimeDefault' : {expr} == 'unconfined'"
        f" ? 'Unconfined' : {expr}.startsWith('localhost/') ? 'Localhost' : {expr})"
    )


def _profiles(allowed: Sequence[str]) -> tuple[list[str], list[str]]:
    """Allowed profile types and Localhost profile names of an allowedProfileNames list."""
    types, local = [], []
    for name in allowed:
        if name in ("runtime/default", "docker/default"):
            types.append("RuntimeDefault")
        elif name == "unconfined":
            types.append("Unconfined")
        elif name.startswith("localhost/"):
            local.append(name.removeprefix("localhost/"))
    return list(dict.fromkeys(types)), local


def _profile_test(types: list[str], local: list[str], field: str) -> str:
    """Over the placeholder (a seccompProfile or appArmorProfile mapping): its type is allowed."""
    parts = [f"{V}.type in {lit(types)}"] if types else []
    if local:
        parts.append(f"({V}.type == 'Localhost' && has({V}.{field}) && {V}.{field} in {lit(local)})")
    return "(" + " || ".join(parts) + ")" if parts else "false"


def _seccomp(
    spec: Mapping[str, Any], annotations: Mapping[str, str], out: list[Check], __: list[str]
) -> None:
    _profile_check(
        out, annotations, "seccomp", SECCOMP_ALLOWED, SECCOMP_DEFAULT, SECCOMP_CONTAINER, SECCOMP_POD
    )


def _apparmor(
    spec: Mapping[str, Any], annotations: Mapping[str, str], out: list[Check], __: list[str]
) -> None:
    _profile_check(out, annotations, "AppArmor", APPARMOR_ALLOWED, APPARMOR_DEFAULT, APPARMOR_CONTAINER, None)


def _profile_check(
    out: list[Check],
    annotations: Mapping[str, str],
    what: str,
    allowed_key: str,
    default_key: str,
    container_key: str,
    pod_key: str | None,
) -> None:
    """The seccomp or AppArmor profile of every container is one the PSP allows: the container's field,
    else its legacy annotation, else the pod's field, else (seccomp) the pod's legacy annotation."""
    written = annotations.get(allowed_key)
    if written is None or "*" in [n.strip() for n in written.split(",")]:
        return
    field = "seccompProfile" if what == "seccomp" else "appArmorProfile"
    types, local = _profiles([n.strip() for n in written.split(",") if n.strip()])
    test = _profile_test(types, local, "localhostProfile")
    annotation_ok = f"{_legacy(W)} in {lit(types)}"
    if local:
        annotation_ok = f"({annotation_ok} || {W} in {lit(['localhost/' + n for n in local])})"
    on_pod = "false"
    if pod_key is not None:
        present = f"has({M}.annotations) && {lit(pod_key)} in {M}.annotations"
        on_pod = f"({present} ? ({annotation_ok.replace(W, f'{M}.annotations[{lit(pod_key)}]')}) : false)"
    on_pod = f"({_sc(S, field)} ? ({test.replace(V, f'{S}.securityContext.{field}')}) : {on_pod})"
    key = f"({lit(container_key)} + c.name)"
    on_annotation = annotation_ok.replace(W, f"{M}.annotations[{key}]")
    cel = _each_container(
        f"{_sc('c', field)} ? ({test.replace(V, f'c.securityContext.{field}')})"
        f" : ((has({M}.annotations) && {key} in {M}.annotations) ? ({on_annotation}) : {on_pod})"
    )
    default = annotations.get(default_key)
    out.append(
        Check(
            f"annotation {allowed_key}",
            cel,
            f"the {what} profile must be one of {written}",
            f"the PSP set the {what} profile {default} where none was set" if default else "",
        )
    )


def _runtime_class(spec: Mapping[str, Any], _: Mapping[str, str], out: list[Check], __: list[str]) -> None:
    strategy = spec.get("runtimeClass") or {}
    names = [str(n) for n in strategy.get("allowedRuntimeClassNames") or []]
    if not strategy or "*" in names:
        return
    default = strategy.get("defaultRuntimeClassName")
    out.append(
        Check(
            "spec.runtimeClass",
            f"!has({S}.runtimeClassName) || {S}.runtimeClassName in {lit(names)}",
            f"the runtime class must be one of {', '.join(names) or 'none'}",
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
