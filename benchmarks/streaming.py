"""Streaming drum separation: look-ahead, real-time budget and quality against the offline recipe.

Measures :class:`nmfsep.separation.StreamingSeparator` as built by
:func:`nmfsep.recipes.drum_stream` (what ``nmfsep stream --recipe drums`` runs):

* **look-ahead**: measured, not read off the attribute: a change of the input at sample
  ``t`` must leave every stem sample before ``t - lookahead`` bit-identical (checked on a
  drums3 mixture at several ``t``);
* **speed** at 44.1 kHz on one core (``torch.set_num_threads(1)``), 3 drum sources with the
  kit's hits of drums3 (and with the generic templates), the drums3 mixtures resampled to
  44.1 kHz one after another: the time of every ``process`` call by block size, its worst
  case against the block's duration (the real-time budget: a live callback must return
  within it) and the real-time factor (audio seconds per second of computing), in wall and in
  the thread's CPU time; a **control** (a fixed workload of the same mean cost, timed as the
  blocks) shows how much of the worst block is the machine's (preemption on a busy machine);
* with ``--baseline OLD``: the kit-hits signal through another version of the separator and
  this one, their blocks interleaved (the same load for both), ``--rounds`` times: CPU time
  (median of the rounds) and the largest difference of their outputs. ``OLD`` is a tree
  holding another ``nmfsep`` package (all of it: its core too, imported under another name),
  or one ``streaming.py`` (run with this checkout's core)::

      mkdir -p /tmp/base && git archive HEAD nmfsep | tar -x -C /tmp/base
      .venv/bin/python benchmarks/streaming.py --data ../shared/bench/data \\
          --skip-quality --blocks 512 --baseline /tmp/base --rounds 5

* **quality** on the benchmark's drums3 split with the kit's hits, at its 22.05 kHz: mean SDR
  (BSS Eval v4, 512 taps, as ``score.py``) of the streamed stems against the offline
  ``drums`` recipe (:func:`nmfsep.recipes.separate_drums` with the registered settings), and
  onset F-measure (±50 ms against ``meta.json``'s events) of the stream's triggers against the
  offline ``drum-onsets`` recipe (:func:`nmfsep.recipes.drum_onsets`,
  ``accompaniment=False``: drum recordings).

Prints a Markdown table of the issue's targets and the details::

    .venv/bin/python benchmarks/streaming.py --data ../shared/bench/data
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from separation import side_material  # noqa: E402

from nmfsep.evaluation import bss_eval  # noqa: E402
from nmfsep.io import load  # noqa: E402
from nmfsep.recipes import (  # noqa: E402
    DRUM_SOURCES,
    drum_stream,
    get_recipe,
    onset_f_measure,
)
from nmfsep.separation import trigger_times  # noqa: E402

from _common import reference_onsets  # noqa: E402 - recipes/, put on sys.path by separation

TASK = "drums3"
SPEED_RATE = 44100


def mixtures(data: Path, split: str):
    """``(name, mixture (1, samples), rate, references (3, samples), hits, meta_dir, meta)``."""
    for mix_dir in sorted((data / split / TASK).glob("mix*")):
        meta = json.loads((mix_dir / "meta.json").read_text())
        mixture, rate = load(mix_dir / "mixture.wav")
        references = torch.stack([load(mix_dir / f"{s}.wav")[0][0] for s in DRUM_SOURCES])
        yield (mix_dir.name, mixture, rate, references, side_material(TASK, mix_dir, meta, False),
               mix_dir, meta)


def measured_lookahead(separator, mixture: torch.Tensor) -> int:
    """The smallest ``L`` such that changing the input from ``t`` on changes no stem sample
    before ``t - L``, over several ``t`` (stems from the stream, delay compensated)."""
    base = separator.separate(mixture)
    g = torch.Generator().manual_seed(0)
    worst = 0
    for t in torch.linspace(0.2, 0.8, 7).mul(mixture.shape[-1]).long().tolist():
        changed = mixture.clone()
        changed[..., t:] += 0.1 * torch.randn(changed[..., t:].shape, generator=g)
        stems = separator.separate(changed)
        first = min(int(torch.nonzero((stems[s] != base[s]).any(0))[0]) for s in stems
                    if not torch.equal(stems[s], base[s]))
        worst = max(worst, t - first)
    return worst


def speed(separator, signal: torch.Tensor, block: int, clock=time.perf_counter):
    """Seconds of every ``process`` call streaming ``signal`` in blocks of ``block`` on
    ``clock``: (mean, worst, real-time factor)."""
    times = []
    separator.reset()
    for piece in signal.split(block, -1):
        start = clock()
        separator.process(piece)
        separator.pop_triggers()
        times.append(clock() - start)
    return statistics.mean(times), max(times), signal.shape[-1] / separator.sample_rate / sum(times)


def operation_overhead(n: int = 20000):
    """Seconds (wall, CPU) of one torch addition of 1025 floats: the per-operation cost that
    dominates a frame's small operations."""
    x = torch.rand(1, 1025)
    for _ in range(1000):
        x + 1
    wall, cpu = time.perf_counter(), time.thread_time()
    for _ in range(n):
        x + 1
    return (time.perf_counter() - wall) / n, (time.thread_time() - cpu) / n


