"""The command line: parse arguments, call the library, render, choose the exit code. No logic.

Exit codes: 0 nothing at or above --fail-on; 1 findings at or above it; 2 usage or input
errors (an input error in one file does not hide the other files' findings).

Each command imports what it needs when it runs (``kharden --version`` and ``kharden rules`` start
in a few tens of milliseconds); only the argument parser and light modules load at start-up.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import sys
import time

from . import TYPE_CHECKING, __version__
from ._display import printable, say
from .errors import KhardenError, UsageError
from .report import FORMATS
from .sources.limits import DEFAULT_MAX_FILE_BYTES, MAX_JOBS_PER_CPU, WORKER_AHEAD_BYTES, WORKER_CHUNK_BYTES

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from pathlib import Path
    from typing import NoReturn, TextIO

    from .baseline import Baseline
    from .config import Config
    from .model import Report, Severity
    from .scan import ScanOptions
    from .sources.cluster import ClusterOptions, Progress

__all__ = ["main"]

PROG = "kharden"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see '{self.prog} --help')")


_EVERY_COMMAND = "*"
"""``_parser``'s command when every command's arguments are wanted (shell completion)."""


def _parser(command: str | None = _EVERY_COMMAND) -> argparse.ArgumentParser:
    """The whole command line; ``command`` (the first word of the arguments) is the one about to run: the
    arguments of a command whose module is heavy to import are added only for it (all by default)."""
    parser = _Parser(
        prog=PROG,
        description="Audit Kubernetes manifests, charts and clusters against a hardening checklist.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    scan_cmd = commands.add_parser(
        "scan",
        help="scan manifests, kustomizations and Helm charts",
        description=(
            "Scan files, directories (recursively; kustomizations and Helm charts"
            " are rendered) and '-' for stdin."
        ),
    )
    scan_cmd.add_argument("paths", nargs="*", metavar="PATH", help="file, directory, or '-' for stdin")
    scan_cmd.add_argument(
        "-f",
        "--format",
        action="append",
        type=_format,
        metavar="FORMAT[=FILE]",
        help=f"report format: {', '.join(FORMATS)} (default: text); repeatable, FORMAT=FILE writes to FILE",
    )
    scan_cmd.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="write the report to FILE instead of stdout; with several --format, the base name of their files"
        " (BASE.sarif, BASE.html, ...)",
    )
    scan_cmd.add_argument(
        "--fail-on",
        metavar="SEVERITY",
        help="exit 1 when an unsuppressed finding is at or above SEVERITY: critical, high, medium, low, info,"
        " or 'never' (default: the config's fail-on, else high)",
    )
    scan_cmd.add_argument(
        "--image-report",
        action="append",
        default=[],
        metavar="FILE",
        help="Trivy or Grype JSON report of an image the workloads run (repeatable)",
    )
    scan_cmd.add_argument(
        "--config",
        metavar="FILE",
        help=".kharden.yaml to use (default: found upward from the working directory)",
    )
    scan_cmd.add_argument("--no-config", action="store_true", help="use no .kharden.yaml")
    scan_cmd.add_argument(
        "--baseline",
        metavar="FILE",
        help="findings in this baseline (kharden baseline write) are suppressed and do not fail the run",
    )
    scan_cmd.add_argument(
        "--sarif-root",
        metavar="DIR",
        help="SARIF file locations are relative to DIR (default: the working directory)",
    )
    scan_cmd.add_argument(
        "--rule", action="append", default=[], metavar="GLOB", help="run only matching rules (repeatable)"
    )
    scan_cmd.add_argument(
        "--skip-rule", action="append", default=[], metavar="GLOB", help="skip matching rules (repeatable)"
    )
    _file_arguments(scan_cmd)
    scan_cmd.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour the text report (default: auto)",
    )
    scan_cmd.add_argument(
        "--show-suppressed", action="store_true", help="list suppressed findings in the text report"
    )
    _gate_arguments(scan_cmd)
    scan_cmd.add_argument(
        "--node-root",
        action="append",
        default=[],
        metavar="DIR",
        help="read node and control-plane files (static pods, kubelet, k3s/RKE2, CNI) under DIR (repeatable)",
    )
    scan_cmd.add_argument(
        "--node", action="store_true", help="read this machine's node files (--node-root /)"
    )
    scan_cmd.add_argument(
        "--kube-version",
        metavar="VERSION",
        help="the cluster's Kubernetes version (e.g. 1.29) for version-dependent defaults;"
        " default: the cluster's, else a node root's kube-apiserver image tag, else 1.33 (said so)",
    )
    cluster_group = scan_cmd.add_argument_group("cluster")
    cluster_group.add_argument(
        "--cluster", action="store_true", help="read the live cluster of the kubeconfig context (read-only)"
    )
    _cluster_arguments(cluster_group)
    cluster_group.add_argument(
        "--snapshot",
        metavar="FILE",
        help="read a cluster snapshot: 'kharden snapshot' or 'kubectl get -o json'",
    )

    snapshot_cmd = commands.add_parser(
        "snapshot",
        help="save what a cluster scan reads to a file",
        description=(
            "Read the cluster as 'kharden scan --cluster' does (Secrets as metadata only) and write it as a"
            " JSON List, one object per line, for 'kharden scan --snapshot FILE'."
        ),
    )
    snapshot_cmd.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    _cluster_arguments(snapshot_cmd)

    _catalog_parsers(commands)

    baseline_cmd = commands.add_parser(
        "baseline",
        help="record today's findings so that only new ones fail",
        description="Baselines: findings recorded once are reported as suppressed and do not fail the run.",
    )
    actions = baseline_cmd.add_subparsers(
        dest="action", metavar="ACTION", parser_class=_Parser, required=True
    )
    write_cmd = actions.add_parser(
        "write",
        help="scan and write the baseline FILE",
        description=(
            "Scan like 'kharden scan' (same paths and options, after FILE) and write the fingerprint of every"
            " unsuppressed finding to FILE. Use it with 'kharden scan --baseline FILE' or the config's"
            " 'baseline:'."
        ),
    )
    write_cmd.add_argument("file", metavar="FILE")
    write_cmd.add_argument(
        "scan_args", nargs=argparse.REMAINDER, metavar="PATH|OPTION", help="what 'kharden scan' takes"
    )
    who_cmd = commands.add_parser(
        "who-can",
        help="list the subjects RBAC allows to do something",
        description=(
            "List the users, groups and ServiceAccounts that the RBAC objects of the inputs allow to do"
            " VERB on RESOURCE, each with its chain binding -> role -> rule. RESOURCE is a plural resource"
            " name, with its API group and subresource when needed (secrets, pods/exec, deployments.apps,"
            " deployments.apps/scale), or a non-resource URL (/metrics)."
        ),
    )
    who_cmd.add_argument("verb", metavar="VERB", help="get, list, create, update, delete, escalate, ...")
    who_cmd.add_argument("resource", metavar="RESOURCE")
    who_cmd.add_argument("paths", nargs="*", metavar="PATH", help="file, directory, or '-' for stdin")
    who_cmd.add_argument(
        "-n", "--namespace", metavar="NS", help="in this namespace (default: anywhere, cluster-wide included)"
    )
    who_cmd.add_argument(
        "--name", metavar="NAME", help="about this one object (rules with resourceNames count)"
    )
    who_cmd.add_argument("-f", "--format", choices=("text", "json"), default="text")
    who_cmd.add_argument("-o", "--output", metavar="FILE", help="write the answer to FILE instead of stdout")
    who_cmd.add_argument("--values", action="append", default=[], metavar="FILE", help="Helm values file")
    who_cmd.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="Helm --set value")

    for add_parser in (_reach_parser, _fix_parser):
        add_parser(commands)
    heavy = (_paths_parser, _probe_parser, _generate_parser, _admission_parser)
    for add_heavy in heavy:  # arguments only for the one that runs
        add_heavy(commands, command)
    return parser


def _reach_parser(commands: argparse._SubParsersAction[_Parser]) -> None:
    reach_cmd = commands.add_parser(
        "reach",
        help="answer network reachability questions by the NetworkPolicies in force",
        description=(
            "Read the same inputs as 'scan' and answer by NetworkPolicy semantics whether traffic is allowed"
            " (--from/--to), or print the namespace-to-namespace matrix (--matrix). Endpoints: NAMESPACE/NAME"
            " (a workload or running Pod), NAMESPACE/KIND/NAME, NAMESPACE/*, */*, or an address or CIDR; the"
            " destination may end in :PORT[/PROTOCOL] (80/TCP, 53/UDP, http)."
        ),
    )
    reach_cmd.add_argument("paths", nargs="*", metavar="PATH", help="file, directory, or '-' for stdin")
    reach_cmd.add_argument("--from", dest="source", metavar="ENDPOINT", help="where the traffic starts")
    reach_cmd.add_argument(
        "--to", dest="destination", metavar="ENDPOINT[:PORT[/PROTO]]", help="where it goes"
    )
    reach_cmd.add_argument("--matrix", action="store_true", help="print the namespace-to-namespace matrix")
    reach_cmd.add_argument(
        "--address",
        action="append",
        default=[],
        metavar="NAME=CIDR[,CIDR]",
        help="a matrix column for these addresses (kube-apiserver, etcd, ...; repeatable)",
    )
    reach_cmd.add_argument(
        "--expect",
        choices=("allowed", "denied"),
        help="exit 1 unless every answer is this (for CI: --expect denied on the metadata API)",
    )
    reach_cmd.add_argument("-f", "--format", choices=("text", "json"), default="text")
    reach_cmd.add_argument(
        "-o", "--output", metavar="FILE", help="write the answer to FILE instead of stdout"
    )
    reach_cmd.add_argument("--values", action="append", default=[], metavar="FILE", help="Helm values file")
    reach_cmd.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="Helm --set value")
    reach_cmd.add_argument(
        "--snapshot", metavar="FILE", help="read this cluster snapshot ('kharden snapshot')"
    )
    reach_cmd.add_argument("--cluster", action="store_true", help="read the live cluster (read-only)")
    _cluster_arguments(reach_cmd)


def _fix_parser(commands: argparse._SubParsersAction[_Parser]) -> None:
    fix_cmd = commands.add_parser(
        "fix",
        help="write the fixes of the findings: a diff, or the files with --write",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="""\
