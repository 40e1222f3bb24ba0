"""Time RBAC resolution, who-can and the rbac.* rules on a generated inventory (5,000 + 5,000 by default).

    .venv/bin/python bench/rbac.py [--roles N] [--bindings N] [--runs R] [--seed S]

The inventory is generated in memory, deterministically, shaped like the RBAC of real repositories
(and of ``../shared/bench/gen_manifests.py``): half Roles, half ClusterRoles with 1-10 rules, some
wildcards, secrets access, exec and escalation verbs, resourceNames; 12% of the ClusterRoles labelled
aggregate-to-view/edit/admin, 6% aggregating the ClusterRoles labelled for them (about 16 each);
RoleBindings to Roles, to ClusterRoles of the scan and to the built-in view/edit/admin;
ClusterRoleBindings, a few to cluster-admin and to system:authenticated; 1-3 User, Group or
ServiceAccount subjects each. Namespaces, subjects and aggregation labels grow with the inventory
(``Pools``); at 5,000 + 5,000 the inventory is the one of the first version of this benchmark.

Figures, each the median of ``--runs``, wall time and CPU time (the CPU time is the steadier one
when other work shares the machine):

- resolve: build the engine (read every role and binding, aggregate, resolve every roleRef, mark the
  stock bindings, index the symbolic grants) and the effective permissions of every subject named by
  a binding (the bindings naming it or its groups; their roles' rules are counted, not expanded);
- who-can: one "who can get secrets in namespace X" (asked for up to 100 namespaces), answered
  symbolically (per binding, the rules that allow it: ``Rbac.holdings``), then the same expanded to
  one grant per subject and rule (``Rbac.who_can``, what ``kharden who-can`` prints);
- resolve + rules: build the engine and run every rbac.* rule, as ``kharden scan`` does;
- peak RSS of the process (the generated inventory included).

Answers are counted, never kept. The cycle collector is off, as in ``kharden``. Parsing YAML is not part
of the figures (``bench/run.py`` measures whole scans). This is a measurement, not a test: it never fails
on the figures.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import resource
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Any

from kharden.analysis.context import ScanContext
from kharden.analysis.rbac import Rbac, Subject, parse_request
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


@dataclass(frozen=True)
class Pools:
    """How many namespaces, subjects and aggregation labels there are: they grow with the inventory.

    A fixed pool would make a large inventory an unrealistic one (50,000 roles in 100 namespaces, every
    aggregating ClusterRole collecting hundreds of roles). At 5,000 roles and 5,000 bindings the pools are
    those of the first version of this benchmark, so the figures compare.
    """

    namespaces: tuple[str, ...]
    service_accounts: int
    groups: int
    users: int
    aggregation_labels: int
    bound_cluster_roles: int
    """RoleBindings to ClusterRoles name the first this many ClusterRoles (or view, edit, admin)."""

    @classmethod
    def sized(cls, roles: int, bindings: int) -> Pools:
        namespaces = max(1, roles // 50)
        return cls(
            namespaces=tuple(f"team-{i:03d}" for i in range(namespaces)),
            service_accounts=max(1, bindings // 10),
            groups=max(1, bindings // 100),
            users=max(1, bindings // 25),
            aggregation_labels=max(1, roles * 3 // 100),
            bound_cluster_roles=max(1, roles // 100),
        )


def generate(roles: int, bindings: int, seed: int) -> list[Obj]:
    rng = random.Random(seed)
    pools = Pools.sized(roles, bindings)
    raw = [_role(rng, i, pools) for i in range(roles)]
    role_names: dict[str, list[str]] = {ns: [] for ns in pools.namespaces}
    for doc in raw:
        if doc["kind"] == "Role":
            role_names[doc["metadata"]["namespace"]].append(doc["metadata"]["name"])
    cluster_roles = [doc["metadata"]["name"] for doc in raw if doc["kind"] == "ClusterRole"]
    raw += [_binding(rng, i, role_names, cluster_roles, pools) for i in range(bindings)]
    return [Obj(doc, object_ref(doc), Origin("rbac.yaml")) for doc in raw]


def _role(rng: random.Random, i: int, pools: Pools) -> dict[str, Any]:
    rules = []
    for _ in range(rng.randint(1, 10)):
        groups, resources, verbs = rng.choice(RISKY if rng.random() < 0.15 else BENIGN)
        rule: dict[str, Any] = {"apiGroups": groups, "resources": resources, "verbs": verbs}
        if rng.random() < 0.1 and "*" not in resources:
            rule["resourceNames"] = [f"lock-{rng.randint(0, 99)}"]
        rules.append(rule)
    if i % 2:
        metadata = {"name": f"role-{i}", "namespace": rng.choice(pools.namespaces)}
        return {"apiVersion": f"{RBAC}/v1", "kind": "Role", "metadata": metadata, "rules": rules}
    # Each aggregation label (150 at 5,000 roles) is on about 16 ClusterRoles, and 6% of ClusterRoles
    # aggregate the ClusterRoles of one label.
    last = pools.aggregation_labels - 1
    labels = {f"example.com/aggregate-to-platform-{rng.randint(0, last)}": "true"}
    if rng.random() < 0.12:
        labels[f"{RBAC}/aggregate-to-" + rng.choice(["view", "edit", "admin"])] = "true"
    doc: dict[str, Any] = {
        "apiVersion": f"{RBAC}/v1",
        "kind": "ClusterRole",
        "metadata": {"name": f"cluster-role-{i}", "labels": labels},
        "rules": rules,
    }
    if rng.random() < 0.06:
        label = f"example.com/aggregate-to-platform-{rng.randint(0, last)}"
        doc["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": {label: "true"}}]}
        doc["rules"] = []
    return doc


def _binding(
    rng: random.Random, i: int, role_names: dict[str, list[str]], cluster_roles: list[str], pools: Pools
) -> dict[str, Any]:
    subjects: list[dict[str, Any]] = []
    for _ in range(rng.randint(1, 3)):
        r = rng.random()
        if r < 0.65:
            name = f"sa-{rng.randint(0, pools.service_accounts - 1)}"
            namespace = rng.choice(pools.namespaces)
            subjects.append({"kind": "ServiceAccount", "name": name, "namespace": namespace})
        elif r < 0.85:
            subjects.append(
                {"kind": "Group", "name": f"group-{rng.randint(0, pools.groups - 1)}", "apiGroup": RBAC}
            )
        else:
            subjects.append(
                {"kind": "User", "name": f"user-{rng.randint(0, pools.users - 1)}", "apiGroup": RBAC}
            )
    if rng.random() < 0.6:
        ns = rng.choice(pools.namespaces)
        if role_names[ns] and rng.random() < 0.6:
            ref = {"apiGroup": RBAC, "kind": "Role", "name": rng.choice(role_names[ns])}
        else:
            name = rng.choice([*cluster_roles[: pools.bound_cluster_roles], "view", "edit", "admin"])
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
        result = None  # the previous result is freed before the next run
        wall, cpu = time.perf_counter(), time.process_time()
        result = function()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), result


def main() -> None:
    # kharden runs with the cycle collector off (its objects hold no cycles: see scan.acyclic_work); so
    # does this benchmark, else the collector's passes over the inventory would be half of the figures.
    gc.disable()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--roles", type=int, default=5000)
    parser.add_argument("--bindings", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    objects = generate(args.roles, args.bindings, args.seed)
    namespaces = Pools.sized(args.roles, args.bindings).namespaces[:100]

    def resolve() -> tuple[Rbac, int, int]:
        engine = Rbac(objects)
        subjects = {subject for binding in engine.bindings for subject, _ in binding.subjects}
        held = expanded = 0
        counted: dict[Subject, tuple[int, int]] = {}  # a group's bindings are counted once, not per member
        for subject in subjects:
            # What each subject holds: each binding naming it (or a group of it) grants its role's rules.
            for identity, bindings in engine.permissions(subject).by_identity:
                count = counted.get(identity)
                if count is None:
                    rules = sum(b.role.rule_count for b, _, _ in bindings if b.role is not None)
                    count = counted[identity] = (len(bindings), rules)
                held += count[0]
                expanded += count[1]
        return engine, held, expanded

    resolve_s, resolve_cpu, (engine, held, expanded) = median_time(resolve, args.runs)
    request = parse_request("get", "secrets")

    def ask() -> tuple[int, int]:
        holdings = grants = 0
        for namespace in namespaces:
            answer = engine.holdings(request, namespace)
            holdings += len(answer)
            grants += sum(len(holding) for holding in answer)
        return holdings, grants

    def ask_expanded() -> int:
        return sum(1 for namespace in namespaces for _ in engine.who_can(request, namespace))

    who_s, who_cpu, (holdings, grants) = median_time(ask, args.runs)
    expand_s, expand_cpu, _ = median_time(ask_expanded, args.runs)
    inventory = Inventory(objects)
    rbac_rules = select(["rbac.*"])

    def rules() -> int:
        context = ScanContext(inventory, frozenset({"M", "G"}))
        return sum(1 for rule in rbac_rules for _ in rule.check(context))

    rules_s, rules_cpu, hits = median_time(rules, args.runs)
    subjects = {subject for binding in engine.bindings for subject, _ in binding.subjects}
    aggregated = [role for copies in engine.roles.values() for role in copies if role.aggregation is not None]
    asked = len(namespaces)
    print(
        f"inventory: {args.roles} roles ({len(aggregated)} aggregated, holding"
        f" {sum(r.rule_count for r in aggregated)} rules of other roles), {len(engine.bindings)} bindings,"
        f" {len(subjects)} subjects in {len(Pools.sized(args.roles, args.bindings).namespaces)} namespaces,"
        f" {len(engine.unresolved)} unresolved bindings"
    )
    print(
        f"resolve          {resolve_s:7.3f} s ({resolve_cpu:.3f} s CPU)  engine + every subject's permissions"
        f" ({held} subject-binding grants, {expanded} if expanded per subject and rule)"
    )
    print(
        f"who-can          {who_s / asked:7.3f} s ({who_cpu / asked:.3f} s CPU)  per question, symbolic:"
        f" 'get secrets' in each of {asked} namespaces ({holdings // asked} bindings per answer)"
    )
    print(
        f"who-can expanded {expand_s / asked:7.3f} s ({expand_cpu / asked:.3f} s CPU)  per question,"
        f" one grant per subject and rule ({grants // asked} grants per answer)"
    )
    print(
        f"resolve + rules  {rules_s:7.3f} s ({rules_cpu:.3f} s CPU)  engine + every rbac.* rule"
        f" ({hits} findings)"
    )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"peak RSS {peak:.0f} MiB; median of {args.runs} runs, Python {sys.version.split()[0]},"
        f" load average {load:.2f}"
    )


if __name__ == "__main__":
    main()
