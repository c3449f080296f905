"""Drums versus the rest on real studio songs: nmfsep against librosa HPSS and the oracle.

Runs on the real-music benchmark (``../shared/bench/real/dev``: seven MDB Drums songs, mono,
44.1 kHz; every ``<Song>/`` holds ``mixture.flac``, ``drums.flac``, ``rest.flac`` and
``meta.json``). For every song, in one process:

* **nmfsep drums-harmonic**: :func:`nmfsep.recipes.separate_drums_harmonic` with its
  defaults (the recipe ``drums-harmonic`` without hits: the two-resolution HPSS cascade),
  stems ``drums`` and ``rest`` (the recipe's ``harmonic``) -> ``OUT/nmfsep/<Song>/``;
* **transcription** (nmfsep only, unless ``--no-transcription``):
  :func:`nmfsep.recipes.drum_onsets` on the mixture (``accompaniment=True``) ->
  ``onsets.json``, and on ``drums.flac`` alone (``accompaniment=False``) ->
  ``onsets_drums.json``, each ``{"kick": [s...], "snare": [...], "hihat": [...]}``;
* **librosa HPSS, margin 1 and margin 2**: ``librosa.decompose.hpss`` of
  ``librosa.stft(n_fft=2048, hop_length=512)`` (kernel 31, power 2), the percussive part as
  drums, rest = mixture - drums -> ``OUT/hpss_m1/<Song>/``, ``OUT/hpss_m2/<Song>/``;
* **oracle Wiener**: the mask ``|D|² / (|D|² + |R|²)`` from the true stems' STFTs (same
  STFT) on the mixture's, rest = mixture - drums -> ``OUT/oracle/<Song>/`` (the ceiling of a
  single-resolution mask).

Each contender's separation and each transcription is timed (wall clock, file I/O excluded;
every contender first runs once on a 3 s excerpt, not timed, so that one-off costs such as
librosa's numba compilation stay out). Every contender's folder is then scored by the
benchmark's ``real_score.py`` (a subprocess: SDR of drums and rest, onset F-measure at 50 ms
per class) and one Markdown table is printed: per contender mean / drums / rest SDR (dB),
transcription F of the mixture and of the drums alone (nmfsep only) and the real-time factor
of the separation (audio seconds / compute seconds); then the transcription's real-time
factors and a per-song table for nmfsep (SDR of drums and rest, F and F of the drums alone
per class). The records are also kept in ``OUT/summary.json``.

Usage::

    .venv/bin/python benchmarks/real_music.py                      # all songs, temporary OUT
    .venv/bin/python benchmarks/real_music.py --out /tmp/real --songs Rock Britpop
    .venv/bin/python benchmarks/real_music.py --no-transcription --threads 1

The songs are licensed for evaluation only (CC BY-NC-SA 4.0): ``--out`` may not lie inside
the repository, so that nothing derived from them is committed by accident.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
#: The benchmark's real-music dev songs beside this checkout: ``../shared/bench/real/dev``.
DEFAULT_DATA = ROOT.parent / "shared" / "bench" / "real" / "dev"
N_FFT, HOP = 2048, 512
CONTENDERS = {  # folder: label in the table
    "nmfsep": "nmfsep drums-harmonic",
    "hpss_m1": "librosa HPSS margin 1",
    "hpss_m2": "librosa HPSS margin 2",
    "oracle": "oracle Wiener",
}
CLASSES = ("kick", "snare", "hihat")
WARM_UP_SECONDS = 3.0


# --------------------------------------------------------------------------- the contenders
# numpy / librosa only (no torch at import): end_to_end.py runs this in a bare child process.
def librosa_hpss_drums(mixture: np.ndarray, margin: float, *, n_fft: int = N_FFT,
                       hop_length: int = HOP) -> np.ndarray:
    """Percussive part of ``mixture (..., samples)`` by librosa's HPSS, channel by channel.

    ``librosa.decompose.hpss`` (median filters of 31 bins / frames, power 2) with ``margin``
    on ``librosa.stft(n_fft, hop_length)``; the accompaniment is ``mixture - drums``.
    """
    import librosa  # noqa: PLC0415

    flat = np.asarray(mixture).reshape(-1, np.shape(mixture)[-1])
    drums = np.empty_like(flat)
    for c, channel in enumerate(flat):
        X = librosa.stft(channel, n_fft=n_fft, hop_length=hop_length)
        _, percussive = librosa.decompose.hpss(X, margin=margin)
        drums[c] = librosa.istft(percussive, n_fft=n_fft, hop_length=hop_length,
                                 length=channel.shape[-1])
    return drums.reshape(np.shape(mixture))


def oracle_wiener_drums(mixture: np.ndarray, drums: np.ndarray, rest: np.ndarray, *,
                        n_fft: int = N_FFT, hop_length: int = HOP) -> np.ndarray:
    """Drums by the oracle Wiener mask (power 2) of the true stems on the mixture's STFT."""
    import librosa  # noqa: PLC0415

    def spec(x):
        return librosa.stft(x, n_fft=n_fft, hop_length=hop_length)

    D, R = np.abs(spec(drums)) ** 2, np.abs(spec(rest)) ** 2
    mask = D / np.maximum(D + R, np.finfo(D.dtype).tiny)
    return librosa.istft(mask * spec(mixture), n_fft=n_fft, hop_length=hop_length,
                         length=mixture.shape[-1])


