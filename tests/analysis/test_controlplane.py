"""Control-plane components: effective flags, defaults, versions, mirror pods of a cluster snapshot."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from conftest import TESTS
from kharden.analysis.controlplane import APISERVER, KUBELET, ControlPlane, parse_version
from kharden.inventory import Inventory
from kharden.model import Obj, ObjRef, Origin
from kharden.rules import select
from kharden.scan import evaluate
from kharden.sources.documents import Collected
from kharden.sources.node import read_node

NODES = TESTS / "data" / "nodes"


def pod(*args: str, image: str = "registry.k8s.io/kube-apiserver:v1.30.0", **spec: Any) -> Obj:
    raw = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "kube-apiserver-cp-1", "namespace": "kube-system"},
        "spec": {
            "containers": [{"name": "kube-apiserver", "image": image, "command": ["kube-apiserver", *args]}],
            **spec,
        },
    }
    return Obj(raw, ObjRef("Pod", "kube-system", "kube-apiserver-cp-1", "v1"), Origin("pods.yaml"))


def apiserver(*args: str, **kwargs: Any) -> Any:
    (component,) = ControlPlane(Inventory([pod(*args, **kwargs)])).of(APISERVER)
    return component


def test_the_last_occurrence_wins() -> None:
    setting = apiserver("--anonymous-auth=true", "--anonymous-auth=false").setting("anonymous-auth")
    assert (setting.value, setting.path, setting.source) == ("false", "/spec/containers/0/command/2", "flag")


def test_a_bare_boolean_is_true() -> None:
    assert apiserver("--profiling").setting("profiling").value == "true"


def test_defaults_point_at_the_command() -> None:
    setting = apiserver().setting("anonymous-auth")
    assert (setting.value, setting.path, setting.source) == ("true", "/spec/containers/0/command", "default")
    assert setting.describe() == "--anonymous-auth is not set and defaults to true"


def test_list_flags_append_across_occurrences() -> None:
    component = apiserver("--enable-admission-plugins=NodeRestriction", "--enable-admission-plugins", "A,B")
    assert [item for item, _ in component.items("enable-admission-plugins")] == ["NodeRestriction", "A", "B"]


@pytest.mark.parametrize(
    ("image", "origin", "stated", "cluster", "expected", "source"),
    [
        pytest.param(
            "registry.k8s.io/kube-apiserver:v1.19.16",
            Origin("/mnt/cp-1/etc/kubernetes/manifests/kube-apiserver.yaml", node="/mnt/cp-1"),
            None,
            None,
            (1, 19),
            "the kube-apiserver image of a node root (registry.k8s.io/kube-apiserver:v1.19.16)",
            id="node-root-image-tag",
        ),
        pytest.param(
            "registry.k8s.io/kube-apiserver:v1.19.16",
            Origin("old/kube-apiserver.yaml"),
            None,
            None,
            (1, 33),
            None,
            id="a-manifest-among-manifests-says-nothing",
        ),
        pytest.param(
            "registry.k8s.io/kube-apiserver:v1.19.16",
            Origin("old/kube-apiserver.yaml"),
            None,
            "v1.30.4",
            (1, 30),
            "the cluster (v1.30.4)",
            id="the-cluster",
        ),
        pytest.param(
            "registry.k8s.io/kube-apiserver:v1.19.16",
            Origin("/mnt/cp-1/etc/kubernetes/manifests/kube-apiserver.yaml", node="/mnt/cp-1"),
            (1, 28),
            "v1.30.4",
            (1, 28),
            "--kube-version",
            id="stated-wins",
        ),
        pytest.param(
            "registry.k8s.io/kube-apiserver@sha256:abc",
            Origin("/mnt/cp-1/etc/kubernetes/manifests/kube-apiserver.yaml", node="/mnt/cp-1"),
            None,
            None,
            (1, 33),
            None,
            id="assumed",
        ),
    ],
)
def test_kube_version(
    image: str,
    origin: Origin,
    stated: tuple[int, int] | None,
    cluster: str | None,
    expected: tuple[int, int],
    source: str | None,
) -> None:
    static = pod(image=image)
    static = Obj(static.raw, static.ref, origin)
    plane = ControlPlane(Inventory([static]), stated, cluster)
    assert (plane.kube_version, plane.version.source) == (expected, source)
    insecure = plane.of(APISERVER)[0].setting("insecure-port")
    assert insecure.value == ("8080" if expected < (1, 20) else "0")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1.29", (1, 29)), ("v1.30.4+rke2r1", (1, 30)), ("v1.31.2", (1, 31)), ("latest", None)],
)
def test_parse_version(text: str, expected: tuple[int, int] | None) -> None:
    assert parse_version(text) == expected


def test_kubelet_flags_override_the_config_file() -> None:
    collected = Collected()
    read_node(str(NODES / "kubeadm-insecure"), collected)
    (kubelet,) = ControlPlane(Inventory(collected.objects)).of(KUBELET)
    anonymous = kubelet.setting("anonymous-auth")
    assert (anonymous.value, anonymous.source, anonymous.obj.ref.kind) == ("true", "flag", "ComponentArgs")
    mode = kubelet.setting("authorization-mode")
    assert (mode.value, mode.source, mode.path) == ("AlwaysAllow", "config", "/authorization/mode")


def test_kubelet_config_file_defaults_are_the_safe_ones() -> None:
    collected = Collected()
    read_node(str(NODES / "worker"), collected)
    (kubelet,) = ControlPlane(Inventory(collected.objects)).of(KUBELET)
    config = yaml.safe_load((NODES / "worker/var/lib/kubelet/config.yaml").read_text())
    del config["readOnlyPort"]
    obj = kubelet.kubelet_config
    assert obj is not None
    kubelet.kubelet_config = Obj(config, obj.ref, obj.origin)
    port = kubelet.setting("read-only-port")
    assert (port.value, port.source) == ("0", "default")  # v1beta1 default, not the flag's 10255


def test_mirror_pods_of_a_cluster_snapshot_are_judged() -> None:
    # kubeadm's mirror pod as `kubectl get pods -n kube-system -o yaml` shows it (issue 7's snapshot source).
    text = yaml.safe_dump(pod("--anonymous-auth=true", nodeName="cp-1").raw)
    collected = Collected()
    collected.add_stream(text.encode(), "snapshot.yaml")
    collected.evidence = {"C"}
    report = evaluate(
        collected, select(["exposure.apiserver-anonymous", "encryption.raw-key", "logging.audit-policy"])
    )
    assert [(f.rule, f.location.path) for f in report.findings] == [
        ("exposure.apiserver-anonymous", "/spec/containers/0/command/1")
    ]
    # node-only rules say what they miss
    assert {n.rule for n in report.not_evaluated} == {"encryption.raw-key", "logging.audit-policy"}


def test_etcd_config_file_replaces_its_flags(tmp_path: Any) -> None:
    manifests = tmp_path / "etc/kubernetes/manifests"
    manifests.mkdir(parents=True)
    (manifests / "etcd.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: etcd, namespace: kube-system}\nspec:\n  containers:\n"
        "  - name: etcd\n    command: [etcd, --config-file=/etc/etcd/etcd.yaml, --client-cert-auth=true]\n"
        "    volumeMounts: [{name: conf, mountPath: /etc/etcd}]\n"
        "  volumes: [{name: conf, hostPath: {path: /srv/etcd}}]\n"
    )
    (tmp_path / "srv/etcd").mkdir(parents=True)
    (tmp_path / "srv/etcd/etcd.yaml").write_text(
        "listen-client-urls: http://0.0.0.0:2379\nclient-transport-security:\n  client-cert-auth: false\n"
    )
    collected = Collected()
    read_node(str(tmp_path), collected)
    report = evaluate(collected, select(["exposure.etcd-client-auth"]))
    assert [(f.location.path, f.message) for f in report.findings] == [
        (
            "/config/listen-client-urls",
            "etcd serves clients over plain http on a non-loopback address (http://0.0.0.0:2379)",
        ),
        (
            "/config/client-transport-security/client-cert-auth",
            "etcd accepts clients without a certificate (client-transport-security.client-cert-auth: false)",
        ),
    ]
    (tmp_path / "srv/etcd/etcd.yaml").unlink()
    collected = Collected()
    read_node(str(tmp_path), collected)
    report = evaluate(collected, select(["exposure.etcd-client-auth"]))
    assert report.findings == []
    assert [n.reason for n in report.not_evaluated] == [
        f"etcd --config-file: /srv/etcd/etcd.yaml not found under {tmp_path}"
    ]


def test_a_k3s_agent_runs_only_a_kubelet(tmp_path: Any) -> None:
    (tmp_path / "etc/rancher/k3s").mkdir(parents=True)
    (tmp_path / "etc/rancher/k3s/config.yaml").write_text("server: https://10.0.0.10:6443\ntoken: fake\n")
    (tmp_path / "etc/systemd/system").mkdir(parents=True)
    (tmp_path / "etc/systemd/system/k3s-agent.service").write_text(
        "[Service]\nExecStart=/usr/local/bin/k3s agent --kubelet-arg=anonymous-auth=true\n"
    )
    collected = Collected()
    read_node(str(tmp_path), collected)
    plane = ControlPlane(Inventory(collected.objects))
    assert [c.name for c in plane.components] == [KUBELET]
    assert plane.components[0].setting("anonymous-auth").written == "--anonymous-auth=true"


def test_pods_passed_over_are_those_that_would_give_no_component() -> None:
    """ControlPlane skips pods none of whose containers names a program (every runtime record) before
    reading them: on a table of pods, odd ones included, those skipped give no component and no error."""
    from kharden.analysis.controlplane import _names_a_program, _pod_components  # noqa: PLC0415

    apiserver = {"name": "a", "command": ["kube-apiserver", "--anonymous-auth=true"]}
    specs: list[Any] = [
        {"containers": [{"name": "web", "image": "nginx"}]},
        {"containers": [{"name": "web"}, apiserver]},
        {"containers": [{"name": "a", "args": ["--profiling=true"]}]},
        {"containers": [{"name": "a", "command": "kube-apiserver"}]},  # not a list: an input error
        {"containers": ["not a mapping"]},
        {"containers": None},
        {"containers": []},
        {},
        None,
        "spec",
        {"containers": [{"name": "etcd", "command": ["etcd", "--client-cert-auth=false"]}]},
    ]
    seen = 0
    for spec in specs:
        raw: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p", "namespace": "kube-system"},
        }
        if spec is not None:
            raw["spec"] = spec
        pod = Obj(raw, ObjRef("Pod", "kube-system", "p", "v1"), Origin("pods.yaml"))
        errors: list[Any] = []
        components = list(_pod_components(pod, errors))
        if not _names_a_program(pod):
            assert (components, errors) == ([], [])
        seen += bool(components or errors)
    assert seen == 3  # kube-apiserver, etcd, and a command that is not a list (an error)
