"""Time to a good fit: the ``time-to-loss`` section of ``benchmarks/speed.py``.

    python benchmarks/speed.py --sections time-to-loss --threads 2 --plot loss_vs_time.png
    python benchmarks/speed.py --sections time-to-loss --quick --ttl-cases nmf2,nmf1

For each case, every contender starts from the same float32 data and initial factors:

1. the peers run their default solver for 200 iterations (scikit-learn: coordinate descent at
   beta 2, its MU otherwise; torchnmf: MU; nmf-torch: ``halsvar`` at beta 2); the lowest
   loss among them is the *target*;
2. every other contender (nmfsep ``mu`` and ``auto``, the peers' other solvers, and the peers
   whose 200 iterations did not reach the target) is traced one iteration at a time up to
   ``CAP_FACTOR`` x 200 iterations, to find the first iteration at
   which its loss is at or under the target (one float64 formula for all: ``beta_div`` of the
   float32 reconstruction);
3. each contender then runs exactly that many iterations through its public API, the
   contenders alternating within each round (:func:`_timing.alternate`): the median is its
   *time to the target*, and ``paired_ratio`` against nmfsep ``auto`` says how many times
   faster ``auto`` is. A contender that never reaches the target is timed over its cap and
   shown as ``> t``.

The plot (``--plot PNG``) draws each contender's loss against time, the time axis of an
iteration being its index times the contender's timed seconds per iteration (MU, HALS and
coordinate descent cost the same every iteration; nmfsep ``auto``'s iterations differ by the
rare rejected extrapolation, which is averaged).

Cases (``--ttl-cases``; full size, ``--quick`` in brackets): NMF of a spectrogram-like V
4000 x 1025 [1000 x 513], rank 32 [16], beta 2, 1 and 0.5 (``nmf2``, ``nmf1``, ``nmf0.5``);
NMFD of V 1025 x 2000 [513 x 500], T 16 [8], rank 8, beta 2 and 1 (``nmfd2``, ``nmfd1``);
``BatchNMF`` of 64 [16] spectrograms of 128 x 513 [64 x 257], rank 16 [8], beta 1
(``batch``; the peers fit the items in a loop).
"""

from __future__ import annotations

import contextlib
import io
import math
import sys
import time
import warnings
from typing import Dict, List, Tuple

import numpy as np
import torch

from nmfsep._core.updates import flush_denormal
from nmfsep.metrics import beta_div
from nmfsep.nmf import NMF, NMFD, BatchNMF

from _timing import alternate, median, paired_ratio

#: Iterations of the peers' default solvers that set the target.
REFERENCE_ITERS = 200
#: The other contenders are traced up to this many times REFERENCE_ITERS.
CAP_FACTOR = 1.5
CASES = ("nmf2", "nmf1", "nmf0.5", "nmfd2", "nmfd1", "batch")
BETA_NAMES = {2.0: "frobenius", 1.0: "kullback-leibler", 0.0: "itakura-saito"}


# -- the problems -------------------------------------------------------------------------------

class Problem:
    """Data, initial factors and the one loss formula of a case.

    ``kind`` is ``"nmf"`` (V (N, C) ≈ H Wᵀ), ``"nmfd"`` (V (1, C, L)) or ``"batch"``
    (V (B, N, C) ≈ H[b] W[b]ᵀ).
    """

    def __init__(self, key, title, kind, beta, V, W0, H0):
        self.key, self.title, self.kind, self.beta = key, title, kind, beta
        self.V, self.W0, self.H0 = V, W0, H0

    def reconstruct(self, W, H):
        if self.kind == "nmfd":
            return NMFD.reconstruct(H, W)
        return torch.matmul(H, W.transpose(-1, -2))

    def loss(self, W, H) -> float:
        with torch.no_grad():
            return float(beta_div(self.reconstruct(W, H).double(), self.V.double(), self.beta))


def make_problems(keys, quick: bool, spectrogram, initial_factors) -> List[Problem]:
    problems = []
    F_, frames, rank = (513, 1000, 16) if quick else (1025, 4000, 32)
    V = spectrogram(F_, frames).t().contiguous()  # (frames, freq) ≈ H Wᵀ
    W0, H0 = initial_factors(V, rank, [(F_, rank), (frames, rank)])
    for beta in (2.0, 1.0, 0.5):
        problems.append(Problem(f"nmf{beta:g}", f"NMF {frames}x{F_} rank {rank} beta={beta:g}", "nmf",
                                beta, V, W0, H0))
    F_, L, T, rank = (513, 500, 8, 8) if quick else (1025, 2000, 16, 8)
    Vd = spectrogram(F_, L, seed=2).unsqueeze(0)
    Wd, Hd = initial_factors(Vd, rank * T, [(F_, rank, T), (1, rank, L - T + 1)])
    for beta in (2.0, 1.0):
        problems.append(Problem(f"nmfd{beta:g}", f"NMFD {F_}x{L} T {T} rank {rank} beta={beta:g}", "nmfd",
                                beta, Vd, Wd, Hd))
    clips, F_, frames, rank = (16, 257, 64, 8) if quick else (64, 513, 128, 16)
    Vb = torch.stack([spectrogram(F_, frames, seed=10 + b).t() for b in range(clips)]).contiguous()
    Wb, Hb = initial_factors(Vb, rank, [(clips, F_, rank), (clips, frames, rank)], seed=4)
    problems.append(Problem("batch", f"BatchNMF {clips} x ({frames}x{F_}) rank {rank} beta=1", "batch",
                            1.0, Vb, Wb, Hb))
    return [p for p in problems if p.key in keys]


