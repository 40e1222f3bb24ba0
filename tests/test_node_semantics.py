"""Node files as the components apply them: k3s/RKE2 configuration merging, kubelet drop-ins, the CNI
configuration the container runtime picks.

Each test copies a realistic node root of tests/data/nodes (kubeadm v1.31 as kubeadm writes it, k3s
configured by its CIS hardening guide, an RKE2 tarball install) and changes the one thing it is about.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from kharden.model import Report
from kharden.scan import ScanOptions, scan
from kharden.sources.documents import Collected
from kharden.sources.node import read_node

NODES = Path(__file__).parent / "data" / "nodes"


def node(tmp_path: Path, name: str, files: dict[str, str] | None = None) -> Path:
    """A copy of the node root ``name`` with ``files`` (node path -> text) written into it."""
    root = tmp_path / name
    shutil.copytree(NODES / name, root)
    for path, text in (files or {}).items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return root


def run(*roots: Path, rules: tuple[str, ...], paths: tuple[str, ...] = ()) -> Report:
    report = scan(list(paths), ScanOptions(node_roots=tuple(str(r) for r in roots), rules=rules))
    assert report.errors == []
    return report


def hits(report: Report, root: Path, rule: str) -> list[tuple[str, str, str]]:
    """``(file under the root, pointer, message)`` of each finding of ``rule``."""
    return [
        (os.path.relpath(f.location.file or "", root), f.location.path, f.message)
        for f in report.findings
        if f.rule == rule
    ]


# --- k3s and RKE2: k3s pkg/configfilearg/parser.go (readConfigFile, Parse) ---------------------


def test_k3s_dropin_key_plus_appends_to_the_list(tmp_path: Path) -> None:
    root = node(
        tmp_path,
        "k3s-cis",
        {"/etc/rancher/k3s/config.yaml.d/50-debug.yaml": "kube-apiserver-arg+:\n  - anonymous-auth=true\n"},
    )
    report = run(root, rules=("exposure.apiserver-anonymous", "logging.audit-disabled"))
    assert hits(report, root, "exposure.apiserver-anonymous") == [
        (
            "etc/rancher/k3s/config.yaml.d/50-debug.yaml",
            "/config/kube-apiserver-arg+/0",
            "kube-apiserver accepts anonymous requests (--anonymous-auth=true)",
        )
    ]
    # appended, not replaced: config.yaml's audit flags still apply
    assert hits(report, root, "logging.audit-disabled") == []


def test_k3s_dropin_plain_key_replaces_the_earlier_list(tmp_path: Path) -> None:
    dropin = "kube-apiserver-arg:\n  - enable-admission-plugins=NodeRestriction\n"
    root = node(tmp_path, "k3s-cis", {"/etc/rancher/k3s/config.yaml.d/60-plugins.yaml": dropin})
    report = run(root, rules=("logging.audit-disabled",))
    where = ("etc/rancher/k3s/config.yaml.d/60-plugins.yaml", "/config/kube-apiserver-arg")
    assert hits(report, root, "logging.audit-disabled") == [
        (*where, "kube-apiserver has no audit policy (--audit-policy-file is not set)"),
        (
            *where,
            "kube-apiserver writes audit events nowhere"
            " (neither --audit-log-path nor --audit-webhook-config-file is set)",
        ),
    ]


def test_k3s_unit_flags_override_the_config_files_key_by_key(tmp_path: Path) -> None:
    unit = (NODES / "k3s-cis/etc/systemd/system/k3s.service").read_text(encoding="utf-8")
    unit = unit.replace(
        "    server \\\n",
        "    server \\\n        '--secrets-encryption=false' \\\n"
        "        '--kube-apiserver-arg=audit-log-maxage=7' \\\n",
    )
    root = node(tmp_path, "k3s-cis", {"/etc/systemd/system/k3s.service": unit})
    report = run(root, rules=("encryption.secrets-at-rest", "logging.audit-retention"))
    # a single-valued key: the command line wins over config.yaml's secrets-encryption: "true"
    assert hits(report, root, "encryption.secrets-at-rest") == [
        (
            "etc/systemd/system/k3s.service",
            "/args/1",
            "kube-apiserver writes Secrets unencrypted (--encryption-provider-config is not set)",
        )
    ]
    # a repeatable one: the command line's items come after the files', the last maxage wins
    assert hits(report, root, "logging.audit-retention") == [
        (
            "etc/systemd/system/k3s.service",
            "/args/2",
            "kube-apiserver keeps audit logs below the minimum of 30 (--audit-log-maxage=7)",
        )
    ]


def _without_secrets_encryption(text: str) -> str:
    return text.replace('secrets-encryption: "true"\n', "")


def test_k3s_secrets_encryption_as_a_string_or_a_bare_flag(tmp_path: Path) -> None:
    config = (NODES / "k3s-cis/etc/rancher/k3s/config.yaml").read_text(encoding="utf-8")
    unit = (NODES / "k3s-cis/etc/systemd/system/k3s.service").read_text(encoding="utf-8")
    as_string = node(tmp_path / "a", "k3s-cis")  # secrets-encryption: "true", as the tree has it
    as_flag = node(
        tmp_path / "b",
        "k3s-cis",
        {
            "/etc/rancher/k3s/config.yaml": _without_secrets_encryption(config),
            "/etc/systemd/system/k3s.service": unit.replace(
                "    server \\\n", "    server --secrets-encryption \\\n"
            ),
        },
    )
    for root in (as_string, as_flag):
        report = run(root, rules=("encryption.secrets-at-rest", "encryption.raw-key"))
        assert hits(report, root, "encryption.secrets-at-rest") == []
        assert hits(report, root, "encryption.raw-key") == [
            (
                "var/lib/rancher/k3s/server/cred/encryption-config.json",
                "/resources/0/providers/0/aescbc",
                "Secrets are encrypted with a key stored in this file (first provider for 'secrets': aescbc)",
            )
        ]


def test_rke2_tarball_unit_in_usr_local_lib(tmp_path: Path) -> None:
    root = node(tmp_path, "rke2-tarball")
    collected = Collected()
    read_node(str(root), collected)
    (files,) = [o for o in collected.objects if o.ref.kind == "NodeFiles"]
    assert files.raw["layouts"] == ["rke2"]
    # RKE2 runs the kubelet with its own flags (read-only port 0, no anonymous auth, Webhook)
    report = run(root, rules=("exposure.kubelet-auth",))
    assert report.findings == []
    assert report.not_evaluated == []


# --- kubelet: cmd/kubelet/app/server.go (mergeKubeletConfigurations, kubeletConfigFlagPrecedence) ---

_DEBUG_DROPIN = """\
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
readOnlyPort: 10255
authentication:
  anonymous:
    enabled: true
