"""``kharden generate networkpolicies``: what it allows and why, proven with the NetworkPolicy engine."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import EXAMPLES, run_cli
from kharden.analysis.netpol import METADATA
from kharden.generate import load
from kharden.generate.model import GENERATED_BY
from kharden.generate.networkpolicies import Options, plan_networkpolicies
from kharden.generate.output import render
from kharden.generate.proof import prove
from kharden.reach import ask, endpoint
from kharden.reach import load as load_network

from .helpers import NETWORK_RULES, documents, scan_with, schema_errors

INSECURE = str(EXAMPLES / "insecure")

# Two namespaces: `front` names the API of `shop` in an env value and in a ConfigMap; `ops` names nothing.
APPS = """\
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Namespace
metadata: {name: front}
---
apiVersion: v1
kind: Namespace
metadata: {name: ops}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api, version: v3}}
    spec:
      containers:
        - name: api
          image: api:1
          ports: [{name: http, containerPort: 8080}, {name: admin, containerPort: 9090}]
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop}
spec:
  selector: {app: api}
  ports: [{name: http, port: 80, targetPort: http}, {name: admin, port: 9090, targetPort: admin}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: front}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: web:1
          env:
            - {name: API_URL, value: "http://api.shop.svc.cluster.local:80/v1"}
            - {name: MODE, value: api}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: worker-config, namespace: front}
data:
  ADMIN_ENDPOINT: api.shop:9090
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: worker, namespace: front}
spec:
  selector: {matchLabels: {app: worker}}
  template:
    metadata: {labels: {app: worker}}
    spec:
      containers:
        - name: worker
          image: worker:1
          envFrom: [{configMapRef: {name: worker-config}}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: cron, namespace: ops}
spec:
  selector: {matchLabels: {app: cron}}
  template:
    metadata: {labels: {app: cron}}
    spec:
      containers: [{name: cron, image: cron:1, env: [{name: API, value: api}]}]