Read what 'scan' reads and change what the selected rules found, the way a careful engineer
would by hand. Without --write, print a unified diff; with --write, change the files.

  plain YAML/JSON  edited in place: only the changed lines; comments, order, quoting, layout kept
  kustomization    a JSON 6902 patch in the directory given (kharden-fix/KIND-NAME.yaml), added to
                   its kustomization.yaml under 'patches:'; bases and resources are never edited
  Helm chart       a values file (--values-out FILE) with the chart's securityContext,
                   podSecurityContext, containerSecurityContext, serviceAccount.automount keys,
                   each kept only when rendering the chart with it fixes findings; templates are
                   not rewritten (what values cannot fix is named with its template)

Safe changes are made by default: allowPrivilegeEscalation: false, capabilities.drop: [ALL],
seccompProfile RuntimeDefault, runAsNonRoot: true, automountServiceAccountToken: false where the
ServiceAccount has no RBAC grant, and removing privileged: true, hostPID/hostIPC, procMount:
Unmasked and Unconfined AppArmor profiles. A value every container inherits goes on the pod, else
on each container, never repeating what is inherited. --unsafe also makes the changes that can break
an application (readOnlyRootFilesystem with an emptyDir at /tmp, a non-zero runAsUser, removing
added capabilities and hostPath volumes); the diff's hunk header says why each may break.
Images are pinned by digest only from what you give (--digests FILE, --image-report FILE): kharden
never asks a registry.

