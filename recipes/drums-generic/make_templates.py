"""Learn the generic drum templates shipped with nmfsep (``nmfsep/data/drum_templates.pt``).

Every kick, snare and hi-hat sample (every velocity layer) of the Hydrogen drum kits listed
in ``KITS`` (Debian package ``hydrogen-drumkits``) becomes one NMFD hit template
(:func:`nmfsep.recipes.hit_templates`: magnitude STFT 1024 / 256 at 22.05 kHz, 16 frames from
the onset, unit sum). The templates of each instrument are then summarised by
``--per-source`` cluster centres (spherical k-means on the square-rooted templates, i.e.
the Hellinger distance between them), which keeps the file small (< 1 MB in float16) and
the model fast.

The kits of the benchmark's dev split (ColomboAcousticDrumkit, Millo_MultiLayered2,
The Black Pearl 1.0) and BJA_Pacific (used by ``audio_examples/``) are never used.

Usage::

    python recipes/drums-generic/make_templates.py [--kits-dir /usr/share/hydrogen/data/drumkits]
        [--per-source 8] [--out nmfsep/data/drum_templates.pt] [--overwrite]
    # the kit templates of drum transcription (toms and cymbals too):
    python recipes/drums-generic/make_templates.py --sources kick snare hihat tom cymbal \
        --per-source 4 --out nmfsep/data/drum_kit_templates.pt
    # with ride cymbals as a class of their own (tried for transcription, not shipped:
    # recipes/drum-onsets/README.md); without "ride" in --sources they are cymbals
    python recipes/drums-generic/make_templates.py --sources kick snare hihat tom cymbal ride \
        --per-source 4 --out /tmp/kit_with_ride.pt
"""

from __future__ import annotations

import argparse
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import torch

from nmfsep.recipes import DRUM_SOURCES, hit_templates
from nmfsep.separation import Templates

REPO = Path(__file__).resolve().parents[2]
#: Kits used (folder names in the Hydrogen drumkits directory) and their licences
#: (from /usr/share/doc/hydrogen-drumkits/copyright).
KITS = {
    "Audiophob": "CC0",
    "ElectricEmpireKit": "GPL-2+",
    "ForzeeStereo": "GPL-2",
    "HardElectro1": "GPL-2+",
    "Millo-Drums_v.1": "GPL-2",
    "Millo_MultiLayered3": "GPL-2",
    "VariBreaks": "GPL-2+",
    "rumpf_kit_z01_h2": "CC-BY-3.0",
}
#: Never used: the dev split's kits and the audio examples' kit.
EXCLUDED = ("ColomboAcousticDrumkit", "Millo_MultiLayered2", "The Black Pearl 1.0", "BJA_Pacific")
SAMPLE_RATE = 22050


def instrument_class(name: str):
    """kick / snare / hihat / tom / ride / cymbal from a Hydrogen instrument name, or None
    (rolls, claps, percussion). Ride cymbals (bow, bell, crash/ride) are ``"ride"``; the
    other cymbals (crash, china, splash) ``"cymbal"``."""
    name = name.lower()
    if "roll" in name:
        return None
    if re.search(r"kick|bass ?drum", name):
        return "kick"
    if "snare" in name:
        return "snare"
    if re.search(r"\bhh\b|hat|hi-hat", name):
        return "hihat"
    if re.search(r"\btom\b", name):
        return "tom"
    if "ride" in name:
        return "ride"
    if re.search(r"crash|china|splash|cymbal", name):
        return "cymbal"
    return None


def kit_samples(kit_dir: Path, sources=DRUM_SOURCES) -> dict:
    """``{source: [sample paths]}`` of a kit, from its drumkit.xml (every layer)."""
    root = ET.parse(kit_dir / "drumkit.xml").getroot()
    ns = re.match(r"\{.*\}", root.tag)
    ns = ns.group(0) if ns else ""
    samples = {s: [] for s in sources}
    for instrument in root.iter(ns + "instrument"):
        source = instrument_class(instrument.findtext(ns + "name") or "")
        if source == "ride" and source not in samples:
            source = "cymbal"  # without a ride class the rides are cymbals
        if source not in samples:
            continue
        files = [layer.findtext(ns + "filename") for layer in instrument.iter(ns + "layer")]
        if not files and instrument.findtext(ns + "filename"):
            files = [instrument.findtext(ns + "filename")]
        samples[source] += [kit_dir / f for f in files if f]
    return samples


def spherical_kmeans(X: torch.Tensor, k: int, seed: int = 0, n_iter: int = 100) -> torch.Tensor:
    """Cluster the rows of ``X`` (unit norm) by cosine similarity; returns the labels."""
    g = torch.Generator().manual_seed(seed)
    n = X.shape[0]
    if k >= n:
        return torch.arange(n)
    # k-means++ start on the cosine distance
    centres = [int(torch.randint(n, (1,), generator=g))]
    for _ in range(1, k):
        distance = (1 - X @ X[centres].t()).clamp_min(0).amin(1)
        centres.append(int(torch.multinomial(distance + 1e-12, 1, generator=g)))
    C = X[centres].clone()
    labels = None
    for _ in range(n_iter):
        new = (X @ C.t()).argmax(1)
        if labels is not None and torch.equal(new, labels):
            break
        labels = new
        for j in range(k):
            members = X[labels == j]
            if len(members):
                C[j] = torch.nn.functional.normalize(members.sum(0), dim=0)
    return labels


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kits-dir", type=Path, default=Path("/usr/share/hydrogen/data/drumkits"))
    parser.add_argument("--per-source", type=int, default=8, help="templates kept per instrument")
    parser.add_argument("--out", type=Path, default=REPO / "nmfsep" / "data" / "drum_templates.pt")
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--float32", action="store_true", help="store float32 (default float16)")
    parser.add_argument("--sources", nargs="+", default=list(DRUM_SOURCES),
                        choices=list(DRUM_SOURCES) + ["tom", "ride", "cymbal"],
                        help="instruments to learn (default kick snare hihat; the kit templates "
                             "for transcription add tom cymbal)")
    args = parser.parse_args(argv)
    assert not set(KITS) & set(EXCLUDED)

    hits = {s: [] for s in args.sources}
    for kit in KITS:
        for source, files in kit_samples(args.kits_dir / kit, args.sources).items():
            hits[source] += files
            print(f"{kit:22s} {source:6s} {len(files):3d} samples", file=sys.stderr)
    every = hit_templates(hits, SAMPLE_RATE, sources=args.sources)  # (513, R, 16), unit sum
    W = every.W.double()
    components = torch.tensor(every.components)
    kept, owners = [], []
    for s, source in enumerate(every.sources):
        mine = W[:, components == s]                       # (freq, n, T)
        features = torch.nn.functional.normalize(mine.sqrt().permute(1, 0, 2).reshape(mine.shape[1], -1), dim=1)
        labels = spherical_kmeans(features, args.per_source)
        for j in labels.unique().tolist():
            centre = mine[:, labels == j].mean(1)
            kept.append(centre / centre.sum())
            owners.append(s)
        print(f"{source}: {mine.shape[1]} hit templates -> {int(labels.unique().numel())} centres",
              file=sys.stderr)
    W = torch.stack(kept, 1).to(torch.float32 if args.float32 else torch.float16)
    templates = Templates(W, every.sources, tuple(owners), every.sample_rate, every.front_end,
                          every.settings)
    path = templates.save(args.out, overwrite=args.overwrite)
    print(f"{templates!r} -> {path} ({path.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
