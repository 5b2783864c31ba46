"""Start-up time of `import labelgraph` and of the `labelgraph --help` console script.

Run it with:

    python benchmarks/startup.py [--runs N] [--python PATH]

Each command runs once as a warm-up, then N times (default 7) in fresh subprocesses, timed
with `time.perf_counter` around `subprocess.run`. Prints the median and the minimum wall time
in seconds as a Markdown table, and one line saying whether each median is under 1 s.

`--python PATH` times another environment: that interpreter, and the `labelgraph` script next
to it (falling back to `PATH -m labelgraph.cli --help` when there is none). Without it, the
current interpreter is used, and the `labelgraph` found next to it or on PATH.

The commands run from a fresh empty directory, so a `labelgraph/` folder in the current
directory cannot shadow the installed package. This is a measurement, not a test: the exit
code is always 0.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

THRESHOLD_S = 1.0


@dataclass(frozen=True)
class Timing:
    """Wall times of one command, in seconds, plus a note when a run misbehaved."""

    label: str
    times: list[float]
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def best(self) -> float:
        return min(self.times)


def help_command(python: str, explicit: bool) -> tuple[list[str], str]:
    """The command line for `labelgraph --help`, and a label saying which form is used."""
    script = Path(python).parent / "labelgraph"
    if script.is_file():
        return [str(script), "--help"], "`labelgraph --help`"
    if not explicit:
        found = shutil.which("labelgraph")
        if found:
            return [found, "--help"], "`labelgraph --help`"
    return [python, "-m", "labelgraph.cli", "--help"], "`python -m labelgraph.cli --help`"


def time_command(label: str, cmd: list[str], runs: int, cwd: str) -> Timing:
    """Run `cmd` once to warm up, then `runs` times, and collect the wall times."""
    notes: list[str] = []
    times: list[float] = []
    for i in range(runs + 1):
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - start
        if proc.returncode != 0 and not notes:
            tail = (proc.stderr.strip().splitlines() or ["(no stderr)"])[-1]
            notes.append(f"exit code {proc.returncode}: {tail}")
        if i > 0:
            times.append(elapsed)
    return Timing(label, times, "; ".join(notes))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs per command (default 7)")
    parser.add_argument("--python", default=None, help="interpreter to time (default: this one)")
    args = parser.parse_args(argv)
    runs = max(1, args.runs)
    python = args.python or sys.executable

    cli_cmd, cli_label = help_command(python, explicit=args.python is not None)
    commands = [
        ('`python -c "import labelgraph"`', [python, "-c", "import labelgraph"]),
        (cli_label, cli_cmd),
    ]
    with tempfile.TemporaryDirectory(prefix="lg_startup_") as cwd:
        timings = [time_command(label, cmd, runs, cwd) for label, cmd in commands]

    print(f"Interpreter: {python}; {runs} runs each after one warm-up\n")
    print("| command | median (s) | min (s) |")
    print("|---|---:|---:|")
    for t in timings:
        print(f"| {t.label} | {t.median:.3f} | {t.best:.3f} |")
    print()
    verdicts = [
        f"{t.label} {'under' if t.median < THRESHOLD_S else 'NOT under'} {THRESHOLD_S:g} s"
        for t in timings
    ]
    print("Median: " + "; ".join(verdicts) + ".")
    for t in timings:
        if t.note:
            print(f"Warning: {t.label} failed ({t.note}); its times are not meaningful.")
    return 0


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:  # a measurement: report, never fail the caller
        print(f"startup benchmark could not run: {exc}", file=sys.stderr)
    sys.exit(0)
