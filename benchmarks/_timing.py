"""Helpers shared by the benchmarks: alternating timed runs, robust summaries, GEMM rates, memory.

The benchmarks run on shared, noisy machines, so they never compare two timings taken at
different moments: contenders run in turn within each round (:func:`alternate`) and are compared
by the median of their per-round ratios (:func:`paired_ratio`).
"""

from __future__ import annotations

import gc
import os
import platform
import statistics
import time
from typing import Callable, Dict, List, Mapping, Sequence

import torch

__all__ = [
    "alternate",
    "median",
    "spread",
    "paired_ratio",
    "format_ms",
    "one_thread_seconds",
    "machine_summary",
    "reset_peak_rss",
    "rss_bytes",
    "peak_rss_bytes",
]


def alternate(contenders: Mapping[str, Callable[[], object]], rounds: int,
              clock: Callable[[], float] = time.perf_counter) -> Dict[str, List[float]]:
    """Seconds of ``rounds`` calls of every contender, run in turn.

    The order rotates from one round to the next, so that no contender always runs first (on a
    cold cache) or right after the same neighbour.
    """
    names = list(contenders)
    seconds: Dict[str, List[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            gc.collect()
            start = clock()
            contenders[name]()
            seconds[name].append(clock() - start)
    return seconds


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def spread(values: Sequence[float]) -> float:
    """Half the range relative to the median (0.1 = values within ±10 %)."""
    return (max(values) - min(values)) / 2 / median(values) if len(values) > 1 else 0.0


def paired_ratio(numerator: Sequence[float], denominator: Sequence[float]) -> float:
    """Median over rounds of ``numerator[r] / denominator[r]`` (same-round pairs share the noise)."""
    return median([a / b for a, b in zip(numerator, denominator)])


def format_ms(seconds: Sequence[float], per: int = 1) -> str:
    """``median ms ± spread %`` of ``seconds / per``."""
    return f"{median(seconds) / per * 1e3:8.2f} ms ±{100 * spread(seconds):3.0f}%"


def one_thread_seconds(products: Sequence[Callable[[], object]], repeats: int = 3) -> float:
    """CPU seconds of one call of each of ``products`` on one thread (the fastest of
    ``repeats``): the work they take, whatever else runs on the machine. Times the number of
    threads, it gives the machine's ceiling (multi-threaded timings of a busy machine do not)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        best = float("inf")
        for _ in range(repeats):
            start = time.process_time()
            for product in products:
                product()
            best = min(best, time.process_time() - start)
    finally:
        torch.set_num_threads(threads)
    return best


def machine_summary() -> str:
    """CPU, threads, load and library versions, for the header of a report."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return (f"{cpu}; {os.cpu_count()} cores; torch {torch.__version__} with "
            f"{torch.get_num_threads()} threads; load average {load}")


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise OSError(f"{field} not in /proc/self/status")


def rss_bytes() -> int:
    """Resident memory of this process now (Linux)."""
    return _status_kib("VmRSS") * 1024


def peak_rss_bytes() -> int:
    """Peak resident memory since the start or the last :func:`reset_peak_rss` (Linux)."""
    return _status_kib("VmHWM") * 1024


def reset_peak_rss() -> None:
    """Restart the peak-RSS counter from the current RSS (Linux >= 4.0)."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
