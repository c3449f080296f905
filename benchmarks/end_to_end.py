"""Wall time, CPU time and peak memory of the recipes end to end: audio file in, stems written.

    python benchmarks/end_to_end.py                  # all but piano-bass, 3 min, 44.1 kHz, 3 rounds
    python benchmarks/end_to_end.py --quick          # 30 s, one round
    python benchmarks/end_to_end.py --threads 1 --minutes 1 --keep /tmp/stems
    python benchmarks/end_to_end.py --only drums --rounds 1 --no-api --baseline /tmp/base
    python benchmarks/end_to_end.py --only drums drums-generic piano-bass --layouts stereo mono
    python benchmarks/end_to_end.py --only drums-harmonic  # only the drums-harmonic part
    python benchmarks/end_to_end.py --lengths 1.5 3 6 --only drums drums-harmonic transcribe

The drum recording is built from the drum example's stems (``audio_examples/drums_stems``,
the 6 s rock pattern at 22.05 kHz): resampled to 44.1 kHz, tiled to ``--minutes`` with every
instrument's level varied from one tile to the next (±4 dB, seeded), panned like
``drums_mix_stereo.wav`` (the gains in ``audio_examples/meta.json``), peak-normalised to 0.9
and written as a 16-bit stereo WAV file into a temporary folder, with a mono version (the
channels' mean). The piano-bass recording is made alike from ``audio_examples/piano_bass_stems``
(the piano panned a little to the left, the bass in the middle).

Then, in turn within each round (the order rotating from round to round), for every recipe
part (``drums``, ``drums-generic``, and ``piano-bass`` when ``--only`` names it: 20 CPU s
for 3 minutes of stereo) and every ``--layouts`` (default stereo):

* **CLI**: ``nmfsep separate MIX --recipe RECIPE ... --out DIR --overwrite --quiet`` in a
  subprocess, exactly as a user runs it (``make example`` runs the drums command on the 6 s
  example): ``drums`` with ``--hits audio_examples/hits``, ``drums-generic`` with nothing
  else, ``piano-bass`` with ``--templates`` dictionaries learned (untimed) from
  ``audio_examples/piano_bass_train`` by ``learn_instrument_dictionaries``'s defaults at
  44.1 kHz. Wall time from the start of the process to its exit, its CPU time (user +
  system, all threads), and the child's peak resident memory (``os.wait4``: the rusage of
  that child alone, the per-child form of ``getrusage(RUSAGE_CHILDREN)``, taken by a small
  launcher process: a child's peak also counts the memory of the process it was forked from).
* **API** (``drums`` only): :func:`nmfsep.recipes.run_recipe` in this process (what the CLI
  calls: load, the ``drums`` recipe, write the stems), with a breakdown by stage: every
  stage's function is wrapped by a timer for the run (the outermost wrapped call takes the
  time, so e.g. the STFT of the hits counts as *templates* and the model parts computed during
  the fit as *fit*). Peak memory is the growth of this process's peak RSS over its RSS before
  the run.
* **baseline** (with ``--baseline TREE``): the CLI of another version, ``python -m nmfsep``
  with ``PYTHONPATH=TREE``, e.g. the last commit's from ``mkdir /tmp/base && git archive
  HEAD nmfsep | tar -x -C /tmp/base``; the speed-ups (wall and CPU) are the medians of the
  rounds' ratios.

The start-up cost (``python -c pass``, ``import torch``, ``import nmfsep.recipes``, the
interpreter's and the imports' share of the CLI's time) is measured apart, in fresh
processes. Printed: the audio's duration and size in memory (float32), medians over the
rounds of wall time, real-time factor (audio seconds per wall second), CPU seconds, peak RSS
in MiB and as a multiple of the mixture's size, the stages, the SI-SDR of the CLI's (and the
baseline's) stems against the known stems (a check that the separation is the real one), and
the load average at the start and the end. On a shared machine the same-round ratios are
what compare; CPU seconds grow with the load too (two torch threads spin while they wait).

**drums-harmonic** (the part ``--only drums-harmonic`` runs alone), on the same recording
and on a mono version of it (the channels' mean, also a 16-bit WAV), in the same rounds:

* **CLI**: ``nmfsep separate MIX --recipe drums-harmonic --out DIR --overwrite --quiet``
  (no hits: the two-resolution HPSS cascade of real recordings), measured as above (wall
  time with start-up, peak RSS of the child);
* **librosa HPSS**: a bare child process (numpy, soundfile, librosa; no torch) that reads
  the WAV, takes ``librosa.decompose.hpss`` with margin 2 of ``librosa.stft(n_fft=2048,
  hop_length=512)`` channel by channel (``real_music.librosa_hpss_drums``, the baseline of
  ``real_music.py``), drums = percussive part, rest = mixture - drums, and writes both as
  float WAVs: the same file-to-stems job, measured the same way; it also reports the seconds
  of the HPSS itself (file I/O and imports excluded);
* **API** (unless ``--no-api``): :func:`nmfsep.recipes.separate_drums_harmonic` on the
  loaded tensor in this process (file I/O excluded) with its peak RSS growth.

Printed: wall time, real-time factor and peak RSS of each, and the ratios librosa / nmfsep
(medians of the rounds' ratios) of the file-to-stems wall time, of the compute alone and of
the peak RSS. The drums stem's share of the recording's energy is printed as a check that
both ran on the real data (the recording holds drums only, but both methods leave the
sustained part of the drums, such as the kick's tonal body, to the rest: about 50-60 %).

**Memory against the length** (``--lengths MINUTES ...``: only this runs): the recording
of every length (stereo, or ``--layouts``), and through the CLI every ``--only`` part
(default: all five) in turn, rounds rotating as above (default one round): the recipes as
above (``drums-harmonic`` without hits), and ``transcribe``: ``nmfsep transcribe MIX --hits
audio_examples/hits --out DIR`` (:func:`nmfsep.recipes.drum_onsets` on the mixture, with
the accompaniment). Printed per part: peak RSS (the highest over the rounds), wall and CPU
seconds (medians) at every length, with ``--baseline`` the other tree's beside them; then
the growth of the peak per minute of audio (least squares over the lengths) against the
audio's own size per minute: the float32 mixture and the stems the recipe returns (the
input and the output, which the process must hold; none for ``transcribe``).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List, NamedTuple, Optional

import soundfile as sf
import torch

from nmfsep.evaluation import si_sdr

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import machine_summary, median, peak_rss_bytes, reset_peak_rss, rss_bytes

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "audio_examples"
HITS = EXAMPLES / "hits"
SOURCES = ("kick", "snare", "hihat")
PIANO_BASS = ("piano", "bass")
SR = 44100
MiB = 2.0 ** 20
#: The recipes measured through the CLI on a recording of their own kind (with a baseline
#: and the SI-SDR of their stems), and the drums-harmonic comparison with librosa.
RECIPES = ("drums", "drums-generic", "piano-bass")
PARTS = RECIPES + ("drums-harmonic",)
#: What runs without ``--only``: piano-bass (20 CPU s a stereo round, an older baseline
#: minutes) runs when asked for.
DEFAULT_PARTS = ("drums", "drums-generic", "drums-harmonic")
LAYOUTS = ("stereo", "mono")
#: What ``--lengths`` measures, with the number of stems each returns (the output it holds).
MEMORY_PARTS = {"drums": 3, "drums-generic": 3, "drums-harmonic": 2, "piano-bass": 2,
                "transcribe": 0}


# --------------------------------------------------------------------------- the recordings
def tiled_recording(stem_files: Dict[str, Path], channel_gains: Dict[str, List[float]],
                    minutes: float, seed: int = 0):
    """Stereo mixture ``(2, samples)`` at 44.1 kHz and its stereo stems ``{source: (2, samples)}``.

    Tiles of the mono stems in ``stem_files`` (equally long), each source at a random level per
    tile (±4 dB, seeded), panned with constant ``channel_gains`` and peak-normalised to 0.9.
    """
    import torchaudio  # noqa: PLC0415 - the pipeline needs it anyway

    mono = {}
    for source, path in stem_files.items():
        data, rate = sf.read(path, dtype="float32")
        mono[source] = torchaudio.functional.resample(torch.from_numpy(data), rate, SR)
    tile = min(x.shape[0] for x in mono.values())
    n = round(minutes * 60 * SR)
    n_tiles = math.ceil(n / tile)
    generator = torch.Generator().manual_seed(seed)
    stems = {}
    for source in stem_files:
        gains_db = (torch.rand(n_tiles, generator=generator) - 0.5) * 8  # ±4 dB per tile
        levels = torch.repeat_interleave(10 ** (gains_db / 20), tile)[:n]
        signal = mono[source][:tile].repeat(n_tiles)[:n] * levels
        gains = torch.tensor(channel_gains[source], dtype=torch.float32)
        stems[source] = gains.view(2, 1) * signal
    mixture = sum(stems.values())
    scale = 0.9 / float(mixture.abs().max())
    return mixture * scale, {s: x * scale for s, x in stems.items()}


def drum_recording(minutes: float, seed: int = 0):
    """The drum recording: tiles of the 6 s example pattern, panned like
    ``drums_mix_stereo.wav`` (see :func:`tiled_recording`)."""
    meta = json.loads((EXAMPLES / "meta.json").read_text())["drums_mix_stereo"]
    return tiled_recording({s: EXAMPLES / meta["stems"][s] for s in SOURCES},
                           meta["channel_gains"], minutes, seed)


def piano_bass_recording(minutes: float, seed: int = 0):
    """The piano-bass recording: tiles of the example's piano and bass stems, the piano
    panned a little to the left, the bass in the middle (see :func:`tiled_recording`)."""
    files = {s: EXAMPLES / "piano_bass_stems" / f"{s}.wav" for s in PIANO_BASS}
    gains = {"piano": [math.cos(0.35 * math.pi / 2), math.sin(0.35 * math.pi / 2)],
             "bass": [math.sqrt(0.5), math.sqrt(0.5)]}
    return tiled_recording(files, gains, minutes, seed)


def piano_bass_dictionaries(path: Path) -> None:
    """The piano-bass recipe's dictionaries at 44.1 kHz from ``audio_examples/piano_bass_train``
    (:func:`learn_instrument_dictionaries`'s defaults), saved to ``path`` (not timed)."""
    from nmfsep.io import load  # noqa: PLC0415
    from nmfsep.recipes import learn_instrument_dictionaries  # noqa: PLC0415

    train = {s: load(EXAMPLES / "piano_bass_train" / f"{s}.wav", sample_rate=SR)[0]
             for s in PIANO_BASS}
    learn_instrument_dictionaries(train, SR).save(path)


# --------------------------------------------------------------------------- subprocesses
# Runs argv[1:] and prints its wall seconds and peak RSS (KiB). A child's peak RSS counts the
# memory of the process it was forked from (Linux carries the high-water mark through fork
# and exec), so the commands are started from this small launcher, not from the benchmark.
_LAUNCHER = """
import os, subprocess, sys, time
start = time.perf_counter()
process = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
err = process.stderr.read()
_, status, usage = os.wait4(process.pid, 0)
seconds = time.perf_counter() - start
code = os.waitstatus_to_exitcode(status)
sys.stderr.buffer.write(err)
print(seconds, usage.ru_maxrss, usage.ru_utime + usage.ru_stime, code)
sys.exit(code)
"""


class ChildRun(NamedTuple):
    """What :func:`run_child` measures of one process."""

    seconds: float  # wall, start to exit
    peak: int       # peak RSS, bytes
    cpu: float      # user + system CPU seconds (all its threads)


def run_child(command: List[str], env: Dict[str, str], cwd: Optional[Path] = None) -> ChildRun:
    """Wall seconds, peak RSS in bytes and CPU seconds of a fresh process running ``command``."""
    done = subprocess.run([sys.executable, "-c", _LAUNCHER, *command], env=env, cwd=cwd,
                          capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr}")
    seconds, peak_kib, cpu, _ = done.stdout.split()
    return ChildRun(float(seconds), int(peak_kib) * 1024, float(cpu))  # Linux reports KiB


def startup_costs(env: Dict[str, str], rounds: int, librosa: bool = False) -> Dict[str, tuple]:
    """Median seconds and peak RSS of fresh interpreters that only import."""
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "import torch": [sys.executable, "-c", "import torch"],
        "import nmfsep.recipes": [sys.executable, "-c", "import nmfsep.recipes"],
    }
    if librosa:  # what the HPSS child imports
        commands["import librosa"] = [sys.executable, "-c", "import soundfile, librosa; "
                                      "librosa.stft, librosa.istft, librosa.decompose.hpss"]
    results = {name: [] for name in commands}
    for _ in range(rounds):
        for name, command in commands.items():
            results[name].append(run_child(command, env))
    return {name: (median([r.seconds for r in runs]), max(r.peak for r in runs))
            for name, runs in results.items()}


