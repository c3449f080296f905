"""Recipe 1 on the benchmark: kick / snare / hi-hat with NMFD templates from the kit's hits.

Separates every ``drums3`` mixture with :func:`nmfsep.recipes.drum_onsets` (which runs
:func:`nmfsep.recipes.separate_drums` and picks each instrument's onsets from the
activations) and the settings of ``config.json``, writes the stems as
``OUT/<split>/drums3/<mix>/<stem>.wav``, scores them with the benchmark's ``score.py``,
scores the onsets against ``meta.json``'s ``events`` (F-measure, ±50 ms) and prints Markdown
tables: per-mixture and mean SDR / SIR / SAR, onset F-measure, seconds per mixture. With
``--readme`` the tables replace the results section of this folder's README.md.

The other drum recipes run the same script with their own config (``recipe``:
``"drums-generic"`` uses no hits)::

    python recipes/drums_with_hits/run.py [--data ../shared/bench/data] [--out EST] [--readme]
    python recipes/drums_generic/run.py --readme
    python recipes/drum_onsets/run.py --readme
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from nmfsep.io import load
from nmfsep.recipes import DRUM_SOURCES, drum_onsets, generic_templates, onset_f_measure
from nmfsep.separation import write_stems

HERE = Path(__file__).resolve().parent
TASK = "drums3"
BEGIN, END = "<!-- results: written by run.py -->", "<!-- end of results -->"


def kit_hits(mix_dir: Path, meta: dict) -> dict:
    """``{stem: [hit files]}`` from the kit's hits.json (the hits listed in meta.json)."""
    listing = json.loads((mix_dir / meta["hits_json"]).read_text())
    folder = (mix_dir / meta["hits_json"]).resolve().parent
    listed = {(mix_dir / h).resolve() for h in meta["hits"]}
    hits = {}
    for hit in listing["hits"]:
        if hit["drums3_stem"] and folder / hit["file"] in listed:
            hits.setdefault(hit["drums3_stem"], []).append(folder / hit["file"])
    return hits


def reference_onsets(mix_dir: Path, meta: dict) -> dict:
    """``{stem: [onset seconds]}`` of meta.json's events, roles mapped to stems by hits.json."""
    listing = json.loads((mix_dir / meta["hits_json"]).read_text())
    stem_of = {hit["role"]: hit["drums3_stem"] for hit in listing["hits"]}
    onsets = {s: [] for s in DRUM_SOURCES}
    for time_s, role, *_ in meta["events"]:
        stem = stem_of.get(role) or ("hihat" if role.startswith("hh") else role)
        onsets[stem].append(time_s)
    return onsets


def separation_table(records, seconds, f_measures):
    metrics = ("SDR", "SIR", "SAR")
    mixes = sorted({r["mix"] for r in records})
    value = {(r["mix"], r["stem"], m): r[m] for r in records for m in metrics}
    head = (["mix"] + [f"{s} {m}" for s in DRUM_SOURCES for m in metrics]
            + ["mean SDR", "onset F", "time (s)"])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for mix in mixes + ["mean"]:
        chosen = mixes if mix == "mean" else [mix]

        def avg(stem, metric):
            return statistics.mean(value[(x, stem, metric)] for x in chosen)

        cells = [f"{avg(s, m):.2f}" for s in DRUM_SOURCES for m in metrics]
        mean_sdr = statistics.mean(avg(s, "SDR") for s in DRUM_SOURCES)
        f = statistics.mean(f_measures[x][s] for x in chosen for s in DRUM_SOURCES)
        t = statistics.mean(seconds[x] for x in chosen)
        lines.append(f"| {mix} | " + " | ".join(cells) + f" | **{mean_sdr:.2f}** | {f:.3f} | {t:.2f} |")
    return "\n".join(lines)


