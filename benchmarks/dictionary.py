"""An overcomplete NMF dictionary learned from data streamed in chunks, with bounded memory.

overcomplete's headline case: 10 000 templates for 512-dimensional data, here 20 000 rows
that are generated chunk by chunk (the whole matrix never exists). The chunked fit keeps one
chunk, its activations and three ``C x R`` matrices (templates, two gradient sums); a
full-batch fit would hold the ``N x R`` activations (and two temporaries of that size for
each multiplicative update).

Prints the resident memory (RSS, sampled every 20 ms while fitting, and the process's
high-water mark) next to the sizes of the data and of a full-batch ``H``, the time of each
epoch and the loss::

    python benchmarks/dictionary.py                 # defaults: 2 epochs, ~2-3 min on 2 cores
    python benchmarks/dictionary.py --epochs 5 --inner-iter 3 --chunk-rows 2000
"""

from __future__ import annotations

import argparse
import os
import resource
import threading
import time
import warnings

import torch

from nmfsep.nmf import NMF


class PlantedChunks:
    """Rows of ``V = H_true W_trueᵀ`` generated chunk by chunk, the same every epoch.

    ``W_true (C, K)`` and the chunks' ``H_true`` are sparse non-negative; chunk ``i`` is drawn
    from its own seeded generator, so iterating twice gives the same data.
    """

    def __init__(self, rows: int, cols: int, chunk_rows: int, true_rank: int = 64, seed: int = 0):
        self.rows, self.cols, self.chunk_rows, self.seed = rows, cols, chunk_rows, seed
        self.pass_starts = []
        g = torch.Generator().manual_seed(seed)
        self.templates = torch.rand(cols, true_rank, generator=g) * (torch.rand(cols, true_rank, generator=g) < 0.3)

    def __len__(self) -> int:
        return -(-self.rows // self.chunk_rows)

    def __iter__(self):
        self.pass_starts.append(time.perf_counter())  # one call per pass over the data
        for index in range(len(self)):
            n = min(self.chunk_rows, self.rows - index * self.chunk_rows)
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + index + 1)
            K = self.templates.shape[1]
            activations = torch.rand(n, K, generator=g) * (torch.rand(n, K, generator=g) < 0.1)
            yield activations @ self.templates.t()


class RSSSampler:
    """Peak resident set size of this process, sampled from /proc in a background thread."""

    def __init__(self, interval: float = 0.02):
        self.interval, self.peak, self._stop = interval, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def current() -> int:
        try:
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:  # not Linux: fall back on the high-water mark
            return high_water_mark()

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.current())
            self._stop.wait(self.interval)

    def __enter__(self):
        self.peak = self.current()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.current())


def high_water_mark() -> int:
    """``ru_maxrss`` in bytes (kilobytes on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if os.uname().sysname == "Darwin" else peak * 1024


def megabytes(n_bytes: float) -> str:
    return f"{n_bytes / 2 ** 20:8.1f} MB"


def full_batch(chunks: PlantedChunks, args) -> None:
    """One multiplicative update on the whole V, for comparison (needs N x R activations)."""
    V = torch.cat(list(chunks))
    baseline = RSSSampler.current()
    with RSSSampler() as rss:
        start = time.perf_counter()
        with warnings.catch_warnings():  # "rank gives as many parameters as V": known here
            warnings.simplefilter("ignore", UserWarning)
            model = NMF(V.shape, args.rank, seed=0)
        model.fit(V, beta=args.beta, max_iter=1, tol=0, check_every=1, init="random", seed=0)
        seconds = time.perf_counter() - start
    print(f"full batch: V in memory {megabytes(V.numel() * V.element_size()).strip()}, "
          f"H {megabytes(model.H.numel() * model.H.element_size()).strip()}")
    print(f"  peak while fitting (sampled)      {megabytes(rss.peak)}   (+{megabytes(rss.peak - baseline).strip()})")
    print(f"  one iteration, init and two losses {seconds:8.1f} s")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000, help="N, rows of V (default 20000)")
    parser.add_argument("--cols", type=int, default=512, help="C, columns of V (default 512)")
    parser.add_argument("--rank", type=int, default=10_000, help="R, templates (default 10000)")
    parser.add_argument("--chunk-rows", type=int, default=1000, help="rows per chunk (default 1000)")
    parser.add_argument("--epochs", type=int, default=2, help="template updates (default 2)")
    parser.add_argument("--inner-iter", type=int, default=1,
                        help="updates of each chunk's activations per epoch (default 1)")
    parser.add_argument("--beta", type=float, default=2.0, help="divergence (default 2, least squares)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--full-batch", action="store_true",
                        help="instead, hold V in memory and time one full-batch MU iteration")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    chunks = PlantedChunks(args.rows, args.cols, args.chunk_rows)
    itemsize = torch.finfo(torch.float32).bits // 8
    model = NMF(W=(args.cols, args.rank), rank=args.rank)  # templates only: no N x R activations
    print(f"V {args.rows} x {args.cols}, rank {args.rank}, {len(chunks)} chunks of {args.chunk_rows} rows, "
          f"{args.epochs} epochs x {args.inner_iter} inner updates, beta={args.beta:g}, "
          f"{torch.get_num_threads()} threads")
    if args.full_batch:
        return full_batch(chunks, args)
    baseline = RSSSampler.current()
    with RSSSampler() as rss:
        model.fit(chunks, beta=args.beta, max_iter=args.epochs, inner_iter=args.inner_iter, tol=0,
                  check_every=1, init="random", seed=0)
    end = time.perf_counter()
    starts = chunks.pass_starts + [end]
    seconds = [b - a for a, b in zip(starts[:-1], starts[1:])]

    print("sizes (float32)")
    print(f"  data V (N x C), never in memory   {megabytes(args.rows * args.cols * itemsize)}")
    print(f"  full-batch H (N x R)              {megabytes(args.rows * args.rank * itemsize)}")
    print(f"  one chunk's H (n x R)             {megabytes(args.chunk_rows * args.rank * itemsize)}")
    print(f"  W and two gradient sums (3 C x R) {megabytes(3 * args.cols * args.rank * itemsize)}")
    print("resident memory")
    print(f"  before fitting                    {megabytes(baseline)}")
    print(f"  peak while fitting (sampled)      {megabytes(rss.peak)}   (+{megabytes(rss.peak - baseline).strip()})")
    print(f"  process high-water mark           {megabytes(high_water_mark())}")
    print("time (one pass over the data each)")
    print(f"  init='random' (mean of V)         {seconds[0]:8.1f} s")
    print(f"  first pass (activations, loss)    {seconds[1]:8.1f} s")
    for epoch, duration in enumerate(seconds[2:], 1):
        print(f"  epoch {epoch:<3d}                         {duration:8.1f} s")
    print(f"  total                             {end - starts[0]:8.1f} s")
    curve = model.loss_curve_
    print("loss relative to the first pass: " + ", ".join(f"{c / curve[0]:.4f}" for c in curve))


if __name__ == "__main__":
    main()
