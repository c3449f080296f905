"""nmfsep's thread-local limits against the process-wide ``torch.set_num_threads`` they replaced.

    python benchmarks/thread_policy.py --threads 2               # speed.py's quick fit cases
    python benchmarks/thread_policy.py --threads 2 --full --rounds 5 --iters 5

Issue 13 removed every ``torch.set_num_threads`` call from the package: a fast path limits
the thread it runs on through the thread-local counts of torch's OpenMP runtime and oneMKL
(``nmfsep._core._threads.one_thread``), where it used to call ``torch.set_num_threads(1)`` and
restore the count afterwards, for the whole process. This script fits ``speed.py``'s fit cases
(same data and initial factors) under both policies **in one process, alternating**: the old
one is replayed by putting a ``torch.set_num_threads`` pair in place of ``one_thread`` (which
every fast path and small multiplicative update enters). The process, the data and the load
are then the same for both, which separate processes cannot give on a shared machine (the
same code varies by 20 % from one process to the next here). Prints ms per iteration (median
of the rounds) and the ratio of the per-round times, old / new (above 1: the new policy is
faster).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable, Dict, List, Optional

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from speed import initial_factors, spectrogram

# the policy under test is private: one_thread is what every fast path enters
from nmfsep._core import _threads
from nmfsep.nmf import NMF, NMFD

from _timing import alternate, machine_summary, median, paired_ratio

THREAD_LOCAL = _threads.one_thread


class ProcessWide:
    """The policy before issue 13: ``torch.set_num_threads(1)`` for the block, then back."""

    def __enter__(self):
        self.threads = torch.get_num_threads()
        if self.threads > 1:
            torch.set_num_threads(1)
        return self

    def __exit__(self, *exc_info):
        if self.threads > 1:
            torch.set_num_threads(self.threads)


def cases(full: bool):
    """``(name, model class, V, W0, H0, beta)`` of speed.py's fit section."""
    nmf_shape, nmfd_shape = ((1025, 15504, 32), (1025, 2000, 16, 8)) if full else \
        ((513, 2000, 16), (513, 500, 8, 8))
    F, frames, rank = nmf_shape
    V = spectrogram(F, frames).t().contiguous()
    W0, H0 = initial_factors(V, rank, [(F, rank), (frames, rank)])
    F, L, T, rank = nmfd_shape
    Vd = spectrogram(F, L, seed=2).unsqueeze(0)
    Wd, Hd = initial_factors(Vd, rank * T, [(F, rank, T), (1, rank, L - T + 1)])
    for beta in (2.0, 1.0):
        yield f"NMF {F}x{frames} rank {nmf_shape[2]} beta={beta:g}", NMF, V, W0, H0, beta
    for beta in (2.0, 1.0):
        yield f"NMFD {F}x{L} T {T} rank {rank} beta={beta:g}", NMFD, Vd, Wd, Hd, beta


def fit_under(policy, cls, V, W0, H0, beta: float, iters: int) -> Callable[[], None]:
    def run():
        _threads.one_thread = policy
        try:
            cls(W=W0, H=H0).fit(V, beta=beta, tol=0, max_iter=iters)
        finally:
            _threads.one_thread = THREAD_LOCAL
    return run


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="torch's thread count")
    parser.add_argument("--full", action="store_true", help="speed.py's full sizes")
    parser.add_argument("--rounds", type=int, default=7, help="alternating rounds per case")
    parser.add_argument("--iters", type=int, default=20, help="iterations per fit")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"# thread policies ({'full' if args.full else 'quick'} sizes, wall clock): "
          f"{machine_summary()}")
    print(f"\n{args.iters} iterations per fit, {args.rounds} alternating rounds\n")
    print("| fit | process-wide (old), ms/it | thread-local (new), ms/it | old / new |")
    print("|---|---|---|---|")
    for name, cls, V, W0, H0, beta in cases(args.full):
        contenders: Dict[str, Callable[[], None]] = {
            "old": fit_under(ProcessWide, cls, V, W0, H0, beta, args.iters),
            "new": fit_under(THREAD_LOCAL, cls, V, W0, H0, beta, args.iters),
        }
        seconds = alternate(contenders, args.rounds)
        old, new = ([s / args.iters * 1e3 for s in seconds[k]] for k in ("old", "new"))
        print(f"| {name} | {median(old):.2f} | {median(new):.2f} | {paired_ratio(old, new):.2f} |")
    print(f"\nload average after: {machine_summary().split('load average')[-1].strip()}")


if __name__ == "__main__":
    main()
