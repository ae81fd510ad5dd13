"""Mutation testing of the decision code (`make mutation`, docs/RELIABILITY.md).

mutmut (configured in pyproject.toml's [tool.mutmut]) mutates the files listed there; this runs
the mutants of the decision functions below, one at a time on one core, each against the fast
tests that call the function, then prints killed/total per module. The rest of those files
(failure-case tables, plots, IO) is mutated but not run: its mutants would cost time and say
nothing about a decision.

    python scripts/mutation.py          # run, then report
    python scripts/mutation.py --report # report the results mutants/ holds
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Module -> the functions whose mutants are run (mutmut's names: x_function, xǁClassǁmethod).
SCOPE = {
    "meridian_assets.guard": [
        "x_judgements", "xǁFitnessǁown_problems", "xǁFitnessǁproblems", "xǁFitnessǁinput_problems",
        "xǁFitnessǁleft_out", "x__causes_first", "x_runnable",
    ],
    "meridian_assets.quality": [
        "x__result", "x__inputs_fit", "xǁPartitionǁstarts_history", "xǁPartitionǁno_history_yet",
    ],
    "meridian_assets.defs.ingestion.checks": ["*"],
    "meridian_assets.defs.features.checks": ["*"],
    "meridian_assets.defs.ml_table.checks": ["*"],
    "meridian_assets.defs.ml.model": ["x_gate_verdict", "x_gate_limit", "x_paired_difference"],
    "meridian_assets.defs.ml.assets": ["x_deploy_decision", "x_overtaken"],
    "meridian_assets.defs.automation.conditions": ["*"],
    "meridian_assets.defs.ingestion.assets": ["x_transient"],
}
KILLED = {1, 3}  # mutmut's exit codes of a killed mutant: a test failed (1) or pytest failed inside (3)
STATUS = {0: "survived", 5: "no tests", 33: "no tests", 36: "timeout", 24: "timeout", -24: "timeout", None: "not run"}


def patterns() -> list[str]:
    return [f"{module}.{name}__mutmut_*" for module, names in SCOPE.items() for name in names]


def results() -> dict[str, dict[str, int | None]]:
    """Per module, each mutant in scope and its exit code as mutmut recorded it (None: not run)."""
    found: dict[str, dict[str, int | None]] = {module: {} for module in SCOPE}
    for meta in sorted((ROOT / "mutants").rglob("*.py.meta")):
        for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            module = name.rsplit(".", 1)[0]
            if module in SCOPE and any(fnmatch.fnmatchcase(name, p) for p in patterns()):
                found[module][name] = code
    return found


def report() -> bool:
    """Print killed/total per module and every mutant not killed; True when each module reaches 85%."""
    print(f"{'module':45} {'killed':>7} {'total':>6} {'%':>6}")
    every = True
    for module, codes in results().items():
        killed = sum(code in KILLED for code in codes.values())
        share = killed / len(codes) if codes else 0.0
        every &= share >= 0.85
        print(f"{module:45} {killed:7d} {len(codes):6d} {share:6.1%}")
    survivors = [(m, n, c) for m, codes in results().items() for n, c in sorted(codes.items()) if c not in KILLED]
    if survivors:
        print("\nnot killed (mutmut show NAME shows each):")
        for _module, name, code in survivors:
            print(f"  {name}  {STATUS.get(code, f'exit code {code}')}")
    return every


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--report", action="store_true", help="only report what mutants/ holds")
    args = parser.parse_args()
    if not args.report:
        mutmut = Path(sys.executable).with_name("mutmut")
        started = time.monotonic()
        print("mutmut: generating mutants, mapping tests to functions, then one mutant at a time ...", flush=True)
        subprocess.run([str(mutmut), "run", "--max-children", "1", *patterns()], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
        print(f"mutmut run: {(time.monotonic() - started) / 60:.1f} min\n")
    sys.exit(0 if report() else 1)


if __name__ == "__main__":
    main()
