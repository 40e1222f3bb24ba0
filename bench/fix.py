"""Time ``kharden fix`` against ``kharden scan`` on the real corpus (the issue's target: fix under 5x scan).

    .venv/bin/python bench/fix.py [--runs 5] [--corpus ../shared/corpus/real]

Each run copies the corpus to a fresh temporary directory (``fix --write`` changes it), then times,
each in its own subprocess: ``kharden scan DIR -f json -o /dev/null``, ``kharden fix DIR`` (the diff
to /dev/null), ``kharden fix DIR --unsafe`` and ``kharden fix DIR --write``. Prints the median wall
time of each and its ratio to the scan. Figures only: never a pass/fail test.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KHARDEN = ROOT / ".venv" / "bin" / "kharden"


def _time(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    elapsed = time.perf_counter() - start
    # 2 is an input error of some file: the corpus holds a few objects of an apiVersion that never
    # served their kind; scan and fix report them and go on.
    if done.returncode not in (0, 1, 2) or b"Traceback" in done.stderr:
        sys.exit(f"{' '.join(command)} exited {done.returncode}: {done.stderr.decode()[-500:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpus" / "real"))
    args = parser.parse_args()
    corpus = Path(args.corpus)
    if not corpus.is_dir():
        sys.exit(f"no corpus at {corpus}")
    subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "-m", "compileall", "-q", str(ROOT / "src")], check=True
    )
    commands = {
        "scan (json)": ["scan", ".", "-f", "json", "-o", os.devnull],
        "fix (diff)": ["fix", "."],
        "fix --unsafe (diff)": ["fix", ".", "--unsafe"],
        "fix --write": ["fix", ".", "--write"],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    with tempfile.TemporaryDirectory(prefix="kharden-bench-fix-") as scratch:
        for run in range(args.runs + 1):  # the first run warms the page cache and is not counted
            for name, argv in commands.items():
                copy = Path(scratch, f"run{run}-{len(times[name])}-{name.split()[0]}")
                shutil.copytree(corpus, copy)
                elapsed = _time([str(KHARDEN), *argv], copy)
                if run:
                    times[name].append(elapsed)
                shutil.rmtree(copy)
    load = os.getloadavg()[0]
    scan = statistics.median(times["scan (json)"])
    files = sum(1 for _ in corpus.rglob("*.yaml"))
    print(f"corpus {corpus} ({files} YAML files), {args.runs} runs, load {load:.2f}")
    print(f"{'command':<22}{'median s':>10}{'x scan':>9}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:<22}{median:>10.2f}{median / scan:>9.2f}")


if __name__ == "__main__":
    main()