Exit codes: 0 nothing to change, 1 changes shown or written, 2 input or usage error.""",
    )
    fix_cmd.add_argument("paths", nargs="+", metavar="PATH", help="file or directory")
    fix_cmd.add_argument("--write", action="store_true", help="change the files (default: print a diff)")
    fix_cmd.add_argument(
        "--unsafe", action="store_true", help="also make changes that may break the application"
    )
    fix_cmd.add_argument(
        "--rule", action="append", default=[], metavar="GLOB", help="fix only matching rules (repeatable)"
    )
    fix_cmd.add_argument(
        "--skip-rule",
        action="append",
        default=[],
        metavar="GLOB",
        help="do not fix matching rules (repeatable)",
    )
    fix_cmd.add_argument(
        "--values-out", metavar="FILE", help="Helm charts: write the values that fix findings to FILE"
    )
    fix_cmd.add_argument(
        "--digests",
        action="append",
        default=[],
        metavar="FILE",
        help="pin images by digest from FILE, a YAML/JSON map of image reference to digest (repeatable)",
    )
    fix_cmd.add_argument(
        "--image-report",
        action="append",
        default=[],
        metavar="FILE",
        help="Trivy or Grype JSON of an image: pin it by the repository digest it names (repeatable)",
    )
    fix_cmd.add_argument("--config", metavar="FILE", help=".kharden.yaml to use (its ignores are honoured)")
    fix_cmd.add_argument("--no-config", action="store_true", help="use no .kharden.yaml")
    fix_cmd.add_argument("--values", action="append", default=[], metavar="FILE", help="Helm values file")
    fix_cmd.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="Helm --set value")
    fix_cmd.add_argument(
        "--max-file-size",
        type=float,
        default=DEFAULT_MAX_FILE_BYTES / 1048576,
        metavar="MIB",
        help=f"refuse files larger than this (default: {DEFAULT_MAX_FILE_BYTES // 1048576} MiB)",
    )


def _fix(args: argparse.Namespace) -> int:
    from .fix import FixOptions, plan_fixes, unified_diff, write_fixes  # noqa: PLC0415 - only for 'fix'

    if args.max_file_size <= 0:
        raise UsageError("--max-file-size must be positive")
    options = FixOptions(
        rules=tuple(args.rule),
        skip_rules=tuple(args.skip_rule),
        unsafe=args.unsafe,
        config=_config(args),
        max_file_bytes=int(args.max_file_size * 1048576),
        helm_values=tuple(args.values),
        helm_set=tuple(args.set),
        values_out=args.values_out,
        digests=tuple(args.digests),
        image_reports=tuple(args.image_report),
    )
    result = plan_fixes(args.paths, options)
    changed = [f for f in result.files if f.before != f.after]
    errors = list(result.errors)
    if args.write:
        errors += write_fixes(result)
    else:
        sys.stdout.write("".join(unified_diff(f) for f in changed))
        sys.stdout.flush()
    for error in errors:
        _say("error", str(error))
    for advice in result.advice:
        say(f"{PROG}: {advice}")
    unsafe = sum(1 for _, s in result.skipped if s.reason.startswith("needs --unsafe"))
    manual = sum(1 for _, s in result.skipped if not s.reason.startswith("needs --unsafe"))
    files = f"{len(changed)} file{'s' * (len(changed) != 1)}"
    summary = f"{result.fixed} finding{'s' * (result.fixed != 1)} fixed in {files}"
    summary += (
        " (written)" if args.write and changed else (" (diff only; --write to apply)" if changed else "")
    )
    if unsafe:
        summary += f"; {unsafe} left that only --unsafe fixes"
    if manual:
        summary += f"; {manual} with no automatic fix"
    say(f"{PROG}: {summary}")
    if errors:
        return 2
    return 1 if changed else 0


def _probe_parser(commands: argparse._SubParsersAction[_Parser], running: str | None) -> None:
    probe_cmd = commands.add_parser(
        "probe",
        help="prove with probe pods that the network blocks what the NetworkPolicies deny (writes!)",
        description=(
            "Read the cluster (as 'scan --cluster'), choose a few connections that its NetworkPolicies deny"
            " and a few they allow, and try them from short-lived probe pods: a denied connection that gets"
            " through shows a policy the network does not enforce. --plan prints the probes and the pods they"
            " need and changes nothing; --yes creates the pods (labelled kharden.io/probe), connects and"
            " deletes them, also on Ctrl-C and on error; --cleanup removes pods a killed run left behind."
            " The only kharden command that writes to a cluster (RBAC: deploy/probe/)."
        ),
    )
    if running in {"probe", _EVERY_COMMAND}:  # the module is heavy to import: see the module docstring
        from .probe import command as probe_command  # noqa: PLC0415 - see the module docstring

        probe_command.add_arguments(probe_cmd)
        _cluster_arguments(probe_cmd)


def _gate_arguments(parser: argparse.ArgumentParser) -> None:
    """What a CI gate decides on: which findings count, the score it needs, what an empty input means."""
    parser.add_argument(
        "--severity",
        action="append",
        type=_severities,
        metavar="LIST",
        help="report only findings of these severities (comma-separated: critical,high); they alone count"
        " and fail the run (the score stays the whole checklist's)",
    )
    parser.add_argument(
        "--min-score",
        type=int,
        metavar="N",
        help="exit 1 when the overall score is below N (0-100), or n/a",
    )
    parser.add_argument(
        "--allow-empty",
        action="store_true",
        help="accept inputs that give nothing to judge (no Kubernetes object, a node root without control"
        " plane or kubelet, an empty snapshot); by default each is an input error (exit 2)",
    )
    parser.add_argument(
        "--stdin-name",
        metavar="NAME",
        help="the file name to report the objects read from stdin ('-') under, with their lines"
        " (SARIF and GitHub annotations need a file)",
    )


def _severities(text: str) -> frozenset[Severity]:
    from .model import Severity  # noqa: PLC0415 - see the module docstring

    return frozenset(Severity.parse(part) for part in text.split(",") if part.strip())


def _generate_parser(commands: argparse._SubParsersAction[_Parser], running: str | None) -> None:
    generate_cmd = commands.add_parser(
        "generate",
        help="write the hardening the inputs are missing (NetworkPolicies, ServiceAccounts, Pod Security)",
        description=(
            "Read the same inputs as 'scan' and write what they lack: 'networkpolicies' (default deny per"
            " namespace, then the traffic the manifests show is needed, each rule with its reason, checked by"
            " the NetworkPolicy engine), 'serviceaccounts' (one per workload, tokens only where RBAC grants"
            " something), 'pod-security' (Pod Security Admission labels at the strictest level each namespace"
            " passes), 'psa --from-psp FILE' (PodSecurityPolicies migrated to Pod Security Admission labels"
            " and ValidatingAdmissionPolicies). Prints the manifests, or writes one file per namespace"
            " (-o DIR), or adds them to a kustomization (--write)."
        ),
    )
    if running in {"generate", _EVERY_COMMAND}:
        from .generate import command as generate_command  # noqa: PLC0415 - see the module docstring

        generate_command.add_arguments(generate_cmd)
        _cluster_arguments(generate_cmd)


def _admission_parser(commands: argparse._SubParsersAction[_Parser], running: str | None) -> None:
    admission_cmd = commands.add_parser(
        "admission",
        help="enforce the rules at admission: ValidatingAdmissionPolicies, or a validating webhook",
        description=(
            "Enforce kharden's rules when objects are created: 'policies' writes ValidatingAdmissionPolicies"
            " generated from the pod rules, 'webhook' serves a validating admission webhook judged by the"
            " same rule runner as 'kharden scan'. See docs/admission.md."
        ),
    )
    if running in {"admission", _EVERY_COMMAND}:
        from .enforce import command as admission_command  # noqa: PLC0415 - see the module docstring

        admission_command.add_arguments(
            admission_cmd, lambda **kw: admission_cmd.add_subparsers(parser_class=_Parser, **kw)
        )


def _paths_parser(commands: argparse._SubParsersAction[_Parser], running: str | None) -> None:
    paths_cmd = commands.add_parser(
        "paths",
        help="attack paths from exposed workloads to cluster-admin, nodes, cloud, etcd and secrets",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Join what the scan engines know (effective pod specs, RBAC, NetworkPolicies, placement)\n"
            "into an attack graph, print the shortest path from each entry point to each goal, every step\n"
            "with the finding (rule, object, field) it rests on and its fix, then the choke points: the\n"
            "fewest fixes that cut the paths, ranked by the paths they cut.\n\n"
            "Entry points (--from): 'exposed' (default: workloads behind an Ingress, a LoadBalancer or\n"
            "NodePort Service, externalIPs, a hostPort or hostNetwork), 'any' (every workload), or\n"
            "workloads NAMESPACE/NAME, NAMESPACE/KIND/NAME, NAMESPACE/* taken as compromised.\n"
            "Goals (--to): cluster-admin, node, cloud, etcd, secrets (default: all).\n\n"
            "Exit codes: 0 no path, 1 paths found, 2 usage or input errors. See docs/paths.md."
        ),
    )
    if running not in {"paths", _EVERY_COMMAND}:
        return
    from .report import paths as paths_report  # noqa: PLC0415 - see the module docstring

    paths_cmd.add_argument("paths", nargs="*", metavar="PATH", help="file, directory, or '-' for stdin")
    paths_cmd.add_argument(
        "--from",
        dest="sources",
        action="append",
        default=[],
        metavar="SOURCE",
        help="where paths start: exposed (default), any, or NAMESPACE/NAME (repeatable)",
    )
    paths_cmd.add_argument(
        "--assume-compromised",
        action="append",
        default=[],
        metavar="WORKLOAD",
        help="add NAMESPACE/NAME to the exposed entry points (repeatable)",
    )
    paths_cmd.add_argument(
        "--to", dest="goals", action="append", default=[], metavar="GOAL", help="only this goal (repeatable)"
    )
    paths_cmd.add_argument(
        "--max-length", type=int, metavar="N", help="only paths of at most N steps (default: any length)"
    )
    paths_cmd.add_argument(
        "--no-lateral",
        action="store_true",
        help="do not count the pods a pod reaches over the network as compromised",
    )
    paths_cmd.add_argument(
        "-f",
        "--format",
        choices=paths_report.FORMATS,
        default="text",
        help="text (default), json, dot, mermaid, html, neo4j (CSV files in the directory -o names), cypher",
    )
    paths_cmd.add_argument("-o", "--output", metavar="FILE", help="write to FILE (a directory for neo4j)")
    paths_cmd.add_argument(
        "--limit",
        type=int,
        default=10,
        metavar="N",
        help="paths shown per goal in the text (0: all; default 10)",
    )
    paths_cmd.add_argument(
        "--node-root",
        action="append",
        default=[],
        metavar="DIR",
        help="read node and control-plane files under DIR",
    )
    paths_cmd.add_argument("--values", action="append", default=[], metavar="FILE", help="Helm values file")
    paths_cmd.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="Helm --set value")
    paths_cmd.add_argument(
        "--snapshot", metavar="FILE", help="read this cluster snapshot ('kharden snapshot')"
    )
    paths_cmd.add_argument("--cluster", action="store_true", help="read the live cluster (read-only)")
    _cluster_arguments(paths_cmd)


def _file_arguments(parser: argparse.ArgumentParser) -> None:
    """How files and charts are read."""
    parser.add_argument(
        "--values",
        action="append",
        default=[],
        metavar="FILE",
        help="Helm values file for charts (repeatable)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="Helm --set value for charts (repeatable)",
    )
    parser.add_argument(
        "--max-file-size",
        type=_size_mib,
        default=DEFAULT_MAX_FILE_BYTES / 1048576,
        metavar="MIB",
        help=f"refuse files larger than this (default: {DEFAULT_MAX_FILE_BYTES // 1048576} MiB)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        metavar="N",
        help="processes that parse files (default: one, and on two CPUs or more a child that parses the"
        " last files, about 60%% of the bytes, while kharden starts, when they add up to 1-32 MiB;"
        " without kharden's C reader of YAML, one per CPU when the files add up to 2 MiB or more; never"
        " more than the files nor"
        f" {MAX_JOBS_PER_CPU} per CPU; a file of 8 MiB or more is parsed in parts of about 4 MiB, one per"
        " worker at a time). Memory: each holds one file at a time"
        " (at most --max-file-size) and sends its documents back in chunks of"
        f" {WORKER_CHUNK_BYTES // 1048576} MiB; the main process keeps at most"
        f" {WORKER_AHEAD_BYTES // 1048576} MiB of them for files ahead, besides the objects the scan reads",
    )


def _cluster_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument("--context", metavar="NAME", help="kubeconfig context (default: the current one)")
    parser.add_argument(
        "--kubeconfig",
        metavar="FILE",
        help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)",
    )
    parser.add_argument(
        "-n",
        "--namespace",
        action="append",
        default=[],
        metavar="NS",
        dest="namespaces",
        help="read namespaced objects of NS only (repeatable; default: all namespaces)",
    )
    parser.add_argument(
        "--parallel", type=int, default=4, metavar="N", help="requests to the API server at once (default: 4)"
    )
    parser.add_argument(
        "--request-timeout",
        type=_seconds,
        default=30.0,
        metavar="SECONDS",
        help="give up on an API server that does not answer a request within SECONDS (default: 30)",
    )


_MAX_FILE_MIB = 1024.0 * 1024  # 1 TiB: more than any file kharden could hold in memory
_MAX_SECONDS = 86_400.0


def _positive(text: str, unit: str, upper: float) -> float:
    """A finite number above 0 and at most ``upper``: ``nan``, ``inf`` and ``1e400`` are refused."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or not 0 < value <= upper:
        raise argparse.ArgumentTypeError(f"{text!r}: expected {unit} above 0 and at most {upper:,.0f}")
    return value