# --------------------------------------------------------------------------- in process
class StageTimer:
    """Wall time of named stages, recorded by wrapping the functions that do them.

    Only the outermost wrapped call is timed: a stage's functions may call the functions of
    another stage (the hits' STFTs inside the templates) without counting twice.
    """

    def __init__(self):
        self.seconds: Dict[str, float] = {}
        self._depth = 0

    def wrap(self, stage: str, function: Callable) -> Callable:
        @functools.wraps(function)
        def timed(*args, **kwargs):
            if self._depth:
                return function(*args, **kwargs)
            self._depth += 1
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self._depth -= 1
                self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - start
        return timed

    @contextlib.contextmanager
    def patched(self, targets):
        """Replace ``(module, attribute, stage)`` targets by timed wrappers for the block."""
        saved = [(module, name, getattr(module, name)) for module, name, _ in targets]
        try:
            for module, name, stage in targets:
                setattr(module, name, self.wrap(stage, getattr(module, name)))
            yield self
        finally:
            for module, name, original in saved:
                setattr(module, name, original)


def stage_targets():
    """What each stage of the ``drums`` recipe calls, as ``(module, attribute, stage)``."""
    import nmfsep.io  # noqa: PLC0415
    import nmfsep.separation  # noqa: PLC0415
    from nmfsep._apps.recipes import drums  # noqa: PLC0415
    from nmfsep._pipeline import separation  # noqa: PLC0415
    from nmfsep.transforms import STFT  # noqa: PLC0415

    return [
        (nmfsep.io, "load", "load"),                     # run_recipe imports it at call time
        (drums, "hit_templates", "templates"),
        (STFT, "analyse", "STFT"),                       # the front end's methods, on the class
        (drums, "_fit_drum_model", "fit"),
        (separation, "source_masks", "masks"),           # what masked_stems calls
        (STFT, "synthesise", "inverse STFT"),
        (nmfsep.separation, "write_stems", "write"),     # likewise
    ]


