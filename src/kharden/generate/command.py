"""``kharden generate``: its arguments and its flow (the CLI registers it and renders nothing itself)."""

from __future__ import annotations

import argparse
import ipaddress
import sys
from collections.abc import Callable
from pathlib import Path

from .._display import say
from ..analysis.context import ScanContext
from ..errors import UsageError
from ..fix import plan_edits, write_fixes
from ..model import ErrorRecord, ObjRef
from ..scan import ScanOptions, acyclic_work
from ..sources.cluster import ClusterOptions
from . import load
from .model import Generated
from .networkpolicies import Options, plan_networkpolicies
from .output import (
    add_to_kustomization,
    files_by_namespace,
    kustomization_in,
    kustomization_of,
    merged,
    patch_text,
    render,
)
from .podsecurity import generate_pod_security
from .proof import prove
from .psp import generate_psa
from .serviceaccounts import assign, generate_serviceaccounts, kubectl_patches

__all__ = ["KINDS", "add_arguments", "run"]

KINDS = ("networkpolicies", "serviceaccounts", "pod-security", "psa")
PROG = "kharden"
SHOWN_PER_TOPIC = 5

Writer = Callable[[str, str | None], None]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``kharden generate`` but the cluster's (the CLI adds those as for ``scan``)."""
    parser.add_argument("what", choices=KINDS, metavar="KIND", help=", ".join(KINDS))
    parser.add_argument("paths", nargs="*", metavar="PATH", help="file, directory, or '-' for stdin")
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "-o", "--output", metavar="DIR", help="write one file per namespace under DIR instead of printing"
    )
    where.add_argument(
        "--write",
        action="store_true",
        help="write the objects into the kustomization PATH (a file beside kustomization.yaml, listed in"
        " its resources, or patches); serviceaccounts also sets each workload's serviceAccountName: in its"
        " own file (plain manifests, edited in place) or by a patch of the kustomization",
    )
    parser.add_argument("--values", action="append", default=[], metavar="FILE", help="Helm values file")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="Helm --set value")
    parser.add_argument("--snapshot", metavar="FILE", help="read this cluster snapshot ('kharden snapshot')")
    parser.add_argument("--cluster", action="store_true", help="read the live cluster (read-only)")
    network = parser.add_argument_group("networkpolicies")
    network.add_argument(
        "--internet",
        action="append",
        default=[],
        metavar="NAMESPACE/NAME",
        help="let this workload reach the Internet, never the metadata API (repeatable; or annotate it"
        ' kharden.io/internet-egress: "true")',
    )
    network.add_argument(
        "--include-system",
        action="store_true",
        help="generate for kube-system, kube-public and kube-node-lease too (left alone by default: their"
        " components reach node and API server addresses that manifests do not show)",
    )
    network.add_argument(
        "--ingress-controller",
        metavar="NAMESPACE/KEY=VALUE[,KEY=VALUE]",
        help="the ingress controller's pods when the scan does not hold them (default: ingress-nginx's)",
    )
    network.add_argument(
        "--api-server",
        action="append",
        default=[],
        metavar="CIDR",
        help="the API server's addresses: workloads whose ServiceAccount RBAC grants something may reach"
        " them on 443 and 6443 (repeatable)",
    )
    migrate = parser.add_argument_group("psa")
    migrate.add_argument(
        "--from-psp",
        action="append",
        default=[],
        metavar="FILE",
        help="PodSecurityPolicy manifests to migrate (with 'psa'; repeatable); PATHs add the RBAC that uses"
        " them and the namespaces to label",
    )


def run(args: argparse.Namespace, cluster: ClusterOptions | None, write: Writer) -> int:
    if args.what == "psa":
        if not args.from_psp:
            raise UsageError("generate psa needs --from-psp FILE (the PodSecurityPolicies to migrate)")
    elif args.from_psp:
        raise UsageError("--from-psp goes with 'generate psa'")
    if args.what != "networkpolicies" and (
        args.internet or args.include_system or args.ingress_controller or args.api_server
    ):
        raise UsageError(
            "--internet, --include-system, --ingress-controller and --api-server go with networkpolicies"
        )
    if not args.paths and not args.cluster and args.snapshot is None and not args.from_psp:
        raise UsageError(
            "nothing to read: give files, directories, '-' for stdin, --cluster or --snapshot FILE"
        )
    kustomization = _write_target(args) if args.write else None
    options = ScanOptions(
        helm_values=tuple(args.values), helm_set=tuple(args.set), snapshot=args.snapshot, cluster=cluster
    )
    paths = [*args.paths, *args.from_psp] if args.what == "psa" else list(args.paths)
    context, errors = load(paths, options)
    with acyclic_work():
        generated = _generate(args, context)
    errors = errors + [ErrorRecord(e.file, e.line, e.message) for e in context.errors]
    generated.errors.extend(errors)
    inputs = [*args.paths, *(f"--from-psp {f}" for f in args.from_psp)]
    if args.snapshot:
        inputs.append(f"--snapshot {args.snapshot}")
    if args.cluster:
        inputs.append("--cluster")
    _emit(generated, inputs, args, kustomization, write)
    for error in dict.fromkeys(str(e) for e in generated.errors):
        say(f"{PROG}: error: {error}")
    shown: dict[str, int] = {}
    for note in generated.notes:
        count = shown[note.topic] = shown.get(note.topic, 0) + 1
        if not note.topic or count <= SHOWN_PER_TOPIC:
            say(f"{PROG}: {note.level}: {note.text}")
    for topic, count in shown.items():
        if topic and count > SHOWN_PER_TOPIC:
            print(f"{PROG}: ... and {count - SHOWN_PER_TOPIC} more like these ({topic})", file=sys.stderr)
    for line in generated.summary:
        print(f"{PROG}: {line}", file=sys.stderr)
    if generated.errors:
        return 2
    return 1 if any(n.level == "error" for n in generated.notes) else 0


