"""Compare kharden's scan speed and memory with checkov's Kubernetes scanner.

    .venv/bin/python bench/run.py [--runs N] [--checkov-runs N] [--only real|10k]
                                  [--skip-checkov] [--checkov PATH] [--json FILE]

Each scan runs as a subprocess under GNU time (`/usr/bin/time -f ...`), which
gives the peak RSS of that one command; wall time is taken with
time.perf_counter around it. Progress goes to stderr, the report to stdout.
This is a measurement, not a test: it never fails on the figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
REAL_CORPUS = SHARED / "corpus" / "real"
GENERATOR = SHARED / "bench" / "gen_manifests.py"
DATA = ROOT / "bench" / "data"
GENERATED = {"10k": 10_000, "30k": 30_000, "100k": 100_000}
"""Generated corpora (``gen_manifests.py --seed 1``): 10k by default; 30k and 100k (scaling) when asked."""
CHECKOV_MAX_DOCS = 10_000  # checkov takes ~10 minutes on 10k documents: larger corpora are kharden's alone
VENV_BIN = ROOT / ".venv" / "bin"
KHARDEN = VENV_BIN / "kharden"
CHECKOV_VENV = ROOT / "bench" / ".venv-checkov"
GNU_TIME = Path("/usr/bin/time")
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
TIMEOUT_S = 3600  # a single scan that runs longer than this is stopped and reported
# checkov asks Prisma Cloud for check metadata unless told not to; there is no network here.
CHECKOV_ENV = {"BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"}
# 1 means "found something": expected here; kharden exits 2 when some file has an input error (the real
# corpus has one: an Istio sample whose apiVersion never served its kind), its report still complete.
OK_EXIT = {"kharden": {0, 1, 2}, "checkov": {0, 1}}


@dataclass
class Corpus:
    name: str
    path: Path
    files: int


@dataclass
class Run:
    wall_s: float
    rss_kib: int | None
    cpu_s: float | None
    exit_code: int


@dataclass
class Row:
    corpus: str
    tool: str
    command: list[str]
    files: int
    objects: int | None = None  # what the tool says it scanned (kharden objects, checkov resources)
    errors: int | None = None  # kharden input errors, checkov parsing errors
    runs: list[Run] = field(default_factory=list)

    @property
    def program(self) -> str:
        return self.tool.split()[0]

    @property
    def ok_runs(self) -> list[Run]:
        return [r for r in self.runs if r.exit_code in OK_EXIT[self.program]]

    @property
    def median_s(self) -> float | None:
        return statistics.median(r.wall_s for r in self.ok_runs) if self.ok_runs else None

    @property
    def peak_rss_mib(self) -> float | None:
        rss = [r.rss_kib for r in self.ok_runs if r.rss_kib is not None]
        return max(rss) / 1024 if rss else None

    @property
    def median_cpu_s(self) -> float | None:
        cpu = [r.cpu_s for r in self.ok_runs if r.cpu_s is not None]
        return statistics.median(cpu) if cpu else None


# ---------------------------------------------------------------- helpers


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def capture(cmd: Sequence[str | Path], env: dict[str, str] | None = None) -> str:
    """The stdout of a short command, or its error in brackets."""
    try:
        proc = subprocess.run(
            [str(c) for c in cmd], capture_output=True, text=True, check=False, timeout=120, env=env
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"[{e}]"
    return proc.stdout.strip() or proc.stderr.strip()


def count_files(path: Path) -> int:
    return sum(1 for p in path.rglob("*") if p.is_file() and p.suffix in MANIFEST_SUFFIXES)


def checkov_env() -> dict[str, str]:
    return {**os.environ, **CHECKOV_ENV}


# ---------------------------------------------------------------- setup


def compile_kharden() -> None:
    """PYTHONDONTWRITEBYTECODE=1 here would make every kharden run recompile itself."""
    log("compiling kharden's bytecode once (python -m compileall -q src)")
    subprocess.run([str(VENV_BIN / "python"), "-m", "compileall", "-q", "src"], cwd=ROOT, check=True)


def ensure_generated(size: str) -> Path | None:
    """``bench/data/manifests-SIZE``, generated on first use."""
    path = DATA / f"manifests-{size}"
    if path.is_dir() and any(path.iterdir()):
        return path
    if not GENERATOR.is_file():
        log(f"skipping corpus {size}: generator {GENERATOR} not found")
        return None
    docs = GENERATED[size]
    log(f"generating {docs:,} documents into {path.relative_to(ROOT)}")
    DATA.mkdir(parents=True, exist_ok=True)
    cmd = ["python3", str(GENERATOR), "--docs", str(docs), "--seed", "1", "--out", str(path)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return path


def corpora(only: Sequence[str] | None) -> list[Corpus]:
    chosen = set(only or ["real", "10k"])
    found: list[Corpus] = []
    if "real" in chosen:
        if REAL_CORPUS.is_dir():
            found.append(Corpus("corpus/real", REAL_CORPUS, count_files(REAL_CORPUS)))
        else:
            log(f"skipping corpus real: {REAL_CORPUS} not found (it comes with the shared folder)")
    for size in GENERATED:
        if size in chosen and (path := ensure_generated(size)) is not None:
            found.append(Corpus(f"manifests-{size}", path, count_files(path)))
    return found


def install_checkov() -> Path:
    checkov = CHECKOV_VENV / "bin" / "checkov"
    if checkov.exists():
        return checkov
    log(f"installing checkov into {CHECKOV_VENV.relative_to(ROOT)} from PyPI: this takes a few minutes")
    subprocess.run([sys.executable, "-m", "venv", str(CHECKOV_VENV)], check=True)
    pip = [str(CHECKOV_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "checkov"], check=True)  # pip writes the .pyc files, so runs start warm
    return checkov


def checkov_flags(checkov: Path) -> list[str]:
    """--skip-download (not in every version) stops checkov from fetching policy metadata."""
    help_text = capture([checkov, "--help"], env=checkov_env())
    return ["--skip-download"] if "--skip-download" in help_text else []


# ---------------------------------------------------------------- measuring


def time_once(cmd: list[str], stdout: Path, env: dict[str, str] | None, timeout: float) -> Run:
    """Run cmd once under GNU time; wall clock from perf_counter, RSS and CPU from time(1)."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        wrapped = [str(GNU_TIME), "-f", "%M %U %S", "-o", tf.name, *cmd] if GNU_TIME.exists() else cmd
        with stdout.open("wb") as out, (stdout.with_suffix(".stderr")).open("wb") as err:
            start = time.perf_counter()
            proc = subprocess.Popen(wrapped, stdout=out, stderr=err, env=env)
            # Waiting with a timeout polls, sleeping up to 50 ms between looks, which the wall time would
            # count (a short run took up to 50 ms more): wait blocking, and a timer kills a run past it.
            killed = threading.Event()
            timer = threading.Timer(timeout, lambda: (killed.set(), proc.kill()))
            timer.start()
            try:
                code = proc.wait()
            finally:
                timer.cancel()
            wall = time.perf_counter() - start
            if killed.is_set():
                code = -1
        rss, cpu = parse_gnu_time(Path(tf.name).read_text())
    return Run(wall_s=wall, rss_kib=rss, cpu_s=cpu, exit_code=code)