def onset_table(f_measures, counts):
    head = ["mix"] + [f"{s} F" for s in DRUM_SOURCES] + ["mean F", "onsets (ref / est)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    mixes = sorted(f_measures)
    for mix in mixes + ["mean"]:
        chosen = mixes if mix == "mean" else [mix]
        cells = [f"{statistics.mean(f_measures[x][s] for x in chosen):.3f}" for s in DRUM_SOURCES]
        mean = statistics.mean(f_measures[x][s] for x in chosen for s in DRUM_SOURCES)
        n_ref = sum(counts[x][0] for x in chosen)
        n_est = sum(counts[x][1] for x in chosen)
        lines.append(f"| {mix} | " + " | ".join(cells) + f" | **{mean:.3f}** | {n_ref} / {n_est} |")
    return "\n".join(lines)


def main(folder: Path = HERE, argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=HERE.parents[2] / "shared" / "bench" / "data")
    parser.add_argument("--split", default="dev")
    parser.add_argument("--out", type=Path, default=None, help="estimates folder (default: temporary)")
    parser.add_argument("--config", type=Path, default=folder / "config.json")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1: steady timings on a shared machine)")
    parser.add_argument("--readme", action="store_true", help="write the tables into README.md")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    config = json.loads(args.config.read_text())
    use_hits = config["recipe"] == "drums"
    out = args.out or Path(tempfile.mkdtemp(prefix="nmfsep_drums_"))
    seconds, f_measures, counts = {}, {}, {}
    for mix_dir in sorted((args.data / args.split / TASK).glob("mix*")):
        meta = json.loads((mix_dir / "meta.json").read_text())
        mixture, sample_rate = load(mix_dir / "mixture.wav")
        hits = kit_hits(mix_dir, meta) if use_hits else None
        # drums-generic is separate_drums with the three-instrument generic templates
        templates = None if use_hits else generic_templates()
        start = time.perf_counter()
        onsets, stems = drum_onsets(mixture, sample_rate, hits=hits, templates=templates,
                                    return_stems=True, **config["onsets"], **config["separate"])
        seconds[mix_dir.name] = time.perf_counter() - start
        write_stems(stems, out / args.split / TASK / mix_dir.name, sample_rate, overwrite=True)
        reference = reference_onsets(mix_dir, meta)
        scores = {s: onset_f_measure(reference[s], onsets[s], window=0.05) for s in DRUM_SOURCES}
        f_measures[mix_dir.name] = {s: scores[s]["f_measure"] for s in DRUM_SOURCES}
        counts[mix_dir.name] = (sum(v["n_reference"] for v in scores.values()),
                                sum(v["n_estimate"] for v in scores.values()))
        print(f"{mix_dir.name} ({meta['kit']}): {seconds[mix_dir.name]:.2f} s", file=sys.stderr)
    scores_file = out / "scores.json"
    subprocess.run([sys.executable, str(args.data.parent / "score.py"), str(out), "--ref",
                    str(args.data), "--splits", args.split, "--tasks", TASK, "--json",
                    str(scores_file)], check=True, stdout=subprocess.DEVNULL)
    records = json.loads(scores_file.read_text())
    mode = "the kit's hits" if use_hits else "the generic templates (no hits)"
    text = "\n".join([
        f"Recipe `{config['recipe']}` on the `{TASK}` {args.split} split ({len(seconds)} mixtures), "
        f"with {mode}; torch {torch.__version__}, {args.threads} thread(s). SDR / SIR / SAR in dB "
        f"from `score.py`; onset F-measure within ±50 ms of `meta.json`'s events; time = "
        f"seconds per mixture (5 s of audio) for the whole recipe (STFT, fits, masks, inverse "
        f"STFT, onsets).", "",
        separation_table(records, seconds, f_measures), "",
        "Onsets per instrument:", "",
        onset_table(f_measures, counts)])
    print(text)
    if args.readme:
        readme = folder / "README.md"
        content = readme.read_text()
        head, _, rest = content.partition(BEGIN)
        _, _, tail = rest.partition(END)
        readme.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