authorization:
  mode: AlwaysAllow
"""


def test_kubelet_config_dir_dropins_merge_over_the_config_in_name_order(tmp_path: Path) -> None:
    root = node(
        tmp_path,
        "kubeadm-1.31",
        {
            "/etc/default/kubelet": "KUBELET_EXTRA_ARGS=--config-dir=/etc/kubernetes/kubelet.conf.d\n",
            "/etc/kubernetes/kubelet.conf.d/90-debug.conf": _DEBUG_DROPIN,
            # an earlier drop-in closes the port again: the later file wins
            "/etc/kubernetes/kubelet.conf.d/10-base.conf": (
                "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nreadOnlyPort: 0\n"
            ),
            # not a drop-in: the kubelet reads *.conf files only
            "/etc/kubernetes/kubelet.conf.d/95-off.conf.disabled": _DEBUG_DROPIN.replace("10255", "0"),
        },
    )
    report = run(root, rules=("exposure.kubelet-auth",))
    dropin = "etc/kubernetes/kubelet.conf.d/90-debug.conf"
    assert hits(report, root, "exposure.kubelet-auth") == [
        (
            dropin,
            "/readOnlyPort",
            "the kubelet serves its unauthenticated read-only port 10255 (readOnlyPort: 10255)",
        ),
        (
            dropin,
            "/authentication/anonymous/enabled",
            "the kubelet accepts anonymous requests (authentication.anonymous.enabled: true)",
        ),
        (
            dropin,
            "/authorization/mode",
            "the kubelet authorizes every request (authorization.mode: AlwaysAllow)",
        ),
    ]


def test_kubelet_flags_still_win_over_dropins(tmp_path: Path) -> None:
    root = node(
        tmp_path,
        "kubeadm-1.31",
        {
            "/etc/default/kubelet": (
                "KUBELET_EXTRA_ARGS=--config-dir=/etc/kubernetes/kubelet.conf.d --read-only-port=0"
                " --anonymous-auth=false --authorization-mode=Webhook\n"
            ),
            "/etc/kubernetes/kubelet.conf.d/90-debug.conf": _DEBUG_DROPIN,
        },
    )
    assert hits(run(root, rules=("exposure.kubelet-auth",)), root, "exposure.kubelet-auth") == []


# --- CNI: containerd go-cni loadFromConfDir, CRI-O ocicni: the first file in lexical order ---------

_POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: shop}
spec: {podSelector: {}, policyTypes: [Ingress]}
"""

_FLANNEL = """\
{
  "name": "cbr0",
  "cniVersion": "0.3.1",
  "plugins": [
    {"type": "flannel", "delegate": {"hairpinMode": true, "isDefaultGateway": true}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
"""