def _size_mib(text: str) -> float:
    return _positive(text, "a size in MiB", _MAX_FILE_MIB)


def _seconds(text: str) -> float:
    return _positive(text, "a number of seconds", _MAX_SECONDS)


def _format(value: str) -> str:
    name, _, file = value.partition("=")
    if name not in FORMATS:
        raise argparse.ArgumentTypeError(f"invalid choice: {name!r} (choose from {', '.join(FORMATS)})")
    if "=" in value and not file:
        raise argparse.ArgumentTypeError(f"{name}= needs a file name (or '-' for stdout)")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None and "_ARGCOMPLETE" in os.environ:  # the shell asks for completions (kharden completion)
        _complete()
    # Everything kharden builds is acyclic and the process is short-lived: the cycle
    # collector would only walk millions of objects again and again (see scan.acyclic_work).
    gc.disable()
    try:
        return _run(list(sys.argv[1:] if argv is None else argv))
    except KhardenError as e:
        _say("error", str(e))
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`kharden scan ... | head`); stop quietly.
        _silence_stdout()
        return 0


def run() -> NoReturn:
    """The ``kharden`` command: :func:`main`, then the process ends at once.

    By then every report is written and closed, and the worker processes have ended. What the
    interpreter would still do at exit is free every object and module one by one, for nothing: about
    30 ms, a sixteenth of a scan of the team's real corpus.
    """
    from . import _fork  # noqa: PLC0415

    _fork.enabled = True  # the command may fork helpers; a program that calls main does not
    code = main()
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            try:  # noqa: SIM105 - contextlib is not imported for this alone (start-up time)
                stream.flush()
            except (OSError, ValueError):  # closed, or its reader gone: nothing more to say
                pass
    os._exit(code)


