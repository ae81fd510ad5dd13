"""What everyone who runs the project waits for (issue 31), measured from a fresh clone.

Clones the repository's committed HEAD into a temporary folder and times, there: the install
(reported apart), `make run` (10 days of 200 vehicles, as README describes it), loading the
code location in a fresh process (`python -X importtime -c "import meridian_assets.definitions"`,
and `dagster definitions validate`), and, unless --no-test, `make test`. Prints each figure
beside its target, with the machine and its load; run it with nothing else on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"make_run_seconds": 300, "import_seconds": 6, "make_test_seconds": 900}


def timed(command: list[str], cwd: Path, log: Path, env: dict | None = None) -> float:
    started = time.perf_counter()
    with log.open("w") as out:
        result = subprocess.run(command, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=env)
    seconds = time.perf_counter() - started
    if result.returncode:
        sys.exit(f"{' '.join(command)} failed ({result.returncode}): see {log}")
    return seconds


def import_seconds(clone: Path) -> float:
    """The cumulative import time of the code location's module, as `-X importtime` reports it."""
    result = subprocess.run([str(clone / ".venv/bin/python"), "-X", "importtime", "-c",
                             "import meridian_assets.definitions"], cwd=clone, capture_output=True, text=True)
    line = next(l for l in result.stderr.splitlines() if re.search(r"\|\s+meridian_assets\.definitions$", l))
    return int(line.split("|")[1]) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-test", action="store_true", help="skip make test (about 25 minutes)")
    args = parser.parse_args()
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="fixed-costs-") as folder:
        clone, logs = Path(folder) / "repo", Path(folder)
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "VIRTUAL_ENV")}
        figures = {"install_seconds": timed(["make", "install"], clone, logs / "install.log", env)}
        timed(["make", "manifest"], clone, logs / "manifest.log", env)
        figures["make_run_seconds"] = timed(["make", "run"], clone, logs / "run.log", env)
        figures["import_seconds"] = min(import_seconds(clone) for _ in range(3))
        figures["validate_seconds"] = timed([str(clone / ".venv/bin/dagster"), "definitions", "validate", "-m",
                                             "meridian_assets.definitions"], clone, logs / "validate.log", env)
        if not args.no_test:
            figures["make_test_seconds"] = timed(["make", "test"], clone, logs / "test.log", env)
        summary = (logs / "run.log").read_text().splitlines()
        kept = ROOT / "benchmarks" / "out" / "fixed_costs_make_run.log"  # not committed
        kept.parent.mkdir(exist_ok=True)
        kept.write_text("\n".join(summary))
    print(json.dumps({"started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "cpus": os.cpu_count(),
                      "load_average_at_start": load, **{k: round(v, 1) for k, v in figures.items()}}))
    for name, value in figures.items():
        target = TARGETS.get(name)
        print(f"{name:<20}{value:>9.1f} s" + (f"   target <= {target} s: {'met' if value <= target else 'MISSED'}"
                                               if target else ""))
    print(f"make run's output: {kept}; its last lines:", *summary[-4:], sep="\n  ")


if __name__ == "__main__":
    main()
