"""Peak memory of process trees, sampled in a thread: what the benchmarks report as "peak RSS".

A Spark job's memory is mostly in the JVM, a child of the Python process, and a dbt build runs in
a subprocess; the RSS of one process misses them, so the benchmarks sum the RSS over whole trees.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import psutil


class TreeMemory:
    """Samples every `interval` seconds the RSS of `roots` (default: this process) and of all
    their descendants (a Spark JVM, a dbt subprocess), summed at each moment.

    `peaks()` gives, since the last `reset()`, the largest sum at one moment (`total`, with the
    processes it was made of), the largest RSS of the roots alone (`python`: in this process the
    interpreter, DuckDB and Arrow) and of the descendants alone (`jvm`). `peak_between(start, end)`
    is the largest sum sampled inside a window of `time.time()` instants: the run's event log
    times its steps, and this attributes the samples to them. A root that has ended counts 0.
    """

    def __init__(self, roots: Sequence[psutil.Process] = (), interval: float = 0.1):
        self.interval = interval
        self.roots = list(roots) or [psutil.Process()]
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._epoch = 0
        self.reset()
        self._thread = threading.Thread(target=self._loop, name="tree-memory", daemon=True)
        self._thread.start()

    @staticmethod
    def _rss(processes) -> list[tuple[str, int]]:
        found = []
        for process in processes:
            try:
                found.append((f"{process.pid}:{process.name()}", process.memory_info().rss))
            except psutil.Error:
                pass  # a process that just ended
        return found

    def _sample(self) -> tuple[float, list[tuple[str, int]], list[tuple[str, int]]]:
        descendants = []
        for root in self.roots:
            try:
                descendants += root.children(recursive=True)
            except psutil.Error:
                pass  # a root that has ended
        return time.time(), self._rss(self.roots), self._rss(descendants)

    def _record(self, epoch: int, at: float, roots: list[tuple[str, int]], descendants: list[tuple[str, int]]) -> None:
        with self._lock:
            if epoch != self._epoch:
                return  # sampled before a reset: belongs to the previous phase
            own, below = sum(rss for _, rss in roots), sum(rss for _, rss in descendants)
            self._samples.append((at, own + below))
            if own + below > self._total:
                self._total, self._at_peak = own + below, [*roots, *descendants]
            self._python = max(self._python, own)
            self._jvm = max(self._jvm, below)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            epoch = self._epoch
            self._record(epoch, *self._sample())

    def reset(self) -> None:
        with self._lock:
            self._epoch += 1
            self._total = self._python = self._jvm = 0
            self._at_peak = []
            self._samples: list[tuple[float, int]] = []

    def peaks(self) -> dict:
        epoch = self._epoch
        self._record(epoch, *self._sample())  # also count the moment of asking
        with self._lock:
            return {
                "total": self._total,
                "python": self._python,
                "jvm": self._jvm,
                "at_peak": [{"process": name, "rss": rss} for name, rss in self._at_peak],
            }

    def peak_between(self, start: float, end: float) -> int | None:
        """The largest tree sum sampled in [start, end]; None when no sample fell inside."""
        with self._lock:
            inside = [total for at, total in self._samples if start <= at <= end]
        return max(inside, default=None)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def measured_child(code: str, *arguments: str) -> dict:
    """Run `code` in a fresh Python process (in benchmarks/, so it can import these scripts); its
    last stdout line as JSON, with the peak RSS of its whole tree."""
    process = subprocess.Popen([sys.executable, "-c", code, *arguments], cwd=Path(__file__).parent,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    memory = TreeMemory([psutil.Process(process.pid)])
    stdout, stderr = process.communicate()
    peak = memory.peaks()["total"]
    memory.stop()
    if process.returncode != 0:
        raise SystemExit(f"a measured child failed:\n{stderr[-4000:]}")
    return {**json.loads(stdout.strip().splitlines()[-1]), "peak_rss_bytes": peak}