def run_in_process(mixture_path: Path, out_dir: Path):
    """Seconds, stage seconds and peak RSS growth of :func:`run_recipe` in this process."""
    from nmfsep.recipes import run_recipe  # noqa: PLC0415

    timer = StageTimer()
    before = rss_bytes()
    reset_peak_rss()
    with timer.patched(stage_targets()):
        start = time.perf_counter()
        run_recipe("drums", mixture_path, out_dir, hits=[HITS], overwrite=True, verbose=False)
        seconds = time.perf_counter() - start
    return seconds, timer.seconds, peak_rss_bytes() - before


# --------------------------------------------------------------------------- drums-harmonic
# The file-to-stems job of librosa's HPSS (real_music.py's baseline) in a bare process: reads
# the WAV, separates channel by channel, writes float WAVs and the seconds of the HPSS alone
# (after an untimed run on 1 s of noise: librosa's first call compiles and caches ~0.5 s).
_HPSS_CHILD = """
import sys, time
from pathlib import Path
import numpy as np
import soundfile as sf
sys.path.insert(0, sys.argv[1])
from real_music import librosa_hpss_drums
source, out, margin = Path(sys.argv[2]), Path(sys.argv[3]), float(sys.argv[4])
x, rate = sf.read(source, dtype="float32", always_2d=True)
x = x.T.copy()
librosa_hpss_drums(np.random.default_rng(0).standard_normal(rate, dtype="float32"), margin)
start = time.perf_counter()
drums = librosa_hpss_drums(x, margin)
rest = x - drums
seconds = time.perf_counter() - start
out.mkdir(parents=True, exist_ok=True)
sf.write(out / "drums.wav", drums.T, rate, subtype="FLOAT")
sf.write(out / "rest.wav", rest.T, rate, subtype="FLOAT")
(out / "seconds.txt").write_text(repr(seconds))
"""
HPSS_MARGIN = 2.0