def _say(kind: str, text: str) -> None:
    """One line on stderr: ``kharden: error: ...``; what came from input cannot start another line."""
    say(f"{PROG}: {kind}: {text}")


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that what is still buffered is not flushed again at exit."""
    if sys.stdout is not None:
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            sys.stdout = None


def _run(argv: list[str]) -> int:
    parser = _parser(next((a for a in argv if not a.startswith("-")), None))
    args, extra = parser.parse_known_args(argv)
    if extra:
        # argparse leaves paths given after options unparsed ('who-can get secrets -n shop k8s/'): take them.
        if not hasattr(args, "paths") or any(e.startswith("-") and e != "-" for e in extra):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        args.paths += extra
    if args.command == "scan":
        return _scan(args)
    if args.command == "snapshot":
        return _snapshot(args)
    if args.command == "rules":
        from . import _catalog  # noqa: PLC0415 - see the module docstring

        _write(_catalog.rules_text(args.format), None, terminal=args.format == "table")
        return 0
    if args.command == "explain":
        from . import _catalog  # noqa: PLC0415

        _write(_catalog.explain_text(args.rule), None, terminal=True)
        return 0
    if args.command == "completion":
        _write(completion_script(args.shell), None)
        return 0
    if args.command == "schema":
        from .report import schema  # noqa: PLC0415 - only this command needs it

        _write(schema.render() if args.format == "json" else schema.markdown(), None)
        return 0
    if args.command == "baseline":
        return _baseline_write(args.file, parser.parse_args(["scan", *args.scan_args]))
    if args.command == "who-can":
        return _who_can(args)
    if args.command == "reach":
        return _reach(args)
    if args.command == "paths":
        return _paths(args)
    if args.command == "fix":
        return _fix(args)
    if args.command == "probe":
        return _probe(args)
    if args.command == "generate":
        return _generate(args)
    if args.command == "admission":
        return _admission(args)
    parser.print_help(sys.stderr)
    return 2


def _scan(args: argparse.Namespace) -> int:
    if args.paths and args.jobs is None and args.max_file_size > 0:
        # First thing: a child parses a share of the files while the rest of kharden is imported.
        from .sources import _ahead  # noqa: PLC0415

        _ahead.start(list(args.paths), int(args.max_file_size * 1048576))
    from dataclasses import replace  # noqa: PLC0415

    from .baseline import load_baseline  # noqa: PLC0415
    from .model import Severity  # noqa: PLC0415
    from .report import plan_outputs, render_pieces  # noqa: PLC0415

    config = _config(args)
    if args.fail_on is not None and not args.fail_on.strip():
        raise UsageError("--fail-on needs a severity (critical, high, medium, low, info) or 'never'")
    fail_text = args.fail_on if args.fail_on is not None else config.fail_on or "high"
    fail_on = None if fail_text.strip().lower() == "never" else Severity.parse(fail_text)
    outputs = plan_outputs(args.format or ["text"], args.output)
    baseline = load_baseline(args.baseline) if args.baseline else None
    # Only the JSON and HTML reports say how many attack paths each finding lies on.
    counted = any(name in {"json", "html"} for name, _ in outputs)
    report = _run_scan(args.paths, replace(_scan_options(args, config, baseline), attack_paths=counted))
    for error in report.errors:
        _say("error", str(error))
    _check_locations(report, [name for name, _ in outputs])
    for name, file in outputs:
        output = render_pieces(
            name,
            report,
            color=name == "text" and _color(args.color, file),
            show_suppressed=args.show_suppressed,
            sarif_root=args.sarif_root,
            fail_on=fail_on,
        )
        _write(output, file, terminal=name == "text")
    code = (2 if report.errors else 0) if fail_on is None else report.exit_code(fail_on)
    overall = report.scores.overall if report.scores is not None else None
    if code == 0 and args.min_score is not None and (overall is None or overall < args.min_score):
        score = "n/a" if overall is None else f"{overall}/100"
        say(f"{PROG}: the score {score} is below --min-score {args.min_score}")
        code = 1
    return code


def _check_locations(report: Report, formats: list[str]) -> None:
    """SARIF results and GitHub annotations need a file: stdin's findings have one only through the
    ``# Source:`` comments of rendered charts, or ``--stdin-name``."""
    if not {"sarif", "github"} & set(formats):
        return
    from .model import STDIN_FILE  # noqa: PLC0415

    nameless = [f for f in report.findings if f.location.file == STDIN_FILE and not f.location.template]
    if nameless:
        raise UsageError(
            f"{len(nameless)} finding{'s' * (len(nameless) != 1)} from stdin have no file for"
            f" {' and '.join(sorted({'sarif', 'github'} & set(formats)))}: name it with --stdin-name NAME"
        )