def load_streaming_module(path: Path):
    """Another version of the streaming module.

    ``path`` is either a folder holding an ``nmfsep`` package (``git archive HEAD nmfsep | tar
    -x -C path``), imported whole under the name ``nmfsep_baseline`` (its core, masks and I/O
    with it; its core and pipeline import each other relatively), or one ``streaming.py``
    (``git show HEAD~1:nmfsep/_pipeline/streaming.py > old.py``), run as a module of this
    checkout's pipeline."""
    if path.is_dir():
        copy = Path(tempfile.mkdtemp(prefix="streaming_baseline_"))
        shutil.copytree(path / "nmfsep", copy / "nmfsep_baseline")
        sys.path.insert(0, str(copy))
        return importlib.import_module("nmfsep_baseline.pipeline.streaming")
    name = "nmfsep._pipeline._streaming_baseline"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module                       # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def interleaved(separators: dict, signal: torch.Tensor, block: int):
    """Stream ``signal`` through every separator with their blocks interleaved (the same load
    for each, on a busy machine): ``{name: (x real time in CPU time, worst block CPU
    seconds, output)}``."""
    times = {name: [] for name in separators}
    outputs = {name: [] for name in separators}
    for separator in separators.values():
        separator.reset()
    for k, piece in enumerate(signal.split(block, -1)):
        names = list(separators)
        for name in names[k % len(names):] + names[:k % len(names)]:   # take turns first
            start = time.thread_time()
            outputs[name].append(separators[name].process(piece))
            separators[name].pop_triggers()
            times[name].append(time.thread_time() - start)
    seconds = signal.shape[-1] / SPEED_RATE
    return {name: (seconds / sum(times[name]), max(times[name]), torch.cat(outputs[name], -1))
            for name in separators}


