"""Time RBAC resolution: 5,000 roles and 5,000 bindings (the acceptance target is under 2 s).

    .venv/bin/python bench/rbac.py [--roles N] [--bindings N] [--runs R] [--seed S]

The inventory is generated in memory, deterministically, shaped like the RBAC of real repositories
(and of ``../shared/bench/gen_manifests.py``): half Roles, half ClusterRoles with 1-10 rules, some
wildcards, secrets access, exec and escalation verbs, resourceNames; 12% of the ClusterRoles labelled
aggregate-to-view/edit/admin, 6% aggregating the ClusterRoles labelled for them (about 16 each);
RoleBindings to Roles, to ClusterRoles of the scan and to the built-in view/edit/admin;
ClusterRoleBindings, a few to cluster-admin and to system:authenticated; 1-3 User, Group or
ServiceAccount subjects each.

Three figures, each the median of ``--runs``, wall time and CPU time (the CPU time is the steadier one
when other work shares the machine):

- resolve: build the engine (read every role and binding, aggregate, resolve every roleRef, mark the
  stock bindings) and compute the effective permissions of every subject named by a binding (the
  bindings naming it or its groups, and through them its roles' resolved rules);
- who-can: the time of one "who can get secrets in namespace X" (asked for 100 namespaces);
- rules: run every rbac.* rule over the same inventory, as ``kharden scan`` does.

Parsing YAML is not part of the figures (``bench/run.py`` measures whole scans). This is a
measurement, not a test: it never fails on the figures.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from typing import Any

from kharden.analysis.context import ScanContext
from kharden.analysis.rbac import Rbac, parse_request
from kharden.inventory import Inventory
from kharden.model import Obj, Origin
from kharden.rules import select
from kharden.sources.documents import object_ref

RBAC = "rbac.authorization.k8s.io"
BENIGN = [
    ([""], ["configmaps"], ["get", "list", "watch"]),
    ([""], ["pods", "pods/log"], ["get", "list"]),
    (["coordination.k8s.io"], ["leases"], ["get", "create", "update"]),
    ([""], ["events"], ["create", "patch"]),
    ([""], ["services", "endpoints"], ["get", "list", "watch"]),
    (["discovery.k8s.io"], ["endpointslices"], ["get", "list", "watch"]),
    (["apps"], ["deployments", "statefulsets"], ["get", "list"]),
    (["example.com"], ["widgets", "widgets/status"], ["get", "list", "watch", "update"]),
]
RISKY = [
    ([""], ["secrets"], ["get", "list", "watch"]),
    ([""], ["pods/exec", "pods/portforward"], ["create"]),
    (["apps"], ["deployments"], ["create", "update", "patch"]),
    (["*"], ["*"], ["*"]),
    ([RBAC], ["roles", "rolebindings"], ["create", "update", "bind", "escalate"]),
    ([""], ["serviceaccounts/token"], ["create"]),
    (["admissionregistration.k8s.io"], ["validatingwebhookconfigurations"], ["get", "patch"]),
    ([""], ["users", "groups", "serviceaccounts"], ["impersonate"]),
    (["batch"], ["jobs", "cronjobs"], ["*"]),
]


NAMESPACES = [f"team-{i:03d}" for i in range(100)]


def generate(roles: int, bindings: int, seed: int) -> list[Obj]:
    rng = random.Random(seed)
    raw = [_role(rng, i) for i in range(roles)]
    role_names: dict[str, list[str]] = {ns: [] for ns in NAMESPACES}
    for doc in raw:
        if doc["kind"] == "Role":
            role_names[doc["metadata"]["namespace"]].append(doc["metadata"]["name"])
    cluster_roles = [doc["metadata"]["name"] for doc in raw if doc["kind"] == "ClusterRole"]
    raw += [_binding(rng, i, role_names, cluster_roles) for i in range(bindings)]
    return [Obj(doc, object_ref(doc), Origin("rbac.yaml")) for doc in raw]


def _role(rng: random.Random, i: int) -> dict[str, Any]:
    rules = []
    for _ in range(rng.randint(1, 10)):
        groups, resources, verbs = rng.choice(RISKY if rng.random() < 0.15 else BENIGN)
        rule: dict[str, Any] = {"apiGroups": groups, "resources": resources, "verbs": verbs}
        if rng.random() < 0.1 and "*" not in resources:
            rule["resourceNames"] = [f"lock-{rng.randint(0, 99)}"]
        rules.append(rule)
    if i % 2:
        metadata = {"name": f"role-{i}", "namespace": rng.choice(NAMESPACES)}
        return {"apiVersion": f"{RBAC}/v1", "kind": "Role", "metadata": metadata, "rules": rules}
    # Each of 150 aggregating roles collects the ClusterRoles labelled for it (about 16 each).
    labels = {f"example.com/aggregate-to-platform-{rng.randint(0, 149)}": "true"}
    if rng.random() < 0.12:
        labels[f"{RBAC}/aggregate-to-" + rng.choice(["view", "edit", "admin"])] = "true"
    doc: dict[str, Any] = {
        "apiVersion": f"{RBAC}/v1",
        "kind": "ClusterRole",
        "metadata": {"name": f"cluster-role-{i}", "labels": labels},
        "rules": rules,
    }
    if rng.random() < 0.06:
        label = f"example.com/aggregate-to-platform-{rng.randint(0, 149)}"
        doc["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": {label: "true"}}]}
        doc["rules"] = []
    return doc


def _binding(
    rng: random.Random, i: int, role_names: dict[str, list[str]], cluster_roles: list[str]
) -> dict[str, Any]:
    subjects: list[dict[str, Any]] = []
    for _ in range(rng.randint(1, 3)):
        r = rng.random()
        if r < 0.65:
            name = f"sa-{rng.randint(0, 499)}"
            subjects.append({"kind": "ServiceAccount", "name": name, "namespace": rng.choice(NAMESPACES)})
        elif r < 0.85:
            subjects.append({"kind": "Group", "name": f"group-{rng.randint(0, 49)}", "apiGroup": RBAC})
        else:
            subjects.append({"kind": "User", "name": f"user-{rng.randint(0, 199)}", "apiGroup": RBAC})
    if rng.random() < 0.6:
        ns = rng.choice(NAMESPACES)
        if role_names[ns] and rng.random() < 0.6:
            ref = {"apiGroup": RBAC, "kind": "Role", "name": rng.choice(role_names[ns])}
        else:
            name = rng.choice([*cluster_roles[:50], "view", "edit", "admin"])
            ref = {"apiGroup": RBAC, "kind": "ClusterRole", "name": name}
        metadata = {"name": f"rb-{i}", "namespace": ns}
        return {
            "apiVersion": f"{RBAC}/v1",
            "kind": "RoleBinding",
            "metadata": metadata,
            "roleRef": ref,
            "subjects": subjects,
        }
    role = "cluster-admin" if rng.random() < 0.06 else rng.choice(cluster_roles)
    if rng.random() < 0.015:
        subjects = [{"kind": "Group", "name": "system:authenticated", "apiGroup": RBAC}]
    ref = {"apiGroup": RBAC, "kind": "ClusterRole", "name": role}
    metadata = {"name": f"crb-{i}"}
    return {
        "apiVersion": f"{RBAC}/v1",
        "kind": "ClusterRoleBinding",
        "metadata": metadata,
        "roleRef": ref,
        "subjects": subjects,
    }


def median_time(function: Any, runs: int) -> tuple[float, float, Any]:
    """Median wall and CPU seconds of ``runs`` calls, and the last result."""
    walls: list[float] = []
    cpus: list[float] = []
    result = None
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        result = function()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--roles", type=int, default=5000)
    parser.add_argument("--bindings", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    objects = generate(args.roles, args.bindings, args.seed)

    def resolve() -> tuple[Rbac, int]:
        engine = Rbac(objects)
        subjects = {subject for binding in engine.bindings for subject, _ in binding.subjects}
        permissions = [engine.permissions(subject) for subject in subjects]
        # What each subject holds: every rule of every role bound to it (aggregation resolved).
        grants = sum(len(b.role.rules) for p in permissions for b, _, _ in p.bindings if b.role is not None)
        return engine, grants

    resolve_s, resolve_cpu, (engine, grants) = median_time(resolve, args.runs)
    request = parse_request("get", "secrets")
    who_s, who_cpu, answers = median_time(
        lambda: [engine.who_can(request, f"team-{i:03d}") for i in range(100)], args.runs
    )
    inventory = Inventory(objects)
    rbac_rules = select(["rbac.*"])

    def rules() -> int:
        context = ScanContext(inventory, frozenset({"M", "G"}))
        return sum(1 for rule in rbac_rules for _ in rule.check(context))

    rules_s, rules_cpu, hits = median_time(rules, args.runs)
    subjects = {subject for binding in engine.bindings for subject, _ in binding.subjects}
    aggregated = sum(1 for copies in engine.roles.values() for role in copies if role.aggregation is not None)
    print(
        f"inventory: {args.roles} roles ({aggregated} aggregated), {len(engine.bindings)} bindings,"
        f" {len(subjects)} subjects, {len(engine.unresolved)} unresolved bindings"
    )
    print(
        f"resolve  {resolve_s:6.3f} s ({resolve_cpu:.3f} s CPU)  engine + permissions of every subject"
        f" ({grants} grants); target < 2 s"
    )
    print(
        f"who-can  {who_s / 100:6.3f} s ({who_cpu / 100:.3f} s CPU)  per question: 'get secrets' in each of"
        " 100 namespaces"
        f" ({sum(len(a) for a in answers) // 100} grants per answer)"
    )
    print(f"rules    {rules_s:6.3f} s ({rules_cpu:.3f} s CPU)  engine + every rbac.* rule ({hits} findings)")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"median of {args.runs} runs, Python {sys.version.split()[0]}, load average {load:.2f}")


if __name__ == "__main__":
    main()
