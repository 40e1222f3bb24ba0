"""The pod fields kharden's pod rules read: where each is written, where it inherits from, its type.

One row per field. :mod:`~kharden.analysis.podspec` builds the effective pod from these rows
(the first set of: the container's field, the container's legacy annotation, the pod's field,
the pod's legacy annotation); the pod-rule constraints (``rules/_constraint.py``) read them to
judge a pod in Python, to write the same judgement as CEL, and to say where a fix belongs.

Pointers are relative: ``container`` to one container (``/spec/containers/0``), ``pod`` to the
pod spec (``/spec``). A legacy annotation names the container with a suffix
(``container.seccomp.security.alpha.kubernetes.io/NAME``) or the whole pod.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "APPARMOR_CONTAINER_ANNOTATION",
    "FIELDS",
    "SECCOMP_CONTAINER_ANNOTATION",
    "SECCOMP_POD_ANNOTATION",
    "PodField",
    "field",
]

SECCOMP_POD_ANNOTATION = "seccomp.security.alpha.kubernetes.io/pod"
SECCOMP_CONTAINER_ANNOTATION = "container.seccomp.security.alpha.kubernetes.io/"
APPARMOR_CONTAINER_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"

LEGACY_PROFILES = {
    "runtime/default": "RuntimeDefault",
    "docker/default": "RuntimeDefault",
    "unconfined": "Unconfined",
}
"""Legacy annotation values and the profile type they mean (``localhost/...`` means ``Localhost``)."""


@dataclass(frozen=True, slots=True)
class PodField:
    """One field of the effective pod.

    ``attr`` is the attribute of :class:`~kharden.analysis.podspec.EffectiveContainer` (fields with a
    ``container`` pointer) or of :class:`~kharden.analysis.podspec.EffectivePod` (pod-only fields)
    that holds its effective :class:`~kharden.analysis.podspec.Field`; an inherited field that a check
    also reads on the pod itself (runAsGroup, seccompProfile, seLinuxOptions) has the pod's own value
    under the same name on ``EffectivePod`` (a constraint with ``containers=False`` reads it).
    ``type`` is the JSON type the API server insists on: ``boolean``, ``integer``, ``string``,
    ``strings`` (a list of strings), ``mapping`` or ``list`` (of mappings). ``item`` is, for a list
    field, the CEL of what one item ``x`` contributes (``x.name`` for a sysctl).
    """

    name: str
    attr: str
    type: str
    container: str | None = None
    pod: str | None = None
    container_annotation: str | None = None
    pod_annotation: str | None = None
    linux_only: bool = False
    item: str = "x"

    @property
    def inherited(self) -> bool:
        """Whether a container inherits the field from the pod (or a pod annotation)."""
        return self.container is not None and (self.pod is not None or self.pod_annotation is not None)


FIELDS: tuple[PodField, ...] = (
    # Container fields a container inherits from the pod securityContext.
    PodField(
        "runAsNonRoot",
        "run_as_non_root",
        "boolean",
        "securityContext/runAsNonRoot",
        "securityContext/runAsNonRoot",
    ),
    PodField("runAsUser", "run_as_user", "integer", "securityContext/runAsUser", "securityContext/runAsUser"),
    PodField(
        "runAsGroup", "run_as_group", "integer", "securityContext/runAsGroup", "securityContext/runAsGroup"
    ),
    PodField(
        "seccompProfile",
        "seccomp_profile",
        "string",
        "securityContext/seccompProfile/type",
        "securityContext/seccompProfile/type",
        container_annotation=SECCOMP_CONTAINER_ANNOTATION,
        pod_annotation=SECCOMP_POD_ANNOTATION,
        linux_only=True,
    ),
    PodField(
        "appArmorProfile",
        "apparmor_profile",
        "string",
        "securityContext/appArmorProfile/type",
        "securityContext/appArmorProfile/type",
        container_annotation=APPARMOR_CONTAINER_ANNOTATION,
        linux_only=True,
    ),
    PodField(
        "seLinuxOptions",
        "se_linux_options",
        "mapping",
        "securityContext/seLinuxOptions",
        "securityContext/seLinuxOptions",
        linux_only=True,
    ),
    PodField(
        "hostProcess",
        "host_process",
        "boolean",
        "securityContext/windowsOptions/hostProcess",
        "securityContext/windowsOptions/hostProcess",
    ),
    # Container fields that are not inherited.
    PodField("privileged", "privileged", "boolean", "securityContext/privileged"),
    PodField(
        "allowPrivilegeEscalation",
        "allow_privilege_escalation",
        "boolean",
        "securityContext/allowPrivilegeEscalation",
        linux_only=True,
    ),
    PodField(
        "readOnlyRootFilesystem",
        "read_only_root_filesystem",
        "boolean",
        "securityContext/readOnlyRootFilesystem",
        linux_only=True,
    ),
    PodField("procMount", "proc_mount", "string", "securityContext/procMount", linux_only=True),
    PodField(
        "capabilities.add", "capabilities_add", "strings", "securityContext/capabilities/add", linux_only=True
    ),
    PodField(
        "capabilities.drop",
        "capabilities_drop",
        "strings",
        "securityContext/capabilities/drop",
        linux_only=True,
    ),
    PodField("ports", "ports", "list", "ports", item="(has(x.hostPort) ? x.hostPort : 0)"),
    # Pod fields.
    PodField("hostNetwork", "host_network", "boolean", pod="hostNetwork"),
    PodField("hostPID", "host_pid", "boolean", pod="hostPID"),
    PodField("hostIPC", "host_ipc", "boolean", pod="hostIPC"),
    PodField("hostUsers", "host_users", "boolean", pod="hostUsers"),
    PodField("fsGroup", "fs_group", "integer", pod="securityContext/fsGroup"),
    PodField(
        "supplementalGroups", "supplemental_groups", "strings", pod="securityContext/supplementalGroups"
    ),
    PodField("sysctls", "sysctls", "list", pod="securityContext/sysctls", item="x.name"),
    PodField("volumes", "volumes", "list", pod="volumes"),
    PodField(
        "automountServiceAccountToken", "automount_token", "boolean", pod="automountServiceAccountToken"
    ),
    PodField("runtimeClassName", "runtime_class", "string", pod="runtimeClassName"),
)

_BY_NAME = {f.name: f for f in FIELDS}


def field(name: str) -> PodField:
    """The row of the field with this API name (``"allowPrivilegeEscalation"``)."""
    return _BY_NAME[name]