def test_the_first_cni_configuration_in_name_order_is_the_active_one(tmp_path: Path) -> None:
    calico = (NODES / "kubeadm-1.31/etc/cni/net.d/10-calico.conflist").read_text(encoding="utf-8")
    # A node moved from flannel to Calico: flannel's leftover file sorts first, so pods still get it.
    root = node(tmp_path, "kubeadm-1.31", {"/etc/cni/net.d/99-calico.conflist": calico})
    (root / "etc/cni/net.d/10-calico.conflist").unlink()
    (root / "etc/cni/net.d/10-flannel.conflist").write_text(_FLANNEL, encoding="utf-8")
    policy = tmp_path / "policy.yaml"
    policy.write_text(_POLICY, encoding="utf-8")
    report = run(root, rules=("netpol.cni-unsupported",), paths=(str(policy),))
    assert hits(report, root, "netpol.cni-unsupported") == [
        (
            "etc/cni/net.d/10-flannel.conflist",
            "/config/plugins/0/type",
            f"a NetworkPolicy exists but node {root} runs the flannel CNI, which does not enforce them:"
            " 10-flannel.conflist comes first in /etc/cni/net.d, so the runtime ignores 99-calico.conflist",
        )
    ]
    # The same two files with Calico's first: Calico is in use.
    (root / "etc/cni/net.d/99-calico.conflist").rename(root / "etc/cni/net.d/05-calico.conflist")
    assert run(root, rules=("netpol.cni-unsupported",), paths=(str(policy),)).findings == []


def test_each_node_is_judged_by_its_own_cni(tmp_path: Path) -> None:
    kubeadm = node(tmp_path, "kubeadm-insecure")  # flannel alone
    k3s = node(tmp_path, "k3s-cis")  # flannel with k3s' network policy controller
    policy = tmp_path / "policy.yaml"
    policy.write_text(_POLICY, encoding="utf-8")
    report = run(kubeadm, k3s, rules=("netpol.cni-unsupported",), paths=(str(policy),))
    assert [(f.location.file, f.location.path) for f in report.findings] == [
        (str(kubeadm / "etc/cni/net.d/10-flannel.conflist"), "/config/plugins/0/type")
    ]
    assert report.findings[0].message == (
        f"a NetworkPolicy exists but node {kubeadm} runs the flannel CNI, which does not enforce them"
    )


def test_pod_traffic_on_node_files_alone_is_judged_only_on_evidence(tmp_path: Path) -> None:
    kubeadm = node(tmp_path, "kubeadm-1.31")  # Calico: its encryption is a FelixConfiguration, not here
    report = run(kubeadm, rules=("encryption.pod-traffic",))
    assert report.findings == []
    assert [(n.rule, n.reason) for n in report.not_evaluated] == [
        (
            "encryption.pod-traffic",
            "node files show no CNI encryption and cannot show a mesh or the CNI's cluster settings"
            " (cilium-config, FelixConfiguration): scan the cluster or its manifests too",
        )
    ]
    wireguard = node(
        tmp_path,
        "k3s-cis",
        {"/etc/rancher/k3s/config.yaml.d/20-wireguard.yaml": "flannel-backend: wireguard-native\n"},
    )
    report = run(wireguard, rules=("encryption.pod-traffic",))
    assert (report.findings, report.not_evaluated) == ([], [])


# --- kube-apiserver --authorization-config (apiserver.config.k8s.io AuthorizationConfiguration) ----


def test_an_always_allow_authorizer_in_the_authorization_config(tmp_path: Path) -> None:
    config = "etc/kubernetes/authz/authorization-config.yaml"
    text = (NODES / "kubeadm-authz" / config).read_text(encoding="utf-8")
    # appended after RBAC: every request RBAC does not allow falls through to it
    root = node(tmp_path, "kubeadm-authz", {config: text + "  - type: AlwaysAllow\n    name: allow-all\n"})
    report = run(root, rules=("exposure.apiserver-authorization",))
    assert hits(report, root, "exposure.apiserver-authorization") == [
        (
            config,
            "/authorizers/3/type",
            "kube-apiserver allows every authenticated request (an authorizer of type AlwaysAllow in its"
            " AuthorizationConfiguration)",
        )
    ]
    # without RBAC: Roles and bindings are not enforced
    no_rbac = node(
        tmp_path / "b", "kubeadm-authz", {config: text.replace("  - type: RBAC\n    name: rbac\n", "")}
    )
    report = run(no_rbac, rules=("exposure.apiserver-authorization",))
    assert hits(report, no_rbac, "exposure.apiserver-authorization") == [
        (
            config,
            "/authorizers",
            "kube-apiserver does not authorize with RBAC (authorizers of its AuthorizationConfiguration:"
            " Webhook, Node): no Role or binding is enforced",
        )
    ]