"""


def _generate(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    return run_cli(capsys, "generate", "networkpolicies", *argv)


@pytest.fixture
def apps(tmp_path: Path) -> str:
    path = tmp_path / "apps.yaml"
    path.write_text(APPS, encoding="utf-8")
    return str(path)


def _allowed(paths: list[str], source: str, destination: str) -> bool:
    network, errors = load_network(paths)
    assert errors == []
    return any(a.allowed for a in ask(network, endpoint(network, source), endpoint(network, destination)))


def test_names_in_env_and_config_maps_open_exactly_their_service_ports(
    capsys: pytest.CaptureFixture[str], apps: str, tmp_path: Path
) -> None:
    code, out, err = _generate(capsys, apps)
    assert code == 0, err
    generated = tmp_path / "np.yaml"
    generated.write_text(out, encoding="utf-8")
    paths = [apps, str(generated)]
    # front/web names api.shop...:80, the Service port of target port http (8080); front/worker names 9090.
    assert _allowed(paths, "front/web", "shop/api:8080/TCP")
    assert not _allowed(paths, "front/web", "shop/api:9090/TCP")
    assert _allowed(paths, "front/worker", "shop/api:9090/TCP")
    assert not _allowed(paths, "front/worker", "shop/api:8080/TCP")
    # ops/cron's `API=api` is a bare word in a variable not named like an address, and in another namespace.
    assert not _allowed(paths, "ops/cron", "shop/api:8080/TCP")
    # The reasons are on the rules.
    policies = {d["metadata"]["name"]: d for d in documents(out) if d["metadata"]["namespace"] == "shop"}
    service = policies["kharden-service-api"]
    reasons = [
        v for k, v in service["metadata"]["annotations"].items() if k.startswith("kharden.io/reason.ingress")
    ]
    assert any(
        "env API_URL of container 'web' of Deployment front/web names Service shop/api" in r for r in reasons
    )
    assert any("ConfigMap 'worker-config' key ADMIN_ENDPOINT" in r for r in reasons)
    assert "reachability proof: 0 of" not in err


def test_every_namespace_is_isolated_and_resolves_names(
    capsys: pytest.CaptureFixture[str], apps: str, tmp_path: Path
) -> None:
    _, out, _ = _generate(capsys, apps)
    docs = documents(out)
    denies = sorted(
        d["metadata"]["namespace"] for d in docs if d["metadata"]["name"] == "kharden-default-deny"
    )
    assert denies == ["front", "ops", "shop"]
    for doc in docs:
        assert doc["metadata"]["annotations"][GENERATED_BY] == "kharden generate networkpolicies"
        assert schema_errors(doc) == []
    egress = next(
        d for d in docs if d["metadata"] == {**d["metadata"], "namespace": "ops", "name": "kharden-egress"}
    )
    assert egress["spec"]["egress"][0] == {
        "to": [
            {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
            }
        ],
        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
    }
    report = scan_with([apps], out, tmp_path, NETWORK_RULES)
    assert [(f.rule, str(f.object)) for f in report.findings] == []


def test_the_example_app_scans_clean_but_for_what_no_policy_can_govern(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = _generate(capsys, INSECURE, "--include-system")
    assert code == 0, err
    report = scan_with([INSECURE], out, tmp_path, NETWORK_RULES)
    left = sorted((f.rule, str(f.object), f.message.split(":")[0]) for f in report.findings)
    assert left == [
        (
            "exposure.metadata-api",
            "Pod shop/debug",
            "pods of Pod 'debug' in namespace 'shop' can reach the metadata API on 80/TCP",
        ),
        (
            "netpol.egress-open",
            "Pod shop/debug",
            "pods of Pod 'debug' in namespace 'shop' may send traffic to every namespace",
        ),
        ("netpol.host-network", "Pod shop/debug", "the pod uses the node's network namespace (hostNetwork"),
        (
            "netpol.ingress-open",
            "Pod shop/debug",
            "pods of Pod 'debug' in namespace 'shop' accept ingress from every namespace",
        ),
        (
            "netpol.internet-egress",
            "Pod shop/debug",
            "pods of Pod 'debug' in namespace 'shop' may reach the Internet",
        ),
        (
            "netpol.selects-nothing",
            "NetworkPolicy shop/redis",
            "podSelector app=redis matches no pod of namespace 'shop'",
        ),
    ]
    assert "metadata API still reachable: pods of Pod shop/debug run on the host network" in err
    # The Ingress's backend is reached from the (assumed) ingress controller, the LoadBalancer from anywhere.
    web = next(d for d in documents(out) if d["metadata"]["name"] == "kharden-service-web")
    froms = [rule["from"] for rule in web["spec"]["ingress"]]
    assert [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}},
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "ingress-nginx"}},
        }
    ] in froms
    assert [{"ipBlock": {"cidr": "0.0.0.0/0"}}, {"ipBlock": {"cidr": "::/0"}}] in froms
    controller = next(r for r in web["spec"]["ingress"] if "namespaceSelector" in r["from"][0])
    assert controller["ports"] == [{"protocol": "TCP", "port": "http"}]  # the Ingress's `port: {name: http}`
    assert "no ingress controller in the scan" in err
    assert "namespace shop: no Service selects the pods of CronJob db-backup, DaemonSet log-agent" in err


def test_the_proof_on_the_example(tmp_path: Path) -> None:
    context, errors = load([INSECURE])
    assert errors == []
    plan = plan_networkpolicies(context, Options(include_system=True))
    proof = prove(plan)
    assert proof.failures == []
    assert proof.checked == proof.allowed > 0
    assert proof.metadata == [
        "pods of Pod shop/debug run on the host network: no NetworkPolicy applies to them"
    ]
    # Each generated policy selects exactly the pods of its reason: web's Service ingress selects web only.
    after, _ = plan.after()
    policy = next(p for p in after.policies if p.name == "kharden-service-web")
    assert [str(c) for c in after.selected(policy)] == ["Deployment shop/web"]


def test_internet_only_for_marked_workloads_and_never_the_metadata_api(
    capsys: pytest.CaptureFixture[str], apps: str, tmp_path: Path
) -> None:
    code, out, err = _generate(capsys, apps, "--internet", "front/web")
    assert code == 0, err
    paths = [apps, str(tmp_path / "np.yaml")]
    Path(paths[1]).write_text(out, encoding="utf-8")
    assert _allowed(paths, "front/web", "93.184.215.14:443/TCP")
    assert _allowed(paths, "front/web", "[2606:2800:21f:cb07::1]:443/TCP")
    assert not _allowed(paths, "front/web", "169.254.169.254:80/TCP")
    assert not _allowed(paths, "front/web", "[fd00:ec2::254]:80/TCP")
    assert not _allowed(paths, "front/worker", "93.184.215.14:443/TCP")
    report = scan_with([apps], out, tmp_path, NETWORK_RULES)
    assert [(f.rule, f.message.split(" (")[0]) for f in report.findings] == [
        (
            "netpol.internet-egress",
            "egress rule 1 of NetworkPolicy front/kharden-egress-web lets pods of Deployment 'web' reach the Internet on every port",
        )
    ]
    code, _, err = _generate(capsys, apps, "--internet", "front/nothing")
    assert code == 2
    assert "--internet front/nothing: no such workload in the scan" in err


def test_annotation_marks_a_workload_for_the_internet(tmp_path: Path) -> None:
    text = APPS.replace(
        "    metadata: {labels: {app: cron}}",
        '    metadata: {labels: {app: cron}, annotations: {kharden.io/internet-egress: "true"}}',
    )
    path = tmp_path / "apps.yaml"
    path.write_text(text, encoding="utf-8")
    context, _ = load([str(path)])
    plan = plan_networkpolicies(context, Options())
    internet = [n for n in plan.needs if n.kind == "internet"]
    assert [str(n.source.workload) for n in internet if n.source and n.source.workload] == [
        "Deployment ops/cron"
    ]
    assert prove(plan).failures == []


EXISTING = """\
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api-ingress, namespace: shop}
spec:
  podSelector: {matchLabels: {app: api}}
  policyTypes: [Ingress]
  ingress:
    - from: [{podSelector: {}}]