def run_hpss_child(mixture_path: Path, out_dir: Path, env: Dict[str, str]):
    """Wall seconds, peak RSS and HPSS seconds of librosa's HPSS from file to stems."""
    run = run_child([sys.executable, "-c", _HPSS_CHILD, str(Path(__file__).parent),
                     str(mixture_path), str(out_dir), str(HPSS_MARGIN)], env)
    return run.seconds, run.peak, float((out_dir / "seconds.txt").read_text())


def run_dh_in_process(mixture_path: Path):
    """Seconds and peak RSS growth of :func:`separate_drums_harmonic` on the loaded file."""
    from nmfsep.io import load  # noqa: PLC0415
    from nmfsep.recipes import separate_drums_harmonic  # noqa: PLC0415

    waveform, rate = load(mixture_path)
    separate_drums_harmonic(waveform[..., :rate], rate)  # untimed: first-call costs
    before = rss_bytes()
    reset_peak_rss()
    start = time.perf_counter()
    stems = separate_drums_harmonic(waveform, rate)
    seconds = time.perf_counter() - start
    peak = peak_rss_bytes() - before
    del stems
    return seconds, peak


def drums_share(mixture_path: Path, drums_path: Path) -> float:
    """The drums stem's share of the mixture's energy (the recording holds drums only)."""
    mixture, _ = sf.read(mixture_path, dtype="float64")
    drums, _ = sf.read(drums_path, dtype="float64")
    return float((drums ** 2).sum() / (mixture ** 2).sum())