def _write_target(args: argparse.Namespace) -> Path | None:
    """The kustomization ``--write`` writes into; for serviceaccounts, ``None`` for plain files (the
    workloads are edited in place)."""
    if args.what != "serviceaccounts":
        return kustomization_of(args.paths)
    if args.cluster or args.snapshot is not None or not args.paths or "-" in args.paths:
        raise UsageError(
            "generate serviceaccounts --write edits files: give the manifests' files or directories"
            " (not '-', --cluster or --snapshot; use -o DIR for those)"
        )
    return kustomization_in(args.paths)


def _generate(args: argparse.Namespace, context: ScanContext) -> Generated:
    if args.what == "networkpolicies":
        plan = plan_networkpolicies(
            context,
            Options(
                internet=tuple(args.internet),
                include_system=args.include_system,
                ingress_controller=args.ingress_controller,
                api_server=tuple(_cidr(c) for c in args.api_server),
            ),
        )
        proof = prove(plan)
        generated = plan.generated
        for line in proof.existing_blocks:
            generated.warn(f"needed, but a policy in force denies it: {line}", "denied")
        for line in proof.metadata:
            generated.warn(f"metadata API still reachable: {line}", "metadata")
        for line in proof.failures:
            generated.fail(line)
        generated.summary += proof.lines()
        return generated
    if args.what == "serviceaccounts":
        return generate_serviceaccounts(context)
    if args.what == "pod-security":
        return generate_pod_security(context)
    return generate_psa(context, [str(Path(f)) for f in args.from_psp])


def _cidr(text: str) -> str:
    try:
        return str(ipaddress.ip_network(text.strip(), strict=False))
    except ValueError:
        raise UsageError(f"--api-server {text!r} is not an address or CIDR") from None


def _emit(
    generated: Generated,
    inputs: list[str],
    args: argparse.Namespace,
    kustomization: Path | None,
    write: Writer,
) -> None:
    if args.write and generated.what == "serviceaccounts":
        _write_accounts(generated, inputs, args.paths, kustomization)
        return
    if kustomization is not None:
        _write_kustomization(generated, inputs, kustomization)
        return
    if args.output:
        for name, text in files_by_namespace(generated, inputs).items():
            write(text, str(Path(args.output) / name))
        return
    extra: list[str] = []
    if generated.patches:
        extra = [
            "Then point each workload at its ServiceAccount (or use --write: kustomize patches):",
            *(f"  {line}" for line in kubectl_patches(generated)),
        ]
    write(render(generated, inputs, extra=extra), None)


def _write_kustomization(generated: Generated, inputs: list[str], kustomization: Path) -> None:
    """New objects as a resource file; objects the kustomization already has (a Namespace given labels)
    as patches, since kustomize refuses a second resource of the same name."""
    folder = kustomization.parent
    new = [item for item in generated.items if not item.existing]
    patches = list(generated.patches)
    for item in generated.items:
        if item.existing:
            metadata = item.obj["metadata"]
            stem = f"{item.obj['kind'].lower()}-{metadata['name']}"
            patches.append((f"{generated.what}-{stem}", item.obj, item.why))
    if new:
        name = f"kharden-{generated.what}.yaml"
        (folder / name).write_text(render(generated, inputs, new), encoding="utf-8")
        add_to_kustomization(kustomization, "resources", [name])
    if patches:
        entries = []
        for stem, patch, why in patches:
            name = f"kharden-{stem}.yaml"
            (folder / name).write_text(patch_text(generated, patch, why), encoding="utf-8")
            entries.append({"path": name})
        add_to_kustomization(kustomization, "patches", entries)


def _write_accounts(
    generated: Generated, inputs: list[str], paths: list[str], kustomization: Path | None
) -> None:
    """``generate serviceaccounts --write``: each workload's ``serviceAccountName`` set with ``kharden
    fix``'s editor (in its own file, or by a patch of the kustomization), then the new ServiceAccounts
    (and copied bindings) in ``kharden-serviceaccounts.yaml`` beside them: in the kustomization's
    directory, listed in its ``resources``, else in the first PATH (a directory) or beside it (a file),
    after what an earlier run wrote there."""
    placed: set[ObjRef] = set()
    result = plan_edits(paths, assign(generated.assignments, placed), f"kharden generate {generated.what}")
    generated.errors += result.errors + write_fixes(result)
    for advice in result.advice:
        generated.warn(advice, "charts")
    for a in generated.assignments:
        if a.workload.ref not in placed:
            generated.warn(
                f"{a.workload.ref} not found in the files given: set its serviceAccountName: {a.account}"
                " yourself",
                "unplaced",
            )
    changed = sorted({f.path for f in result.files if f.before != f.after})
    if changed:
        generated.summary.append(
            f"serviceAccountName set in {len(changed)} file{'s' * (len(changed) != 1)}: {', '.join(changed)}"
        )
    if not any(not item.existing for item in generated.items):
        return
    first = Path(paths[0])
    folder = kustomization.parent if kustomization is not None else first if first.is_dir() else first.parent
    name = f"kharden-{generated.what}.yaml"
    target = folder / name
    items = merged(generated, target) if target.exists() else [i for i in generated.items if not i.existing]
    target.write_text(render(generated, inputs, items), encoding="utf-8")
    if kustomization is not None:
        add_to_kustomization(kustomization, "resources", [name])
    generated.summary.append(f"ServiceAccounts written to {target}")
