"""Checklist section E: encryption and secrets."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

from .. import _pointer
from ..analysis.cni import mesh_enrolled, mesh_opt_outs, plaintext_peers
from ..analysis.context import ScanContext
from ..analysis.controlplane import APISERVER, ETCD
from ..analysis.encryption import KINDS as ENCRYPTION_KINDS
from ..analysis.encryption import RAW_KEY_PROVIDERS, ResourceEncryption, all_providers, encryption_for
from ..analysis.ingress import ingress_tls as ingress_tls_of
from ..analysis.podspec import EffectivePod
from ..model import Hit, Obj, Severity, Unevaluated
from ._controlplane import absent, at, file_objects
from ._podcheck import who
from ._ruleset import RuleSet

rules = RuleSet("encryption")

# Words that make a variable a secret when its name ends with them (after qualifiers such as _B64).
SECRET_WORDS = frozenset(
    {"password", "passwd", "pass", "passphrase", "secret", "token", "credential", "credentials", "apikey"}
)
# The same words glued to a prefix, as in DBPASSWORD or APITOKEN (but not 'monkey').
SECRET_SUFFIXES = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "credentials",
    "credential",
)
# 'key' is a secret (API_KEY, SIGNING_KEY) unless it names a key of data (CACHE_KEY, SORT_KEY).
DATA_KEY_WORDS = frozenset(
    {
        "cache", "sort", "partition", "routing", "primary", "foreign", "public", "lock", "hash", "range",
        "object", "s3", "label", "metric", "index", "lookup", "idempotency", "dedup", "shard", "tenant",
        "queue", "topic", "stream", "config", "feature", "field", "column", "table", "map", "header",
        "param", "query", "cursor", "group", "node", "item", "row", "file", "bucket", "prefix", "id",
    }
)  # fmt: skip
# Words after the secret that only say how it is written: SECRET_KEY_BASE, API_TOKEN_B64, DB_PASSWORD_2.
QUALIFIERS = frozenset(
    {"b64", "base64", "hex", "raw", "value", "base", "plain", "plaintext", "str", "string"}
)
_WORD = re.compile(r"[A-Z]+[0-9]*(?![a-z])|[A-Z]?[a-z]+[0-9]*|[0-9]+")


def name_words(name: str) -> list[str]:
    """``DB_PASSWORD`` and ``dbPassword`` are ``['db', 'password']``."""
    return [w.lower() for w in _WORD.findall(name)]


@lru_cache(maxsize=4096)  # per variable of every container: names repeat (LOG_LEVEL, DB_PASSWORD)
def looks_secret(name: str) -> bool:
    """Whether an environment variable's name says it holds a secret.

    The secret word must end the name (``TOKEN_TTL`` and ``CACHE_KEY_PREFIX`` are settings about secrets,
    not secrets), qualifiers and numbers aside.
    """
    words = name_words(name)
    while words and (words[-1] in QUALIFIERS or words[-1].isdigit()):
        words.pop()
    if not words:
        return False
    last = words[-1]
    if last == "pwd":
        return len(words) > 1  # PWD alone is the shell's working directory
    if last == "key":
        return len(words) == 1 or words[-2] not in DATA_KEY_WORDS
    if last in SECRET_WORDS:
        return True
    return last.endswith(SECRET_SUFFIXES)


@rules.pod(
    "encryption.plaintext-secret-env",
    Severity.HIGH,
    title="Secret in a plain environment variable",
    remediation=(
        "move the value into a Secret and use env[].valueFrom.secretKeyRef (or mount the Secret as a file)"
    ),
    references=(
        "https://kubernetes.io/docs/concepts/configuration/secret/#using-secrets-as-environment-variables",
    ),
    not_exported="secrets are recognised by variable names and values",
)
def plaintext_secret_env(pod: EffectivePod) -> Iterator[Hit]:
    """Fires when a container environment variable whose name says it holds a secret (ends with password,
    token, secret, key, credential, ...) has a literal value instead of a secretKeyRef; the value is
    never shown.

    A literal value lives in the manifest, its Git history, every rendered copy, the object in etcd
    (unencrypted, unlike Secrets when encryption at rest is on) and the output of ``kubectl get -o
    yaml`` for anyone who may read the workload.

    Reads: env[*].name and env[*].value of every container, initContainer and ephemeralContainer (not
    envFrom, and not values that only reference another variable as $(NAME)).
    """
    for container in pod.containers:
        for variable in container.env:
            if variable.literal and looks_secret(variable.name):
                yield container.hit(
                    variable.path,
                    f"{who([container])} sets {variable.name!r} to a literal value in the manifest",
                )


# --- encryption at rest, in transit, at the edge (issue 6) -------------------------------------

ENCRYPT_DOC = "https://kubernetes.io/docs/tasks/administer-cluster/encrypt-data/"
KMS_DOC = "https://kubernetes.io/docs/tasks/administer-cluster/kms-provider/"
ETCD_DOC_TLS = "https://etcd.io/docs/v3.5/op-guide/security/"


def _secrets_encryption(context: ScanContext) -> Iterator[ResourceEncryption | Obj | Unevaluated]:
    """Per apiserver with an encryption config: the entry deciding Secrets (or the config without one)."""
    yield from absent(context, APISERVER)
    for component in context.control_plane.of(APISERVER):
        for found in file_objects(context, component, "encryption-provider-config", ENCRYPTION_KINDS):
            if isinstance(found, Unevaluated):
                yield found
                continue
            decided = encryption_for(found, "secrets")
            yield decided if decided is not None else found


@rules.inventory(
    "encryption.secrets-at-rest",
    Severity.HIGH,
    evidence="N, C",
    title="Secrets not encrypted at rest",
    remediation=(
        "pass --encryption-provider-config with an EncryptionConfiguration whose first provider for"
        " secrets is kms (apiVersion: v2), then rewrite existing Secrets"
    ),
    references=(ENCRYPT_DOC,),
)
def secrets_at_rest(context: ScanContext) -> Iterator[Hit | Unevaluated]:
    """Fires when kube-apiserver writes Secrets to etcd in clear text: no --encryption-provider-config,
    no entry of it matches secrets, or the first provider of the matching entry is identity.

    Anyone who reads etcd's data directory, a backup or a disk snapshot reads every Secret. The API
    server writes with the first provider of the first entry that matches a resource (secrets,
    ``*.``, ``*.*``); the others only decrypt.

    Reads: kube-apiserver --encryption-provider-config (k3s: secrets-encryption) and the
    EncryptionConfiguration's resources[*].resources and providers order.
    """
    for component in context.control_plane.of(APISERVER):
        if not component.has("encryption-provider-config"):
            setting = component.setting("encryption-provider-config")
            yield at(
                setting, "kube-apiserver writes Secrets unencrypted (--encryption-provider-config is not set)"
            )
    for decided in _secrets_encryption(context):
        if isinstance(decided, Unevaluated):
            yield decided
            continue
        if isinstance(decided, Obj):
            yield Hit(
                "/resources", "no resources entry matches secrets: they are written unencrypted", obj=decided
            )
        elif decided.first is not None and decided.first.name == "identity":
            yield Hit(
                decided.first.path,
                f"Secrets are written unencrypted: the first provider for '{decided.pattern}' is identity",
                obj=decided.obj,
            )


@rules.inventory(
    "encryption.raw-key",
    Severity.MEDIUM,
    evidence="N",
    title="Encryption key stored beside the data",
    remediation="use a kms provider (apiVersion: v2) first, so that the key stays in an external KMS",
    references=(ENCRYPT_DOC, KMS_DOC),
)
def raw_key(context: ScanContext) -> Iterator[Hit | Unevaluated]:
    """Fires when the first provider for Secrets is aescbc, aesgcm or secretbox: the key is written in the
    EncryptionConfiguration on the control-plane node.

    Whoever can read the node's disk or a backup of it has both the encrypted data and its key; the
    checklist calls this only a moderate improvement over no encryption.

    Reads: the EncryptionConfiguration of kube-apiserver --encryption-provider-config: the first
    provider of the entry matching secrets.
    """
    for decided in _secrets_encryption(context):
        if isinstance(decided, Unevaluated):
            yield decided
            continue
        if (
            isinstance(decided, ResourceEncryption)
            and decided.first
            and decided.first.name in RAW_KEY_PROVIDERS
        ):
            yield Hit(
                decided.first.path,
                f"Secrets are encrypted with a key stored in this file (first provider for"
                f" '{decided.pattern}': {decided.first.name})",
                obj=decided.obj,
            )


@rules.inventory(
    "encryption.kms-v1",
    Severity.LOW,
    evidence="N",
    title="KMS v1 provider",
    remediation="move to kms apiVersion: v2 (KMS v1 is deprecated since 1.28 and off by default since 1.29)",
    references=(KMS_DOC,),
)
def kms_v1(context: ScanContext) -> Iterator[Hit | Unevaluated]:
    """Fires for each kms provider of an EncryptionConfiguration with apiVersion v1 (or none, which means v1).

    KMS v1 is deprecated: it calls the plugin for every object (slow, and failures block reads), and
    Kubernetes 1.29+ only loads it with the KMSv1 feature gate.

    Reads: resources[*].providers[*].kms.apiVersion of the EncryptionConfiguration kube-apiserver uses.
    """
    yield from absent(context, APISERVER)
    for component in context.control_plane.of(APISERVER):
        for found in file_objects(context, component, "encryption-provider-config", ENCRYPTION_KINDS):
            if isinstance(found, Unevaluated):
                yield found
                continue
            for provider in all_providers(found):
                if provider.name == "kms" and provider.kms_api_version == "v1":
                    yield Hit(provider.path, "a kms provider uses the deprecated KMS v1 API", obj=found)


@rules.inventory(
    "encryption.control-plane-tls",
    Severity.HIGH,
    evidence="N, C",
    title="Control-plane traffic not TLS-authenticated",
    remediation=(
        "give kube-apiserver --etcd-cafile, --etcd-certfile, --etcd-keyfile, --tls-cert-file,"
        " --tls-private-key-file and --kubelet-certificate-authority, and etcd --cert-file, --key-file,"
        " --peer-cert-file and --peer-key-file"
    ),
    references=("https://kubernetes.io/docs/setup/best-practices/certificates/", ETCD_DOC_TLS),
)
def control_plane_tls(context: ScanContext) -> Iterator[Hit | Unevaluated]:
    """Fires when control-plane connections are not authenticated by TLS: kube-apiserver without
    --etcd-certfile, --etcd-keyfile or --etcd-cafile (for an etcd reached over the network), talking to
    etcd over http, without --tls-cert-file or --tls-private-key-file (it then serves a self-signed
    certificate) or without --kubelet-certificate-authority (it does not verify the kubelets it connects
    to); etcd without --cert-file, --key-file, --peer-cert-file or --peer-key-file (a certificate is
    served with its key: either missing, that side talks without TLS).

    Unauthenticated links let anyone on the path read Secrets in transit or pose as etcd or a kubelet.

    Reads: kube-apiserver --etcd-servers, --etcd-cafile, --etcd-certfile, --etcd-keyfile,
    --tls-cert-file, --tls-private-key-file, --kubelet-certificate-authority; etcd --cert-file,
    --key-file, --peer-cert-file, --peer-key-file.
    """
    yield from absent(context, APISERVER)
    for component in context.control_plane.of(APISERVER):
        servers = [url for url, _ in component.items("etcd-servers")]
        for url, setting in component.items("etcd-servers"):
            if url.startswith("http://"):
                yield at(setting, f"kube-apiserver talks to etcd over plain http ({url})", item=url)
        remote = any(not url.startswith("unix://") for url in servers) or not servers
        needed = ["etcd-cafile", "etcd-certfile", "etcd-keyfile"] if remote else []
        for name in [*needed, "tls-cert-file", "tls-private-key-file", "kubelet-certificate-authority"]:
            if not component.has(name):
                yield at(component.setting(name), f"kube-apiserver runs without --{name}{_WHY[name]}")
    yield from absent(context, ETCD)
    for component in context.control_plane.of(ETCD):
        for name in ("cert-file", "key-file", "peer-cert-file", "peer-key-file"):
            if not component.has(name) and not component.unreadable:
                yield at(component.setting(name), f"etcd runs without --{name}{_WHY[name]}")


_WHY = {
    "etcd-cafile": " (it does not verify etcd's certificate)",
    "etcd-certfile": " (it does not authenticate to etcd)",
    "etcd-keyfile": " (it does not authenticate to etcd)",
    "tls-cert-file": " (it serves a self-signed certificate)",
    "tls-private-key-file": " (it serves a self-signed certificate)",
    "kubelet-certificate-authority": " (it does not verify the kubelets' serving certificates)",
    "cert-file": " (it serves clients without TLS)",
    "key-file": " (it serves clients without TLS)",
    "peer-cert-file": " (its peers talk without TLS)",
    "peer-key-file": " (its peers talk without TLS)",
}


@rules.object(
    "encryption.ingress-tls",
    Severity.MEDIUM,
    kinds=("Ingress",),
    title="Ingress without TLS",
    remediation="add spec.tls with a certificate Secret for every host (cert-manager can issue them)",
    references=("https://kubernetes.io/docs/concepts/services-networking/ingress/#tls",),
)
def ingress_tls(obj: Obj) -> Iterator[Hit]:
    """Fires for an Ingress without spec.tls, or for each rules[].host no tls entry covers (a
    ``*.example.com`` entry covers one label; an entry without hosts covers every host).

    Without TLS, credentials and session cookies cross the network in clear text, and anyone on the
    path can change the responses.

    Reads: spec.tls[*].hosts and spec.rules[*].host of Ingresses.
    """
    found = ingress_tls_of(obj)
    if not found.has_tls:
        names = ", ".join(repr(h) for h in found.hosts) or "every host"
        yield Hit("/spec", f"the Ingress serves {names} over plain HTTP (no spec.tls)")
    for path, host in found.uncovered:
        yield Hit(path, f"host {host!r} has no certificate in spec.tls")


_MESH_SYSTEM = frozenset(
    {"kube-system", "kube-public", "kube-node-lease", "istio-system", "linkerd", "linkerd-viz", "linkerd-cni"}
)


@rules.inventory(
    "encryption.mesh-gap",
    Severity.MEDIUM,
    evidence="M, C",
    title="Workloads outside the service mesh",
    remediation=(
        "label the namespace istio-injection=enabled (or annotate linkerd.io/inject: enabled), remove"
        " per-workload opt-outs, and set Istio PeerAuthentication mtls.mode: STRICT"
    ),
    references=(
        "https://istio.io/latest/docs/reference/config/security/peer_authentication/",
        "https://linkerd.io/2/features/automatic-mtls/",
    ),
)
def mesh_gap(context: ScanContext) -> Iterator[Hit | Unevaluated]:
    """Fires when a service mesh runs (istiod, Istio PeerAuthentications, the Linkerd control plane) but a
    namespace is not enrolled in it, a workload opts out of injection, or an Istio PeerAuthentication
    allows plain text (mtls.mode PERMISSIVE or DISABLE).

    The mesh encrypts and authenticates only the traffic of pods that carry its proxy; traffic to the
    others, and anything PERMISSIVE accepts, stays plain text.

    Reads: Namespace labels istio-injection, istio.io/rev and annotation linkerd.io/inject; pod
    template annotations and labels sidecar.istio.io/inject and linkerd.io/inject; PeerAuthentication
    spec.mtls.mode and portLevelMtls.
    """
    found = context.meshes
    if not found:
        return
    names = {m.name for m in found}
    for peer, path, mode, port in plaintext_peers(context.inventory):
        where = f"port {port}" if port else "the PeerAuthentication"
        yield Hit(path, f"{where} accepts plain text (mode: {mode})", obj=peer)
    enrolled: set[str] = set()
    for namespace in context.inventory.of_kind("Namespace"):
        name = namespace.ref.name
        if mesh_enrolled(namespace, names):
            enrolled.add(name)
        elif name not in _MESH_SYSTEM:
            yield Hit(
                "/metadata/labels" if "istio" in names else "/metadata/annotations",
                f"namespace {name!r} is not in the {' or '.join(sorted(names))} mesh",
                obj=namespace,
            )
    for pod in context.pods:
        if pod.obj.ref.namespace in enrolled:
            for key, value in mesh_opt_outs(pod):
                path = _pointer.join(pod.template_path, "metadata", "annotations", key)
                yield Hit(path, f"the workload opts out of the mesh ({key}: {value!r})", obj=pod.obj)


@rules.inventory(
    "encryption.pod-traffic",
    Severity.MEDIUM,
    evidence="C, N",
    title="Pod traffic not encrypted",
    remediation=(
        "turn on the CNI's encryption (Cilium enable-wireguard, Calico wireguardEnabled, k3s"
        " flannel-backend: wireguard-native, Weave WEAVE_PASSWORD) or run a mesh with strict mTLS"
        " (Linkerd, Istio STRICT)"
    ),
    references=(
        "https://docs.cilium.io/en/stable/security/network/encryption-wireguard/",
        "https://docs.tigera.io/calico/latest/network-policy/encrypt-cluster-pod-traffic",
    ),
)
def pod_traffic(context: ScanContext) -> Iterator[Hit | Unevaluated]:
    """Fires when neither the CNI plugin (Cilium or Calico WireGuard/IPsec, flannel wireguard/ipsec
    backends, Weave encryption, Antrea) nor a service mesh with mutual TLS everywhere (Linkerd, Istio
    with a mesh-wide STRICT PeerAuthentication) encrypts pod-to-pod traffic.

    Pod traffic crosses node networks, often shared or across the Internet; without encryption it can
    be read and changed by ARP or DHCP spoofing, a compromised switch or the cloud's network. Node files
    alone show neither a mesh nor the CNI's cluster-wide settings: on them the rule passes when the
    node's configuration turns encryption on (k3s flannel-backend: wireguard-native) and is otherwise
    not evaluated.

    Reads: CNI configurations of the nodes, kube-system DaemonSets (cilium, calico-node, canal,
    kube-flannel-ds, weave-net, antrea-agent, aws-node, ...), ConfigMaps cilium-config,
    kube-flannel-cfg, antrea-config, FelixConfigurations, k3s/RKE2 config; istiod, PeerAuthentications
    and the Linkerd control plane.
    """
    plugins = context.cni_plugins
    if not plugins:
        yield Unevaluated("no CNI plugin identified (no CNI configuration or known kube-system DaemonSet)")
        return
    if any(p.encrypts for p in plugins) or any(m.strict for m in context.meshes):
        return
    if not context.evidence & {"M", "C"}:
        # A node shows neither the mesh nor the CNI's own encryption settings (cilium-config,
        # FelixConfiguration): only what the node's configuration turns on can be judged.
        yield Unevaluated(
            "node files show no CNI encryption and cannot show a mesh or the CNI's cluster settings"
            " (cilium-config, FelixConfiguration): scan the cluster or its manifests too"
        )
        return
    for plugin in plugins:
        yield Hit(
            plugin.path,
            f"the {plugin.name} CNI does not encrypt pod traffic and no mesh enforces mTLS",
            obj=plugin.obj,
        )
