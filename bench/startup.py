"""Start-up time of the commands that should not load the scanner: `kharden --version` and `kharden rules`.

    .venv/bin/python bench/startup.py [--runs 30] [--json FILE]

Each command runs `--runs` times in a new process (after two warm-up runs that fill the page cache);
the figure is the median wall time, measured around the subprocess. For comparison the same run times
a bare interpreter (`python -c pass`, the floor any Python command pays) and, when it is installed in
bench/.venv-checkov, `checkov --version`. A measurement, not a test: it never fails on the figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = ROOT / ".venv" / "bin" / "python"
KHARDEN = ROOT / ".venv" / "bin" / "kharden"
CHECKOV = ROOT / "bench" / ".venv-checkov" / "bin" / "checkov"


def _median_ms(command: list[str], runs: int) -> float:
    for _ in range(2):
        subprocess.run(command, capture_output=True, check=True)
    walls = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True)
        walls.append(time.perf_counter() - start)
    return round(statistics.median(walls) * 1000, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args()
    commands = {
        "python -c pass": [str(PYTHON), "-c", "pass"],
        "kharden --version": [str(KHARDEN), "--version"],
        "kharden rules": [str(KHARDEN), "rules"],
        "kharden explain pod.privileged": [str(KHARDEN), "explain", "pod.privileged"],
    }
    if CHECKOV.exists():
        commands["checkov --version"] = [str(CHECKOV), "--version"]
    subprocess.run([str(PYTHON), "-m", "compileall", "-q", str(ROOT / "src")], check=True)
    figures = {}
    print(f"{'command':<34} {'median ms':>10}   ({args.runs} runs, load {_load()})")
    for name, command in commands.items():
        figures[name] = _median_ms(command, args.runs)
        print(f"{name:<34} {figures[name]:>10}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


def _load() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


if __name__ == "__main__":
    main()