def _config(args: argparse.Namespace) -> Config:
    from .config import Config, find_config, load_config  # noqa: PLC0415

    if args.no_config:
        if args.config:
            raise UsageError("--config and --no-config contradict each other")
        return Config()
    path = args.config or find_config(os.getcwd())
    return load_config(path) if path else Config()


COMPLETION_SHELLS = ("bash", "zsh", "fish")


def completion_script(shell: str) -> str:
    """The script that makes ``shell`` complete kharden's commands, options, formats and rule IDs."""
    from argcomplete.shell_integration import shellcode  # noqa: PLC0415 - only completion needs it

    return str(shellcode([PROG], shell=shell))


def _complete(output: TextIO | None = None, exit_method: Callable[[int], object] = os._exit) -> None:
    """Answer the shell's completion request (argcomplete's protocol) and exit; rule options complete
    rule IDs and section globs."""
    import argcomplete  # noqa: PLC0415 - only completion needs it

    from .rules import REGISTRY  # noqa: PLC0415

    rule_ids = [rule.id for rule in REGISTRY]
    globs = sorted({f"{rule_id.split('.', 1)[0]}.*" for rule_id in rule_ids})

    def rules(prefix: str, **_: object) -> list[str]:
        return [name for name in [*globs, *rule_ids] if name.startswith(prefix)]

    def formats(prefix: str, **_: object) -> list[str]:
        return [name for name in FORMATS if name.startswith(prefix)]

    parser = _parser()
    for action in _actions(parser):
        if action.dest in {"rule", "skip_rule"}:
            action.completer = rules  # type: ignore[attr-defined]
        elif action.dest == "format" and action.choices is None:
            action.completer = formats  # type: ignore[attr-defined]
    argcomplete.autocomplete(parser, output_stream=output, exit_method=exit_method)


