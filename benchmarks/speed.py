"""How fast nmfsep fits NMF and NMFD, against its peers and against the machine's GEMM ceiling.

    python benchmarks/speed.py                     # the issue's sizes (tens of minutes)
    python benchmarks/speed.py --quick             # small sizes (a few minutes)
    python benchmarks/speed.py --sections fit,batch --rounds 5 --cases nmf2,nmfd1
    python benchmarks/speed.py --threads 1 --clock cpu   # steady numbers on a busy machine

Sections (``--sections``, all by default):

fit
    The same float32 data and initial factors, fitted by nmfsep, torchnmf and scikit-learn's MU
    solver (``NMF(solver='mu', init='custom', tol=0)``) for the same number of iterations,
    alternating runs within each round. Prints milliseconds per iteration (median and spread),
    nmfsep's speed-up over each peer (median of per-round ratios), the measured GEMM rate (one
    core, these shapes) and the FLOP-count lower bound (the products with V that one iteration
    cannot avoid, at that rate times the threads), nmfsep's ratio to the bound, and every
    fit's final loss (one float64 formula for all: the peers' own conventions differ, see
    below). Cases: NMF V 1025 x 15504 (a 3-minute
    spectrogram, 44.1 kHz, n_fft 2048, hop 512), rank 32, beta 2 and 1; NMFD V 1025 x 2000,
    T 16, rank 8, beta 2 and 1. nmfsep runs as users call it (the loss checked every 10
    iterations, stopping rule off); a short fit of the generic autograd path checks that the
    fast path computes the same thing.
scaling
    nmfsep's time per iteration for 1000 ... 64000 frames and rank 8, 32, 128: it must grow
    linearly in the frames (constant time per frame).
memory
    Peak resident memory of a fit above the data it was given, each fit in a fresh process.
batch
    Many short spectrograms: independent NMFs fitted one after the other in a Python loop vs
    all at once by :class:`nmfsep.nmf.BatchNMF`; and activations for fixed templates, a loop
    of ``transform`` calls vs one call on NMFD's batch axis (T = 1) or a ``BatchNMF`` with
    shared templates.
time-to-loss
    Time to a good fit rather than per iteration: the wall time each library (nmfsep ``mu``
    and ``auto``, scikit-learn cd and mu, torchnmf, nmf-torch HALS and BPP) takes to reach
    the lowest loss the peers' default solvers reach in 200 iterations, same data and
    initial factors, alternating runs, with ``auto``'s speed-up over each; ``--plot PNG``
    draws loss against time. Cases ``--ttl-cases``; see ``benchmarks/time_to_loss.py``.

Loss conventions: nmfsep's ``loss_curve_`` is the beta-divergence itself (half the squared
error for beta = 2); scikit-learn's ``reconstruction_err_`` and torchnmf's progress-bar loss
are ``sqrt(2 * divergence)``. Small differences in the final losses are expected: torchnmf
adds eps to both gradient parts, scikit-learn floors the model at eps and zeroes activations
below float64's eps, nmfsep adds float32's eps to the model. Nothing is installed: a missing
peer is skipped with a note.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import subprocess
import sys
import time
import warnings
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import torch

from nmfsep._core import fastpaths
from nmfsep._core.updates import flush_denormal
from nmfsep.metrics import beta_div
from nmfsep.nmf import NMF, NMFD, BatchNMF
from nmfsep.trainer import BetaMu

from _timing import (
    alternate,
    format_ms,
    machine_summary,
    median,
    one_thread_seconds,
    paired_ratio,
    peak_rss_bytes,
    reset_peak_rss,
    rss_bytes,
)

BETA_NAMES = {2.0: "frobenius", 1.0: "kullback-leibler", 0.0: "itakura-saito"}
#: Relative difference of final losses (nmfsep vs a peer or the generic path) that still
#: counts as "the same fit" after this many float32 iterations.
LOSS_TOLERANCE = 1e-3


# -- peers --------------------------------------------------------------------------------------

def import_peers() -> Tuple[Dict[str, object], List[str]]:
    peers, notes = {}, []
    try:
        import torchnmf.nmf
        peers["torchnmf"] = torchnmf.nmf
    except Exception as error:  # any failure means: not usable here
        notes.append(f"torchnmf skipped: {type(error).__name__}: {error}")
    try:
        import sklearn
        from sklearn.decomposition import NMF as SklearnNMF
        peers["sklearn"] = SklearnNMF
        notes.append(f"scikit-learn {sklearn.__version__} (numpy BLAS threads as configured)")
    except Exception as error:
        notes.append(f"scikit-learn skipped: {type(error).__name__}: {error}")
    try:
        import overcomplete  # noqa: F401
        notes.append("overcomplete imports, but its HALS is not MU: per-iteration times are not "
                     "comparable and it is not run")
    except Exception:
        notes.append("overcomplete is not installed: its HALS is skipped")
    try:
        import nmf.nmf_models  # nmf-torch (pip install --no-deps nmf-torch): HALS and BPP
        peers["nmf-torch"] = nmf.nmf_models
        notes.append("nmf-torch imports (its batch HALS and BPP run in the time-to-loss section)")
    except Exception as error:
        notes.append(f"nmf-torch skipped: {type(error).__name__}: {error}")
    return peers, notes


# -- data ---------------------------------------------------------------------------------------

def spectrogram(freq: int, frames: int, seed: int = 0) -> torch.Tensor:
    """A spectrogram-like float32 (freq, frames) array: sparse low-rank power times noise."""
    g = torch.Generator().manual_seed(seed)
    templates = torch.rand(freq, 40, generator=g) ** 4
    activations = torch.rand(40, frames, generator=g) ** 8
    noise = -torch.rand(freq, frames, generator=g).clamp_min(1e-12).log()  # exponential(1)
    return ((templates @ activations + 1e-3) * noise).float()


def initial_factors(V: torch.Tensor, rank: int, shapes, seed: int = 1):
    """Random factors scaled like scikit-learn's 'random' init (model mean ≈ V's mean)."""
    g = torch.Generator().manual_seed(seed)
    scale = math.sqrt(float(V.mean()) / rank) * 2
    return [torch.rand(shape, generator=g) * scale for shape in shapes]


def float64_loss(V, model, beta) -> float:
    return float(beta_div(model.double(), V.double(), beta))


# -- contenders ---------------------------------------------------------------------------------

class Case:
    """One comparison: data, initial factors, and a fit function per library."""

    def __init__(self, name, beta, V, W0, H0, iters, kind):
        self.name, self.beta, self.V, self.W0, self.H0 = name, beta, V, W0, H0
        self.iters, self.kind = iters, kind
        self.results: Dict[str, Tuple[torch.Tensor, torch.Tensor]] = {}
        self.iterations: Dict[str, int] = {}

    def reconstruct(self, W, H):
        if self.kind == "nmf":
            return H @ W.t()
        return NMFD.reconstruct(H, W)


def nmfsep_fit(case: Case):
    cls = NMF if case.kind == "nmf" else NMFD
    model = cls(W=case.W0, H=case.H0)
    case.iterations["nmfsep"] = model.fit(case.V, beta=case.beta, tol=0, max_iter=case.iters)
    case.results["nmfsep"] = (model.W.detach(), model.H.detach())


def torchnmf_fit(module, case: Case):
    cls = module.NMF if case.kind == "nmf" else module.NMFD
    model = cls(W=case.W0.clone(), H=case.H0.clone())
    # tol = -inf: torchnmf stops when the loss fails to decrease, even with tol = 0
    case.iterations["torchnmf"] = model.fit(case.V, beta=case.beta, tol=-math.inf, max_iter=case.iters)
    case.results["torchnmf"] = (model.W.detach(), model.H.detach())


def sklearn_fit(cls, case: Case, X: np.ndarray):
    # scikit-learn: X (freq, frames) ≈ W (freq, R) H (R, frames), W updated first as in nmfsep
    model = cls(n_components=case.W0.shape[1], solver="mu", beta_loss=BETA_NAMES[case.beta],
                init="custom", tol=0, max_iter=case.iters)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: max_iter reached, by design
        W = model.fit_transform(X, W=case.W0.numpy().copy(), H=case.H0.numpy().T.copy())
    case.iterations["sklearn"] = model.n_iter_
    case.results["sklearn"] = (torch.from_numpy(W), torch.from_numpy(model.components_).t())


def generic_fit(case: Case, iters: int) -> Tuple[float, float]:
    """Final losses of the fast path and of the generic autograd path (BetaMu), ``iters`` each."""
    cls = NMF if case.kind == "nmf" else NMFD
    fast = cls(W=case.W0, H=case.H0)
    fast.fit(case.V, beta=case.beta, tol=0, max_iter=iters, check_every=iters)
    twin = cls(W=case.W0, H=case.H0)
    trainer = BetaMu(twin.parameters(), beta=case.beta)
    with flush_denormal(case.V.device):
        for _ in range(iters):
            trainer.step(lambda: (case.V, twin()))
    return tuple(float64_loss(case.V, m().detach(), case.beta) for m in (fast, twin))


def bound_products(case: Case):
    """The GEMMs with V that one iteration needs (beta = 2: one per factor; other betas twice
    as many, model and weights), each in two orientations (the faster one counts) as
    ``(left, right)`` operands, and their FLOP count."""
    V = case.V
    if case.kind == "nmf":
        W, H = case.W0, case.H0
        products = [((H.t(), V), (V.t(), H)), ((W.t(), V.t()), (V, W))]
        flops = 2 * 2 * V.numel() * W.shape[1]
    else:
        C, R, T = case.W0.shape
        W2 = case.W0.reshape(C, R * T)
        Hs = fastpaths.shifted_activations(case.H0, T).clone()
        products = [((W2.t(), V[0]), (V[0].t(), W2)), ((V[0], Hs[0].t()), (Hs[0], V[0].t()))]
        flops = 2 * 2 * V.numel() * R * T
    return products, flops * (1 if case.beta == 2 else 2), (1 if case.beta == 2 else 2)


def numpy_blas_seconds(products, per_gemm: int) -> Optional[float]:
    """CPU seconds of the bound's products through numpy's BLAS (scikit-learn's) on one thread,
    or None without threadpoolctl (numpy's BLAS threads cannot be limited then)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    total = 0.0
    with threadpool_limits(1):
        for pair in products:
            best = float("inf")
            for left, right in pair:
                left, right = left.numpy(), right.numpy()
                for _ in range(3):
                    start = time.process_time()
                    np.matmul(left, right)
                    best = min(best, time.process_time() - start)
            total += best
    return per_gemm * total


def run_fit_section(args, peers, out):
    quick = args.quick
    iters = args.iters or (20 if quick else 200)
    specs = []
    if quick:
        nmf_shape, nmfd_shape = (513, 2000, 16), (513, 500, 8, 8)
    else:
        nmf_shape, nmfd_shape = (1025, 15504, 32), (1025, 2000, 16, 8)
    F_, frames, rank = nmf_shape
    S = spectrogram(F_, frames)
    V = S.t().contiguous()  # nmfsep / torchnmf: V (frames, freq) ≈ H Wᵀ, W the templates
    W0, H0 = initial_factors(V, rank, [(F_, rank), (frames, rank)])
    X = S.numpy().copy()  # scikit-learn: its natural layout, (freq, frames) C-contiguous
    for beta in (2.0, 1.0):
        specs.append((f"nmf{beta:g}", Case(f"NMF {F_}x{frames} rank {rank} beta={beta:g}", beta, V, W0, H0,
                                            iters, "nmf"), X))
    F_, L, T, rank = nmfd_shape
    Vd = spectrogram(F_, L, seed=2).unsqueeze(0)
    Wd, Hd = initial_factors(Vd, rank * T, [(F_, rank, T), (1, rank, L - T + 1)])
    for beta in (2.0, 1.0):
        specs.append((f"nmfd{beta:g}", Case(f"NMFD {F_}x{L} T {T} rank {rank} beta={beta:g}", beta, Vd, Wd, Hd,
                                             iters, "nmfd"), None))
    specs = [(case, X) for key, case, X in specs if key in args.cases.split(",")]

    out(f"\n## fit: {iters} iterations, {args.rounds} alternating rounds, float32\n")
    rows = []
    for case, X in specs:
        products, flops, per_gemm = bound_products(case)
        contenders: Dict[str, Callable] = {"nmfsep": lambda c=case: nmfsep_fit(c)}
        if "torchnmf" in peers:
            contenders["torchnmf"] = lambda c=case: torchnmf_fit(peers["torchnmf"], c)
        if "sklearn" in peers and X is not None:
            contenders["sklearn"] = lambda c=case, X=X: sklearn_fit(peers["sklearn"], c, X)
        with flush_denormal(torch.device("cpu")):
            seconds = alternate(contenders, args.rounds, args.clock_fn)
        per_iter = {k: [s / case.iters for s in v] for k, v in seconds.items()}
        losses = {k: float64_loss(case.V, case.reconstruct(*factors), case.beta)
                  for k, factors in case.results.items()}
        # the ceiling: one core's GEMM rate times the threads (the wall clock's bound; the CPU
        # clock counts every thread's work, so its bound is one core's time)
        threads = torch.get_num_threads()
        core_seconds = per_gemm * sum(min(one_thread_seconds([lambda a=a, b=b: a @ b]) for a, b in pair)
                                      for pair in products)
        bound = core_seconds / (threads if args.clock == "wall" else 1)
        out(f"### {case.name}")
        out(f"GEMM rate {flops / core_seconds / 1e9:.0f} GFLOP/s per core (one thread, CPU time) x {threads} "
            f"threads; lower bound {bound * 1e3:.2f} ms/iter ({flops / 1e9:.2f} GFLOP of products with V)")
        numpy_seconds = numpy_blas_seconds(products, per_gemm)
        if numpy_seconds:  # scikit-learn's BLAS on the same products: its own ceiling
            out(f"numpy's BLAS on the same products: {flops / numpy_seconds / 1e9:.0f} GFLOP/s per core "
                f"({core_seconds / numpy_seconds:.2f}x torch's)")
        for name, values in per_iter.items():
            line = f"  {name:9s} {format_ms(values)} /iter"
            line += f"  loss {losses[name]:.6e} ({case.iterations[name]} it)"
            if name != "nmfsep":
                ratio = paired_ratio(values, per_iter["nmfsep"])
                rel = abs(losses[name] - losses["nmfsep"]) / losses["nmfsep"]
                line += f"  nmfsep {ratio:5.2f}x faster; loss differs by {rel:.1e}"
                line += "" if rel <= LOSS_TOLERANCE else f" (> {LOSS_TOLERANCE:g}!)"
            line += f"  {median(values) / bound:.2f}x the bound" if name != "nmfsep" else \
                f"  {median(values) / bound:.2f}x the lower bound"
            out(line)
            rows.append((case.name, name, median(values) * 1e3,
                         paired_ratio(values, per_iter["nmfsep"]) if name != "nmfsep" else 1.0))
        generic_iters = min(case.iters, 20)
        fast, generic = generic_fit(case, generic_iters)
        out(f"  generic autograd path, {generic_iters} it: loss {generic:.6e} vs fast path {fast:.6e} "
            f"(relative difference {abs(fast - generic) / generic:.1e})\n")
        case.results.clear()
    return rows


# -- scaling ------------------------------------------------------------------------------------

def run_scaling_section(args, out):
    frames_list = [1000, 4000] if args.quick else [1000, 4000, 16000, 64000]
    ranks = [8, 32] if args.quick else [8, 32, 128]
    iters = 3 if args.quick else 5
    freq = 1025
    out(f"\n## scaling: NMF, {freq} bins, ms per iteration ({iters} iterations, median of "
        f"{args.rounds}) and µs per frame\n")
    S = spectrogram(freq, max(frames_list), seed=3)
    for beta in (2.0, 1.0):
        out(f"beta = {beta:g}")
        out("rank " + "".join(f"{T:>22d}" for T in frames_list) + "   per-frame max/min")
        for rank in ranks:
            per_frame = []
            cells = []
            for T in frames_list:
                V = S[:, :T].t().contiguous()
                W0, H0 = initial_factors(V, rank, [(freq, rank), (T, rank)])

                def fit():
                    model = NMF(W=W0, H=H0)
                    model.fit(V, beta=beta, tol=0, max_iter=iters, check_every=iters)

                fit()  # warm-up: first-touch of the buffers, MKL's own set-up
                seconds = alternate({"fit": fit}, args.rounds, args.clock_fn)["fit"]
                ms = median(seconds) / iters * 1e3
                per_frame.append(ms * 1e3 / T)
                cells.append(f"{ms:9.2f} ms {per_frame[-1]:6.2f} µs")
            # the smallest size carries fixed per-iteration costs: judge linearity from 4000 on
            judged = per_frame[1:] if len(per_frame) > 2 else per_frame
            out(f"{rank:4d} " + "".join(f"{c:>22s}" for c in cells) + f"   {max(judged) / min(judged):.2f}")
        out("")


# -- memory -------------------------------------------------------------------------------------

def memory_child(spec: str) -> None:
    """Run one fit in this (fresh) process and print its peak RSS above the data, as JSON."""
    library, kind, beta, quick = spec.split(":")
    beta, quick = float(beta), quick == "1"
    if kind == "nmf":
        F_, frames, rank = (513, 2000, 16) if quick else (1025, 15504, 32)
        S = spectrogram(F_, frames)
        V = S.t().contiguous()
        W0, H0 = initial_factors(V, rank, [(F_, rank), (frames, rank)])
        X = S.numpy().copy() if library == "sklearn" else None
        del S
    else:
        F_, L, T, rank = (513, 500, 8, 8) if quick else (1025, 2000, 16, 8)
        V = spectrogram(F_, L, seed=2).unsqueeze(0)
        W0, H0 = initial_factors(V, rank * T, [(F_, rank, T), (1, rank, L - T + 1)])
        X = None
    case = Case("memory", beta, V, W0, H0, 3, kind)
    peers, _ = import_peers()
    data_bytes = V.numel() * V.element_size()
    if library == "sklearn":
        V = case.V = None  # scikit-learn gets only its own copy
        fit = lambda: sklearn_fit(peers["sklearn"], case, X)  # noqa: E731
    elif library == "torchnmf":
        fit = lambda: torchnmf_fit(peers["torchnmf"], case)  # noqa: E731
    else:
        fit = lambda: nmfsep_fit(case)  # noqa: E731
    gc.collect()
    reset_peak_rss()
    base = rss_bytes()
    with flush_denormal(torch.device("cpu")):
        fit()
    print(json.dumps({"extra": peak_rss_bytes() - base, "data": data_bytes}))


def run_memory_section(args, peers, out):
    out("\n## memory: peak RSS of a 3-iteration fit above the data (fresh process each)\n")
    runs = [("nmfsep", "nmf", 2.0), ("nmfsep", "nmf", 1.0), ("nmfsep", "nmfd", 2.0), ("nmfsep", "nmfd", 1.0)]
    for library in ("torchnmf", "sklearn"):
        if library in peers:
            runs += [(library, "nmf", 2.0), (library, "nmf", 1.0)]
    if "torchnmf" in peers:
        runs += [("torchnmf", "nmfd", 2.0), ("torchnmf", "nmfd", 1.0)]
    for library, kind, beta in sorted(runs, key=lambda r: (r[1], -r[2], r[0])):
        spec = f"{library}:{kind}:{beta:g}:{int(args.quick)}"
        threads = ["--threads", str(args.threads)] if args.threads else []
        proc = subprocess.run([sys.executable, __file__, "--memory-child", spec] + threads,
                              capture_output=True, text=True)
        if proc.returncode != 0:
            out(f"  {spec}: failed: {proc.stderr.strip().splitlines()[-1:]}")
            continue
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        out(f"  {kind.upper():4s} beta={beta:g} {library:9s} +{result['extra'] / 2**20:8.1f} MiB "
            f"= {result['extra'] / result['data']:5.2f} x V ({result['data'] / 2**20:.0f} MiB)")


# -- batches ------------------------------------------------------------------------------------

def batched_nmf_fit(V, W0, H0, beta, iters):
    """Independent NMFs ``V[b] ≈ H[b] W[b]ᵀ`` fitted together by ``BatchNMF.fit`` (the loss
    checked at the start and the end only, as the loop's ``NMF.fit`` calls)."""
    model = BatchNMF(W=W0, H=H0)
    model.fit(V, beta=beta, tol=0, max_iter=iters, check_every=iters)
    return model.W.detach(), model.H.detach()


def run_batch_section(args, peers, out):
    clips, freq, frames, rank = (16, 257, 64, 8) if args.quick else (64, 513, 128, 16)
    iters = 20 if args.quick else 100
    S = torch.stack([spectrogram(freq, frames, seed=10 + b) for b in range(clips)])  # (B, F, L)
    V = S.transpose(1, 2).contiguous()  # (B, frames, freq) for NMF
    g = torch.Generator().manual_seed(4)
    W0 = torch.rand(clips, freq, rank, generator=g)
    H0 = torch.rand(clips, frames, rank, generator=g)
    out(f"\n## batch: {clips} spectrograms of {freq} x {frames}, rank {rank}, {iters} iterations\n")
    for beta in (2.0, 1.0):
        results = {}

        def loop():
            models = [NMF(W=W0[b], H=H0[b]) for b in range(clips)]
            for b, model in enumerate(models):
                model.fit(V[b], beta=beta, tol=0, max_iter=iters, check_every=iters)
            results["loop"] = sum(float64_loss(V[b], m().detach(), beta) for b, m in enumerate(models))

        def batched():
            W, H = batched_nmf_fit(V, W0, H0, beta, iters)
            results["batched"] = sum(float64_loss(V[b], H[b] @ W[b].t(), beta) for b in range(clips))

        seconds = alternate({"loop": loop, "batched": batched}, args.rounds, args.clock_fn)
        rel = abs(results["loop"] - results["batched"]) / results["loop"]
        out(f"independent fits, beta={beta:g}: loop of NMF.fit {format_ms(seconds['loop'])}, "
            f"BatchNMF.fit {format_ms(seconds['batched'])}: batched "
            f"{paired_ratio(seconds['loop'], seconds['batched']):.1f}x faster; summed losses differ by {rel:.1e}"
            + ("" if rel <= LOSS_TOLERANCE else f" (> {LOSS_TOLERANCE:g}!)"))

        # shared templates: activations of every clip with fixed W, NMFD's batch axis with T = 1,
        # and BatchNMF with one dictionary
        templates = W0[0].unsqueeze(2)  # (F, R, 1)
        model = NMFD(W=templates, H=(1, rank, frames))
        shared = BatchNMF(W=W0[0])
        activations = {}

        def transform_loop():
            activations["loop"] = torch.cat([model.transform(S[b:b + 1], beta=beta, tol=0, max_iter=iters,
                                                             warm_start=False) for b in range(clips)])

        def transform_batch():
            activations["batched"] = model.transform(S, beta=beta, tol=0, max_iter=iters,
                                                     warm_start=False)

        def transform_shared():
            activations["BatchNMF"] = shared.transform(V, beta=beta, tol=0, max_iter=iters).transpose(1, 2)

        contenders = {"loop": transform_loop, "batched": transform_batch, "BatchNMF": transform_shared}
        if "torchnmf" in peers:  # what a torchnmf user writes: one fit per clip, templates frozen
            def transform_torchnmf():
                clip_activations = []
                for b in range(clips):
                    peer = peers["torchnmf"].NMF(W=W0[0].clone(), H=(frames, rank), trainable_W=False)
                    peer.H.data.fill_(1.0 / rank)  # the start of nmfsep's transform (no warm start)
                    # tol = -inf: torchnmf stops when the loss fails to decrease, even with tol = 0
                    peer.fit(V[b], beta=beta, tol=-math.inf, max_iter=iters)
                    clip_activations.append(peer.H.detach().t())
                activations["torchnmf"] = torch.stack(clip_activations)

            contenders["torchnmf"] = transform_torchnmf
        seconds = alternate(contenders, args.rounds, args.clock_fn)
        scale = activations["loop"].abs().max()
        diff = {k: float((activations["loop"] - activations[k]).abs().max() / scale) for k in ("batched", "BatchNMF")}
        out(f"shared templates (transform), beta={beta:g}: loop {format_ms(seconds['loop'])}, "
            f"NMFD batch axis {format_ms(seconds['batched'])}: batched "
            f"{paired_ratio(seconds['loop'], seconds['batched']):.1f}x faster; "
            f"activations differ by {diff['batched']:.1e}")
        out(f"shared templates (transform), beta={beta:g}: BatchNMF(shared_W) {format_ms(seconds['BatchNMF'])}: "
            f"{paired_ratio(seconds['loop'], seconds['BatchNMF']):.1f}x faster than the loop; "
            f"activations differ by {diff['BatchNMF']:.1e}")
        if "torchnmf" in seconds:
            gap = float((activations["loop"] - activations["torchnmf"]).abs().max() / scale)
            out(f"shared templates (transform), beta={beta:g}: loop of torchnmf fits (trainable_W=False) "
                f"{format_ms(seconds['torchnmf'])}: NMFD batch axis "
                f"{paired_ratio(seconds['torchnmf'], seconds['batched']):.1f}x faster, BatchNMF "
                f"{paired_ratio(seconds['torchnmf'], seconds['BatchNMF']):.1f}x faster; activations "
                f"differ by {gap:.1e}")


# -- main ---------------------------------------------------------------------------------------

def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes and few iterations")
    parser.add_argument("--sections", default="fit,scaling,memory,batch,time-to-loss",
                        help="comma-separated subset of fit,scaling,memory,batch,time-to-loss")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per comparison")
    parser.add_argument("--iters", type=int, default=None, help="iterations per fit (fit section)")
    parser.add_argument("--cases", default="nmf2,nmf1,nmfd2,nmfd1",
                        help="comma-separated subset of the fit section's cases")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for torch and numpy's BLAS (default: the libraries' own)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="wall time, or this process's CPU time (steadier on a busy machine "
                             "with --threads 1; with more threads it counts spinning too)")
    parser.add_argument("--ttl-cases", default="nmf2,nmf1,nmf0.5,nmfd2,nmfd1,batch",
                        help="comma-separated subset of the time-to-loss section's cases")
    parser.add_argument("--plot", default=None,
                        help="PNG file for the time-to-loss section's loss-against-time curves")
    parser.add_argument("--memory-child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
        try:  # numpy's BLAS (scikit-learn), through the library scikit-learn itself uses
            from threadpoolctl import threadpool_limits
            threadpool_limits(args.threads)
        except ImportError:
            pass
    args.clock_fn = time.process_time if args.clock == "cpu" else time.perf_counter
    if args.memory_child:
        memory_child(args.memory_child)
        return
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = set(sections) - {"fit", "scaling", "memory", "batch", "time-to-loss"}
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; choose from fit,scaling,memory,batch,time-to-loss")

    def out(line=""):
        print(line, flush=True)

    peers, notes = import_peers()
    out(f"# nmfsep speed ({'quick' if args.quick else 'full'}, {args.clock} clock): {machine_summary()}")
    for note in notes:
        out(f"  note: {note}")
    start = time.perf_counter()
    if "fit" in sections:
        run_fit_section(args, peers, out)
    if "scaling" in sections:
        run_scaling_section(args, out)
    if "memory" in sections:
        run_memory_section(args, peers, out)
    if "batch" in sections:
        run_batch_section(args, peers, out)
    if "time-to-loss" in sections:
        from time_to_loss import run_time_to_loss_section

        run_time_to_loss_section(args, peers, out, spectrogram, initial_factors)
    out(f"\n(total {time.perf_counter() - start:.0f} s; load average now "
        f"{', '.join(f'{x:.1f}' for x in os.getloadavg())})")


if __name__ == "__main__":
    main()