"""


def test_a_policy_in_force_is_never_widened(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "apps.yaml"
    path.write_text(APPS + EXISTING, encoding="utf-8")
    code, out, err = _generate(capsys, str(path))
    assert code == 0, err
    docs = documents(out)
    # No generated ingress rule selects shop/api: the policy in force admits only its own namespace.
    assert [d["metadata"]["name"] for d in docs if d["metadata"]["namespace"] == "shop"] == [
        "kharden-default-deny",
        "kharden-egress",
    ]
    assert "Deployment shop/api is already isolated for ingress by NetworkPolicy shop/api-ingress" in err
    assert (
        "needed, but a policy in force denies it: env API_URL of container 'web' of Deployment front/web"
        in err
    )
    generated = tmp_path / "np.yaml"
    generated.write_text(out, encoding="utf-8")
    assert not _allowed([str(path), str(generated)], "front/web", "shop/api:8080/TCP")


def test_a_second_run_replaces_what_the_first_wrote(
    capsys: pytest.CaptureFixture[str], apps: str, tmp_path: Path
) -> None:
    _, first, _ = _generate(capsys, apps)
    previous = tmp_path / "previous.yaml"
    previous.write_text(first, encoding="utf-8")
    _, second, _ = _generate(capsys, apps, str(previous))
    assert second.split("---", 1)[1] == first.split("---", 1)[1]


def test_one_file_per_namespace(capsys: pytest.CaptureFixture[str], apps: str, tmp_path: Path) -> None:
    code, out, _ = _generate(capsys, apps, "-o", str(tmp_path / "out"))
    assert code == 0
    assert out == ""
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert files == ["front.yaml", "ops.yaml", "shop.yaml"]
    text = (tmp_path / "out" / "shop.yaml").read_text()
    assert text.startswith("# Generated by `kharden generate networkpolicies`")
    assert "#   NetworkPolicy shop/kharden-default-deny: isolates every pod" in text
    assert {d["metadata"]["namespace"] for d in documents(text)} == {"shop"}


def test_write_adds_the_policies_to_a_kustomization(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    base = tmp_path / "base"
    base.mkdir()
    (base / "apps.yaml").write_text(APPS, encoding="utf-8")
    (base / "kustomization.yaml").write_text(
        "# the apps\nresources:\n  - apps.yaml  # all of them\n", encoding="utf-8"
    )
    code, out, err = _generate(capsys, str(base), "--write")
    assert code == 0, err
    assert out == ""
    assert (base / "kustomization.yaml").read_text() == (
        "# the apps\nresources:\n  - apps.yaml  # all of them\n  - kharden-networkpolicies.yaml\n"
    )
    # Again: nothing added twice, the same file.
    before = (base / "kharden-networkpolicies.yaml").read_text()
    code, _, _ = _generate(capsys, str(base), "--write")
    assert code == 0
    assert (base / "kustomization.yaml").read_text().count("kharden-networkpolicies.yaml") == 1
    assert (base / "kharden-networkpolicies.yaml").read_text() == before
    code, _, err = _generate(capsys, str(tmp_path), "--write")
    assert code == 2
    assert "holds no kustomization.yaml" in err


def test_bad_input_is_reported_and_the_rest_generated(
    capsys: pytest.CaptureFixture[str], apps: str, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("apiVersion: v1\nkind: Service\nmetadata: {name: x\n", encoding="utf-8")
    code, out, err = _generate(capsys, apps, str(broken))
    assert code == 2
    assert f"{broken}:" in err
    assert "Traceback" not in err
    assert "kharden-default-deny" in out


def test_pods_no_service_selects_are_reported(capsys: pytest.CaptureFixture[str], apps: str) -> None:
    _, _, err = _generate(capsys, apps)
    assert (
        "namespace front: no Service selects the pods of Deployment web, Deployment worker: they accept no ingress"
        in err
    )
    assert "namespace ops: no Service selects the pods of Deployment cron" in err


def test_workloads_that_share_labels_are_told_apart(tmp_path: Path) -> None:
    text = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template: {metadata: {labels: {app: web}}, spec: {containers: [{name: a, image: a}]}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web-canary, namespace: shop}
spec:
  selector: {matchLabels: {app: web, track: canary}}
  template: {metadata: {labels: {app: web, track: canary}}, spec: {containers: [{name: a, image: a}]}}
"""
    path = tmp_path / "w.yaml"
    path.write_text(text, encoding="utf-8")
    context, _ = load([str(path)])
    plan = plan_networkpolicies(context, Options(internet=("shop/web",)))
    web = next(w for w in plan.workloads if w.name == "web")
    assert web.selector is not None
    assert web.selector.as_dict() == {
        "matchLabels": {"app": "web"},
        "matchExpressions": [{"key": "track", "operator": "NotIn", "values": ["canary"]}],
    }
    proof = prove(plan)
    assert proof.failures == []
    after, _ = plan.after()
    canary = next(c for c in after.classes if c.labels.get("track") == "canary")
    assert not after.side("Egress", canary, METADATA).ports
    assert not any(
        g.rule is not None and "internet" in str(g.rule.policy.obj.annotations)
        for g in after.side("Egress", canary, METADATA).grants
    )


