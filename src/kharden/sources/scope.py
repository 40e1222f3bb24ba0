"""Which kinds are cluster-scoped, for objects that do not say their namespace."""

from __future__ import annotations

__all__ = ["CLUSTER_SCOPED", "is_cluster_scoped"]

# Built-in and widely installed cluster-scoped kinds, keyed by (group, kind).
CLUSTER_SCOPED: frozenset[tuple[str, str]] = frozenset(
    {
        ("", "Namespace"),
        ("", "Node"),
        ("", "PersistentVolume"),
        ("", "ComponentStatus"),
        ("", "Config"),  # a kubeconfig file: no API object, and no namespace
        ("rbac.authorization.k8s.io", "ClusterRole"),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
        ("apiregistration.k8s.io", "APIService"),
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"),
        ("admissionregistration.k8s.io", "MutatingAdmissionPolicy"),
        ("admissionregistration.k8s.io", "MutatingAdmissionPolicyBinding"),
        ("storage.k8s.io", "StorageClass"),
        ("storage.k8s.io", "CSIDriver"),
        ("storage.k8s.io", "CSINode"),
        ("storage.k8s.io", "VolumeAttachment"),
        ("storage.k8s.io", "VolumeAttributesClass"),
        ("scheduling.k8s.io", "PriorityClass"),
        ("node.k8s.io", "RuntimeClass"),
        ("networking.k8s.io", "IngressClass"),
        ("networking.k8s.io", "IPAddress"),
        ("networking.k8s.io", "ServiceCIDR"),
        ("policy", "PodSecurityPolicy"),
        ("extensions", "PodSecurityPolicy"),
        ("certificates.k8s.io", "CertificateSigningRequest"),
        ("certificates.k8s.io", "ClusterTrustBundle"),
        ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
        ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
        ("resource.k8s.io", "DeviceClass"),
        ("resource.k8s.io", "ResourceSlice"),
        ("snapshot.storage.k8s.io", "VolumeSnapshotClass"),
        ("snapshot.storage.k8s.io", "VolumeSnapshotContent"),
        ("gateway.networking.k8s.io", "GatewayClass"),
        ("cert-manager.io", "ClusterIssuer"),
        ("kyverno.io", "ClusterPolicy"),
        ("wgpolicyk8s.io", "ClusterPolicyReport"),
        ("templates.gatekeeper.sh", "ConstraintTemplate"),
        ("constraints.gatekeeper.sh", "*"),
        ("crd.projectcalico.org", "GlobalNetworkPolicy"),
        ("crd.projectcalico.org", "GlobalNetworkSet"),
        ("projectcalico.org", "GlobalNetworkPolicy"),
        ("projectcalico.org", "GlobalNetworkSet"),
        ("cilium.io", "CiliumClusterwideNetworkPolicy"),
        ("cilium.io", "CiliumNode"),
        ("cilium.io", "CiliumIdentity"),
        ("operator.tigera.io", "Installation"),
        ("install.istio.io", "IstioOperator"),
    }
)


def is_cluster_scoped(group: str, kind: str) -> bool | None:
    """True or False when known, ``None`` for a kind kharden does not know.

    Config kinds that are not API objects (EncryptionConfiguration, KubeletConfiguration,
    audit Policy, ...) are reported as cluster-scoped: they belong to no namespace.
    """
    if (group, kind) in CLUSTER_SCOPED or (group, "*") in CLUSTER_SCOPED:
        return True
    if group.endswith(".config.k8s.io") or group in _CONFIG_GROUPS:
        return True
    if group == "" or group.endswith(".k8s.io") or group in _BUILTIN_GROUPS:
        return False
    return None


_BUILTIN_GROUPS = frozenset({"apps", "batch", "autoscaling", "policy", "extensions"})
_CONFIG_GROUPS = frozenset({"audit.k8s.io", "apiserver.k8s.io", "kubeadm.k8s.io", "node.kharden.io"})
