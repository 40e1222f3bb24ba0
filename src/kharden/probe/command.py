"""``kharden probe``: its arguments and its flow (the CLI registers it and renders nothing itself)."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from types import FrameType
from typing import Any

from .._display import printable, say
from ..errors import UsageError
from ..model import Severity
from ..report import render
from ..scan import ScanOptions
from ..sources.cluster import ClusterOptions
from . import load
from .client import connect
from .plan import DEFAULT_INTERNET, PlanOptions, make_plan, parse_address
from .pods import DEFAULT_IMAGE, PodSettings, policy_label_keys
from .results import judge, probe_report
from .run import cleanup, execute, listener_manifests, new_run_id, planned_pods, source_manifests

__all__ = ["add_arguments", "run"]

Writer = Callable[[str, str | None], None]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``kharden probe`` but the cluster's (the CLI adds those as for ``scan``)."""
    action = parser.add_mutually_exclusive_group()
    action.add_argument(
        "--plan", action="store_true", help="print the probes and the pods they need; change nothing"
    )
    action.add_argument(
        "--yes",
        action="store_true",
        help="run the probes: create the pods, connect, delete the pods (writes!)",
    )
    action.add_argument(
        "--cleanup",
        action="store_true",
        help="delete the pods left by any probe run (labelled kharden.io/probe) in -n NS, or everywhere",
    )
    parser.add_argument(
        "--max-probes",
        type=int,
        metavar="N",
        help="at most N connections (default: twice the number of policies that deny something)",
    )
    parser.add_argument(
        "--image",
        default=DEFAULT_IMAGE,
        metavar="IMAGE",
        help=f"image of the probe pods; any image with python3 (default: {DEFAULT_IMAGE})",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=3.0,
        metavar="SECONDS",
        help="a connection that has not succeeded within SECONDS is blocked (default: 3)",
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="probe pods wait SECONDS before connecting, while the network plugin programs their policies"
        " (default: 2)",
    )
    parser.add_argument(
        "--start-timeout",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="give up on pods that are not running within SECONDS (default: 120)",
    )
    parser.add_argument(
        "--internet",
        default=DEFAULT_INTERNET,
        metavar="ADDRESS:PORT",
        help=f"public address the Internet probes connect to, or 'none' (default: {DEFAULT_INTERNET})",
    )
    # Tests only: the stand-in metadata API inside their network namespaces (never 169.254.169.254).
    parser.add_argument("--metadata-address", action="append", default=[], help=argparse.SUPPRESS)
    parser.add_argument("-f", "--format", choices=("text", "json", "sarif"), default="text")
    parser.add_argument("-o", "--output", metavar="FILE", help="write the plan or the results to FILE")
    parser.add_argument(
        "--fail-on",
        default="high",
        metavar="SEVERITY",
        help="exit 1 when a finding is at or above SEVERITY, or 'never' (default: high)",
    )
    parser.add_argument(
        "--snapshot", metavar="FILE", help="with --plan: plan from this snapshot ('kharden snapshot') instead"
    )


def run(args: argparse.Namespace, cluster: ClusterOptions, write: Writer, color: bool = False) -> int:
    """Carry out ``kharden probe`` as ``args`` say; the exit code."""
    _check(args)
    if args.cleanup:
        return _cleanup(cluster)
    fail_on = None if args.fail_on.strip().lower() == "never" else Severity.parse(args.fail_on)
    internet = (
        None if args.internet.strip().lower() == "none" else parse_address("the Internet", args.internet)
    )
    plan_options = PlanOptions(internet=internet, max_probes=args.max_probes)
    if args.metadata_address:
        metadata = tuple(parse_address("the metadata API", a) for a in args.metadata_address)
        plan_options = replace(plan_options, metadata=metadata)
    loaded = load([], ScanOptions(snapshot=args.snapshot, cluster=None if args.snapshot else cluster))
    for error in loaded.errors:
        say(f"kharden: error: {error}")
    plan = make_plan(loaded.network, loaded.plan_options(plan_options))
    run_id = new_run_id()
    settings = PodSettings(
        run_id, image=args.image, timeout=args.timeout, delay=args.settle, deadline=_deadline(args)
    )
    keys = policy_label_keys(loaded.network)
    from ..report import probe as probe_render  # noqa: PLC0415 - the renderers, once the work is done

    if args.plan:
        pods = planned_pods(plan, run_id)
        if args.format == "json":
            uids = loaded.namespace_uids
            manifests = [
                *listener_manifests(pods, settings, keys, uids),
                *source_manifests(pods, settings, keys, uids),
            ]
            write(probe_render.plan_json(plan, manifests, run_id), args.output)
        else:
            write(probe_render.plan_text(plan, pods, run_id), args.output)
        return 2 if loaded.errors else 0
    verdicts = []
    if plan.probes:
        with connect(cluster.kubeconfig, cluster.context, cluster.timeout) as client, _sigterm_interrupts():
            outcome = execute(
                plan,
                client,
                settings,
                keys,
                loaded.namespace_uids,
                start_timeout=args.start_timeout,
                say=lambda text: say(f"kharden: {text}"),
            )
        verdicts = judge(outcome.observations)
    else:
        print("kharden: nothing to probe: no NetworkPolicy of the cluster denies anything", file=sys.stderr)
    report = probe_report(verdicts, plan, loaded.stats, loaded.errors)
    if args.format == "json":
        write(probe_render.results_json(verdicts, report, run_id), args.output)
    elif args.format == "sarif":
        write(render("sarif", report), args.output)
    else:
        write(probe_render.results_text(verdicts, report, run_id, color=color), args.output)
    if fail_on is None:
        return 2 if report.errors else 0
    return report.exit_code(fail_on)


def _check(args: argparse.Namespace) -> None:
    if not (args.plan or args.yes or args.cleanup):
        raise UsageError(
            "kharden probe creates pods in the cluster: review what it would do with --plan, run it with"
            " --yes (or remove leftovers with --cleanup)"
        )
    if args.snapshot is not None and not args.plan:
        raise UsageError("--snapshot gives a plan only (--plan): probes need the live cluster")
    for name in ("timeout", "start_timeout"):
        if getattr(args, name) <= 0:
            raise UsageError(f"--{name.replace('_', '-')} must be positive")
    if args.settle < 0:
        raise UsageError("--settle cannot be negative")
    if args.max_probes is not None and args.max_probes < 1:
        raise UsageError("--max-probes must be at least 1")
    if args.plan and args.format == "sarif":
        raise UsageError("--plan prints text or json")


def _deadline(args: argparse.Namespace) -> int:
    """``activeDeadlineSeconds``: the whole run's worst case, and a margin."""
    return int(args.start_timeout * 2 + args.settle + args.timeout * 3 + 60)


def _cleanup(cluster: ClusterOptions) -> int:
    with connect(cluster.kubeconfig, cluster.context, cluster.timeout) as client:
        deleted = cleanup(client, cluster.namespaces)
    for namespace, name in deleted:
        print(printable(f"deleted pod {namespace}/{name}"))
    where = f"in {', '.join(cluster.namespaces)}" if cluster.namespaces else "in any namespace"
    print(f"kharden: {len(deleted)} probe pod{'s' * (len(deleted) != 1)} deleted {where}", file=sys.stderr)
    return 0


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM stops a run as Ctrl-C does: the pods are deleted on the way out."""

    def interrupt(signum: int, frame: FrameType | None) -> Any:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
