"""1 process vs 2 gloo processes on this machine: time per iteration and bytes communicated.

    python benchmarks/distributed.py [--frames 20000] [--freq 513] [--rank 32] [--iters 30]

Prints, for NMF (beta = 1 and 2): milliseconds per iteration with 1 process and with 2 ranks
(each holding half the frames, one thread each so the comparison is fair on 2 cores), the
speed-up, and the bytes each rank sends into the all-reduces per iteration.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from nmfsep._core.distributed import bytes_per_iteration, distributed_fit, shard_rows
from nmfsep.nmf import NMF


def make_data(frames, freq, rank):
    g = torch.Generator().manual_seed(0)
    return torch.rand(frames, rank, generator=g) @ torch.rand(rank, freq, generator=g) + 0.01


def time_single(V, rank, beta, iters, threads):
    torch.set_num_threads(threads)
    model = NMF(V.shape, rank, seed=1)
    start = time.perf_counter()
    model.fit(V, beta=beta, tol=0, max_iter=iters, check_every=iters)
    return (time.perf_counter() - start) / iters


def _worker(r, world, rendezvous, args, beta, out):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{rendezvous}", rank=r, world_size=world)
    V = make_data(args.frames, args.freq, args.rank)
    rows = shard_rows(V.shape[0], r, world)
    model = NMF(V.shape, args.rank, seed=1)
    model.H = torch.nn.Parameter(model.H.detach()[rows].clone())
    dist.barrier()
    start = time.perf_counter()
    distributed_fit(model, V[rows], beta=beta, tol=0, max_iter=args.iters, check_every=args.iters)
    elapsed = torch.tensor([(time.perf_counter() - start) / args.iters])
    dist.all_reduce(elapsed, op=dist.ReduceOp.MAX)
    if r == 0:
        torch.save({"seconds": float(elapsed), "bytes": bytes_per_iteration(model, beta)}, out)
    dist.destroy_process_group()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=20000)
    parser.add_argument("--freq", type=int, default=513)
    parser.add_argument("--rank", type=int, default=32)
    parser.add_argument("--iters", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--hours", type=float, default=500.0, help="corpus size for the scaling estimate")
    parser.add_argument("--bandwidth-gbs", type=float, default=10.0, help="interconnect GB/s (estimate)")
    parser.add_argument("--latency-us", type=float, default=10.0, help="per-message latency (estimate)")
    args = parser.parse_args()
    V = make_data(args.frames, args.freq, args.rank)
    print(f"V {args.frames} x {args.freq} float32, rank {args.rank}, {args.iters} iterations, "
          f"median of {args.repeats} alternating runs")
    print(f"{'beta':>5} {'1 proc 1 thr':>13} {'1 proc 2 thr':>13} {'2 ranks':>10} {'speed-up':>9} "
          f"{'bytes/iter/rank':>16}")
    estimates = []
    for beta in (1.0, 2.0):
        one, two_threads, ranks, sent = [], [], [], 0
        for _ in range(args.repeats):
            one.append(time_single(V, args.rank, beta, args.iters, threads=1))
            two_threads.append(time_single(V, args.rank, beta, args.iters, threads=2))
            with tempfile.TemporaryDirectory() as tmp:
                out = os.path.join(tmp, "result.pt")
                mp.spawn(_worker, args=(2, os.path.join(tmp, "rdv"), args, beta, out), nprocs=2, join=True)
                result = torch.load(out)
            ranks.append(result["seconds"])
            sent = result["bytes"]
        t1, t2, tr = (statistics.median(x) * 1e3 for x in (one, two_threads, ranks))
        print(f"{beta:5.1f} {t1:11.1f}ms {t2:11.1f}ms {tr:8.1f}ms {t1 / tr:8.2f}x {sent:16,d}")
        estimates.append((beta, t2 / 1e3 / args.frames, sent))
    print("bytes/iter/rank = 4 * (C*R*T + C*R*T) for beta != 1, 4 * (C*R*T + R) for beta = 1 "
          "(T = 1 for NMF); independent of the number of frames")
    print_scaling_estimate(estimates, args)


def print_scaling_estimate(estimates, args):
    """Time per epoch (one update of every factor over the whole corpus) on 1, 8 and 64 nodes.

    compute = frames / nodes * (measured seconds per frame on one node of this machine);
    all-reduce (ring) = 2 (p - 1) / p * bytes / bandwidth + 2 (p - 1) * latency, twice per epoch
    (numerator and denominator).
    """
    frames = args.hours * 3600 * 22050 / 512  # hop 512 at 22.05 kHz
    print(f"\nestimate: {args.hours:g} h of audio = {frames:,.0f} frames, {args.bandwidth_gbs:g} GB/s, "
          f"{args.latency_us:g} us latency, one node = this 2-core machine")
    print(f"{'beta':>5} {'nodes':>6} {'compute s':>10} {'comm s':>9} {'epoch s':>9} {'efficiency':>11}")
    for beta, seconds_per_frame, sent in estimates:
        single = frames * seconds_per_frame
        for nodes in (1, 8, 64):
            compute = single / nodes
            comm = 0.0 if nodes == 1 else 2 * (2 * (nodes - 1) / nodes * sent / (args.bandwidth_gbs * 1e9)
                                               + 2 * (nodes - 1) * args.latency_us * 1e-6)
            total = compute + comm
            print(f"{beta:5.1f} {nodes:6d} {compute:10.2f} {comm:9.5f} {total:9.2f} {single / nodes / total:10.1%}")


if __name__ == "__main__":
    main()