def _actions(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """Every action of ``parser`` and of its subcommands."""
    found = list(parser._actions)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found += _actions(sub)
    return found


def _catalog_parsers(commands: argparse._SubParsersAction[_Parser]) -> None:
    """``rules``, ``explain`` and ``schema``: what kharden checks and what it writes."""
    rules_cmd = commands.add_parser("rules", help="list the rules", description="List the rule catalog.")
    rules_cmd.add_argument("-f", "--format", choices=("table", "md", "json"), default="table")
    explain_cmd = commands.add_parser("explain", help="explain a rule", description="Explain one rule.")
    explain_cmd.add_argument("rule", metavar="RULE-ID")
    schema_cmd = commands.add_parser(
        "schema",
        help="print the JSON Schema of the JSON report",
        description="Print the JSON Schema (draft 2020-12) of 'kharden scan --format json', or its docs.",
    )
    schema_cmd.add_argument("-f", "--format", choices=("json", "md"), default="json")
    completion_cmd = commands.add_parser(
        "completion",
        help="print the shell completion script for bash, zsh or fish",
        description=(
            'Print the completion script of SHELL: bash: eval "$(kharden completion bash)" in ~/.bashrc;'
            ' zsh: kharden completion zsh > "${fpath[1]}/_kharden"; fish: kharden completion fish >'
            " ~/.config/fish/completions/kharden.fish."
        ),
    )
    completion_cmd.add_argument("shell", choices=COMPLETION_SHELLS)


def _scan_options(args: argparse.Namespace, config: Config, baseline: Baseline | None) -> ScanOptions:
    from .scan import ScanOptions  # noqa: PLC0415

    node_roots = tuple(args.node_root) + (("/",) if args.node else ())
    if not args.paths and not node_roots and not args.cluster and args.snapshot is None:
        raise UsageError(
            "nothing to scan: give files, directories, '-' for stdin, --node-root DIR, --cluster"
            " or --snapshot FILE"
        )
    if not args.cluster and (args.context or args.kubeconfig or args.namespaces):
        raise UsageError("--context, --kubeconfig and --namespace need --cluster")
    if args.jobs is not None and args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    if args.min_score is not None and not 0 <= args.min_score <= 100:
        raise UsageError("--min-score must be between 0 and 100")
    return ScanOptions(
        rules=tuple(args.rule),
        skip_rules=tuple(args.skip_rule),
        max_file_bytes=int(args.max_file_size * 1048576),
        jobs=args.jobs,
        helm_values=tuple(args.values),
        helm_set=tuple(args.set),
        image_reports=tuple(args.image_report),
        config=config,
        baseline=baseline,
        node_roots=node_roots,
        kube_version=args.kube_version,
        cluster=_cluster_options(args) if args.cluster else None,
        snapshot=args.snapshot,
        allow_empty=args.allow_empty,
        stdin_name=args.stdin_name,
        severities=frozenset().union(*args.severity) if args.severity else None,
        attack_paths=False,
    )


def _run_scan(paths: Sequence[str], options: ScanOptions) -> Report:
    from .scan import scan  # noqa: PLC0415

    try:
        return scan(paths, options)
    finally:
        _ProgressLine.clear(options.cluster.progress if options.cluster else None)


def _cluster_options(args: argparse.Namespace) -> ClusterOptions:
    from .sources.cluster import ClusterOptions  # noqa: PLC0415

    if args.parallel < 1:
        raise UsageError("--parallel must be at least 1")
    return ClusterOptions(
        kubeconfig=args.kubeconfig,
        context=args.context,
        namespaces=tuple(dict.fromkeys(args.namespaces)),
        parallel=args.parallel,
        timeout=args.request_timeout,
        progress=_ProgressLine.on(sys.stderr),
    )


def _snapshot(args: argparse.Namespace) -> int:
    from .sources.snapshot import write_snapshot  # noqa: PLC0415

    options = _cluster_options(args)
    try:
        info = write_snapshot(options, args.output)
    finally:
        _ProgressLine.clear(options.progress)
    failed = set(info.failed)
    for kind, reason in info.unread.items():
        if reason not in failed:
            _say("warning", f"{kind}: {reason}")
    for reason in info.failed:
        _say("error", f"cluster {info.context}: {reason}")
    return 2 if info.failed else 0


class _ProgressLine:
    """One line on a terminal's stderr, rewritten as a cluster read goes on; nothing when not a terminal."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.last = 0.0

    @classmethod
    def on(cls, stream: TextIO) -> Callable[[Progress], None] | None:
        return cls(stream) if _isatty(stream) and os.environ.get("TERM") != "dumb" else None

    def __call__(self, progress: Progress) -> None:
        now = time.monotonic()
        if now - self.last < 0.1 and progress.done < progress.requests:
            return
        self.last = now
        self.stream.write(
            f"\r\033[Kkharden: {progress.done}/{progress.requests} resources listed,"
            f" {progress.objects:,} objects read ({progress.current})"
        )
        self.stream.flush()

    @staticmethod
    def clear(display: object) -> None:
        if isinstance(display, _ProgressLine):
            display.stream.write("\r\033[K")
            display.stream.flush()


def _baseline_write(file: str, args: argparse.Namespace) -> int:
    from dataclasses import replace  # noqa: PLC0415

    from .baseline import baseline_json  # noqa: PLC0415

    if args.baseline:
        raise UsageError("baseline write records every unsuppressed finding: it takes no --baseline")
    config = replace(_config(args), baseline=None)
    report = _run_scan(args.paths, _scan_options(args, config, None))
    for error in report.errors:
        _say("error", str(error))
    if report.errors:
        raise UsageError(
            f"not writing the baseline: {len(report.errors)} input(s) could not be read, and their findings"
            " would be missing from it"
        )
    _write(baseline_json(report.findings), file)
    recorded = len({f.fingerprint for f in report.active})
    if sys.stderr is not None:
        print(
            f"{PROG}: wrote {recorded} finding{'s' * (recorded != 1)} to the baseline {printable(file)}",
            file=sys.stderr,
        )
    return 0


def _who_can(args: argparse.Namespace) -> int:
    from .report import whocan as whocan_report  # noqa: PLC0415
    from .scan import ScanOptions  # noqa: PLC0415
    from .whocan import who_can  # noqa: PLC0415

    if not args.paths:
        raise UsageError("nothing to read: give files, directories, or '-' for stdin")
    answer = who_can(
        args.paths,
        args.verb,
        args.resource,
        namespace=args.namespace,
        name=args.name,
        options=ScanOptions(helm_values=tuple(args.values), helm_set=tuple(args.set)),
    )
    for error in answer.errors:
        _say("error", str(error))
    render = whocan_report.render_json if args.format == "json" else whocan_report.render_text
    _write(render(answer), args.output, terminal=args.format == "text")
    return 2 if answer.errors else 0


def _reach(args: argparse.Namespace) -> int:
    from . import reach  # noqa: PLC0415
    from .report import reach as reach_report  # noqa: PLC0415
    from .scan import ScanOptions  # noqa: PLC0415

    if not args.paths and not args.cluster and args.snapshot is None:
        raise UsageError(
            "nothing to read: give files, directories, '-' for stdin, --cluster or --snapshot FILE"
        )
    if args.matrix == bool(args.source or args.destination):
        raise UsageError("give either --from and --to, or --matrix")
    if not args.matrix and not (args.source and args.destination):
        raise UsageError("--from and --to go together")
    if args.expect and args.matrix:
        raise UsageError("--expect answers --from/--to questions, not --matrix")
    if not args.cluster and (args.context or args.kubeconfig or args.namespaces):
        raise UsageError("--context, --kubeconfig and --namespace need --cluster")
    columns = [reach.address_column(text) for text in args.address]
    options = ScanOptions(
        helm_values=tuple(args.values),
        helm_set=tuple(args.set),
        snapshot=args.snapshot,
        cluster=_cluster_options(args) if args.cluster else None,
    )
    try:
        network, errors = reach.load(args.paths, options)
    finally:
        _ProgressLine.clear(options.cluster.progress if options.cluster else None)
    for error in errors:
        _say("error", str(error))
    code = 2 if errors else 0
    if args.matrix:
        found = reach.namespace_matrix(network, columns)
        as_json = args.format == "json"
        _write(
            reach_report.matrix_json(found, errors) if as_json else reach_report.matrix_text(found),
            args.output,
            terminal=not as_json,
        )
        return code
    answers = reach.ask(
        network, reach.endpoint(network, args.source), reach.endpoint(network, args.destination)
    )
    if args.format == "json":
        output = reach_report.answers_json(args.source, args.destination, answers, errors)
    else:
        output = reach_report.answers_text(args.source, args.destination, answers)
    _write(output, args.output, terminal=args.format == "text")
    if code == 0 and args.expect and any(a.allowed != (args.expect == "allowed") for a in answers):
        code = 1
    return code


def _probe(args: argparse.Namespace) -> int:
    from .probe import command as probe_command  # noqa: PLC0415

    options = _cluster_options(args)
    try:
        return probe_command.run(args, options, _write, color=_color("auto", args.output))
    finally:
        _ProgressLine.clear(options.progress)


def _generate(args: argparse.Namespace) -> int:
    from .generate import command as generate_command  # noqa: PLC0415

    if not args.cluster and (args.context or args.kubeconfig or args.namespaces):
        raise UsageError("--context, --kubeconfig and --namespace need --cluster")
    options = _cluster_options(args) if args.cluster else None
    try:
        return generate_command.run(args, options, _write)
    finally:
        _ProgressLine.clear(options.progress if options else None)


def _paths(args: argparse.Namespace) -> int:
    from . import attack_paths  # noqa: PLC0415
    from .paths import EXPOSED, GOALS  # noqa: PLC0415
    from .report import paths as paths_report  # noqa: PLC0415
    from .scan import ScanOptions  # noqa: PLC0415

    if not args.paths and not args.node_root and not args.cluster and args.snapshot is None:
        raise UsageError(
            "nothing to read: give files, directories, '-' for stdin, --node-root DIR, --cluster or"
            " --snapshot FILE"
        )
    if not args.cluster and (args.context or args.kubeconfig or args.namespaces):
        raise UsageError("--context, --kubeconfig and --namespace need --cluster")
    if args.format == "neo4j" and not args.output:
        raise UsageError("-f neo4j writes nodes.csv and relationships.csv: name their directory with -o DIR")
    sources = list(args.sources or [EXPOSED]) + list(args.assume_compromised)
    if args.assume_compromised and EXPOSED not in sources:
        sources.insert(0, EXPOSED)
    options = ScanOptions(
        helm_values=tuple(args.values),
        helm_set=tuple(args.set),
        snapshot=args.snapshot,
        node_roots=tuple(args.node_root),
        cluster=_cluster_options(args) if args.cluster else None,
    )
    try:
        found = attack_paths.load(
            args.paths,
            options,
            sources=sources,
            goals=args.goals or GOALS,
            max_length=args.max_length,
            lateral=not args.no_lateral,
        )
    finally:
        _ProgressLine.clear(options.cluster.progress if options.cluster else None)
    for error in found.errors:
        _say("error", str(error))
    if args.format == "neo4j":
        for name, text in paths_report.render_files(found.analysis).items():
            _write(text, os.path.join(args.output, name))
    else:
        output = paths_report.render(args.format, found.analysis, found.errors, limit=args.limit)
        _write(output, args.output, terminal=args.format == "text")
    if found.errors:
        return 2
    return 1 if found.analysis.paths else 0


def _color(choice: str, output: str | None) -> bool:
    if choice != "auto":
        return choice == "always"
    if output is not None or os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return _isatty(sys.stdout) and os.environ.get("TERM") != "dumb"


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _admission(args: argparse.Namespace) -> int:
    from .enforce import command as admission_command  # noqa: PLC0415 - see the module docstring

    return admission_command.run(args, _write)


def _write_file(path: Path, chunks: Iterable[bytes]) -> None:
    """Write a report that is encoded while it is written: into a temporary file beside ``path``, renamed
    over it once complete, so that a scan that fails half way never leaves half a report where a CI job
    reads one. Anything but a regular file (``/dev/null``, a FIFO, a symbolic link) is written in place."""
    import contextlib  # noqa: PLC0415
    import tempfile  # noqa: PLC0415

    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink() or (path.exists() and not path.is_file()):
        with path.open("wb") as file:
            for chunk in chunks:
                file.write(chunk)
        return
    if path.exists():
        mode = path.stat().st_mode & 0o7777
    else:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, scratch = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            for chunk in chunks:
                file.write(chunk)
        os.chmod(scratch, mode)
        os.replace(scratch, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(scratch)
        raise


def _write(text: str | bytes | Iterable[str | bytes], output: str | None, *, terminal: bool = False) -> None:
    """Write ``text`` (or its consecutive pieces, each as it comes) to ``output`` (stdout when ``None``) as
    UTF-8; text meant for a terminal (``terminal``) goes to stdout in stdout's encoding, what it cannot
    encode written as escapes. ``bytes`` are UTF-8 already (a report too large to copy as ``str``)."""
    from pathlib import Path  # noqa: PLC0415

    pieces: Iterable[str | bytes] = [text] if isinstance(text, str | bytes) else text
    if output is not None:
        try:
            _write_file(Path(output), (_encoded(piece, "utf-8") for piece in pieces))
        except OSError as e:
            raise UsageError(f"cannot write {output}: {e.strerror}") from e
        return
    stdout = sys.stdout
    if stdout is None:
        raise UsageError("cannot write the output: stdout is closed (give --output FILE)")
    encoding = (getattr(stdout, "encoding", None) or "utf-8") if terminal else "utf-8"
    try:
        stdout.flush()
        buffer = getattr(stdout, "buffer", None)
        for piece in pieces:
            data = _encoded(piece, encoding)
            if buffer is None:  # a text-only stream (tests, embedding programs)
                stdout.write(data.decode(encoding))
            else:
                buffer.write(data)
        if buffer is None:
            stdout.flush()
        else:
            buffer.flush()
    except BrokenPipeError:
        raise
    except (OSError, ValueError) as e:
        _silence_stdout()
        reason = e.strerror if isinstance(e, OSError) and e.strerror else "it is closed"
        raise UsageError(f"cannot write the output to stdout: {reason}") from e


def _encoded(piece: str | bytes, encoding: str) -> bytes:
    """A piece of output in ``encoding``: ``bytes`` are UTF-8 already."""
    if isinstance(piece, bytes):
        return piece if encoding == "utf-8" else piece.decode("utf-8").encode(encoding, "backslashreplace")
    return piece.encode(encoding, "backslashreplace")