def parse_gnu_time(text: str) -> tuple[int | None, float | None]:
    """The last line is '%M %U %S'; a line before it may say 'Command exited with non-zero status 1'."""
    lines = text.strip().splitlines()
    try:
        rss, user, system = lines[-1].split()
        return int(rss), float(user) + float(system)
    except (IndexError, ValueError):
        return None, None


def measure(row: Row, n: int, out_dir: Path, env: dict[str, str] | None, timeout: float) -> Path:
    """Run row.command n times; returns the path holding the last run's stdout."""
    stdout = out_dir / f"{row.corpus.replace('/', '_')}-{row.tool.replace(' ', '_')}.out"
    for i in range(1, n + 1):
        run = time_once(row.command, stdout, env, timeout)
        row.runs.append(run)
        rss = f"{run.rss_kib / 1024:.0f} MiB" if run.rss_kib is not None else "RSS n/a"
        log(f"  {row.corpus} {row.tool} run {i}/{n}: {run.wall_s:.2f} s  {rss}  exit {run.exit_code}")
        if run.exit_code not in OK_EXIT[row.program]:
            tail = stdout.with_suffix(".stderr").read_text(errors="replace")[-2000:]
            log(f"  unexpected exit {run.exit_code}; end of stderr:\n{tail}")
    return stdout


