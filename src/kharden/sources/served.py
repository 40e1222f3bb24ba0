"""Which ``apiVersion``s ever served a built-in kind, to tell a document the API server would refuse.

``apiVersion: v1`` with ``kind: Deployment`` was never served by any Kubernetes release: the API server
answers "no matches for kind Deployment in version v1" and nothing is created. kharden reports such a
document as an input problem of that document, and still judges what it says (a test fixture, a
template half converted: its pod spec is the author's intent).

Only the kinds kharden judges and the API groups Kubernetes itself serves are checked: a custom
resource may well be called ``Deployment`` in its own group. The versions are every release's, from
the API reference and the deprecation guide
(https://kubernetes.io/docs/reference/using-api/deprecation-guide/).
"""

from __future__ import annotations

__all__ = ["never_served"]

_APPS_V1 = ("apps/v1", "apps/v1beta2")
_RBAC = (
    "rbac.authorization.k8s.io/v1",
    "rbac.authorization.k8s.io/v1beta1",
    "rbac.authorization.k8s.io/v1alpha1",
)

# kind -> every group/version that served it
SERVED: dict[str, tuple[str, ...]] = {
    "Pod": ("v1",),
    "ReplicationController": ("v1",),
    "Service": ("v1",),
    "ServiceAccount": ("v1",),
    "Namespace": ("v1",),
    "Secret": ("v1",),
    "ConfigMap": ("v1",),
    "Deployment": (*_APPS_V1, "apps/v1beta1", "extensions/v1beta1"),
    "StatefulSet": (*_APPS_V1, "apps/v1beta1"),
    "DaemonSet": (*_APPS_V1, "extensions/v1beta1"),
    "ReplicaSet": (*_APPS_V1, "extensions/v1beta1"),
    "Job": ("batch/v1", "extensions/v1beta1"),
    "CronJob": ("batch/v1", "batch/v1beta1", "batch/v2alpha1"),
    "Ingress": ("networking.k8s.io/v1", "networking.k8s.io/v1beta1", "extensions/v1beta1"),
    "NetworkPolicy": ("networking.k8s.io/v1", "extensions/v1beta1"),
    "PodSecurityPolicy": ("policy/v1beta1", "extensions/v1beta1"),
    "Role": _RBAC,
    "ClusterRole": _RBAC,
    "RoleBinding": _RBAC,
    "ClusterRoleBinding": _RBAC,
}
# The API groups Kubernetes serves these kinds from (and the core group, ""): another group is a CRD's.
_BUILTIN_GROUPS = frozenset(
    {"", "apps", "batch", "extensions", "networking.k8s.io", "policy", "rbac.authorization.k8s.io"}
)


def never_served(api_version: str, kind: str) -> str | None:
    """Why no Kubernetes release serves ``kind`` as ``api_version``, or ``None`` when one does (or kharden
    cannot tell: a kind it does not judge, a group of its own)."""
    served = SERVED.get(kind)
    if served is None or api_version in served or api_version.rpartition("/")[0] not in _BUILTIN_GROUPS:
        return None
    return f"apiVersion {api_version} never served kind {kind} (it is {served[0]})"