def _nmfsep_drums(mixture, sample_rate):
    """The registered ``drums-harmonic`` recipe with its settings (``nmfsep separate``'s)."""
    from nmfsep.recipes import get_recipe  # noqa: PLC0415

    stems = get_recipe("drums-harmonic")(mixture, sample_rate)
    return stems["drums"], stems["harmonic"]


def _numpy_contender(drums_of):
    """A contender computing drums from numpy arrays, rest = mixture - drums, as tensors."""
    def separate(mixture, sample_rate, references):
        import torch  # noqa: PLC0415

        x = mixture.numpy()
        drums = drums_of(x, references)
        return torch.from_numpy(drums), torch.from_numpy(x - drums)
    return separate


SEPARATE = {
    "nmfsep": lambda mixture, sample_rate, references: _nmfsep_drums(mixture, sample_rate),
    "hpss_m1": _numpy_contender(lambda x, refs: librosa_hpss_drums(x, 1.0)),
    "hpss_m2": _numpy_contender(lambda x, refs: librosa_hpss_drums(x, 2.0)),
    "oracle": _numpy_contender(lambda x, refs: oracle_wiener_drums(
        x, refs[0].numpy(), refs[1].numpy())),
}


def transcribe(recording, sample_rate, accompaniment):
    """``{class: [seconds]}`` of the registered ``drum-onsets`` recipe with its settings
    (``nmfsep transcribe``'s; tensors to lists)."""
    from nmfsep.recipes import get_recipe  # noqa: PLC0415

    onsets = get_recipe("drum-onsets")(recording, sample_rate, accompaniment=accompaniment)
    return {name: [round(float(t), 6) for t in times.tolist()] for name, times in onsets.items()}