# -- contenders ---------------------------------------------------------------------------------
# Each has ``trace(n, stop)`` (losses after iterations 1..n, stopping early once ``stop(loss)``)
# and ``run(k)`` (k iterations through the library's public API, what is timed).

class Nmfsep:
    def __init__(self, problem: Problem, solver: str):
        self.p, self.solver = problem, solver
        self.cls = {"nmf": NMF, "nmfd": NMFD, "batch": BatchNMF}[problem.kind]

    def _fit(self, k, callback=None):
        model = self.cls(W=self.p.W0, H=self.p.H0)
        # tol < 0: k iterations; the loss is checked only at the end (as the recipes call it)
        model.fit(self.p.V, beta=self.p.beta, tol=-1, max_iter=k, check_every=k, solver=self.solver,
                  callback=callback)
        return model

    def trace(self, n, stop):
        losses = []

        def record(model, n_iter, loss):
            losses.append(self.p.loss(model.W.detach(), model.H.detach()))
            return not stop(losses[-1])

        self._fit(n, record)
        return losses

    def run(self, k):
        self._fit(k)


class Stepper:
    """A peer traced by one-iteration calls of its own update (stateless between iterations)."""

    def start(self) -> None:
        raise NotImplementedError

    def step(self) -> None:
        raise NotImplementedError

    def factors(self) -> Tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def trace(self, n, stop):
        self.start()
        losses = []
        for _ in range(n):
            self.step()
            losses.append(self.p.loss(*self.factors()))
            if stop(losses[-1]):
                break
        return losses


class Torchnmf(Stepper):
    def __init__(self, problem: Problem, module):
        self.p, self.module = problem, module

    def _models(self):
        if self.p.kind == "batch":  # one NMF per item, fitted in a loop
            return [(self.module.NMF(W=self.p.W0[b].clone(), H=self.p.H0[b].clone()), self.p.V[b])
                    for b in range(self.p.V.shape[0])]
        cls = self.module.NMF if self.p.kind == "nmf" else self.module.NMFD
        return [(cls(W=self.p.W0.clone(), H=self.p.H0.clone()), self.p.V)]

    def start(self):
        self.models = self._models()

    def step(self):
        for model, V in self.models:  # tol = -inf: torchnmf stops on a non-decrease otherwise
            model.fit(V, beta=self.p.beta, tol=-math.inf, max_iter=1)

    def factors(self):
        W = [m.W.detach() for m, _ in self.models]
        H = [m.H.detach() for m, _ in self.models]
        return (torch.stack(W), torch.stack(H)) if self.p.kind == "batch" else (W[0], H[0])

    def run(self, k):
        for model, V in self._models():
            model.fit(V, beta=self.p.beta, tol=-math.inf, max_iter=k)


class Sklearn(Stepper):
    """scikit-learn on X = Vᵀ (its natural layout, C-contiguous), W updated first as nmfsep."""

    def __init__(self, problem: Problem, solver: str):
        from sklearn.decomposition import _nmf

        self.p, self.solver, self._nmf = problem, solver, _nmf
        items = problem.V if problem.kind == "batch" else problem.V.unsqueeze(0)
        W0 = problem.W0 if problem.kind == "batch" else problem.W0.unsqueeze(0)
        H0 = problem.H0 if problem.kind == "batch" else problem.H0.unsqueeze(0)
        self.X = [v.t().numpy().copy() for v in items]
        self.init = [(w.numpy().copy(), h.t().numpy().copy()) for w, h in zip(W0, H0)]

    def start(self):
        self.state = [(w.copy(), h.copy()) for w, h in self.init]

    def step(self):
        # one iteration of the functions scikit-learn's NMF loops over (no state between them)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for i, (X, (W, H)) in enumerate(zip(self.X, self.state)):
                if self.solver == "cd":
                    W, H, _ = self._nmf._fit_coordinate_descent(X, W, H, tol=0, max_iter=1)
                else:
                    W, H, _ = self._nmf._fit_multiplicative_update(
                        X, W, H, beta_loss=self.p.beta, max_iter=1, tol=0)
                self.state[i] = (W, H)

    def factors(self):
        W = torch.stack([torch.from_numpy(w) for w, _ in self.state])
        H = torch.stack([torch.from_numpy(np.ascontiguousarray(h.T)) for _, h in self.state])
        return (W, H) if self.p.kind == "batch" else (W[0], H[0])

    def run(self, k):
        from sklearn.decomposition import NMF as SklearnNMF

        for X, (W, H) in zip(self.X, self.init):
            model = SklearnNMF(n_components=W.shape[1], solver=self.solver, init="custom", tol=0, max_iter=k,
                               beta_loss=BETA_NAMES.get(self.p.beta, self.p.beta))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # ConvergenceWarning: max_iter reached, by design
                model.fit_transform(X, W=W.copy(), H=H.copy())


