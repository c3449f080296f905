"""Recipe 5b on the benchmark: piano rolls from SI-PLCA2 on the CQT, scored frame by frame.

For every mixture of the ``piano_bass`` task, :func:`nmfsep.recipes.piano_roll` (settings in
``config.json``) is computed for

* the isolated piano stem (``piano.wav``), scored against ``piano_notes`` of ``meta.json``;
* the mixture (piano + bass), scored against ``piano_notes`` + ``bass_notes``.

Metric (:func:`nmfsep.recipes.frame_scores`): the roll is binarised at ``threshold_db``
below its maximum (:func:`nmfsep.recipes.binarize_roll`); the reference roll has pitch ``p``
on at frame time ``t`` when a note of pitch ``p`` has ``onset <= t < offset``
(:func:`nmfsep.recipes.notes_to_roll`). Every (semitone, frame) cell of the roll's range
(MIDI 24-90, ~100 frames per second) counts: precision = TP / (TP + FP), recall =
TP / (TP + FN), F = 2PR / (P + R); the totals pool the counts of all mixtures.

    python recipes/piano_roll/run.py [--data ../shared/bench/data] [--split dev]
"""

import argparse
import json
import time
from pathlib import Path

from nmfsep.io import load
from nmfsep.recipes import binarize_roll, frame_scores, notes_to_roll, piano_roll

HERE = Path(__file__).resolve().parent
TASK = "piano_bass"


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=HERE.parents[2] / "shared" / "bench" / "data")
    parser.add_argument("--split", default="dev")
    parser.add_argument("--config", type=Path, default=HERE / "config.json")
    args = parser.parse_args()
    config = json.loads(args.config.read_text())
    settings = config["roll"]
    cases = {"piano stem vs piano_notes": ("piano.wav", ("piano_notes",)),
             "mixture vs piano + bass notes": ("mixture.wav", ("piano_notes", "bass_notes"))}
    totals = {case: dict(tp=0, fp=0, fn=0) for case in cases}
    lines = ["| mix | case | precision | recall | F | time (s) |", "|---|---|---|---|---|---|"]
    for mix_dir in sorted((args.data / args.split / TASK).glob("mix*")):
        meta = json.loads((mix_dir / "meta.json").read_text())
        for case, (audio, keys) in cases.items():
            waveform, sample_rate = load(mix_dir / audio)
            start = time.perf_counter()
            roll, times = piano_roll(waveform, sample_rate, **settings)
            seconds = time.perf_counter() - start
            notes = [n for key in keys for n in meta[key]]
            reference = notes_to_roll(notes, times, lowest_pitch=settings["lowest_pitch"],
                                      n_pitches=settings["n_pitches"])
            scores = frame_scores(binarize_roll(roll, config["threshold_db"]), reference)
            for count in ("tp", "fp", "fn"):
                totals[case][count] += scores[count]
            lines.append(f"| {mix_dir.name} | {case} | {scores['precision']:.3f} | "
                         f"{scores['recall']:.3f} | {scores['f_measure']:.3f} | {seconds:.1f} |")
    for case, t in totals.items():
        precision = t["tp"] / max(1, t["tp"] + t["fp"])
        recall = t["tp"] / max(1, t["tp"] + t["fn"])
        f_measure = 2 * precision * recall / max(1e-12, precision + recall)
        lines.append(f"| all (pooled) | {case} | {precision:.3f} | {recall:.3f} | "
                     f"**{f_measure:.3f}** | |")
    print(f"### piano roll, {TASK} {args.split} split, threshold {config['threshold_db']} dB\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