def report_drums_harmonic(runs, layouts, duration: float, startup, rounds: int) -> None:
    """The drums-harmonic part: every contender's times and peaks, and librosa / nmfsep."""
    nmfsep_imports, librosa_imports = startup["import nmfsep.recipes"], startup["import librosa"]
    print(f"\ndrums-harmonic (no hits) against librosa HPSS margin {HPSS_MARGIN:g}, "
          f"{duration:.0f} s at {SR} Hz, {rounds} round(s), medians")
    print("  layout  contender                      wall s    RTF   peak RSS MiB (above imports)"
          "   compute s    RTF")
    for layout, mixture_bytes in layouts.items():
        cli, hpss = runs[f"dh_cli_{layout}"], runs[f"dh_hpss_{layout}"]
        api = runs.get(f"dh_api_{layout}")
        rows = [("nmfsep separate (CLI)", cli, max(r[1] for r in cli) - nmfsep_imports[1], None),
                ("librosa HPSS (child)", hpss, max(r[1] for r in hpss) - librosa_imports[1],
                 median([r[2] for r in hpss]))]
        for name, results, above, compute in rows:
            seconds, peak = median([r[0] for r in results]), max(r[1] for r in results)
            compute_cells = (f"{compute:11.2f} {duration / compute:6.1f}x" if compute is not None
                             else f"{'—':>11} {'':>7}")
            print(f"  {layout:<7} {name:<28} {seconds:8.2f} {duration / seconds:6.1f}x "
                  f"{peak / MiB:9.0f} ({above / MiB:5.0f})       {compute_cells}")
        if api:
            compute = median([s for s, _ in api])
            print(f"  {layout:<7} {'nmfsep API (in process)':<28} {'':>8} {'':>7} "
                  f"{max(m for _, m in api) / MiB:9.0f} growth       "
                  f"{compute:11.2f} {duration / compute:6.1f}x")
        wall = median([h[0] / c[0] for h, c in zip(hpss, cli)])
        peak = max(r[1] for r in hpss) / max(r[1] for r in cli)
        line = (f"  {layout}: librosa / nmfsep: file to stems {wall:.2f}x the wall time, "
                f"{peak:.2f}x the peak RSS")
        if api:
            line += f", {median([h[2] / a[0] for h, a in zip(hpss, api)]):.2f}x the compute"
        print(line + f" (the mixture: {mixture_bytes / MiB:.0f} MiB as float32)")
    print(f"  start-up in these times: nmfsep ~{nmfsep_imports[0]:.2f} s, librosa "
          f"~{librosa_imports[0]:.2f} s (fresh processes that only import)")


# --------------------------------------------------------------------------- main
def report_child(title: str, runs: List[ChildRun], duration: float, mixture_bytes: int,
                 imports) -> None:
    seconds = median([r.seconds for r in runs])
    cpu = median([r.cpu for r in runs])
    peak = max(r.peak for r in runs)
    above = peak - imports[1]
    print(f"\n{title}, {len(runs)} run(s): " + ", ".join(f"{r.seconds:.1f}" for r in runs) + " s")
    print(f"  wall {seconds:7.2f} s   real-time factor {duration / seconds:5.2f}x  "
          f"(of which start-up ~{imports[0]:.2f} s);  CPU {cpu:.1f} s (user + sys)")
    print(f"  peak RSS {peak / MiB:7.0f} MiB = {peak / mixture_bytes:.1f} x the mixture "
          f"(above the imports: {above / MiB:.0f} MiB = {above / mixture_bytes:.1f} x)")


def report_api(runs, duration: float, mixture_bytes: int) -> None:
    seconds = median([s for s, _, _ in runs])
    peak = max(m for _, _, m in runs)
    print(f"\nAPI  nmfsep.recipes.run_recipe('drums', ...) (in process, {len(runs)} run(s): "
          + ", ".join(f"{s:.1f}" for s, _, _ in runs) + " s)")
    print(f"  wall {seconds:7.2f} s   real-time factor {duration / seconds:5.2f}x")
    print(f"  peak RSS growth {peak / MiB:7.0f} MiB = {peak / mixture_bytes:.1f} x the mixture")
    print("  stage              s   share")
    for stage in dict.fromkeys(stage for _, _, stage in stage_targets()):
        stage_seconds = median([stages.get(stage, 0.0) for _, stages, _ in runs])
        print(f"  {stage:<14} {stage_seconds:7.2f}  {100 * stage_seconds / seconds:5.1f} %")
    other = median([total - sum(stages.values()) for total, stages, _ in runs])
    print(f"  {'other':<14} {other:7.2f}  {100 * other / seconds:5.1f} %"
          "  (validation, mask products, the recipe's glue)")


def stems_si_sdr(folder: Path, references: Dict[str, torch.Tensor]) -> str:
    """SI-SDR of the stems in ``folder`` against ``references`` per channel, and the mean."""
    scores = []
    for source, reference in references.items():
        estimate, _ = sf.read(folder / f"{source}.wav", dtype="float32", always_2d=True)
        estimate = torch.from_numpy(estimate.T.copy())
        scores.append(si_sdr(reference, estimate).reshape(-1).tolist())  # per channel
    cells = ", ".join(f"{s} " + " / ".join(f"{x:.2f}" for x in row)
                      for s, row in zip(references, scores))
    return cells + f"; mean {sum(map(sum, scores)) / sum(map(len, scores)):.2f}"


def recording_of(part: str) -> str:
    """The recording a part runs on: ``"piano-bass"`` or ``"drums"``."""
    return "piano-bass" if part == "piano-bass" else "drums"