def kharden_rows(corpus: Corpus, runs: int, out_dir: Path, timeout: float) -> list[Row]:
    report = out_dir / f"{corpus.name.replace('/', '_')}-kharden.json"
    json_cmd = [str(KHARDEN), "scan", str(corpus.path), "-f", "json", "-o", str(report)]
    text_cmd = [str(KHARDEN), "scan", str(corpus.path), "-o", os.devnull]
    log(f"kharden on {corpus.name}: 1 warm-up run (also brings the corpus into the page cache)")
    subprocess.run(json_cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    rows = [
        Row(corpus.name, "kharden json", json_cmd, corpus.files),
        Row(corpus.name, "kharden text", text_cmd, corpus.files),
    ]
    taskset = shutil.which("taskset")
    if taskset is not None:
        # The same scan held to one CPU, so --jobs defaults to one process: the one-core figure.
        rows.append(Row(corpus.name, "kharden json 1 CPU", [taskset, "-c", "0", *json_cmd], corpus.files))
    for row in rows:
        measure(row, runs, out_dir, None, timeout)
        row.objects, row.errors = kharden_counts(report)
    return rows


def kharden_counts(report: Path) -> tuple[int | None, int | None]:
    try:
        data = json.loads(report.read_text())
    except (OSError, ValueError):
        return None, None
    return data.get("summary", {}).get("objects"), len(data.get("errors", []))


def checkov_row(corpus: Corpus, checkov: Path, runs: int, out_dir: Path, timeout: float) -> Row:
    cmd = [str(checkov), "-d", str(corpus.path), "--framework", "kubernetes", "--quiet", "--compact"]
    cmd += ["-o", "json", *checkov_flags(checkov)]
    log(f"checkov on {corpus.name}: {runs} run(s), slow (minutes per run on the 10k corpus)")
    row = Row(corpus.name, "checkov", cmd, corpus.files)
    stdout = measure(row, runs, out_dir, checkov_env(), timeout)
    row.objects, row.errors = checkov_counts(stdout)
    return row


def checkov_counts(stdout: Path) -> tuple[int | None, int | None]:
    """One framework gives a JSON object, several a list; 'summary' has resource_count."""
    try:
        data = json.loads(stdout.read_text())
    except (OSError, ValueError):
        return None, None
    reports = data if isinstance(data, list) else [data]
    summaries = [r.get("summary", {}) for r in reports if isinstance(r, dict)]
    return (
        sum(s.get("resource_count", 0) for s in summaries),
        sum(s.get("parsing_errors", 0) for s in summaries),
    )


# ---------------------------------------------------------------- report


def machine_info(checkov: Path | None, load: str) -> dict[str, str]:
    info = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load": f"{load} before the runs (1, 5, 15 min; anything else running skews the figures)",
        "cpu": cpu_model(),
        "nproc": str(len(os.sched_getaffinity(0))),
        "memory": mem_total(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "kharden": f"{capture([KHARDEN, '--version'])} ({source_state()})",
    }
    if checkov is not None:
        info["checkov"] = capture([checkov, "--version"], env=checkov_env())
    if not GNU_TIME.exists():
        info["note"] = f"{GNU_TIME} missing (apt-get install time): no peak RSS"
    return info


def source_state() -> str:
    commit = capture(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"])
    dirty = capture(["git", "-C", ROOT, "status", "--porcelain", "--", "src"])
    return f"commit {commit}" + (", src/ has uncommitted changes" if dirty else "")


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def mem_total() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024**2:.1f} GiB"
    except (OSError, ValueError):
        pass
    return "unknown"


def fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def table(rows: list[Row]) -> list[str]:
    header = ("corpus", "tool", "files", "objects", "errors", "runs", "median s", "cpu s", "peak RSS MiB")
    body = [
        (
            r.corpus,
            r.tool,
            str(r.files),
            fmt(r.objects, "d"),
            fmt(r.errors, "d"),
            f"{len(r.ok_runs)}/{len(r.runs)}",
            fmt(r.median_s, ".2f"),
            fmt(r.median_cpu_s, ".2f"),
            fmt(r.peak_rss_mib, ".0f"),
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    left = 2  # corpus and tool are left-aligned, numbers right-aligned

    def line(cells: Sequence[str]) -> str:
        pairs = enumerate(zip(cells, widths, strict=True))
        return "  ".join(c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in pairs)

    return [line(header), "  ".join("-" * w for w in widths), *(line(b) for b in body)]


def _documents(corpus: Corpus) -> int:
    """The documents of a generated corpus (0 for the real one)."""
    size = corpus.name.removeprefix("manifests-")
    return GENERATED.get(size, 0)


def comparisons(rows: list[Row]) -> list[str]:
    lines = []
    base = next((r for r in rows if r.corpus == "manifests-10k" and r.tool == "kharden json"), None)
    for row in rows:
        size = row.corpus.removeprefix("manifests-")
        if base is None or row.tool != "kharden json" or size not in GENERATED or row is base:
            continue
        if row.median_s and base.median_s:
            ratio = (row.median_s / GENERATED[size]) / (base.median_s / GENERATED["10k"])
            lines.append(
                f"time per document on {row.corpus}: {ratio:.2f}x that on manifests-10k (kharden json)"
            )
    for corpus in dict.fromkeys(r.corpus for r in rows):
        by_tool = {r.tool: r for r in rows if r.corpus == corpus}
        kh, ck = by_tool.get("kharden json"), by_tool.get("checkov")
        if kh is None or ck is None or not kh.median_s or not ck.median_s:
            continue
        line = f"kharden is {ck.median_s / kh.median_s:.1f}x faster than checkov on {corpus}"
        if kh.peak_rss_mib and ck.peak_rss_mib:
            line += f" and peaks at {kh.peak_rss_mib / ck.peak_rss_mib:.0%} of its memory"
        lines.append(line + " (median wall time, JSON output both)")
    return lines


def print_report(info: dict[str, str], rows: list[Row]) -> None:
    print()
    for key, value in info.items():
        print(f"{key + ':':<9} {value}")
    print()
    for line in table(rows):
        print(line)
    print()
    for line in comparisons(rows):
        print(line)
    print(
        "\nmedian s: median wall time; cpu s: median user+sys CPU time; peak RSS: the largest of the runs,"
        "\nof the biggest single process (GNU time %M); objects: what each tool says it scanned (kharden:"
        "\nobjects; checkov: resources, which count containers too); errors: kharden input errors,"
        "\ncheckov parsing errors"
    )


def save_json(path: Path, info: dict[str, str], rows: list[Row]) -> None:
    results = [
        {**asdict(r), "median_s": r.median_s, "median_cpu_s": r.median_cpu_s, "peak_rss_mib": r.peak_rss_mib}
        for r in rows
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"machine": info, "results": results}, indent=2) + "\n")
    log(f"results saved to {path}")


# ---------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per kharden row (default 5)")
    parser.add_argument("--checkov-runs", type=int, default=3, help="timed runs per checkov row (default 3)")
    parser.add_argument(
        "--only",
        action="append",
        choices=["real", *GENERATED],
        help="benchmark this corpus (repeatable; default: real and 10k; 30k and 100k measure scaling,"
        " kharden alone)",
    )
    parser.add_argument("--skip-checkov", action="store_true", help="measure kharden alone")
    parser.add_argument("--checkov", type=Path, help="an installed checkov executable to use")
    parser.add_argument("--timeout", type=float, default=TIMEOUT_S, help="stop a scan after this many s")
    parser.add_argument("--json", type=Path, help="also save the results as JSON to this file")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.checkov_runs < 1:
        parser.error("--runs and --checkov-runs must be at least 1")
    return args


def find_checkov(args: argparse.Namespace) -> Path | None:
    if args.skip_checkov:
        return None
    if args.checkov is not None:
        path = Path(shutil.which(str(args.checkov)) or args.checkov).resolve()
        if not path.is_file():
            sys.exit(f"--checkov {args.checkov}: no such file")
        return path
    return install_checkov()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if not KHARDEN.exists():
        sys.exit(f"{KHARDEN} not found: run 'make demo' (or pip install -e .) first")
    if not GNU_TIME.exists():
        log(f"{GNU_TIME} not found (apt-get install time): peak RSS will not be measured")
    load = load_average()
    compile_kharden()
    found = corpora(args.only)
    if not found:
        sys.exit("no corpus to benchmark")
    checkov = find_checkov(args)
    info = machine_info(checkov, load)  # before the runs: the date and commit are those of the start
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="kharden-bench-") as tmp:
        for corpus in found:
            rows += kharden_rows(corpus, args.runs, Path(tmp), args.timeout)
            if checkov is not None and _documents(corpus) <= CHECKOV_MAX_DOCS:
                rows.append(checkov_row(corpus, checkov, args.checkov_runs, Path(tmp), args.timeout))
    print_report(info, rows)
    if args.json is not None:
        save_json(args.json, info, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
