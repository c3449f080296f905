"""Recipe `piano-roll` on the benchmark: piano rolls from SI-PLCA2 on the CQT, scored frame by
frame.

For every mixture of the ``piano_bass`` task, the registered recipe ``piano-roll``
(:func:`nmfsep.recipes.piano_roll` with ``get_recipe("piano-roll").settings``) is computed for

* the isolated piano stem (``piano.wav``), scored against ``piano_notes`` of ``meta.json``;
* the mixture (piano + bass), scored against ``piano_notes`` + ``bass_notes``.

Metric (:func:`nmfsep.recipes.frame_scores`): the roll is binarised at
:func:`nmfsep.recipes.binarize_roll`'s default threshold (-20 dB below its maximum); the
reference roll has pitch ``p`` on at frame time ``t`` when a note of pitch ``p`` has
``onset <= t < offset`` (:func:`nmfsep.recipes.notes_to_roll`). Every (semitone, frame) cell of
the roll's range (MIDI 24-90, ~100 frames per second) counts: precision = TP / (TP + FP),
recall = TP / (TP + FN), F = 2PR / (P + R); the totals pool the counts of all mixtures::

    python recipes/piano-roll/run.py [--data ../shared/bench/data] [--split dev]
"""

import json
import sys
import time
from pathlib import Path

from nmfsep.io import load
from nmfsep.recipes import binarize_roll, frame_scores, get_recipe, notes_to_roll

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # recipes/_common.py
from _common import (  # noqa: E402
    load_overrides,
    mixture_folders,
    parse_args,
    report,
    setup_note,
)

NAME, TASK = "piano-roll", "piano_bass"


def main():
    args = parse_args(__doc__, HERE)
    settings = load_overrides(args.config, [NAME])
    recipe, chosen = get_recipe(NAME), settings[NAME]
    cases = {"piano stem vs piano_notes": ("piano.wav", ("piano_notes",)),
             "mixture vs piano + bass notes": ("mixture.wav", ("piano_notes", "bass_notes"))}
    totals = {case: dict(tp=0, fp=0, fn=0) for case in cases}
    lines = ["| mix | case | precision | recall | F | time (s) |", "|---|---|---|---|---|---|"]
    for mix_dir in mixture_folders(args.data, args.split, TASK):
        meta = json.loads((mix_dir / "meta.json").read_text())
        for case, (audio, keys) in cases.items():
            waveform, sample_rate = load(mix_dir / audio)
            start = time.perf_counter()
            roll, times = recipe(waveform, sample_rate, settings=chosen)
            seconds = time.perf_counter() - start
            notes = [n for key in keys for n in meta[key]]
            reference = notes_to_roll(notes, times, lowest_pitch=chosen["lowest_pitch"],
                                      n_pitches=chosen["n_pitches"])
            scores = frame_scores(binarize_roll(roll), reference)
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
    report(f"### piano roll, {TASK} {args.split} split\n\n{setup_note(args, settings)}\n\n"
           + "\n".join(lines), HERE, args)


if __name__ == "__main__":
    main()
