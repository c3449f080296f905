#!/usr/bin/env python
"""Make nmfsep's audio examples from real recorded samples in Debian packages.

Writes short mixtures with their exact ground-truth stems, isolated hits and
training notes, a ``meta.json`` with the drum events and the notes, and a
``README.md`` that names the sources and their licences, into ``audio_examples/``:

- ``drums_mix.wav`` = sum of ``drums_stems/{kick,snare,hihat}.wav``;
- ``drums_mix_stereo.wav``: the same stems panned to different positions;
- ``hits/{kick,snare,hihat}.wav``: one-shot hits of the same kit at a velocity
  layer that no mixture uses (for template-informed separation);
- ``piano_bass_mix.wav`` = sum of ``piano_bass_stems/{piano,bass}.wav`` and the
  isolated training notes ``piano_bass_train/{piano,bass}.wav``;
- ``drums_harmonic_mix.wav`` = sum of ``drums_harmonic_stems/{drums,harmonic}.wav``.

Drums come from the Hydrogen kit ``BJA_Pacific`` (Debian ``hydrogen-drumkits``),
piano and bass are rendered with FluidSynth from the FluidR3 GM soundfont
(Debian ``fluid-soundfont-gm``). All files are 22050 Hz, 16-bit PCM; every
mixture is the *integer* sum of its stems' PCM samples, so it is the exact sum
of the stems as read back by any WAV reader. Everything random draws from one
seed, so a run is reproducible. Use ``scripts/make_audio_examples.sh``, which
installs the packages first.

Examples
--------
$ .venv/bin/python scripts/make_audio_examples.py --out audio_examples --overwrite
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

SR = 22050
RENDER_SR = 44100  # soundfont and kit samples are 44.1 kHz; resample once with an anti-alias filter
SUBTYPE = "PCM_16"
PCM_SCALE = 32768  # soundfile maps int16 k to the float k / 32768
PEAK = 0.9  # mixture peak after normalisation (no clipping)

KIT_NAME = "BJA_Pacific"
KIT_DIR = Path("/usr/share/hydrogen/data/drumkits") / KIT_NAME
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
PIANO_PROGRAM = 0  # GM Acoustic Grand Piano ("Yamaha Grand Piano" in FluidR3)
BASS_PROGRAM = 34  # GM Electric Bass (pick) ("Picked Bass" in FluidR3)

# role -> (Hydrogen instrument name, drums3 stem, role gain in dB)
DRUM_ROLES = {
    "kick": ("BassDrum", "kick", 0.0),
    "snare": ("Snare", "snare", -1.0),
    "hh_closed": ("Hi Hat Closed", "hihat", 0.0),
}
# Velocity layers (index 0 = softest of the kit's 8; meta.json and README count from 1)
# the mixtures use, and the one the hits use.
MIX_LAYERS = {
    "kick": {"normal": 4, "accent": 6},
    "snare": {"ghost": 2, "normal": 4, "accent": 6},
    "hh_closed": {"normal": 3, "accent": 6},
}
HIT_LAYER = 5
NOTE_FORMAT = ["pitch", "onset_s", "offset_s", "velocity"]
EVENT_FORMAT = ["onset_s", "role", "velocity", "source_sample"]
STEREO_PAN = {"kick": 0.0, "snare": -0.4, "hihat": 0.6}  # -1 = left, +1 = right

MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)
TRIADS = {"maj": (0, 4, 7), "min": (0, 3, 7)}


# ----------------------------------------------------------------------------- audio helpers
def resample(x, orig_sr, target_sr=SR):
    """Resample ``x`` (..., time) with a polyphase anti-alias filter."""
    if orig_sr == target_sr:
        return x
    g = gcd(int(orig_sr), int(target_sr))
    return resample_poly(x, target_sr // g, orig_sr // g, axis=-1)


def read_mono(path, target_sr=SR):
    """Read an audio file, average its channels and resample it to ``target_sr``.

    Returns a float64 array of shape (time,).
    """
    audio, sr = sf.read(str(path), dtype="float64", always_2d=True)
    return resample(audio.mean(axis=1), sr, target_sr)


def to_pcm(x):
    """Quantise float audio in [-1, 1) to int16 PCM (raises instead of clipping)."""
    q = np.round(np.asarray(x, dtype=np.float64) * PCM_SCALE)
    if q.max(initial=0) > 32767 or q.min(initial=0) < -32768:
        raise ValueError(f"signal would clip: peak {np.abs(x).max():.3f} >= 1; lower PEAK")
    return q.astype(np.int16)


def write_wav(path, pcm, overwrite):
    """Write int16 PCM (time,) or (time, channels) atomically (temporary file + os.replace)."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass --overwrite to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".wav", dir=path.parent)
    os.close(fd)
    try:
        sf.write(tmp, pcm, SR, subtype=SUBTYPE)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_text(path, text, overwrite):
    """Write a text file atomically."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass --overwrite to replace it")
    fd, tmp = tempfile.mkstemp(suffix=path.suffix, dir=path.parent)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def rms_db(x):
    return float(20 * np.log10(np.sqrt(np.mean(np.square(x))) + 1e-12))


def mix_to_pcm(stems, gains_db):
    """Scale float stems, normalise the mixture peak to ``PEAK`` and quantise.

    Each stem is multiplied by ``10 ** (gain_db / 20)``, then all by one factor that
    puts the float mixture's peak at ``PEAK``. The stems are quantised to int16 and
    the mixture is their integer sum, so ``mix == sum(stems)`` holds exactly.

    Returns ``(mix_pcm, stems_pcm, scale)`` where ``scale`` is the overall linear factor.
    """
    scaled = {k: v * 10 ** (gains_db.get(k, 0.0) / 20) for k, v in stems.items()}
    scale = PEAK / np.abs(sum(scaled.values())).max()
    stems_pcm = {k: to_pcm(v * scale) for k, v in scaled.items()}
    total = sum(s.astype(np.int32) for s in stems_pcm.values())
    if np.abs(total).max() > 32767:
        raise ValueError("integer sum of the stems overflows int16; lower PEAK")
    return total.astype(np.int16), stems_pcm, float(scale)


def pan_gains(pan):
    """Constant-power (left, right) gains for ``pan`` in [-1, 1]."""
    theta = (pan + 1) * np.pi / 4
    return float(np.cos(theta)), float(np.sin(theta))


# ----------------------------------------------------------------------------- drums
def load_kit(kit_dir):
    """Read a Hydrogen ``drumkit.xml`` and the layers of the roles in ``DRUM_ROLES``.

    Returns ``(info, layers)``: ``info`` holds the kit's name, author and licence,
    ``layers[role]`` lists the velocity layers from softest to loudest as dicts with
    ``file``, ``min``, ``max``, ``gain`` (instrument volume x gains) and ``audio``
    (mono float64 at ``SR``).
    """
    root = ET.parse(Path(kit_dir) / "drumkit.xml").getroot()
    ns = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
    info = {k: (root.findtext(ns + k) or "").strip() for k in ("name", "author", "license")}
    by_name = {ins.findtext(ns + "name"): ins for ins in root.iter(ns + "instrument")}
    layers = {}
    for role, (inst_name, _, _) in DRUM_ROLES.items():
        if inst_name not in by_name:
            raise ValueError(f"instrument {inst_name!r} not in {kit_dir}/drumkit.xml")
        ins = by_name[inst_name]
        inst_gain = float(ins.findtext(ns + "volume", "1")) * float(ins.findtext(ns + "gain", "1"))
        found = []
        for lay in ins.iter(ns + "layer"):
            fname = lay.findtext(ns + "filename")
            found.append({
                "file": fname,
                "min": float(lay.findtext(ns + "min")),
                "max": float(lay.findtext(ns + "max")),
                "gain": inst_gain * float(lay.findtext(ns + "gain", "1")),
                "audio": read_mono(Path(kit_dir) / fname),
            })
        layers[role] = sorted(found, key=lambda d: d["min"])
    return info, layers


def drum_events(rng, tempo_bpm, n_bars, start_s, style, layers):
    """Make a kick/snare/closed-hi-hat pattern.

    Parameters
    ----------
    rng : numpy.random.Generator
    tempo_bpm : float
    n_bars : int
        Number of 4/4 bars.
    start_s : float
        Time of the first downbeat in seconds.
    style : {"rock", "backbeat"}
        ``"rock"``: varied kick patterns, snare ghost notes and a snare fill in the
        last bar; ``"backbeat"``: kick on 1 and 3, snare on 2 and 4.
    layers : dict
        From :func:`load_kit`; a velocity is drawn inside the chosen layer's range
        (Hydrogen picks the layer from the velocity and scales the sample by it).

    Returns
    -------
    list of [onset_s, role, velocity, source_sample], sorted by onset.
    """
    beat = 60.0 / tempo_bpm
    hits = []  # (beat position, role, layer kind)
    kick_patterns = [(0, 2, 2.5), (0, 1.5, 2), (0, 0.75, 2, 2.5)]
    for bar in range(n_bars):
        b0 = 4 * bar
        last = bar == n_bars - 1
        hits += [(b0 + k / 2, "hh_closed", "accent" if k % 2 == 0 else "normal") for k in range(8)]
        kicks = kick_patterns[rng.integers(len(kick_patterns))] if style == "rock" else (0, 2)
        hits += [(b0 + k, "kick", "accent" if k == 0 else "normal") for k in kicks]
        snares = [(b0 + 1, "accent")]
        if style == "rock" and last:  # fill: 16ths on beat 4, getting louder
            snares += [(b0 + 3 + k / 4, "normal" if k < 2 else "accent") for k in range(4)]
        else:
            snares.append((b0 + 3, "accent"))
        if style == "rock":
            taken = {round(p * 4) for p, _ in snares}
            for q in range(4 * b0, 4 * b0 + 16):
                if q % 2 == 1 and q not in taken and rng.random() < 0.2:
                    snares.append((q / 4, "ghost"))
        hits += [(p, "snare", kind) for p, kind in snares]
    events = []
    for pos, role, kind in hits:
        layer = layers[role][MIX_LAYERS[role][kind]]
        jitter = float(np.clip(rng.normal(0.0, 0.003), -0.006, 0.006))  # humanise by a few ms
        onset = max(0.0, start_s + pos * beat + jitter)
        onset = round(onset * SR) / SR  # on the sample grid, so meta.json is exact
        velocity = float(rng.uniform(layer["min"], layer["max"]))
        events.append([round(onset, 6), role, round(velocity, 3), layer["file"]])
    return sorted(events, key=lambda e: (e[0], e[1]))


def render_drums(events, layers, n_samples):
    """Place the events' samples into one float stem per drums3 stem name.

    Returns a dict stem -> (n_samples,) float64 (before the role gains).
    """
    stems = {stem: np.zeros(n_samples) for _, stem, _ in DRUM_ROLES.values()}
    by_file = {lay["file"]: lay for role_layers in layers.values() for lay in role_layers}
    for onset, role, velocity, fname in events:
        lay = by_file[fname]
        start = int(round(onset * SR))
        audio = lay["audio"][: max(0, n_samples - start)]
        stems[DRUM_ROLES[role][1]][start: start + len(audio)] += velocity * lay["gain"] * audio
    return stems


def onsets_by_stem(events):
    """Group event onsets by drums3 stem name: dict stem -> sorted list of seconds."""
    out = {stem: [] for _, stem, _ in DRUM_ROLES.values()}
    for onset, role, _, _ in events:
        out[DRUM_ROLES[role][1]].append(onset)
    return {k: sorted(v) for k, v in out.items()}


def role_gain(role):
    return 10 ** (DRUM_ROLES[role][2] / 20)


def drums_by_stem(events, layers, n_samples):
    """Render the drum stems with the role gains applied."""
    stems = render_drums(events, layers, n_samples)
    return {stem: stems[stem] * role_gain(role) for role, (_, stem, _) in DRUM_ROLES.items()}


# ----------------------------------------------------------------------------- MIDI + FluidSynth
def _vlq(n):
    """MIDI variable-length quantity."""
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    return bytes(reversed(out))


def write_midi(path, notes, program, end_s):
    """Write a one-track Standard MIDI File with millisecond ticks.

    ``notes`` are [pitch, onset_s, offset_s, velocity]; all on channel 0 after a
    program change to ``program``. The track ends at ``end_s`` so that the renderer
    keeps going through the release tails.
    """
    ppq = 500  # with 500000 us per quarter note one tick is 1 ms
    msgs = [(0, 0, bytes([0xC0, program]))]
    for pitch, on, off, vel in notes:
        msgs.append((round(on * 1000), 1, bytes([0x90, pitch, vel])))
        msgs.append((round(off * 1000), 0, bytes([0x80, pitch, 0])))  # offs before ons at a tick
    msgs.sort(key=lambda m: (m[0], m[1]))
    track, now = bytearray(_vlq(0) + b"\xff\x51\x03" + (500000).to_bytes(3, "big")), 0
    for tick, _, data in msgs:
        track += _vlq(tick - now) + data
        now = tick
    track += _vlq(max(0, round(end_s * 1000) - now)) + b"\xff\x2f\x00"
    header = b"MThd" + (6).to_bytes(4, "big") + (0).to_bytes(2, "big") + (1).to_bytes(2, "big")
    header += ppq.to_bytes(2, "big")
    Path(path).write_bytes(header + b"MTrk" + len(track).to_bytes(4, "big") + bytes(track))


def render_notes(notes, program, n_samples, soundfont, fluidsynth):
    """Render notes with FluidSynth (no reverb, no chorus) to mono float at ``SR``.

    FluidSynth renders at 44.1 kHz (the soundfont's rate) in float, which avoids
    dither and clipping; the result is averaged to mono, resampled and cut or padded
    to ``n_samples``. FluidSynth starts notes on 64-sample block boundaries: the sound
    begins 3-5 ms after the written onset (measured with FluidSynth 2.3.1).
    """
    with tempfile.TemporaryDirectory() as tmp:
        mid, wav = Path(tmp) / "notes.mid", Path(tmp) / "notes.wav"
        write_midi(mid, notes, program, end_s=n_samples / SR + 1.0)
        cmd = [fluidsynth, "-ni", "-q", "-R", "0", "-C", "0", "-g", "0.5", "-r", str(RENDER_SR),
               "-T", "wav", "-O", "float", "-F", str(wav), str(soundfont), str(mid)]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        audio = read_mono(wav)
    out = np.zeros(n_samples)
    out[: min(n_samples, len(audio))] = audio[:n_samples]
    return out


# ----------------------------------------------------------------------------- arrangements
def triad(root_pc, quality, low):
    """Closed-position triad: each chord tone once, at the first pitch >= ``low``."""
    return sorted(low + (root_pc + iv - low) % 12 for iv in TRIADS[quality])


def scale_pitches(key_pc, mode, lo, hi):
    return [p for p in range(lo, hi + 1) if (p - key_pc) % 12 in mode]


def arrange(rng, tempo_bpm, start_s, end_s, key_pc, mode, chords, piano_style, bass_style):
    """Make piano and bass notes for a chord progression, two beats per chord.

    Parameters
    ----------
    chords : list of (root pitch class, "maj" | "min")
        The last chord is held until ``end_s``.
    piano_style : {"comp_melody", "stabs"}
        ``"comp_melody"``: quarter-note chords (A3-B4) under a right-hand melody
        (C5-D6); ``"stabs"``: short chords on 1, 2 and the "and" of 2.
    bass_style : {"root_fifth", "eighths"}

    Returns
    -------
    piano_notes, bass_notes : lists of [pitch, onset_s, offset_s, velocity]
        Times rounded to milliseconds (the MIDI tick); notes ending after ``end_s``
        are cut there.
    """
    beat = 60.0 / tempo_bpm
    piano, bass = [], []
    scale = scale_pitches(key_pc, mode, 72, 86)
    melody_pitch = None

    def add(notes, pitch, on_beats, dur_beats, vel):
        on = start_s + on_beats * beat
        off = min(on + dur_beats * beat, end_s)
        notes.append([int(pitch), round(on, 3), round(off, 3), int(vel)])

    for i, (root, quality) in enumerate(chords):
        b0 = 2 * i
        last = i == len(chords) - 1
        span = (end_s - start_s) / beat - b0 if last else 2.0
        voicing = triad(root, quality, 57)
        if piano_style == "comp_melody":
            pulses = [(0, span)] if last else [(0, 0.9), (1, 0.9)]
        else:
            pulses = [(0, span)] if last else [(0, 0.8), (1, 0.4), (1.5, 0.4)]
        for pos, dur in pulses:
            vel = rng.integers(58, 78)
            for p in voicing:
                add(piano, p, b0 + pos, dur, vel + rng.integers(-4, 5))
        if piano_style == "comp_melody":
            chord_tones = [p for p in scale if (p - root) % 12 in TRIADS[quality]]
            rhythm = [span] if last else [[1, 1], [0.5, 0.5, 1], [1, 0.5, 0.5], [1.5, 0.5]][
                rng.integers(4)]
            pos = 0.0
            for k, dur in enumerate(rhythm):
                if k == 0 or melody_pitch is None:  # chord tone nearest to the previous note
                    ref = melody_pitch if melody_pitch is not None else 78
                    melody_pitch = min(chord_tones, key=lambda p: (abs(p - ref), p))
                else:  # step along the scale
                    j = scale.index(melody_pitch) + int(rng.choice([-2, -1, 1, 2]))
                    melody_pitch = scale[min(max(j, 0), len(scale) - 1)]
                add(piano, melody_pitch, b0 + pos, 0.95 * dur, rng.integers(78, 100))
                pos += dur
        bass_root = 28 + (root - 28) % 12  # E1..D#2
        if last:
            add(bass, bass_root, b0, span, rng.integers(88, 104))
        elif bass_style == "root_fifth":
            for pos, dur, p in [(0, 1, bass_root), (1, 0.5, bass_root), (1.5, 0.5, bass_root + 7)]:
                add(bass, p, b0 + pos, 0.9 * dur, rng.integers(84, 106))
        else:
            for k in range(4):
                p = bass_root + 12 if k == 3 else bass_root
                add(bass, p, b0 + k / 2, 0.45, rng.integers(80, 100))
    key = lambda n: (n[1], n[0])
    return sorted(piano, key=key), sorted(bass, key=key)


def training_notes(pitches, note_s, hop_s, velocity, start_s=0.05):
    """One isolated note per pitch, ascending, on a fixed grid."""
    return [[int(p), round(start_s + i * hop_s, 3), round(start_s + i * hop_s + note_s, 3), velocity]
            for i, p in enumerate(pitches)]


# ----------------------------------------------------------------------------- provenance
def deb_version(package):
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package],
                             check=True, capture_output=True, text=True)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def file_table(out_dir, meta):
    rows = []
    for path in sorted(Path(out_dir).rglob("*.wav")):
        info = sf.info(str(path))
        rows.append(f"| `{path.relative_to(out_dir).as_posix()}` | {info.channels} | "
                    f"{info.frames / info.samplerate:.2f} | {path.stat().st_size / 1024:.0f} |")
    return "\n".join(["| file | channels | seconds | KiB |", "|---|---|---|---|"] + rows)


README = """# Audio examples

Short mixtures with their exact ground-truth stems, isolated drum hits and training
notes, made from real recorded samples in Debian packages by
`scripts/make_audio_examples.py` (run `scripts/make_audio_examples.sh`, which installs
the packages with apt-get first, then runs
`.venv/bin/python scripts/make_audio_examples.py --out audio_examples --seed {seed} --overwrite`).
The output is deterministic for a given seed and package versions.

All files: WAV, {sr} Hz, 16-bit PCM, mono except `drums_mix_stereo.wav`. Every
mixture is the sample-by-sample integer sum of its stems' PCM values, so
`mixture == sum(stems)` holds exactly once read as float (e.g. `soundfile.read`).
Mixture peaks are normalised to {peak} and the stems scaled by the same factor.

| example | what it is |
|---|---|
| `drums_mix.wav` | {drums_tempo} bpm rock pattern, 8th-note closed hi-hat, kick, snare with ghost notes and a fill; stems `drums_stems/{{kick,snare,hihat}}.wav` |
| `hits/{{kick,snare,hihat}}.wav` | one one-shot hit each of the same kit, at velocity layer {hit_layer} of 8 (1 = softest), which no mixture uses (the mixtures use kick layers {kick_layers}, snare {snare_layers}, hi-hat {hh_layers}) (for template-informed separation) |
| `drums_mix_stereo.wav` | the `drums_stems` panned (constant power): kick {pan_kick:+.1f}, snare {pan_snare:+.1f}, hi-hat {pan_hihat:+.1f} (-1 left, +1 right); channel c is `sum_s round(gain[s][c] * stem_s)` in int16 units (gains in `meta.json`) |
| `piano_bass_mix.wav` | {pb_tempo} bpm, D major, D-Bm-G-A-D: piano quarter-note chords and a melody, bass roots and fifths; stems `piano_bass_stems/{{piano,bass}}.wav` |
| `piano_bass_train/{{piano,bass}}.wav` | isolated notes, one per pitch, chromatic over the pitch range the mixtures use (piano {piano_range}, bass {bass_range}), fixed velocity {train_vel}; no note event is shared with the mixtures (for supervised dictionaries) |
| `drums_harmonic_mix.wav` | {dh_tempo} bpm, A minor, Am-F-C-G-Am: drums (kick 1 and 3, snare 2 and 4, 8th hi-hat) against piano stabs and an 8th-note bass; stems `drums_harmonic_stems/{{drums,harmonic}}.wav` (harmonic = piano + bass) |

`meta.json` describes each example like the benchmark's `meta.json`: `events` lists
the drum hits as `[onset_s, role, velocity, source_sample]` (roles `kick`, `snare`,
`hh_closed`; the onset is where the sample starts), `onsets` groups the onsets by stem,
and `piano_notes` / `bass_notes` list notes as `[midi_pitch, onset_s, offset_s, velocity]`
(times of the MIDI note-on/off; the rendered sound starts 3-5 ms after the note-on:
FluidSynth's 64-sample block grid at 44.1 kHz plus the samples' own attack). It also
records the velocity layers, gains, seed and source versions.

{files}

Total (audio and `meta.json`): {total_kib:.0f} KiB.

## Sources and licences

| source | Debian package (version) | used for | licence |
|---|---|---|---|
| Hydrogen drum kit `{kit}` ("{kit_author}"), samples by Bransin James Anderson | `hydrogen-drumkits` ({kit_version}) | every drum sound | CC BY-SA 3.0 United States (Debian copyright: `CC-BY-SA-3.0-us`; the kit's `drumkit.xml`: "{kit_license}") |
| FluidR3 GM soundfont `FluidR3_GM.sf2` by Frank Wen, programs {piano_program} (Acoustic Grand Piano) and {bass_program} (Electric Bass, pick) | `fluid-soundfont-gm` ({sf_version}) | piano and bass | MIT |
| FluidSynth (renderer only, no audio of its own) | `fluidsynth` ({fs_version}) | rendering MIDI with the soundfont, reverb and chorus off | LGPL-2.1+ |

The drum files (`drums_mix*.wav`, `drums_stems/`, `hits/`, `drums_harmonic_*`) are
adaptations of the BJA_Pacific samples and are therefore distributed under the
Creative Commons Attribution-ShareAlike 3.0 United States licence
(<https://creativecommons.org/licenses/by-sa/3.0/us/>). Attribution: "BJA_Pacific"
Hydrogen drum kit, Pacific drum set sampled by Bransin James Anderson, Hydrogen kit by
Luc Tanguay; the samples were downmixed to mono, resampled to {sr} Hz, scaled and
sequenced into patterns.

The piano and bass parts are rendered from the FluidR3 GM soundfont, which its author
released under the MIT licence:

> Copyright (c) 2000-2002, 2008 Frank Wen; Copyright (c) 2008 Toby Smithe
>
> Permission is hereby granted, free of charge, to any person obtaining a copy of this
> software and associated documentation files (the "Software"), to deal in the Software
> without restriction, including without limitation the rights to use, copy, modify,
> merge, publish, distribute, sublicense, and/or sell copies of the Software, and to
> permit persons to whom the Software is furnished to do so, subject to the following
> conditions:
>
> The above copyright notice and this permission notice shall be included in all copies
> or substantial portions of the Software.
>
> THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED,
> INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A
> PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT
> HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF
> CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE
> OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.

`drums_harmonic_*` combine both sources (CC BY-SA 3.0 US, with the MIT notice above for
the harmonic part). The licences of these audio files are independent of the licence of
nmfsep's code. The full licence texts are in `/usr/share/doc/hydrogen-drumkits/copyright`
and `/usr/share/doc/fluid-soundfont-gm/copyright` on a Debian system.
"""


# ----------------------------------------------------------------------------- main
def make_examples(out_dir, seed, kit_dir, soundfont, fluidsynth, overwrite):
    """Write every example, ``meta.json`` and ``README.md`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    kit_info, layers = load_kit(kit_dir)
    meta = {
        "generator": "scripts/make_audio_examples.py",
        "seed": seed,
        "sr": SR,
        "subtype": SUBTYPE,
        "peak": PEAK,
        "event_format": EVENT_FORMAT,
        "note_format": NOTE_FORMAT,
        "sources": {
            "drumkit": {"package": "hydrogen-drumkits", "version": deb_version("hydrogen-drumkits"),
                        "kit": kit_info["name"] or KIT_NAME, "author": kit_info["author"],
                        "license": "CC-BY-SA-3.0-us", "license_in_kit": kit_info["license"]},
            "soundfont": {"package": "fluid-soundfont-gm", "version": deb_version("fluid-soundfont-gm"),
                          "file": Path(soundfont).name, "license": "MIT",
                          "piano_program": PIANO_PROGRAM, "bass_program": BASS_PROGRAM},
            "renderer": {"package": "fluidsynth", "version": deb_version("fluidsynth"),
                         "sample_rate": RENDER_SR, "reverb": False, "chorus": False},
        },
        "velocity_layers": {
            role: {"mix": {kind: {"layer": i + 1, "file": layers[role][i]["file"],
                                  "velocity_range": [layers[role][i]["min"], layers[role][i]["max"]]}
                           for kind, i in MIX_LAYERS[role].items()},
                   "hits": {"layer": HIT_LAYER + 1, "file": layers[role][HIT_LAYER]["file"]},
                   "n_layers": len(layers[role]), "layer_numbering": "1 = softest"}
            for role in DRUM_ROLES},
        "role_gain_db": {role: g for role, (_, _, g) in DRUM_ROLES.items()},
    }
    written = {}

    def save(rel, pcm):
        write_wav(out / rel, pcm, overwrite)
        written[rel] = pcm

    # drums_mix, its stems and the stereo version --------------------------------------
    tempo, duration = 120, 6.0
    n = int(round(duration * SR))
    events = drum_events(rng, tempo, 3, 0.05, "rock", layers)
    mix, stems, scale = mix_to_pcm(drums_by_stem(events, layers, n), {})
    save("drums_mix.wav", mix)
    for stem, pcm in stems.items():
        save(f"drums_stems/{stem}.wav", pcm)
    meta["drums_mix"] = {
        "file": "drums_mix.wav", "stems": {s: f"drums_stems/{s}.wav" for s in stems},
        "kit": KIT_NAME, "tempo_bpm": tempo, "duration_s": duration, "scale": scale,
        "stem_rms_dbfs": {s: round(rms_db(p / PCM_SCALE), 2) for s, p in stems.items()},
        "events": events, "onsets": onsets_by_stem(events),
    }

    panned = {s: [g * stems[s].astype(np.float64) for g in pan_gains(STEREO_PAN[s])] for s in stems}
    stereo_scale = PEAK * PCM_SCALE / np.abs(np.stack([sum(v[c] for v in panned.values())
                                                       for c in range(2)])).max()
    gains = {s: [g * stereo_scale for g in pan_gains(STEREO_PAN[s])] for s in stems}
    images = {s: [np.round(g * stems[s].astype(np.float64)) for g in gains[s]] for s in stems}
    stereo = np.stack([sum(img[c] for img in images.values()) for c in range(2)], axis=1)
    if np.abs(stereo).max() > 32767:
        raise ValueError("stereo mixture overflows int16; lower PEAK")
    save("drums_mix_stereo.wav", stereo.astype(np.int16))
    meta["drums_mix_stereo"] = {
        "file": "drums_mix_stereo.wav", "stems": meta["drums_mix"]["stems"],
        "pan": STEREO_PAN, "pan_law": "constant power: (cos, sin) of (pan + 1) * pi / 4",
        "channel_gains": {s: [round(g, 9) for g in gains[s]] for s in stems},
        "definition": "channel[c] = sum over stems of round(channel_gains[stem][c] * stem_int16)",
    }

    # hits: one-shots at a layer the mixtures do not use, at the drums_mix level -----------
    meta["hits"] = {"kit": KIT_NAME, "layer": HIT_LAYER + 1, "files": {}}
    for role, (_, stem, _) in DRUM_ROLES.items():
        lay = layers[role][HIT_LAYER]
        velocity = (lay["min"] + lay["max"]) / 2
        save(f"hits/{stem}.wav", to_pcm(lay["audio"] * velocity * lay["gain"] * role_gain(role) * scale))
        meta["hits"]["files"][stem] = {"file": f"hits/{stem}.wav", "role": role,
                                       "source_sample": lay["file"], "velocity": velocity,
                                       "same_audio_as_mixture": False}

    # piano_bass ---------------------------------------------------------------------
    tempo, duration = 92, 6.5
    n = int(round(duration * SR))
    d, b, g, a = 2, 11, 7, 9
    piano_notes, bass_notes = arrange(rng, tempo, 0.05, duration, d, MAJOR,
                                      [(d, "maj"), (b, "min"), (g, "maj"), (a, "maj"), (d, "maj")],
                                      "comp_melody", "root_fifth")
    float_stems = {"piano": render_notes(piano_notes, PIANO_PROGRAM, n, soundfont, fluidsynth),
                   "bass": render_notes(bass_notes, BASS_PROGRAM, n, soundfont, fluidsynth)}
    bass_to_piano_db = 1.0
    gain_db = {"bass": rms_db(float_stems["piano"]) - rms_db(float_stems["bass"]) + bass_to_piano_db}
    mix, stems, scale = mix_to_pcm(float_stems, gain_db)
    save("piano_bass_mix.wav", mix)
    for stem, pcm in stems.items():
        save(f"piano_bass_stems/{stem}.wav", pcm)
    meta["piano_bass_mix"] = {
        "file": "piano_bass_mix.wav", "stems": {s: f"piano_bass_stems/{s}.wav" for s in stems},
        "tempo_bpm": tempo, "duration_s": duration, "key": "D major",
        "progression": ["D", "Bm", "G", "A", "D"], "bass_to_piano_db": bass_to_piano_db,
        "stem_rms_dbfs": {s: round(rms_db(p / PCM_SCALE), 2) for s, p in stems.items()},
        "piano_notes": piano_notes, "bass_notes": bass_notes,
    }

    # drums_harmonic ------------------------------------------------------------------
    tempo, duration = 100, 6.0
    n = int(round(duration * SR))
    events = drum_events(rng, tempo, 3, 0.05, "backbeat", layers)
    events = [e for e in events if e[0] < duration - 0.3]  # nothing starting in the last 0.3 s
    a, f, c, g = 9, 5, 0, 7
    h_piano, h_bass = arrange(rng, tempo, 0.05, duration, a, MINOR,
                              [(a, "min"), (f, "maj"), (c, "maj"), (g, "maj"), (a, "min")],
                              "stabs", "eighths")
    drums = sum(drums_by_stem(events, layers, n).values())
    piano = render_notes(h_piano, PIANO_PROGRAM, n, soundfont, fluidsynth)
    bass = render_notes(h_bass, BASS_PROGRAM, n, soundfont, fluidsynth)
    harmonic = piano + bass * 10 ** ((rms_db(piano) - rms_db(bass)) / 20)
    harmonic_to_drums_db = -3.0
    gain_db = {"harmonic": rms_db(drums) - rms_db(harmonic) + harmonic_to_drums_db}
    mix, stems, scale = mix_to_pcm({"drums": drums, "harmonic": harmonic}, gain_db)
    save("drums_harmonic_mix.wav", mix)
    for stem, pcm in stems.items():
        save(f"drums_harmonic_stems/{stem}.wav", pcm)
    meta["drums_harmonic_mix"] = {
        "file": "drums_harmonic_mix.wav",
        "stems": {s: f"drums_harmonic_stems/{s}.wav" for s in stems},
        "kit": KIT_NAME, "tempo_bpm": tempo, "duration_s": duration, "key": "A minor",
        "progression": ["Am", "F", "C", "G", "Am"], "harmonic_to_drums_db": harmonic_to_drums_db,
        "stem_rms_dbfs": {s: round(rms_db(p / PCM_SCALE), 2) for s, p in stems.items()},
        "events": events, "onsets": onsets_by_stem(events),
        "piano_notes": h_piano, "bass_notes": h_bass,
    }

    # training notes: chromatic over the pitch range of both mixtures -----------------------
    meta["piano_bass_train"] = {"description": (
        "isolated notes, one per pitch, ascending chromatic over the pitch range the mixtures use, "
        "fixed velocity; no note event is shared with the mixtures"), "files": {}}
    train_velocity = 80
    for name, program, notes, note_s, hop_s in [
            ("piano", PIANO_PROGRAM, piano_notes + h_piano, 0.25, 0.3),
            ("bass", BASS_PROGRAM, bass_notes + h_bass, 0.3, 0.35)]:
        pitches = range(min(p[0] for p in notes), max(p[0] for p in notes) + 1)
        train = training_notes(pitches, note_s, hop_s, train_velocity)
        n = int(round((train[-1][2] + 0.4) * SR))
        audio = render_notes(train, program, n, soundfont, fluidsynth)
        save(f"piano_bass_train/{name}.wav", to_pcm(audio * PEAK / np.abs(audio).max()))
        meta["piano_bass_train"]["files"][name] = {
            "file": f"piano_bass_train/{name}.wav", "program": program,
            "pitch_range": [pitches[0], pitches[-1]], "duration_s": n / SR, "notes": train}

    # checks: the sums are exact once read back -------------------------------------------
    for key in ("drums_mix", "piano_bass_mix", "drums_harmonic_mix"):
        mix_back, _ = sf.read(str(out / meta[key]["file"]), dtype="float64")
        stems_back = sum(sf.read(str(out / p), dtype="float64")[0] for p in meta[key]["stems"].values())
        if not np.array_equal(mix_back, stems_back):
            raise RuntimeError(f"{key}: mixture is not the exact sum of its stems")

    write_text(out / "meta.json", json.dumps(meta, indent=1) + "\n", overwrite)
    total_kib = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 1024
    piano_range = meta["piano_bass_train"]["files"]["piano"]["pitch_range"]
    bass_range = meta["piano_bass_train"]["files"]["bass"]["pitch_range"]
    readme = README.format(
        seed=seed, sr=SR, peak=PEAK, drums_tempo=meta["drums_mix"]["tempo_bpm"],
        hit_layer=HIT_LAYER + 1, **{f"{k}_layers": ", ".join(str(i + 1) for i in sorted(MIX_LAYERS[r].values()))
                                    for k, r in [("kick", "kick"), ("snare", "snare"), ("hh", "hh_closed")]}, pan_kick=STEREO_PAN["kick"], pan_snare=STEREO_PAN["snare"],
        pan_hihat=STEREO_PAN["hihat"], pb_tempo=meta["piano_bass_mix"]["tempo_bpm"],
        piano_range=f"MIDI {piano_range[0]}-{piano_range[1]}",
        bass_range=f"MIDI {bass_range[0]}-{bass_range[1]}", train_vel=train_velocity,
        dh_tempo=meta["drums_harmonic_mix"]["tempo_bpm"], files=file_table(out, meta),
        total_kib=total_kib, kit=KIT_NAME, kit_author=kit_info["author"],
        kit_version=meta["sources"]["drumkit"]["version"], kit_license=kit_info["license"],
        piano_program=PIANO_PROGRAM, bass_program=BASS_PROGRAM,
        sf_version=meta["sources"]["soundfont"]["version"],
        fs_version=meta["sources"]["renderer"]["version"])
    write_text(out / "README.md", readme, overwrite)
    return meta


def main(argv=None):
    root = Path(__file__).resolve().parents[1]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(root / "audio_examples"), help="output folder")
    parser.add_argument("--seed", type=int, default=2024, help="seed of every random choice")
    parser.add_argument("--kit-dir", default=str(KIT_DIR), help="Hydrogen kit folder (drumkit.xml)")
    parser.add_argument("--soundfont", default=str(SOUNDFONT), help="FluidR3 GM .sf2")
    parser.add_argument("--fluidsynth", default="fluidsynth", help="FluidSynth executable")
    parser.add_argument("--overwrite", action="store_true", help="replace existing files")
    args = parser.parse_args(argv)
    missing = [p for p in (Path(args.kit_dir) / "drumkit.xml", Path(args.soundfont)) if not p.exists()]
    if shutil.which(args.fluidsynth) is None:
        missing.append(args.fluidsynth)
    if missing:
        sys.exit(f"missing {', '.join(map(str, missing))}: run scripts/make_audio_examples.sh, which "
                 "installs hydrogen-drumkits, fluid-soundfont-gm and fluidsynth with apt-get")
    make_examples(args.out, args.seed, args.kit_dir, args.soundfont, args.fluidsynth, args.overwrite)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
