"""The small cluster the probe tests read: two namespaces, four workloads, policies that deny.

- shop: Deployments ``web`` (app=web, http 8080) and ``debug`` (app=debug, http 8080); the policy
  ``debug-egress`` isolates debug for egress and allows only addresses outside the pods' range
  (``0.0.0.0/0`` except 10.244.0.0/16 and the metadata stand-in).
- payments: Deployments ``db`` (app=db, postgres 5432) and ``api`` (app=api, http 8080); the policy
  ``db-ingress`` admits only api, on 5432.
- a Node whose ``podCIDR`` is the lab's 10.244.0.0/16.

So the plan is: web -> db:5432 denied (db's ingress), debug -> web:8080 denied (debug's egress),
debug -> the metadata stand-in denied, and allowed controls into db (from api), into web and
from debug (towards the Internet stand-in).
"""

from __future__ import annotations

import copy
from typing import Any

from netlab import INTERNET, METADATA

from netdocs import deployment, namespace, policy

PROBE_ARGS = (
    "--metadata-address",
    f"{METADATA}:80",
    "--internet",
    f"{INTERNET}:443",
    "--settle",
    "0.2",
    "--timeout",
    "1",
    "--start-timeout",
    "20",
)
"""What every probe test passes: stand-ins inside the lab, short waits."""


def _with_uid(obj: dict[str, Any], uid: str) -> dict[str, Any]:
    obj = copy.deepcopy(obj)
    obj["metadata"]["uid"] = uid
    return obj


def probe_cluster() -> list[dict[str, Any]]:
    return [
        _with_uid(namespace("shop", team="shop"), "uid-shop"),
        _with_uid(namespace("payments", team="payments"), "uid-payments"),
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": "node-1"},
            "spec": {"podCIDR": "10.244.0.0/16", "podCIDRs": ["10.244.0.0/16"]},
        },
        deployment("shop", "web"),
        deployment("shop", "debug"),
        deployment("payments", "db", ports=[("postgres", 5432, "TCP")]),
        deployment("payments", "api"),
        policy(
            "payments",
            "db-ingress",
            podSelector={"matchLabels": {"app": "db"}},
            ingress=[
                {"from": [{"podSelector": {"matchLabels": {"app": "api"}}}], "ports": [{"port": "postgres"}]}
            ],
        ),
        policy(
            "payments",
            "api-egress",
            podSelector={"matchLabels": {"app": "api"}},
            policyTypes=["Egress"],
            egress=[
                {"to": [{"podSelector": {"matchLabels": {"app": "db"}}}], "ports": [{"port": 5432}]},
                {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.244.0.0/16", f"{METADATA}/32"]}}]},
            ],
        ),
        policy(
            "shop",
            "web-ingress",
            podSelector={"matchLabels": {"app": "web"}},
            ingress=[{"from": [{"podSelector": {}}], "ports": [{"port": "http"}]}],
        ),
        policy(
            "shop",
            "debug-egress",
            podSelector={"matchLabels": {"app": "debug"}},
            policyTypes=["Egress"],
            egress=[
                {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.244.0.0/16", f"{METADATA}/32"]}}]}
            ],
        ),
    ]