def write_recordings(kind: str, minutes: float, folder: Path):
    """The ``kind`` recording (``"drums"`` or ``"piano-bass"``) as 16-bit WAVs, stereo and
    mono (the channels' mean): ``{layout: (path, references)}`` and the duration in seconds."""
    mixture, references = (drum_recording if kind == "drums" else piano_bass_recording)(minutes)
    name = kind.replace("-", "_")
    files = {}
    for layout in LAYOUTS:
        path = folder / (f"{name}_mix.wav" if layout == "stereo" else f"{name}_mix_mono.wav")
        signal = mixture if layout == "stereo" else mixture.mean(0, keepdim=True)
        sf.write(path, signal.T.numpy(), SR, subtype="PCM_16")
        files[layout] = (path, references if layout == "stereo"
                         else {s: x.mean(0, keepdim=True) for s, x in references.items()})
    return files, mixture.shape[1] / SR


def memory_command(part: str, mixture: Path, out: Path, side: Dict[str, List[str]]) -> List[str]:
    """The CLI's arguments (after ``nmfsep``) for one ``--lengths`` part."""
    if part == "transcribe":
        return ["transcribe", str(mixture), "--hits", str(HITS), "--overwrite", "--quiet",
                "--out", str(out)]
    return ["separate", str(mixture), "--recipe", part, *side.get(part, []), "--overwrite",
            "--quiet", "--out", str(out)]


def slope(xs: List[float], ys: List[float]) -> float:
    """Least-squares slope of ``ys`` against ``xs``."""
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return (sum((x - mx) * (y - my) for x, y in zip(xs, ys))
            / sum((x - mx) ** 2 for x in xs))