def control(seconds: float, blocks: int):
    """A fixed workload timed as the stream's blocks: ``blocks`` times as many torch additions
    of 1025 floats as cost ``seconds`` of CPU. Its worst block is the machine's (preemption,
    other processes' cache traffic), not the separator's: ``(worst wall, worst CPU, mean CPU)``
    in seconds."""
    x = torch.rand(1, 1025)
    count = max(1, round(seconds / operation_overhead()[1]))
    walls, cpus = [], []
    for _ in range(blocks):
        wall, cpu = time.perf_counter(), time.thread_time()
        for _ in range(count):
            x + 1
        walls.append(time.perf_counter() - wall)
        cpus.append(time.thread_time() - cpu)
    return max(walls), max(cpus), statistics.mean(cpus)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=HERE.parents[1] / "shared" / "bench" / "data")
    parser.add_argument("--split", default="dev")
    parser.add_argument("--blocks", type=int, nargs="+", default=[64, 256, 512, 1024, 4096],
                        help="block sizes of the speed measurement (samples at 44.1 kHz)")
    parser.add_argument("--budget-block", type=int, default=512,
                        help="the block size of the targets' speed row (default 512: 11.6 ms)")
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--options", type=json.loads, default={}, metavar="JSON",
                        help="StreamingSeparator options for every stream, e.g. "
                             "'{\"nmfd\": \"sum\", \"n_iter\": 4}' (the ablations of the README)")
    parser.add_argument("--baseline", type=Path, metavar="OLD",
                        help="also stream the kit-hits signal through another version of the "
                             "separator, blocks interleaved with this one (--budget-block), and "
                             "compare their CPU time and outputs: a folder holding an nmfsep "
                             "package (git archive HEAD nmfsep | tar -x -C OLD), or one "
                             "streaming.py (run with this checkout's core)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="interleaved passes with --baseline (their median is reported)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    data = list(mixtures(args.data, args.split))
    if not data:
        print(f"no {TASK} mixtures under {args.data / args.split}", file=sys.stderr)
        return 1
    name, mixture, rate, _, hits, _, _ = data[0]

    # ---- look-ahead, measured on a mixture of the benchmark
    separator = drum_stream(rate, hits=hits, **args.options)
    lookahead = measured_lookahead(separator, mixture)
    lookahead_ms = 1000 * lookahead / rate
    print(f"look-ahead at {rate} Hz: attribute {separator.lookahead} samples "
          f"({1000 * separator.lookahead_seconds:.1f} ms), measured {lookahead} samples "
          f"({lookahead_ms:.1f} ms); trigger latency <= "
          f"{1000 * separator.trigger_latency_seconds:.1f} ms", flush=True)

    # ---- speed at 44.1 kHz, one core
    from nmfsep._pipeline._backend import require_torchaudio  # noqa: PLC0415

    resample = require_torchaudio().functional.resample
    signal = torch.cat([resample(m[1], m[2], SPEED_RATE) for m in data], -1)
    seconds = signal.shape[-1] / SPEED_RATE
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    if not args.skip_speed:
        print(f"\nspeed: {seconds:.0f} s of drums3 at {SPEED_RATE} Hz, 1 thread, torch "
          f"{torch.__version__}, {os.cpu_count()} CPUs, load average {load:.1f} at the start. "
          f"Wall: elapsed time; CPU: the thread's CPU time (what the work costs on a core of "
          f"its own, without waiting for a busy machine's other processes)")
        overhead = operation_overhead()
        print(f"one torch addition of 1025 floats: {1e6 * overhead[0]:.1f} us wall, "
              f"{1e6 * overhead[1]:.1f} us CPU")
        print("| templates | components | block | block ms | mean ms wall / CPU | worst ms wall / "
              "CPU | worst / block, wall / CPU | x real time, wall / CPU |")
        print("|---|---|---|---|---|---|---|---|")
    budget = None
    for label, options in (() if args.skip_speed else (("kit hits", dict(hits=hits)),
                                                         ("generic", {}))):
        streamer = drum_stream(SPEED_RATE, **options, **args.options)
        streamer.separate(signal[..., :SPEED_RATE])  # warm up
        for block in args.blocks:
            wall = speed(streamer, signal, block)
            cpu = speed(streamer, signal, block, time.thread_time)
            duration = block / SPEED_RATE
            print(f"| {label} | {streamer.W.shape[1]} | {block} | {1000 * duration:.2f} | "
                  f"{1000 * wall[0]:.2f} / {1000 * cpu[0]:.2f} | "
                  f"{1000 * wall[1]:.1f} / {1000 * cpu[1]:.1f} | "
                  f"{100 * wall[1] / duration:.0f} / {100 * cpu[1] / duration:.0f} % | "
                  f"{wall[2]:.1f} / {cpu[2]:.1f} |", flush=True)
            if label == "kit hits" and block == args.budget_block:
                budget = (wall[2], cpu[2], wall[1] / duration, cpu[1] / duration)
                fixed = control(cpu[0], -(-signal.shape[-1] // block))
    if budget is not None:
        print(f"\ncontrol: a fixed workload of the same mean CPU time ({1000 * fixed[2]:.2f} ms) "
              f"timed as the {-(-signal.shape[-1] // args.budget_block)} blocks of "
              f"{args.budget_block}: worst {1000 * fixed[0]:.1f} ms wall / {1000 * fixed[1]:.1f} "
              f"ms CPU ({100 * fixed[0] / (args.budget_block / SPEED_RATE):.0f} / "
              f"{100 * fixed[1] / (args.budget_block / SPEED_RATE):.0f} % of a block): the "
              f"machine's share of the worst block")

    if args.baseline is not None:
        current = drum_stream(SPEED_RATE, hits=hits, **args.options)
        module = load_streaming_module(args.baseline)
        t = current.templates  # as the baseline's own Templates (its separator checks the type)
        templates = sys.modules[module.__name__.rsplit(".", 1)[0] + ".templates"].Templates(
            t.W, t.sources, t.components, t.sample_rate, t.front_end, t.settings)
        before = module.StreamingSeparator(templates, **args.options)
        for separator in (current, before):
            separator.separate(signal[..., :SPEED_RATE])  # warm up
        print(f"\nblocks of {args.budget_block} interleaved with {args.baseline}, kit hits, "
              f"load average {os.getloadavg()[0]:.1f} at the start:")
        rounds = []
        for k in range(args.rounds):
            runs = interleaved({"baseline": before, "this checkout": current}, signal,
                               args.budget_block)
            difference = (runs["baseline"][2] - runs["this checkout"][2]).abs().max()
            rounds.append({name: factor for name, (factor, _, _) in runs.items()})
            print(f"round {k + 1}: " + "; ".join(
                f"{name} {factor:.1f}x real time (CPU), worst block {1000 * worst:.1f} ms CPU"
                for name, (factor, worst, _) in runs.items())
                + f"; largest difference of their outputs {float(difference):.1e}", flush=True)
        medians = {name: statistics.median(r[name] for r in rounds) for name in rounds[0]}
        print("median of the rounds: " + ", ".join(f"{name} {factor:.1f}x"
                                                   for name, factor in medians.items())
              + f" ({medians['this checkout'] / medians['baseline']:.2f} times); load average "
              f"{os.getloadavg()[0]:.1f} at the end")

    load_after = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")

    # ---- quality against the offline recipe
    quality = None
    if not args.skip_quality:
        print(f"\nquality on {TASK} ({args.split}) with the kit's hits at {rate} Hz")
        print("| mix | offline SDR | stream SDR | offline onset F | stream onset F |")
        print("|---|---|---|---|---|")
        rows = []
        for name, mixture, rate, references, hits, mix_dir, meta in data:
            offline = get_recipe("drums")(mixture, rate, hits=hits)
            separator = drum_stream(rate, hits=hits, **args.options)
            streamed, triggers = separator.separate(mixture, return_triggers=True)
            sdr = []
            for stems in (offline, streamed):
                estimates = torch.stack([stems[s][0] for s in DRUM_SOURCES]).double()
                sdr.append(float(bss_eval(references.double(), estimates)["sdr"].mean()))
            truth = reference_onsets(mix_dir, meta)
            found = (get_recipe("drum-onsets")(mixture, rate, hits=hits, accompaniment=False),
                     trigger_times(triggers, separator.sources))
            f = [statistics.mean(onset_f_measure(truth[s], onsets[s], window=0.05)["f_measure"]
                                 for s in DRUM_SOURCES) for onsets in found]
            rows.append((*sdr, *f))
            print(f"| {name} | {sdr[0]:.2f} | {sdr[1]:.2f} | {f[0]:.3f} | {f[1]:.3f} |", flush=True)
        quality = [statistics.mean(column) for column in zip(*rows)]
        print(f"| mean | {quality[0]:.2f} | {quality[1]:.2f} | {quality[2]:.3f} | "
              f"{quality[3]:.3f} |")

    if not args.skip_speed:
        print(f"\nload average at the end of the speed rows: {load_after:.1f} (1 minute)")
    print("\n| measure | target | result | met |")
    print("|---|---|---|---|")

    def row(measure, target, result, met):
        print(f"| {measure} | {target} | {result} | {'yes' if met else 'no'} |")

    row("look-ahead (measured)", "<= 50 ms", f"{lookahead_ms:.1f} ms", lookahead_ms <= 50)
    if budget is not None:
        row(f"speed, 3 drum sources, {SPEED_RATE} Hz, one core, blocks of {args.budget_block} "
            f"(wall / CPU)", ">= 20x real time", f"{budget[0]:.1f}x / {budget[1]:.1f}x",
            budget[1] >= 20)
        row(f"worst block of {args.budget_block} (wall / CPU)", "<= 25 % of its duration",
            f"{100 * budget[2]:.0f} % / {100 * budget[3]:.0f} %", budget[3] <= 0.25)
    if quality is not None:
        row("mean SDR, stream vs offline `drums` (drums3, hits)", "within 1.5 dB",
            f"{quality[1]:.2f} vs {quality[0]:.2f} dB ({quality[1] - quality[0]:+.2f})",
            quality[1] >= quality[0] - 1.5)
        row("onset F, triggers vs offline `drum_onsets`", "within 0.03",
            f"{quality[3]:.3f} vs {quality[2]:.3f} ({quality[3] - quality[2]:+.3f})",
            quality[3] >= quality[2] - 0.03)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