class NmfTorch(Stepper):
    """nmf-torch's batch HALS (``halsvar``: inner sweeps to a 5 % change, its default) or BPP,
    on X = V (N, C) ≈ H W with W (R, C), started from our factors."""

    def __init__(self, problem: Problem, algo: str):
        from nmf.nmf_models import NMFBatchHALS, NMFBatchNnlsBpp

        self.p, self.algo = problem, algo
        self.cls = NMFBatchHALS if algo == "halsvar" else NMFBatchNnlsBpp

    def _model(self, k):
        p = self.p
        model = self.cls(n_components=p.W0.shape[1], init="random", beta_loss=2.0, tol=0.0, random_state=0,
                         alpha_W=0.0, l1_ratio_W=0.0, alpha_H=0.0, l1_ratio_H=0.0, fp_precision="float",
                         device_type="cpu", n_jobs=-1, max_iter=k)

        def initialise(*args, **kwargs):
            model.H, model.W = p.H0.clone(), p.W0.t().contiguous()

        model._initialize_H_W = initialise
        return model

    def start(self):
        from nmf.nmf_models._nmf_batch_base import NMFBatchBase

        self.model = self._model(1)
        with contextlib.redirect_stdout(io.StringIO()):
            NMFBatchBase.fit(self.model, self.p.V)  # data, factors and cached products, no iteration

    def step(self):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # BPP calls the deprecated torch.cholesky
            self.model._update_H()
            self.model._update_W()

    def factors(self):
        return self.model.W.t(), self.model.H

    def run(self, k):
        # it prints its loss every 10 iterations; BPP calls the deprecated torch.cholesky
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._model(k).fit(self.p.V)


def contenders_for(problem: Problem, peers, quick: bool) -> Tuple[Dict[str, object], List[str]]:
    """The contenders of a case, and the names of the peers' defaults (the target's setters)."""
    contenders: Dict[str, object] = {"nmfsep auto": Nmfsep(problem, "auto"),
                                     "nmfsep mu": Nmfsep(problem, "mu")}
    defaults = []
    if problem.kind == "nmf" and problem.beta == 2:
        contenders["nmfsep hals"] = Nmfsep(problem, "hals")
    if "sklearn" in peers and problem.kind != "nmfd":
        if problem.kind == "nmf" and problem.beta == 2:
            contenders["sklearn cd"] = Sklearn(problem, "cd")
            defaults.append("sklearn cd")
        contenders["sklearn mu"] = Sklearn(problem, "mu")
        if not defaults or defaults[-1] != "sklearn cd":
            defaults.append("sklearn mu")
    if "torchnmf" in peers:
        contenders["torchnmf"] = Torchnmf(problem, peers["torchnmf"])
        defaults.append("torchnmf")
    if "nmf-torch" in peers and problem.kind == "nmf" and problem.beta == 2:
        contenders["nmf-torch halsvar"] = NmfTorch(problem, "halsvar")
        if quick:  # its BPP (a Cython solve per column) takes ~0.4 s per iteration here already
            contenders["nmf-torch bpp"] = NmfTorch(problem, "bpp")
        defaults.append("nmf-torch halsvar")
    return contenders, defaults


# -- the section --------------------------------------------------------------------------------

def issue_reference(problem: Problem) -> str:
    """The peer whose 200-iteration loss issue 14's targets name for this case."""
    if problem.kind == "nmfd":
        return "torchnmf"
    if problem.kind == "nmf":
        return "sklearn cd" if problem.beta == 2 else "sklearn mu"
    return ""  # batches: the best peer