def memory_growth(parts, lengths: List[float], layouts: List[str], rounds: int,
                  env: Dict[str, str], baseline: Optional[Path], work: Path) -> None:
    """Peak RSS, wall and CPU time of every part's CLI at every length, and the growth of
    the peak per minute against the audio's own size (see the module docstring)."""
    nmfsep_cli = str(Path(sys.executable).with_name("nmfsep"))
    side = {"drums": ["--hits", str(HITS)]}
    if "piano-bass" in parts:
        side["piano-bass"] = ["--templates", str(work / "piano_bass_dictionaries.pt")]
        piano_bass_dictionaries(work / "piano_bass_dictionaries.pt")
    trees = {"this tree": ([nmfsep_cli], env)}
    if baseline:  # python -m from outside the repository, so that PYTHONPATH picks the package
        trees["baseline"] = ([sys.executable, "-m", "nmfsep"],
                             dict(env, PYTHONPATH=str(baseline.resolve())))
    contenders = {}
    for minutes in lengths:
        folder = work / f"{minutes:g}min"
        folder.mkdir()
        files = {kind: write_recordings(kind, minutes, folder)[0]
                 for kind in dict.fromkeys(map(recording_of, parts))}
        for part in parts:
            for layout in layouts:
                mixture = files[recording_of(part)][layout][0]
                for tree, (program, tree_env) in trees.items():
                    out = work / "out" / f"{part}_{layout}_{minutes:g}_{tree.replace(' ', '_')}"
                    contenders[(part, layout, minutes, tree)] = functools.partial(
                        run_child, program + memory_command(part, mixture, out, side), tree_env,
                        cwd=work)
    runs = {key: [] for key in contenders}
    keys = list(contenders)
    for r in range(rounds):
        for key in keys[r % len(keys):] + keys[:r % len(keys)]:
            runs[key].append(contenders[key]())
    print(f"\nPeak memory against the length (CLI, {rounds} round(s); peak RSS MiB, wall s, "
          f"CPU s)")
    for part in parts:
        for layout in layouts:
            channels = 2 if layout == "stereo" else 1
            own = (1 + MEMORY_PARTS[part]) * channels * SR * 60 * 4 / MiB  # MiB per minute
            print(f"\n  {part}, {layout}: audio's own size {own:.1f} MiB per minute (the "
                  f"float32 mixture and {MEMORY_PARTS[part]} stems)")
            print("  " + f"{'minutes':>8}" + "".join(
                f"  {tree + ': peak, wall, CPU':>32}" for tree in trees))
            for minutes in lengths:
                cells = []
                for tree in trees:
                    done = runs[(part, layout, minutes, tree)]
                    cells.append(f"{max(r.peak for r in done) / MiB:10.0f} "
                                 f"{median([r.seconds for r in done]):9.1f} "
                                 f"{median([r.cpu for r in done]):9.1f}")
                print("  " + f"{minutes:8g}" + "".join(f"  {c:>32}" for c in cells))
            if len(lengths) > 1:
                growth = {tree: slope(lengths, [max(r.peak for r in runs[(part, layout, m, tree)])
                                                / MiB for m in lengths]) for tree in trees}
                print("  growth of the peak per minute: " + ", ".join(
                    f"{tree} {g:.0f} MiB ({g / own:.2f}x the audio's own)" if own else
                    f"{tree} {g:.0f} MiB" for tree, g in growth.items()))
    print("load average at the end: " + ", ".join(f"{x:.1f}" for x in os.getloadavg()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=None,
                        help="length of the recording (default 3; 0.5 with --quick)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads here and in the CLI's process (default: torch's)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 3; 1 with --quick)")
    parser.add_argument("--keep", type=Path, metavar="DIR", default=None,
                        help="copy the mixtures and the CLI's stems to DIR")
    parser.add_argument("--quick", action="store_true", help="30 s of audio, one round")
    parser.add_argument("--no-api", action="store_true", help="skip the in-process runs")
    parser.add_argument("--only", choices=tuple(MEMORY_PARTS), nargs="+", default=None,
                        metavar="PART",
                        help=f"run these parts, of {', '.join(PARTS)} (default: all but "
                             "piano-bass): a recipe through the CLI (drums with the kit's hits, "
                             "drums-generic, piano-bass with dictionaries learned from the "
                             "example's training notes), or 'drums-harmonic' (no hits, stereo "
                             "and mono, against librosa HPSS); with --lengths also "
                             "'transcribe' (default there: all five)")
    parser.add_argument("--lengths", type=float, nargs="+", default=None, metavar="MINUTES",
                        help="measure only the peak memory of the parts' CLI at these lengths "
                             "and its growth per minute (e.g. 1.5 3 6)")
    parser.add_argument("--layouts", choices=LAYOUTS, nargs="+", default=["stereo"],
                        help="the recordings the recipes' CLI runs on (default stereo; "
                             "drums-harmonic always runs both)")
    parser.add_argument("--baseline", type=Path, metavar="TREE", default=None,
                        help="a source tree of another version (a folder holding its nmfsep/ "
                             "package, e.g. from 'git archive HEAD nmfsep | tar -x -C TREE'): "
                             "its CLI runs in turn with this tree's, on the same mixture")
    args = parser.parse_args()
    minutes = args.minutes if args.minutes is not None else (0.5 if args.quick else 3.0)
    rounds = args.rounds if args.rounds is not None else (
        1 if args.quick or args.lengths else 3)
    env = dict(os.environ)
    if args.threads:
        torch.set_num_threads(args.threads)
        # the child's torch reads these at start-up (the CLI has no threads option)
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(args.threads)
    if args.lengths:
        if min(args.lengths) <= 0:
            parser.error("--lengths must be positive numbers of minutes")
        parts = tuple(dict.fromkeys(args.only or MEMORY_PARTS))
        print(machine_summary())
        work = Path(tempfile.mkdtemp(prefix="nmfsep_memory_"))
        try:
            memory_growth(parts, sorted(set(args.lengths)), list(dict.fromkeys(args.layouts)),
                          rounds, env, args.baseline, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return
    if args.only and "transcribe" in args.only:
        parser.error("'transcribe' is measured with --lengths only")
    print(machine_summary())

    parts = DEFAULT_PARTS if args.only is None else tuple(dict.fromkeys(args.only))
    recipes = [r for r in RECIPES if r in parts]
    layouts = list(dict.fromkeys(args.layouts))
    work = Path(tempfile.mkdtemp(prefix="nmfsep_e2e_"))
    try:
        recordings, duration = {}, None
        for kind in dict.fromkeys(map(recording_of, parts)):
            recordings[kind], duration = write_recordings(kind, minutes, work)
        mixture_bytes = round(duration * SR) * 2 * 4  # stereo, as the pipeline holds it: float32
        print(f"recordings: {duration:.1f} s, stereo and mono, {SR} Hz, 16-bit WAV: "
              + ", ".join(f"{kind} ({files['stereo'][0].stat().st_size / MiB:.1f} MiB stereo)"
                          for kind, files in recordings.items())
              + f"; {mixture_bytes / MiB:.1f} MiB as float32 (stereo)")

        startup = startup_costs(env, rounds=max(rounds, 3),
                                librosa="drums-harmonic" in parts)
        nmfsep_cli = str(Path(sys.executable).with_name("nmfsep"))
        side = {"drums": ["--hits", str(HITS)], "drums-generic": []}
        if "piano-bass" in parts:
            side["piano-bass"] = ["--templates", str(work / "piano_bass_dictionaries.pt")]
            piano_bass_dictionaries(work / "piano_bass_dictionaries.pt")
        contenders = {}
        for recipe in recipes:
            kind = recording_of(recipe)
            for layout in layouts:
                path = recordings[kind][layout][0]
                options = [str(path), "--recipe", recipe, *side[recipe], "--overwrite", "--quiet",
                           "--out"]
                contenders[f"{recipe} {layout} cli"] = functools.partial(
                    run_child, [nmfsep_cli, "separate", *options,
                                str(work / recipe / layout / "cli")], env, cwd=work)
                if args.baseline:
                    # python -m from outside the repository, so that PYTHONPATH picks the package
                    baseline_env = dict(env, PYTHONPATH=str(args.baseline.resolve()))
                    contenders[f"{recipe} {layout} baseline"] = functools.partial(
                        run_child, [sys.executable, "-m", "nmfsep", "separate", *options,
                                    str(work / recipe / layout / "baseline")], baseline_env,
                        cwd=work)
        if "drums" in parts and not args.no_api:
            contenders["api"] = functools.partial(run_in_process, recordings["drums"]["stereo"][0],
                                                  work / "api")
        dh_layouts = {layout: (recordings["drums"][layout][0],
                               mixture_bytes if layout == "stereo" else mixture_bytes // 2)
                      for layout in LAYOUTS} if "drums-harmonic" in parts else {}
        for layout, (path, _) in dh_layouts.items():
            contenders[f"dh_cli_{layout}"] = functools.partial(run_child, [
                nmfsep_cli, "separate", str(path), "--recipe", "drums-harmonic",
                "--overwrite", "--quiet", "--out", str(work / f"dh_cli_{layout}")], env, cwd=work)
            contenders[f"dh_hpss_{layout}"] = functools.partial(
                run_hpss_child, path, work / f"dh_hpss_{layout}", env)
            if not args.no_api:
                contenders[f"dh_api_{layout}"] = functools.partial(run_dh_in_process, path)
        runs = {name: [] for name in contenders}
        names = list(contenders)
        for r in range(rounds):  # in turn, rotating the order, so that load hits all alike
            for name in names[r % len(names):] + names[:r % len(names)]:
                runs[name].append(contenders[name]())

        print(f"torch threads: {torch.get_num_threads()} (this process; the CLI's: "
              f"{env.get('OMP_NUM_THREADS', 'torch default')}); rounds: {rounds}, medians")
        print("\nstart-up (fresh processes)      wall s   peak RSS MiB")
        for name, (seconds, peak) in startup.items():
            print(f"  {name:<28} {seconds:8.2f}   {peak / MiB:10.0f}")
        imports = startup["import nmfsep.recipes"]
        for recipe in recipes:
            for layout in layouts:
                size = mixture_bytes // (1 if layout == "stereo" else 2)
                cli = runs[f"{recipe} {layout} cli"]
                report_child(f"CLI  nmfsep separate --recipe {recipe}, {layout}, subprocess", cli,
                             duration, size, imports)
                baseline = runs.get(f"{recipe} {layout} baseline")
                if baseline:
                    report_child(f"baseline CLI from {args.baseline}, {layout}, subprocess",
                                 baseline, duration, size, imports)
                    ratio = median([b.seconds / c.seconds for b, c in zip(baseline, cli)])
                    cpu_ratio = median([b.cpu / c.cpu for b, c in zip(baseline, cli)])
                    print(f"  this tree is {ratio:.2f}x faster in wall time, {cpu_ratio:.2f}x in "
                          f"CPU time (medians of the rounds' ratios)")
        if "api" in runs:
            report_api(runs["api"], duration, mixture_bytes)
        if dh_layouts:
            report_drums_harmonic(runs, {k: b for k, (_, b) in dh_layouts.items()}, duration,
                                  startup, rounds)
            shares = []
            for layout, (path, _) in dh_layouts.items():
                for name, folder in (("nmfsep", work / f"dh_cli_{layout}" / path.stem),
                                     ("librosa", work / f"dh_hpss_{layout}")):
                    shares.append(f"{layout} {name} {100 * drums_share(path, folder / 'drums.wav'):.1f} %")
            print("  the drums stem's share of the (drums-only) recording's energy: "
                  + ", ".join(shares))

        if recipes:
            print("\nSI-SDR of the stems against the known stems (dB, per channel):")
        for recipe in recipes:
            kind = recording_of(recipe)
            for layout in layouts:
                path, references = recordings[kind][layout]
                for name in ("cli", "baseline"):
                    folder = work / recipe / layout / name / path.stem
                    if folder.is_dir():
                        print(f"  {recipe:<13} {layout:<6} {name:<9} "
                              + stems_si_sdr(folder, references))
        print("load average at the end: " + ", ".join(f"{x:.1f}" for x in os.getloadavg()))
        if args.keep and recipes:
            args.keep.mkdir(parents=True, exist_ok=True)
            for recipe in recipes:
                kind = recording_of(recipe)
                for layout in layouts:
                    path = recordings[kind][layout][0]
                    shutil.copy2(path, args.keep / path.name)
                    shutil.copytree(work / recipe / layout / "cli" / path.stem,
                                    args.keep / recipe / layout, dirs_exist_ok=True)
            print(f"kept the mixtures and the stems in '{args.keep}'")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
