"""``kharden admission policies|webhook``: arguments and flow (the CLI registers them, renders nothing)."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
from collections.abc import Callable

from .. import __version__
from ..config import Config, load_config
from ..errors import ClusterError, UsageError
from ..model import Severity
from ..rules import select
from .policies import (
    ACTIONS,
    API_VERSIONS,
    DEFAULT_NAMESPACE_SELECTOR,
    EXEMPTIONS,
    PolicyOptions,
    parse_selector,
    policy_documents,
    selected_rules,
)
from .review import ACTIONS as WEBHOOK_ACTIONS
from .review import DEFAULT_MAX_BODY, Reviewer, Settings

__all__ = ["add_arguments", "run"]

PROG = "kharden"
Writer = Callable[[str, str | None], None]


def add_arguments(parser: argparse.ArgumentParser, subparsers: Callable[..., object]) -> None:
    """``policies`` and ``webhook`` under ``kharden admission`` (``subparsers`` makes the sub-command set)."""
    commands = subparsers(dest="action_command", metavar="COMMAND", required=True)
    policies = commands.add_parser(  # type: ignore[attr-defined]
        "policies",
        help="write ValidatingAdmissionPolicies and bindings for the exportable rules",
        description=(
            "Write one ValidatingAdmissionPolicy and one ValidatingAdmissionPolicyBinding per exportable"
            " rule (the pod rules written as data: see the CEL column of 'kharden rules'), matching Pods and"
            " every kind with a pod template, plus the ConfigMap of image exemptions they read (paramKind)."
            " Their CEL and messages are generated from the rules' definitions: they deny what 'kharden scan'"
            " reports."
        ),
    )
    policies.add_argument(
        "--rule", action="append", default=[], metavar="GLOB", help="only these rules (repeatable)"
    )
    policies.add_argument(
        "--action",
        action="append",
        default=[],
        metavar="ACTION",
        help="validationActions of the bindings: Deny (default), Warn, Audit; repeatable (Deny and Warn"
        " exclude each other)",
    )
    policies.add_argument(
        "--namespace-selector",
        metavar="SELECTOR",
        default=DEFAULT_NAMESPACE_SELECTOR,
        help="namespaces the bindings apply to, in kubectl's syntax (default:"
        f" '{DEFAULT_NAMESPACE_SELECTOR}'; '' for every namespace)",
    )
    policies.add_argument(
        "--exempt-image",
        action="append",
        default=[],
        metavar="GLOB",
        help="exempt containers whose image matches ('*' any text, '?' one character); written into the"
        " exemptions ConfigMap, which can be edited later",
    )
    policies.add_argument(
        "--api", choices=API_VERSIONS, default="v1", help="v1 (Kubernetes 1.30+) or v1beta1 (1.28-1.29)"
    )
    policies.add_argument(
        "--params-namespace",
        metavar="NS",
        default="kube-system",
        help="namespace of the exemptions ConfigMap (default kube-system: only cluster admins edit it)",
    )
    policies.add_argument(
        "--honour-annotations",
        action="store_true",
        help="let a kharden.io/ignore annotation exempt an object, as in the scan (anyone who may write the"
        " object can then exempt it; off by default)",
    )
    policies.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")

    webhook = commands.add_parser(  # type: ignore[attr-defined]
        "webhook",
        help="serve a validating admission webhook over HTTPS",
        description=(
            "Serve AdmissionReviews (admission.k8s.io/v1) on https://HOST:PORT/validate: Pods and"
            " pod-template kinds are judged by the scan's pod rules, RoleBindings and ClusterRoleBindings by"
            " the RBAC rules on their grant (their role read from the cluster), Services by the load-balancer"
            " and externalIPs rules, Namespaces by their Pod Security labels. Also /healthz, /readyz and"
            " /metrics (Prometheus). The certificate is reloaded when its files change."
        ),
    )
    webhook.add_argument(
        "--tls-cert", required=True, metavar="FILE", help="serving certificate (PEM, with its chain)"
    )
    webhook.add_argument("--tls-key", required=True, metavar="FILE", help="its private key (PEM)")
    webhook.add_argument("--host", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")  # noqa: S104
    webhook.add_argument("--port", type=int, default=8443, help="port (default 8443; 0 picks a free one)")
    webhook.add_argument(
        "--action", choices=WEBHOOK_ACTIONS, default="deny", help="deny (default), warn, dry-run"
    )
    webhook.add_argument(
        "--rule", action="append", default=[], metavar="GLOB", help="only these rules (repeatable)"
    )
    webhook.add_argument("--skip-rule", action="append", default=[], metavar="GLOB", help="not these rules")
    webhook.add_argument(
        "--fail-on",
        metavar="SEVERITY",
        help="findings at or above it deny, the others are warnings (default: the config's fail-on, else"
        " info: every finding denies, as the admission policies do)",
    )
    webhook.add_argument(
        "--config", metavar="FILE", help="a .kharden.yaml: rules, severities, ignores, fail-on"
    )
    webhook.add_argument(
        "--exempt-image", action="append", default=[], metavar="GLOB", help="as for policies"
    )
    webhook.add_argument(
        "--max-body", type=int, default=DEFAULT_MAX_BODY, metavar="BYTES", help="larger requests get HTTP 400"
    )
    webhook.add_argument(
        "--kubeconfig",
        metavar="FILE",
        help="where to read roles from (default: as kubectl, or the pod's account)",
    )
    webhook.add_argument("--context", metavar="NAME", help="kubeconfig context")
    webhook.add_argument(
        "--no-cluster",
        action="store_true",
        help="read nothing from the cluster: bindings are judged with the built-in roles only",
    )
    webhook.add_argument("--log-level", choices=("debug", "info", "warning"), default="info")


def run(args: argparse.Namespace, write: Writer) -> int:
    if args.action_command == "policies":
        return _policies(args, write)
    return _webhook(args)


def _policies(args: argparse.Namespace, write: Writer) -> int:
    actions = tuple(
        dict.fromkeys(a.strip().capitalize() for value in args.action for a in value.split(",") if a.strip())
    )
    actions = actions or ("Deny",)
    for action in actions:
        if action not in ACTIONS:
            raise UsageError(f"--action {action!r}: expected Deny, Warn or Audit")
    if "Deny" in actions and "Warn" in actions:
        raise UsageError(
            "--action Deny and Warn together: the API server refuses the pair (Deny already says why)"
        )
    exported, skipped = selected_rules(args.rule)
    if not exported:
        raise UsageError(
            "no exportable rule selected: " + "; ".join(f"{r.id} ({r.export_note})" for r in skipped[:5])
        )
    options = PolicyOptions(
        api=args.api,
        actions=actions,
        namespace_selector=parse_selector(args.namespace_selector),
        exempt_images=tuple(g.strip() for g in args.exempt_image if g.strip()),
        params_namespace=args.params_namespace,
        honour_annotations=args.honour_annotations,
    )
    if args.rule:
        for rule in skipped:
            print(f"{PROG}: {rule.id}: {rule.export_note}", file=sys.stderr)
    from ..generate.output import dump  # noqa: PLC0415

    lines = [
        f"Generated by `kharden admission policies` (kharden {__version__}).",
        f"One ValidatingAdmissionPolicy ({options.api}) and binding per rule, validationActions"
        f" {list(actions)}, and the exemptions ConfigMap {options.params_namespace}/{EXEMPTIONS} they all"
        " read (a missing ConfigMap denies).",
        "Rules enforced: " + ", ".join(r.id for r in exported),
    ]
    if skipped:
        lines.append("Not exportable (the webhook or the scan judges them):")
        lines += [f"  {r.id}: {r.export_note.removeprefix('not exported: ')}" for r in skipped]
    header = "".join(f"# {line}\n" for line in lines)
    body = "---\n".join(dump(doc) for doc in policy_documents(exported, options))
    write(header + "---\n" + body, args.output)
    return 0


def _webhook(args: argparse.Namespace) -> int:
    # The CLI turns the cycle collector off for short runs; a server runs for weeks: on again, with what is
    # loaded at start-up frozen out of its scans.
    gc.enable()
    gc.freeze()
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for path in (args.tls_cert, args.tls_key):
        if not os.path.isfile(path):
            raise UsageError(f"{path}: no such file")
    config = load_config(args.config) if args.config else Config()
    rules = select(list(args.rule or config.include), [*config.exclude, *args.skip_rule])
    fail_text = (args.fail_on or config.fail_on or "info").strip().lower()
    settings = Settings(
        rules=tuple(rules),
        policy=config.policy(rules),
        action=args.action,
        fail_on=None if fail_text == "never" else Severity.parse(fail_text),
        exempt_images=tuple(g.strip() for g in args.exempt_image if g.strip()),
    )
    roles = None
    if not args.no_cluster:
        from .cluster import ClusterRoles  # noqa: PLC0415

        try:
            roles = ClusterRoles(args.kubeconfig, args.context)
        except ClusterError as e:
            if args.kubeconfig or args.context:
                raise
            logging.getLogger("kharden.webhook").warning(
                "no cluster to read roles from (%s): bindings are judged with the built-in roles only", e
            )
    from .server import serve  # noqa: PLC0415
    from .webhook import Metrics, WebhookApp  # noqa: PLC0415

    app = WebhookApp(Reviewer(settings, roles), Metrics(), max_body=args.max_body)

    def listening(host: str, port: int) -> None:
        print(
            f"{PROG}: admission webhook listening on https://{host}:{port}/validate",
            file=sys.stderr,
            flush=True,
        )

    serve(app, host=args.host, port=args.port, cert=args.tls_cert, key=args.tls_key, on_listening=listening)
    return 0