# --------------------------------------------------------------------------- scoring
def score(scorer: Path, est: Path, data: Path) -> list:
    """Per-song records of ``real_score.py EST --data DATA --per-song --json``."""
    out = est / "scores.json"
    done = subprocess.run([sys.executable, str(scorer), str(est), "--data", str(data),
                           "--per-song", "--json", str(out)], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{scorer} failed on {est} ({done.returncode}):\n{done.stdout}{done.stderr}")
    return json.loads(out.read_text())


def _mean(records, key):
    values = [r[key] for r in records if key in r]
    return statistics.mean(values) if values else None


def _cell(value, digits=2):
    return "—" if value is None else f"{value:.{digits}f}"


def _factor(value):
    """A real-time factor: ``163x``, ``9.4x``."""
    return f"{value:.0f}x" if value >= 10 else f"{value:.1f}x"


def summary_table(scores: dict, rtf: dict) -> str:
    head = ["contender", "mean SDR", "drums SDR", "rest SDR", "F mixture", "F drums alone",
            "real-time factor"]
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for name, records in scores.items():
        cells = [_cell(_mean(records, k)) for k in ("SDR", "drums_SDR", "rest_SDR")]
        cells += [_cell(_mean(records, k), 3) for k in ("F", "F_drums")]
        lines.append(f"| {CONTENDERS[name]} | " + " | ".join(cells) + f" | {_factor(rtf[name])} |")
    return "\n".join(lines)


def song_table(records: list, seconds: dict) -> str:
    keys = ["drums_SDR", "rest_SDR", "SDR", "F"] + [f"F_{c}" for c in CLASSES] \
        + ["F_drums"] + [f"F_drums_{c}" for c in CLASSES]
    head = ["song", "audio s", "drums SDR", "rest SDR", "mean SDR", "F", "F kick", "F snare",
            "F hihat", "F drums", "F drums kick", "F drums snare", "F drums hihat"]
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for r in records + [dict({k: _mean(records, k) for k in keys}, song="mean")]:
        audio = sum(seconds.values()) / len(seconds) if r["song"] == "mean" else seconds[r["song"]]
        cells = [_cell(r.get(k), 2 if "SDR" in k else 3) for k in keys]
        lines.append(f"| {r['song']} | {audio:.1f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- main
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help=f"folder of song folders (default {DEFAULT_DATA})")
    parser.add_argument("--out", type=Path, default=None,
                        help="estimates folder, outside the repository (default: a temporary one)")
    parser.add_argument("--songs", nargs="+", default=None, metavar="SONG",
                        help="only these songs (folder names, e.g. Rock Britpop)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--no-transcription", action="store_true",
                        help="separate only; no drum_onsets, no F columns")
    parser.add_argument("--scorer", type=Path, default=None,
                        help="the scorer (default: real_score.py two folders above --data)")
    args = parser.parse_args(argv)

    data = args.data.resolve()
    all_songs = sorted(p.name for p in data.glob("*") if (p / "mixture.flac").is_file()) \
        if data.is_dir() else []
    if not all_songs:
        parser.exit(2, f"real_music.py: no song folders (<Song>/mixture.flac) under '{args.data}'. "
                       "The real-music benchmark lives in ../shared/bench/real/dev beside the "
                       "repository; pass --data to point elsewhere.\n")
    songs = args.songs or all_songs
    unknown = sorted(set(songs) - set(all_songs))
    if unknown:
        parser.exit(2, f"real_music.py: unknown songs {unknown}; known: {all_songs}\n")
    scorer = (args.scorer or data.parents[1] / "real_score.py").resolve()
    if not scorer.is_file():
        parser.exit(2, f"real_music.py: the scorer '{scorer}' does not exist; pass --scorer.\n")
    out = (args.out or Path(tempfile.mkdtemp(prefix="nmfsep_real_"))).resolve()
    if out == ROOT or ROOT in out.parents:
        parser.exit(2, f"real_music.py: --out '{out}' lies inside the repository; the songs are "
                       "for evaluation only, write their estimates elsewhere (e.g. /tmp).\n")
    if songs != all_songs:  # the scorer scores every song of --data: give it the subset only
        subset = Path(tempfile.mkdtemp(prefix="nmfsep_real_songs_"))
        for song in songs:
            (subset / song).symlink_to(data / song, target_is_directory=True)
        score_data = subset
    else:
        score_data = data

    import torch  # noqa: PLC0415

    from nmfsep.io import load  # noqa: PLC0415
    from nmfsep.separation import write_stems  # noqa: PLC0415

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _timing import machine_summary  # noqa: PLC0415

    torch.set_num_threads(args.threads)
    transcription = not args.no_transcription
    print(machine_summary(), file=sys.stderr)

    # one untimed run of everything on an excerpt: imports, numba compilation, first allocations
    excerpt, rate = load(data / songs[0] / "mixture.flac", duration=WARM_UP_SECONDS)
    references = [load(data / songs[0] / f"{stem}.flac", duration=WARM_UP_SECONDS)[0]
                  for stem in ("drums", "rest")]
    for separate in SEPARATE.values():
        separate(excerpt, rate, references)
    if transcription:
        transcribe(excerpt, rate, True)
        transcribe(references[0], rate, False)

    seconds = {name: 0.0 for name in CONTENDERS}
    onset_seconds = {"mixture": 0.0, "drums alone": 0.0}
    audio = {}
    for song in songs:
        folder = data / song
        mixture, rate = load(folder / "mixture.flac")
        references = [load(folder / f"{stem}.flac")[0] for stem in ("drums", "rest")]
        audio[song] = mixture.shape[-1] / rate
        times = []
        for name, separate in SEPARATE.items():
            start = time.perf_counter()
            drums, rest = separate(mixture, rate, references)
            elapsed = time.perf_counter() - start
            seconds[name] += elapsed
            times.append(f"{name} {elapsed:.2f}")
            write_stems({"drums": drums, "rest": rest}, out / name / song, rate,
                        overwrite=True, subtype="FLOAT")
        if transcription:
            for key, recording, accompaniment, file in (
                    ("mixture", mixture, True, "onsets.json"),
                    ("drums alone", references[0], False, "onsets_drums.json")):
                start = time.perf_counter()
                onsets = transcribe(recording, rate, accompaniment)
                elapsed = time.perf_counter() - start
                onset_seconds[key] += elapsed
                times.append(f"onsets ({key}) {elapsed:.2f}")
                (out / "nmfsep" / song / file).write_text(json.dumps(onsets))
        print(f"{song}: {audio[song]:.1f} s of audio; seconds: " + ", ".join(times),
              file=sys.stderr, flush=True)

    scores = {name: score(scorer, out / name, score_data) for name in CONTENDERS}
    total = sum(audio.values())
    rtf = {name: total / seconds[name] for name in CONTENDERS}
    print(f"### Real music: {len(songs)} songs, {total:.0f} s, mono 44.1 kHz "
          f"({', '.join(songs)}); torch threads {torch.get_num_threads()}\n")
    print(summary_table(scores, rtf))
    print(f"\nSeparation seconds for the {total:.0f} s: " + ", ".join(
        f"{CONTENDERS[n]} {seconds[n]:.1f}" for n in CONTENDERS)
        + ". librosa runs numpy/scipy (one core); nmfsep torch.")
    if transcription:
        print("Transcription (nmfsep.recipes.drum_onsets): " + ", ".join(
            f"{key} {s:.1f} s = {_factor(total / s)} real time" for key, s in onset_seconds.items()))
    print("\n#### nmfsep drums-harmonic, per song\n")
    print(song_table(scores["nmfsep"], audio))
    print(f"\nEstimates and scores in {out}")
    (out / "summary.json").write_text(json.dumps(dict(
        songs=songs, audio_seconds=audio, separation_seconds=seconds,
        transcription_seconds=onset_seconds if transcription else None,
        threads=torch.get_num_threads(), scores=scores), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