def _cluster(tmp_path: Path, seed: int) -> Path:
    shared = EXAMPLES.parent.parent / "shared" / "bench" / "gen_cluster.py"
    if not shared.is_file():
        pytest.skip("../shared/bench/gen_cluster.py is not beside this checkout")
    out = tmp_path / f"cluster-{seed}.yaml"
    subprocess.run(
        [
            sys.executable,
            str(shared),
            "--pods",
            "400",
            "--namespaces",
            "40",
            "--policies",
            "120",
            "--seed",
            str(seed),
            "--out",
            str(out),
        ],
        check=True,
    )
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_generated_clusters_keep_what_they_need_and_lose_the_rest(tmp_path: Path, seed: int) -> None:
    cluster = _cluster(tmp_path, seed)
    context, errors = load([str(cluster)])
    assert errors == []
    plan = plan_networkpolicies(context, Options())
    proof = prove(plan)
    assert proof.failures == []
    assert proof.allowed + sum(1 for _ in proof.existing_blocks) > 0
    generated = tmp_path / "np.yaml"
    generated.write_text(render(plan.generated, [str(cluster)]), encoding="utf-8")
    for doc in documents(generated.read_text()):
        assert schema_errors(doc) == []
    report = scan_with([str(cluster)], generated.read_text(), tmp_path, NETWORK_RULES)
    # What remains is opened by policies in force (which kharden keeps), or in kube-system, which it
    # leaves alone (network findings are per workload, naming the policy rule that opens the path).
    named = {line.split(" through ")[-1].split(" (")[0] for line in proof.metadata if " through " in line}
    for finding in report.findings:
        if finding.rule == "netpol.selects-nothing":
            assert not finding.object.name.startswith("kharden-"), finding
            continue
        opened_by = re.search(r"rule \d+ of (NetworkPolicy \S+/(\S+)) ", finding.message)
        if opened_by is None:
            assert finding.object.namespace == "kube-system", finding
            continue
        assert not opened_by[2].startswith("kharden-"), finding
        if finding.rule == "exposure.metadata-api":  # every remaining metadata path is one the proof named
            assert any(opened_by[1] in n for n in named), finding


def test_cli_usage_errors(capsys: pytest.CaptureFixture[str], apps: str) -> None:
    code, _, err = run_cli(capsys, "generate", "networkpolicies")
    assert code == 2
    assert "nothing to read" in err
    code, _, err = _generate(capsys, apps, "--api-server", "not-an-address")
    assert code == 2
    assert "--api-server 'not-an-address' is not an address or CIDR" in err
    code, _, err = run_cli(capsys, "generate", "serviceaccounts", apps, "--internet", "a/b")
    assert code == 2
    assert "go with networkpolicies" in err


def test_api_server_egress_for_workloads_rbac_grants_something(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rbac = """\
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: operator, namespace: ops}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: operator, namespace: ops}
spec:
  selector: {matchLabels: {app: operator}}
  template: {metadata: {labels: {app: operator}}, spec: {serviceAccountName: operator, containers: [{name: o, image: o}]}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: operator, namespace: ops}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects: [{kind: ServiceAccount, name: operator, namespace: ops}]
"""
    path = tmp_path / "apps.yaml"
    path.write_text(APPS + rbac, encoding="utf-8")
    _, _, err = _generate(capsys, str(path))
    assert "Deployment ops/operator: RBAC grants their ServiceAccounts permissions" in err
    code, out, err = _generate(capsys, str(path), "--api-server", "10.0.0.10/32")
    assert code == 0, err
    generated = tmp_path / "np.yaml"
    generated.write_text(out, encoding="utf-8")
    assert _allowed([str(path), str(generated)], "ops/operator", "10.0.0.10:6443/TCP")
    assert not _allowed([str(path), str(generated)], "ops/cron", "10.0.0.10:6443/TCP")
