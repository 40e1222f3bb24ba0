"""A small kubeadm-like cluster, as the API server returns its objects (uids, owners, status).

- Nodes: ``cp-1`` (control plane, kubeadm's NoSchedule taint), ``cp-2`` (control plane, untainted),
  ``worker-1`` (ExternalIP 35.180.1.21, public), ``worker-2`` (ExternalIP 10.0.2.12, private).
- kube-system: mirror pods of kube-apiserver, etcd, kube-scheduler and kube-controller-manager on
  cp-1 with kubeadm's flags; CoreDNS (Deployment -> ReplicaSet -> 2 Pods); kube-proxy (DaemonSet ->
  a Pod per node); ConfigMaps kube-proxy, kubeadm-config, calico-config.
- shop: Deployment web (ReplicaSet, 2 Pods, one on cp-2), an old ReplicaSet at 0, StatefulSet db
  (db-0), CronJob report -> Job -> Pod, a bare Pod ``debug`` (privileged), Services, an Ingress,
  a NetworkPolicy, a ServiceAccount, a Role and RoleBinding, a Secret with data.
- RBAC: cluster-admin and its binding, a binding of cluster-admin to shop's ``web`` account.
- Kyverno: a ClusterPolicy (served only when the test adds the kyverno.io group).
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

UID = uuid.UUID("00000000-0000-4000-8000-000000000000")


def _uid(name: str) -> str:
    return str(uuid.uuid5(UID, name))


def _meta(name: str, namespace: str | None = None, **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "uid": _uid(f"{namespace}/{name}"),
        "resourceVersion": "4711",
        "creationTimestamp": "2026-03-01T10:00:00Z",
        "managedFields": [
            {
                "manager": "kubectl",
                "operation": "Update",
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:metadata": {}},
            }
        ],
    }
    if namespace is not None:
        meta["namespace"] = namespace
    meta.update(extra)
    return meta


def _owner(kind: str, name: str, namespace: str, api_version: str = "apps/v1") -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": api_version,
            "kind": kind,
            "name": name,
            "uid": _uid(f"{namespace}/{name}"),
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]


def _container(name: str, image: str, **extra: Any) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": name,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "resources": {},
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
    }
    container.update(extra)
    return container


HARDENED = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "runAsUser": 10001,
    "seccompProfile": {"type": "RuntimeDefault"},
}


def _node(
    name: str, *, labels: dict[str, str], taints: list[dict[str, Any]], addresses: list[tuple[str, str]]
) -> dict[str, Any]:
    node: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": _meta(
            name, labels={"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", **labels}
        ),
        "spec": {"podCIDR": "10.244.0.0/24", "podCIDRs": ["10.244.0.0/24"]},
        "status": {
            "addresses": [{"type": t, "address": a} for t, a in addresses],
            "nodeInfo": {"kubeletVersion": "v1.31.2", "containerRuntimeVersion": "containerd://1.7.22"},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
        },
    }
    if taints:
        node["spec"]["taints"] = taints
    return node


def _pod(
    name: str,
    namespace: str,
    node: str,
    spec: dict[str, Any],
    *,
    owner: list[dict[str, Any]] | None = None,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    spec = copy.deepcopy(spec)
    spec.update({"nodeName": node, "schedulerName": "default-scheduler", "enableServiceLinks": True})
    spec.setdefault("serviceAccountName", "default")
    spec.setdefault("tolerations", [])
    spec["tolerations"] += [
        {
            "key": "node.kubernetes.io/not-ready",
            "operator": "Exists",
            "effect": "NoExecute",
            "tolerationSeconds": 300,
        },
        {
            "key": "node.kubernetes.io/unreachable",
            "operator": "Exists",
            "effect": "NoExecute",
            "tolerationSeconds": 300,
        },
    ]
    spec.setdefault("volumes", []).append(
        {
            "name": f"kube-api-access-{name[-5:]}",
            "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]},
        }
    )
    meta = _meta(name, namespace, labels=labels or {})
    if owner:
        meta["ownerReferences"] = owner
    if annotations:
        meta["annotations"] = annotations
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": spec,
        "status": {
            "phase": "Running",
            "hostIP": "10.0.1.11",
            "podIP": "10.244.1.17",
            "podIPs": [{"ip": "10.244.1.17"}],
            "qosClass": "BestEffort",
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [
                {
                    "name": c["name"],
                    "image": c["image"],
                    "imageID": f"{c['image'].split(':')[0]}@sha256:{'ab' * 32}",
                    "containerID": f"containerd://{'cd' * 32}",
                    "ready": True,
                    "restartCount": 0,
                    "state": {"running": {"startedAt": "2026-03-01T10:01:00Z"}},
                }
                for c in spec["containers"]
            ],
        },
    }


def _workload(kind: str, name: str, namespace: str, template: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": _meta(name, namespace, labels={"app": name}),
        "spec": {"selector": {"matchLabels": {"app": name}}, "template": copy.deepcopy(template), **spec},
        "status": {"replicas": spec.get("replicas", 1)},
    }


def _template(spec: dict[str, Any], labels: dict[str, str]) -> dict[str, Any]:
    return {"metadata": {"labels": labels}, "spec": spec}


def _static(component: str, command: list[str], image: str) -> dict[str, Any]:
    name = f"{component}-cp-1"
    spec = {
        "hostNetwork": True,
        "priorityClassName": "system-node-critical",
        "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [_container(component, image, command=command)],
        "volumes": [
            {"name": "k8s-certs", "hostPath": {"path": "/etc/kubernetes/pki", "type": "DirectoryOrCreate"}}
        ],
        "tolerations": [{"operator": "Exists", "effect": "NoExecute"}],
    }
    pod = _pod(
        name,
        "kube-system",
        "cp-1",
        spec,
        owner=[
            {"apiVersion": "v1", "kind": "Node", "name": "cp-1", "uid": _uid("None/cp-1"), "controller": True}
        ],
        labels={"component": component, "tier": "control-plane"},
        annotations={
            "kubernetes.io/config.hash": "6f1e0b2a",
            "kubernetes.io/config.mirror": "6f1e0b2a",
            "kubernetes.io/config.source": "file",
        },
    )
    pod["spec"]["volumes"] = spec["volumes"]  # static pods get no service account token
    pod["status"]["hostIP"] = pod["status"]["podIP"] = "10.0.0.10"
    return pod


def cluster() -> list[dict[str, Any]]:
    """Every object of the fixture cluster, with apiVersion and kind."""
    objects: list[dict[str, Any]] = []
    for ns, labels in (
        ("default", {}),
        ("kube-system", {}),
        ("kube-public", {}),
        ("kube-node-lease", {}),
        ("shop", {"pod-security.kubernetes.io/enforce": "baseline", "team": "shop"}),
    ):
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": _meta(ns, labels={"kubernetes.io/metadata.name": ns, **labels}),
                "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Active"},
            }
        )
    control_plane = {
        "node-role.kubernetes.io/control-plane": "",
        "node.kubernetes.io/exclude-from-external-load-balancers": "",
    }
    objects += [
        _node(
            "cp-1",
            labels=control_plane,
            taints=[{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}],
            addresses=[("InternalIP", "10.0.0.10"), ("Hostname", "cp-1")],
        ),
        _node(
            "cp-2",
            labels=control_plane,
            taints=[{"key": "node-role.kubernetes.io/control-plane", "effect": "PreferNoSchedule"}],
            addresses=[("InternalIP", "10.0.0.11"), ("Hostname", "cp-2")],
        ),
        _node(
            "worker-1",
            labels={},
            taints=[],
            addresses=[("InternalIP", "10.0.1.11"), ("ExternalIP", "35.180.1.21"), ("Hostname", "worker-1")],
        ),
        _node(
            "worker-2",
            labels={},
            taints=[],
            addresses=[("InternalIP", "10.0.1.12"), ("ExternalIP", "10.0.2.12"), ("Hostname", "worker-2")],
        ),
    ]

    # kube-system: static control-plane pods, CoreDNS, kube-proxy.
    objects += [
        _static(
            "kube-apiserver",
            [
                "kube-apiserver",
                "--advertise-address=10.0.0.10",
                "--allow-privileged=true",
                "--authorization-mode=Node,RBAC",
                "--client-ca-file=/etc/kubernetes/pki/ca.crt",
                "--enable-admission-plugins=NodeRestriction",
                "--etcd-servers=https://127.0.0.1:2379",
                "--secure-port=6443",
                "--tls-cert-file=/etc/kubernetes/pki/apiserver.crt",
            ],
            "registry.k8s.io/kube-apiserver:v1.31.2",
        ),
        _static(
            "etcd",
            [
                "etcd",
                "--advertise-client-urls=https://10.0.0.10:2379",
                "--client-cert-auth=true",
                "--data-dir=/var/lib/etcd",
                "--listen-client-urls=https://127.0.0.1:2379,https://10.0.0.10:2379",
                "--peer-client-cert-auth=true",
            ],
            "registry.k8s.io/etcd:3.5.15-0",
        ),
        _static(
            "kube-scheduler",
            ["kube-scheduler", "--bind-address=127.0.0.1"],
            "registry.k8s.io/kube-scheduler:v1.31.2",
        ),
        _static(
            "kube-controller-manager",
            ["kube-controller-manager", "--bind-address=127.0.0.1", "--use-service-account-credentials=true"],
            "registry.k8s.io/kube-controller-manager:v1.31.2",
        ),
    ]
    dns_spec = {
        "serviceAccountName": "coredns",
        "priorityClassName": "system-cluster-critical",
        "containers": [
            _container(
                "coredns",
                "registry.k8s.io/coredns/coredns:v1.11.3",
                args=["-conf", "/etc/coredns/Corefile"],
                ports=[{"name": "dns", "containerPort": 53, "protocol": "UDP"}],
                securityContext={
                    "allowPrivilegeEscalation": False,
                    "capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]},
                    "readOnlyRootFilesystem": True,
                },
            )
        ],
        "volumes": [{"name": "config-volume", "configMap": {"name": "coredns"}}],
        "tolerations": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}],
    }
    dns_labels = {"k8s-app": "kube-dns", "pod-template-hash": "7c65d6cfc9"}
    objects.append(
        _workload(
            "Deployment", "coredns", "kube-system", _template(dns_spec, {"k8s-app": "kube-dns"}), replicas=2
        )
    )
    dns_rs = _workload(
        "ReplicaSet", "coredns-7c65d6cfc9", "kube-system", _template(dns_spec, dns_labels), replicas=2
    )
    dns_rs["metadata"]["ownerReferences"] = _owner("Deployment", "coredns", "kube-system")
    objects.append(dns_rs)
    objects += [
        _pod(
            f"coredns-7c65d6cfc9-{s}",
            "kube-system",
            "cp-1",
            dns_spec,
            owner=_owner("ReplicaSet", "coredns-7c65d6cfc9", "kube-system"),
            labels=dns_labels,
        )
        for s in ("x2k9p", "q7w4n")
    ]
    proxy_spec = {
        "hostNetwork": True,
        "serviceAccountName": "kube-proxy",
        "priorityClassName": "system-node-critical",
        "containers": [
            _container(
                "kube-proxy",
                "registry.k8s.io/kube-proxy:v1.31.2",
                command=["/usr/local/bin/kube-proxy", "--config=/var/lib/kube-proxy/config.conf"],
                securityContext={"privileged": True},
            )
        ],
        "volumes": [{"name": "lib-modules", "hostPath": {"path": "/lib/modules", "type": ""}}],
        "tolerations": [{"operator": "Exists"}],
    }
    objects.append(
        _workload("DaemonSet", "kube-proxy", "kube-system", _template(proxy_spec, {"k8s-app": "kube-proxy"}))
    )
    objects += [
        _pod(
            f"kube-proxy-{node[-4:]}",
            "kube-system",
            node,
            proxy_spec,
            owner=_owner("DaemonSet", "kube-proxy", "kube-system"),
            labels={"k8s-app": "kube-proxy"},
        )
        for node in ("cp-1", "cp-2", "worker-1", "worker-2")
    ]
    objects += [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": _meta("kube-proxy", "kube-system"),
            "data": {"config.conf": "mode: iptables\n"},
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": _meta("kubeadm-config", "kube-system"),
            "data": {
                "ClusterConfiguration": "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nkubernetesVersion: v1.31.2\n"
            },
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": _meta("calico-config", "kube-system"),
            "data": {"calico_backend": "bird", "veth_mtu": "0"},
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": _meta("app-settings", "shop"),
            "data": {"LOG_LEVEL": "info"},
        },
    ]
    objects += [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(name, ns)}
        for ns, name in (
            ("kube-system", "coredns"),
            ("kube-system", "kube-proxy"),
            ("shop", "default"),
            ("shop", "web"),
            ("default", "default"),
        )
    ]

    # shop: a web Deployment (one pod on the untainted control-plane node cp-2), a database, a report job.
    web_spec = {
        "serviceAccountName": "web",
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [
            _container(
                "web",
                "ghcr.io/example/web:1.4.2",
                ports=[{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                securityContext={"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
            )
        ],
    }
    web_labels = {"app": "web", "pod-template-hash": "5d8f7b9c4"}
    objects.append(_workload("Deployment", "web", "shop", _template(web_spec, {"app": "web"}), replicas=2))
    for rs_name, replicas in (("web-5d8f7b9c4", 2), ("web-6b9d7c8f5", 0)):
        rs = _workload("ReplicaSet", rs_name, "shop", _template(web_spec, web_labels), replicas=replicas)
        rs["metadata"]["ownerReferences"] = _owner("Deployment", "web", "shop")
        objects.append(rs)
    objects += [
        _pod(
            f"web-5d8f7b9c4-{suffix}",
            "shop",
            node,
            web_spec,
            owner=_owner("ReplicaSet", "web-5d8f7b9c4", "shop"),
            labels=web_labels,
        )
        for suffix, node in (("lx8qz", "worker-1"), ("m2p7d", "cp-2"))
    ]
    db_spec = {
        "serviceAccountName": "default",
        "containers": [
            _container(
                "postgres",
                "postgres:16",
                ports=[{"name": "postgres", "containerPort": 5432}],
                env=[
                    {
                        "name": "POSTGRES_PASSWORD",
                        "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}},
                    }
                ],
            )
        ],
    }
    objects.append(
        _workload(
            "StatefulSet", "db", "shop", _template(db_spec, {"app": "db"}), serviceName="db", replicas=1
        )
    )
    objects.append(
        _pod(
            "db-0",
            "shop",
            "worker-2",
            db_spec,
            owner=_owner("StatefulSet", "db", "shop"),
            labels={"app": "db"},
        )
    )
    job_spec = {
        "restartPolicy": "OnFailure",
        "containers": [_container("report", "ghcr.io/example/report:2.0.1", securityContext=HARDENED)],
    }
    cron = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": _meta("report", "shop"),
        "spec": {
            "schedule": "0 3 * * *",
            "jobTemplate": {"spec": {"template": _template(job_spec, {"app": "report"})}},
        },
    }
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _meta(
            "report-29011", "shop", ownerReferences=_owner("CronJob", "report", "shop", "batch/v1")
        ),
        "spec": {
            "template": _template(job_spec, {"app": "report", "batch.kubernetes.io/job-name": "report-29011"})
        },
    }
    objects += [cron, job]
    objects.append(
        _pod(
            "report-29011-k8d2s",
            "shop",
            "worker-1",
            job_spec,
            owner=_owner("Job", "report-29011", "shop", "batch/v1"),
            labels={"app": "report"},
        )
    )
    objects.append(
        _pod(
            "debug",
            "shop",
            "worker-2",
            {
                "containers": [
                    _container("shell", "nicolaka/netshoot:v0.13", securityContext={"privileged": True})
                ]
            },
            labels={"run": "debug"},
            annotations={"kubectl.kubernetes.io/last-applied-configuration": '{"kind":"Pod","spec":{}}'},
        )
    )
    objects += [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _meta("web", "shop"),
            "spec": {
                "type": "ClusterIP",
                "clusterIP": "10.96.12.7",
                "selector": {"app": "web"},
                "ports": [{"port": 80, "targetPort": "http", "protocol": "TCP"}],
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _meta("web-public", "shop"),
            "spec": {
                "type": "NodePort",
                "clusterIP": "10.96.40.2",
                "selector": {"app": "web"},
                "ports": [{"port": 80, "nodePort": 30080, "targetPort": 8080}],
            },
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": _meta("web", "shop"),
            "spec": {
                "rules": [
                    {
                        "host": "shop.example.com",
                        "http": {
                            "paths": [
                                {
                                    "path": "/",
                                    "pathType": "Prefix",
                                    "backend": {"service": {"name": "web", "port": {"number": 80}}},
                                }
                            ]
                        },
                    }
                ]
            },
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": _meta("default-deny", "shop"),
            "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": _meta(
                "db",
                "shop",
                annotations={
                    "kubectl.kubernetes.io/last-applied-configuration": '{"data":{"password":"czNjcjN0"}}'
                },
            ),
            "data": {"password": "czNjcjN0LXBhc3N3b3Jk"},
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": _meta("web", "shop"),
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": _meta("web", "shop"),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "web"},
            "subjects": [{"kind": "ServiceAccount", "name": "web", "namespace": "shop"}],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": _meta("cluster-admin", labels={"kubernetes.io/bootstrapping": "rbac-defaults"}),
            "rules": [
                {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                {"nonResourceURLs": ["*"], "verbs": ["*"]},
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": _meta("cluster-admin"),
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "cluster-admin",
            },
            "subjects": [
                {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:masters"}
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": _meta("web-admin"),
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "cluster-admin",
            },
            "subjects": [{"kind": "ServiceAccount", "name": "web", "namespace": "shop"}],
        },
    ]
    return objects


def kyverno_policy() -> dict[str, Any]:
    return {
        "apiVersion": "kyverno.io/v1",
        "kind": "ClusterPolicy",
        "metadata": _meta("require-run-as-non-root"),
        "spec": {
            "validationFailureAction": "Enforce",
            "rules": [{"name": "run-as-non-root", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]}}],
        },
    }


def psp() -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1beta1",
        "kind": "PodSecurityPolicy",
        "metadata": _meta("privileged"),
        "spec": {"privileged": True, "seLinux": {"rule": "RunAsAny"}, "runAsUser": {"rule": "RunAsAny"}},
    }