def run_time_to_loss_section(args, peers, out, spectrogram, initial_factors) -> List[dict]:
    keys = [k.strip() for k in args.ttl_cases.split(",")]
    unknown = set(keys) - set(CASES)
    if unknown:
        raise ValueError(f"unknown time-to-loss cases {sorted(unknown)}; choose from {','.join(CASES)}")
    problems = make_problems(keys, args.quick, spectrogram, initial_factors)
    cap = int(CAP_FACTOR * REFERENCE_ITERS)
    out(f"\n## time-to-loss: time to the loss the peers' default solvers reach in {REFERENCE_ITERS} "
        f"iterations (the issue's reference peer, and the best peer), {args.rounds} alternating rounds, "
        f"float32\n")
    rows = []
    for problem in problems:
        contenders, defaults = contenders_for(problem, peers, args.quick)
        with flush_denormal(torch.device("cpu")):
            traces = {name: contenders[name].trace(REFERENCE_ITERS, lambda loss: False) for name in defaults}
            if not traces:
                out(f"### {problem.title}: no peer to set a target, skipped\n")
                continue
            best = min(traces, key=lambda name: traces[name][-1])
            setters = [name for name in (issue_reference(problem), best) if name in traces]
            setters = list(dict.fromkeys(setters))
            targets = {name: traces[name][-1] for name in setters}
            lowest = min(targets.values())
            for name, contender in contenders.items():
                if name not in traces or (name != best and min(traces[name]) > lowest):
                    began = time.perf_counter()
                    traces[name] = contender.trace(cap, lambda loss: loss <= lowest)
                    print(f"  (traced {name}: {len(traces[name])} it in {time.perf_counter() - began:.0f} s)",
                          file=sys.stderr, flush=True)
            reached = {(name, setter): next((i + 1 for i, loss in enumerate(traces[name]) if loss <= target), None)
                       for name in contenders for setter, target in targets.items()}
            iters = {key: hit or len(traces[key[0]]) for key, hit in reached.items()}
            runs = {f"{name} {k}": (lambda c=contenders[name], k=k: c.run(k))
                    for (name, _), k in iters.items()}
            seconds = alternate(runs, args.rounds, args.clock_fn)
        out(f"### {problem.title}")
        for setter, target in targets.items():
            out(f"target: {setter}'s loss after {REFERENCE_ITERS} iterations, {target:.6e}"
                + (" (the best peer)" if setter == best else " (the issue's reference)"))
            times = {name: seconds[f"{name} {iters[name, setter]}"] for name in contenders}
            for name in sorted(contenders, key=lambda name: median(times[name])):
                hit = reached[name, setter]
                line = f"  {name:18s} {'' if hit else '>'}{median(times[name]):7.3f} s  {iters[name, setter]:4d} it"
                ratio = paired_ratio(times[name], times["nmfsep auto"])
                if name != "nmfsep auto":
                    line += f"  auto {'' if hit else '>'}{ratio:5.2f}x faster"
                line += "" if hit else f"  (not reached; loss {min(traces[name]):.6e})"
                out(line)
                rows.append({"case": problem.title, "key": problem.key, "contender": name, "setter": setter,
                             "target": target, "seconds": median(times[name]),
                             "iterations": iters[name, setter], "reached": hit is not None,
                             "ratio": ratio, "curve": traces[name]})
        out("")
    if args.plot and rows:
        plot_loss_against_time(rows, args.plot)
        out(f"loss against time: {args.plot}")
    return rows


def plot_loss_against_time(rows: List[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cases = list(dict.fromkeys(row["case"] for row in rows))
    columns = min(3, len(cases))
    lines = -(-len(cases) // columns)
    fig, axes = plt.subplots(lines, columns, figsize=(5.5 * columns, 4.2 * lines), squeeze=False)
    for ax, case in zip(axes.flat, cases):
        mine = [row for row in rows if row["case"] == case]
        targets = dict((row["setter"], row["target"]) for row in mine)
        # one curve per contender: the row of its longest timed run (the best rate estimate)
        longest = {}
        for row in mine:
            if row["iterations"] >= longest.get(row["contender"], {"iterations": -1})["iterations"]:
                longest[row["contender"]] = row
        floor = min(min(row["curve"]) for row in mine)
        for row in sorted(longest.values(), key=lambda r: r["contender"]):
            per_iteration = row["seconds"] / row["iterations"]
            curve = np.asarray(row["curve"])
            times = per_iteration * np.arange(1, len(curve) + 1)
            style = "-" if row["contender"].startswith("nmfsep") else "--"
            ax.plot(times, curve - floor * (1 - 1e-4), style, label=row["contender"])
        for (setter, target), style in zip(targets.items(), (":", "-.")):
            ax.axhline(target - floor * (1 - 1e-4), color="k", lw=0.8, ls=style, label=f"target: {setter}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(case, fontsize=9)
        ax.set_xlabel("seconds")
        ax.set_ylabel("loss - (lowest loss seen) + 1e-4 of it")
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(cases):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
