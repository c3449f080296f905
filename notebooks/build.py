"""Write the notebooks of this folder from the cell sources below (so that they review as Python).

    .venv/bin/python notebooks/build.py           # (re)write every notebook
    .venv/bin/python notebooks/build.py --check   # exit 1 if a notebook differs from this file

The notebooks are committed without outputs; ``tests/test_notebooks.py`` executes them top to
bottom, and each ends with assertions, so running one is a test. Edit the cells here, never
the ``.ipynb`` files. Each notebook's metadata lists the modules it needs (``requires``: the
test skips a notebook whose modules do not import) and its time limit (``timeout_s``, whole
notebook, generous: they run in well under a minute on 2 cores).
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
TIMEOUT_S = 600

# Every notebook starts by finding the audio examples, so that it runs from notebooks/ (as in
# Jupyter) or from the repository root (as in a script).
FIND_EXAMPLES = '''
def find_examples() -> Path:
    """The repository's audio_examples/ folder, from notebooks/ or the repository root."""
    for folder in (Path.cwd(), *Path.cwd().parents):
        if (folder / "audio_examples").is_dir():
            return folder / "audio_examples"
    raise FileNotFoundError("audio_examples/ not found: run this notebook inside the nmfsep "
                            "repository (from notebooks/ or the root).")


EXAMPLES = find_examples()
'''


def md(text: str):
    return ("markdown", textwrap.dedent(text).strip())


def code(*parts: str):
    """A code cell from source parts (each dedented on its own, joined by blank lines)."""
    return ("code", "\n\n".join(textwrap.dedent(part).strip() for part in parts))


# --------------------------------------------------------------------------- 1. drums
DRUMS = dict(
    requires=["nmfsep.separation", "nmfsep.evaluation", "nmfsep.plot", "fast_bss_eval",
              "IPython.display", "matplotlib"],
    cells=[
        md("""
        # Drum separation with templates learned from isolated hits

        A drum loop (`audio_examples/drums_mix.wav`: kick, snare with ghost notes, closed hi-hat)
        is split into one file per drum. Each drum gets a **time-frequency template**, learned by
        NMFD from one isolated hit of the same kit (`audio_examples/hits/`, a velocity layer that
        the loop never uses). The templates are then held fixed while NMFD finds *when* each
        drum plays in the mixture; each drum's part of the model becomes a soft mask on the
        mixture's STFT.

        Steps: load and listen, learn the templates, separate, look at the spectrogram,
        activations and masks, measure the quality against the true stems
        (`audio_examples/drums_stems/`), write the stems to files. The last cell checks the
        results, so running the notebook is a test (about 10 s on 2 CPU cores).
        """),
        code("""
        import shutil
        import tempfile
        from pathlib import Path

        import matplotlib.pyplot as plt
        import torch
        from IPython.display import Audio, display

        from nmfsep import plot
        from nmfsep.evaluation import bss_eval, si_sdr
        from nmfsep.io import load
        from nmfsep.separation import Separator, learn_templates, write_stems
        """, FIND_EXAMPLES, """
        SOURCES = ("kick", "snare", "hihat")
        """),
        md("""
        ## The mixture

        `load` returns a `(channels, samples)` float tensor and the sample rate.
        """),
        code("""
        mixture, sample_rate = load(EXAMPLES / "drums_mix.wav")
        print(f"{mixture.shape[0]} channel, {mixture.shape[-1] / sample_rate:.2f} s at {sample_rate} Hz")
        display(Audio(mixture[0].numpy(), rate=sample_rate, normalize=False))
        """),
        md("""
        ## Templates from isolated hits

        `learn_templates` computes each hit's magnitude STFT and fits an NMFD with one
        `T`-frame template per drum. With `n_fft=1024` (46 ms) and `hop_length=256` (11.6 ms),
        `T=16` frames cover the first 186 ms of a hit: the attack and most of the decay.
        Templates are scaled to unit sum; their loudness lives in the activations.
        """),
        code("""
        N_FFT, HOP_LENGTH, T = 1024, 256, 16

        templates = learn_templates(
            {name: EXAMPLES / "hits" / f"{name}.wav" for name in SOURCES},
            sample_rate=sample_rate, n_fft=N_FFT, hop_length=HOP_LENGTH, T=T,
        )
        print(templates)
        plot.templates(templates.W, sample_rate=sample_rate, names=templates.sources,
                       y_axis="log", db=True, title="NMFD templates (freq x T frames each)")
        plt.show()
        """),
        md("""
        ## Separation

        The `Separator` holds the templates fixed (`fixed_W`: they stay bit-exact), fits the
        activations to the mixture's magnitude spectrogram (Kullback-Leibler NMFD), turns each
        drum's part of the model into a Wiener-like soft mask and inverts the masked STFT.
        The masks sum to one, so the stems sum back to the mixture.
        """),
        code("""
        separator = Separator(templates=templates, max_iter=100)
        stems = separator.separate(mixture, sample_rate)
        print(separator)
        print(f"{separator.n_iter_[0]} iterations, sources {separator.sources_}")
        for name, stem in stems.items():
            print(name)
            display(Audio(stem[0].numpy(), rate=sample_rate, normalize=False))
        """),
        md("""
        ## What the model found

        The activations have one value per spectrogram frame: `activations_[0, r, j]` is the
        gain of drum `r`'s template starting at frame `j`. Peaks are hits; the ghost notes of
        the snare show up as small peaks.
        """),
        code("""
        fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6), sharex=True, layout="constrained")
        plot.spectrogram(separator.spectrogram_, sample_rate=sample_rate, hop_length=HOP_LENGTH,
                         y_axis="log", ax=top, colorbar=False, title="mixture")
        plot.activations(separator.activations_, sample_rate=sample_rate, hop_length=HOP_LENGTH,
                         names=separator.sources_, ax=bottom, title="activations")
        plt.show()

        plot.masks(separator.masks_[:, 0], sample_rate=sample_rate, hop_length=HOP_LENGTH,
                   names=separator.sources_, y_axis="log")
        plt.show()

        plot.loss_curve(separator.model_, title="NMFD fit (KL divergence)")
        plt.show()
        """),
        md("""
        ## Evaluation against the true stems

        SDR, SIR and SAR are BSS Eval v4 source metrics (512-tap distortion filters); SI-SDR is
        scale invariant. "mix" is the SI-SDR of the unprocessed mixture used as the estimate
        of every stem: what separation has to beat.
        """),
        code("""
        references = torch.stack([load(EXAMPLES / "drums_stems" / f"{name}.wav")[0][0]
                                  for name in SOURCES])
        estimates = torch.stack([stems[name][0] for name in SOURCES])

        scores = bss_eval(references, estimates)
        scores["si_sdr"] = si_sdr(references, estimates)
        scores["mix"] = si_sdr(references, mixture.expand_as(references))

        print(f"{'dB':8s}" + "".join(f"{key.upper():>8s}" for key in scores))
        for i, name in enumerate(SOURCES):
            print(f"{name:8s}" + "".join(f"{float(values[i]):8.1f}" for values in scores.values()))
        """),
        md("""
        ## Writing the stems

        `write_stems` writes one file per source (32-bit float WAV by default), atomically, and
        refuses to overwrite existing files unless `overwrite=True`.
        """),
        code("""
        out_dir = Path(tempfile.mkdtemp(prefix="nmfsep_drums_"))
        paths = write_stems(stems, out_dir, sample_rate)
        for name, path in paths.items():
            print(f"{path.name:10s} {path.stat().st_size / 1024:6.0f} KiB")
        reloaded = {name: load(path)[0] for name, path in paths.items()}
        """),
        md("""
        ## Checks

        The bounds are about 3 dB under what this notebook measures (kick 21.5, snare 12.0,
        hi-hat 5.1 dB SI-SDR): a regression in the templates, the fit or the masks trips them.
        """),
        code("""
        # the masks sum to one: the stems add up to the mixture
        torch.testing.assert_close(estimates.sum(0), mixture[0], rtol=0, atol=1e-5)
        # the templates were held fixed (the Separator rescales them to unit sum, as they already
        # are: equal up to float32 rounding)
        torch.testing.assert_close(separator.templates_.cpu(), templates.W, rtol=1e-6, atol=0)
        # separation quality, in dB
        SI_SDR_AT_LEAST = {"kick": 18.0, "snare": 9.0, "hihat": 2.5}
        for i, name in enumerate(SOURCES):
            assert scores["si_sdr"][i] > SI_SDR_AT_LEAST[name], (name, float(scores["si_sdr"][i]))
            assert scores["sdr"][i] > SI_SDR_AT_LEAST[name], (name, float(scores["sdr"][i]))
            assert scores["si_sdr"][i] > scores["mix"][i] + 8, name
        # the written files hold the stems exactly (float WAV)
        assert sorted(p.name for p in paths.values()) == ["hihat.wav", "kick.wav", "snare.wav"]
        assert all(torch.equal(reloaded[name], stems[name]) for name in SOURCES)
        shutil.rmtree(out_dir)
        print("all checks passed")
        """),
    ],
)


# --------------------------------------------------------------------------- 2. CQT
CQT_NB = dict(
    requires=["nmfsep.plca", "nmfsep.evaluation", "nmfsep.plot", "matplotlib"],
    cells=[
        md("""
        # Pitch-shift invariance with the invertible CQT: NMF2D and SI-PLCA2

        In a constant-Q transform (CQT) with 12 bins per octave, playing a note one semitone
        higher moves its whole spectrum up by one bin. A **2-D convolutive** model (NMF2D,
        SI-PLCA2) can therefore describe an instrument with *one* template that it shifts to
        every pitch; the activations become a map of pitch against time, like a piano roll.

        This notebook takes `audio_examples/piano_bass_mix.wav` (piano chords and melody over
        a bass line) and

        1. checks that nmfsep's CQT is invertible (round trip > 100 dB),
        2. learns one pitch-shiftable template per instrument from isolated training notes,
        3. fits NMF2D to the mixture with those templates fixed and reads the piano roll,
        4. separates piano and bass with CQT masks and the inverse CQT,
        5. fits the same model as SI-PLCA2, the probabilistic twin of KL-NMF2D.

        The last cell checks the results (about 15 s on 2 CPU cores).
        """),
        code("""
        import json
        from pathlib import Path

        import matplotlib.pyplot as plt
        import torch
        import torch.nn.functional as F

        from nmfsep import plot
        from nmfsep.evaluation import si_sdr
        from nmfsep.functional import cqt, icqt
        from nmfsep.io import load
        from nmfsep.masks import apply_masks, wiener_mask
        from nmfsep.nmf import NMF2D
        from nmfsep.plca import SIPLCA2
        from nmfsep.transforms import CQT
        """, FIND_EXAMPLES, """
        meta = json.loads((EXAMPLES / "meta.json").read_text())
        SOURCES = ("bass", "piano")


        def snr_db(reference, estimate):
            return float(10 * torch.log10(reference.pow(2).sum() / (reference - estimate).pow(2).sum()))
        """),
        md("""
        ## 1. The invertible CQT

        96 bins from C1 (32.7 Hz, MIDI 24) to B8, 12 per octave. All bins share one hop
        (here 24 samples, about 1 ms: the widest, highest bins need it for the transform to be
        exactly invertible). What lies outside the bins' range comes back as a small *residual*
        waveform, which the inverse adds back.
        """),
        code("""
        mixture, sample_rate = load(EXAMPLES / "piano_bass_mix.wav")
        length = mixture.shape[-1]
        MIDI_FMIN, N_BINS = 24, 96
        transform = CQT(sample_rate, n_bins=N_BINS)  # fmin defaults to C1
        coefficients, residual = transform(mixture, return_residual=True)
        print(transform)
        print(f"coefficients {tuple(coefficients.shape)} {coefficients.dtype}, "
              f"{transform.frame_rate:.0f} frames/s")

        round_trip = transform.inverse(coefficients, length, residual=residual)
        snr_float32 = snr_db(mixture, round_trip)
        # the functional face, in float64: exact up to float64 rounding
        c64, r64 = cqt(mixture.double(), sample_rate, n_bins=N_BINS, return_residual=True)
        snr_float64 = snr_db(mixture.double(), icqt(c64, sample_rate, length, residual=r64))
        print(f"round-trip SNR: {snr_float32:.1f} dB (float32), {snr_float64:.1f} dB (float64)")
        print(f"residual energy: {100 * float(residual.pow(2).sum() / mixture.pow(2).sum()):.2f} %")

        plot.spectrogram(coefficients, sample_rate=sample_rate, hop_length=transform.hop_length,
                         y_axis="cqt", frequencies=transform.frequencies, title="mixture (CQT)")
        plt.show()
        """),
        md("""
        The models do not need a 1 ms frame rate. We average blocks of `POOL = 16` frames
        (17 ms) of the magnitude before factorising, and interpolate the models back to the full
        frame rate for the masks.
        """),
        code("""
        POOL = 16
        frame_rate = transform.frame_rate / POOL


        def pooled_magnitude(coefficients):
            \"\"\"(channels, bins, frames) complex -> (1, channels, bins, frames / POOL) magnitude.\"\"\"
            return F.avg_pool1d(coefficients.abs(), POOL, ceil_mode=True).unsqueeze(0)


        V = pooled_magnitude(coefficients)
        print("model input V", tuple(V.shape))
        """),
        md("""
        ## 2. One pitch-shiftable template per instrument

        NMF2D's template `W[0, r]` is a `(K, 1)` patch of `K` CQT bins (here 42, three and a
        half octaves: the fundamental and its first harmonics); the activation `H[0, r, s, t]`
        places it `s` bins up at frame `t`. We start each template from the average spectrum of
        the training notes (`audio_examples/piano_bass_train/`, one note per pitch), aligned so
        that the fundamental sits at template bin `OFFSET = 1`. A shift `s` then means MIDI
        pitch `24 + OFFSET + s`. NMF2D refines the template on the training recording.
        """),
        code("""
        K, OFFSET = 42, 1
        N_SHIFTS = N_BINS - K + 1


        def frames_of(onset, offset):
            \"\"\"The pooled frames inside a note (at least one), from its onset and offset in s.\"\"\"
            first = int(onset * frame_rate) + 1
            return slice(first, max(int(offset * frame_rate), first + 1))


        def learn_template(name):
            notes = meta["piano_bass_train"]["files"][name]["notes"]  # [pitch, onset, offset, vel]
            waveform, _ = load(EXAMPLES / "piano_bass_train" / f"{name}.wav")
            V_train = pooled_magnitude(transform(waveform))
            aligned = []
            for pitch, onset, offset, _ in notes:
                low = pitch - MIDI_FMIN - OFFSET
                spectrum = V_train[0, 0, low:low + K, frames_of(onset, offset)].mean(-1)
                spectrum = F.pad(spectrum, (0, K - spectrum.numel()))  # top notes run out of bins
                aligned.append(spectrum / spectrum.sum())
            start = torch.stack(aligned).mean(0)
            start = (start + 1e-3 * start.max()).view(1, 1, K, 1)  # every bin may still grow
            model = NMF2D(V_train.shape, rank=1, kernel_size=(K, 1), W=start, seed=0)
            model.fit(V_train, beta=1, max_iter=50)
            # each training note's strongest shift gives its pitch back
            found = [MIDI_FMIN + OFFSET + int(model.H[0, 0, :, frames_of(on, off)].sum(-1).argmax())
                     for _, on, off, _ in notes]
            return model.W.detach(), [n[0] for n in notes], found


        templates, training_pitch_hits = [], {}
        for name in SOURCES:
            template, pitches, found = learn_template(name)
            templates.append(template / template.sum())  # unit sum, as PLCA's templates
            training_pitch_hits[name] = sum(p == f for p, f in zip(pitches, found)) / len(pitches)
            print(f"{name}: pitches of the training notes recovered: {training_pitch_hits[name]:.0%}")
        W = torch.cat(templates, 1)  # (1, 2, K, 1)

        plot.templates(W[0, :, :, 0].T, names=SOURCES, db=True,
                       title=f"templates: {K} CQT bins, the fundamental at bin {OFFSET}")
        plt.show()
        """),
        md("""
        ## 3. NMF2D on the mixture: a piano roll

        With the two templates fixed, NMF2D (Kullback-Leibler) fits only the activations
        `H (1, 2, N_SHIFTS, frames)`. The bass activation, drawn against MIDI pitch with the
        true notes from `meta.json` outlined, reads like a transcription.
        """),
        code("""
        nmf2d = NMF2D(V.shape, rank=2, kernel_size=(K, 1), W=W, trainable_W=False, seed=0)
        nmf2d.fit(V, beta=1, max_iter=100, tol=0)
        H = nmf2d.H.detach()
        print(f"{nmf2d.n_iter_} iterations, KL {nmf2d.loss_curve_[0]:.1f} -> {nmf2d.loss_curve_[-1]:.1f}")

        fig, axes = plt.subplots(2, 1, figsize=(10, 7), sharex=True, layout="constrained")
        for r, (name, ax) in enumerate(zip(SOURCES, axes)):
            roll = H[0, r]
            ax.imshow(roll / roll.max(), origin="lower", aspect="auto", cmap="magma", vmax=0.5,
                      extent=(0, roll.shape[-1] / frame_rate,
                              MIDI_FMIN + OFFSET - 0.5, MIDI_FMIN + OFFSET + N_SHIFTS - 0.5))
            for pitch, onset, offset, _ in meta["piano_bass_mix"][f"{name}_notes"]:
                ax.add_patch(plt.Rectangle((onset, pitch - 0.5), offset - onset, 1,
                                           fill=False, edgecolor="cyan", linewidth=0.8))
            low, high = meta["piano_bass_train"]["files"][name]["pitch_range"]
            ax.set(ylim=(low - 6, high + 6), ylabel="MIDI pitch", title=f"{name} activations")
        axes[-1].set_xlabel("time (s)")
        plt.show()
        """),
        md("""
        How well does the strongest shift name the pitch? For every bass note of the mixture we
        take the strongest shift of the bass activation during the note; for the polyphonic
        piano we ask whether each note is among the four strongest shifts of the piano
        activation during it.
        """),
        code("""
        def pitch_hits(r, name, top):
            notes = meta["piano_bass_mix"][f"{name}_notes"]
            hits = 0
            for pitch, onset, offset, _ in notes:
                strongest = H[0, r, :, frames_of(onset, offset)].sum(-1).topk(top).indices
                hits += (pitch - MIDI_FMIN - OFFSET) in strongest.tolist()
            return hits / len(notes)


        bass_pitch_hits = pitch_hits(0, "bass", top=1)
        piano_pitch_hits = pitch_hits(1, "piano", top=4)
        print(f"bass notes at the strongest shift: {bass_pitch_hits:.0%}")
        print(f"piano notes among the 4 strongest shifts: {piano_pitch_hits:.0%}")
        """),
        md("""
        ## 4. Separation through the inverse CQT

        Each instrument's part of the model, `NMF2D.reconstruct(H[:, [r]], W[:, [r]])`, is
        interpolated back to the full frame rate; Wiener masks split the complex CQT of the
        mixture; the inverse CQT gives the waveforms. The residual (what lies above B8) goes to
        the piano, the instrument with energy up there.
        """),
        code("""
        parts = torch.cat([NMF2D.reconstruct(H[:, [r]], W[:, [r]]) for r in range(2)], 1)[0]
        parts = F.interpolate(parts, scale_factor=POOL, mode="linear")[..., :coefficients.shape[-1]]
        masks = wiener_mask(parts)  # (2, bins, frames), summing to one over the sources
        source_coefficients = apply_masks(masks, coefficients[0])
        estimates = torch.stack([transform.inverse(c, length) for c in source_coefficients])
        estimates[SOURCES.index("piano")] += residual[0]

        references = torch.stack([load(EXAMPLES / "piano_bass_stems" / f"{name}.wav")[0][0]
                                  for name in SOURCES])
        sum_snr = snr_db(mixture[0], estimates.sum(0))
        separation = si_sdr(references, estimates)
        unprocessed = si_sdr(references, mixture.expand_as(references))
        print(f"stems sum back to the mixture: {sum_snr:.1f} dB")
        for i, name in enumerate(SOURCES):
            print(f"{name}: SI-SDR {float(separation[i]):5.1f} dB (mixture as estimate: "
                  f"{float(unprocessed[i]):4.1f} dB)")

        plot.masks(masks, sample_rate=sample_rate, hop_length=transform.hop_length, y_axis="cqt",
                   frequencies=transform.frequencies, names=SOURCES)
        plt.show()
        """),
        md("""
        ## 5. SI-PLCA2: the probabilistic twin

        SI-PLCA2 models `V / V.sum()` as a mixture of shifted templates, each a probability
        distribution, fitted by expectation-maximisation. With the templates fixed and scaled to
        unit sum, one EM iteration is exactly one KL multiplicative update of NMF2D, so from the
        same (flat) start both `transform`s follow the same path. `SIPLCA2.transform` returns
        activations in the units of `V`, directly comparable with NMF2D's.
        """),
        code("""
        rank = W.shape[1]  # with a rank, the component weights Z start uniform
        siplca2 = SIPLCA2(W=W, H=H.shape, rank=rank, trainable_W=False)
        nmf2d_flat = NMF2D(W=W, H=H.shape, trainable_W=False)
        H_plca = siplca2.transform(V, warm_start=False, max_iter=100, tol=0)
        H_nmf = nmf2d_flat.transform(V, warm_start=False, max_iter=100, tol=0, beta=1)
        plca_vs_nmf = float((H_plca - H_nmf).norm() / H_nmf.norm())
        print(f"relative difference of the activations after 100 iterations: {plca_vs_nmf:.1e}")

        # fitted freely (templates too), its log-likelihood never decreases (flat priors: exact EM)
        free = SIPLCA2(W=W, H=H.shape, rank=rank, seed=0)
        free.fit(V, max_iter=60, check_every=5)
        log_likelihood = free.loss_curve_
        print("log-likelihood:", " ".join(f"{value:.1f}" for value in log_likelihood[::3]))
        """),
        md("""
        ## Checks

        Bounds about 2 dB under what this notebook measures (bass 7.8 dB, piano 6.6 dB SI-SDR;
        all bass notes and 84 % of the piano notes found).
        """),
        code("""
        assert snr_float32 > 100 and snr_float64 > 250, (snr_float32, snr_float64)
        assert sum_snr > 100, sum_snr  # masks sum to one and the inverse CQT is linear
        assert min(training_pitch_hits.values()) == 1.0, training_pitch_hits
        # KL multiplicative updates never increase the loss
        assert all(b <= a * (1 + 1e-6) for a, b in zip(nmf2d.loss_curve_, nmf2d.loss_curve_[1:]))
        assert bass_pitch_hits >= 0.9 and piano_pitch_hits >= 0.7, (bass_pitch_hits, piano_pitch_hits)
        assert separation[0] > 5.5 and separation[1] > 4.5, separation
        assert all(separation > unprocessed + 4), (separation, unprocessed)
        assert plca_vs_nmf < 1e-3, plca_vs_nmf
        assert all(b >= a - 1e-6 * abs(a) for a, b in zip(log_likelihood, log_likelihood[1:]))
        assert log_likelihood[-1] > log_likelihood[0]
        print("all checks passed")
        """),
    ],
)


# --------------------------------------------------------------------------- 3. chaining
CHAINING = dict(
    requires=["nmfsep.separation", "nmfsep.evaluation", "matplotlib"],
    cells=[
        md("""
        # Chaining models end to end

        nmfsep's models are `torch.nn.Module`s whose `forward` is differentiable, so they
        compose like any other PyTorch layers. This notebook, on the magnitude spectrogram of
        `audio_examples/drums_mix.wav`, shows

        1. the `Chain` module and the `nn.Sequential` of NMF modules from torchnmf's
           documentation, trained with the `BetaMu` trainer (torchnmf's example, with
           `torchnmf` replaced by `nmfsep`),
        2. a deep NMF `V ≈ W1 W2 H`, initialised layer by layer and then trained end to end,
        3. a model with fixed templates (learned from isolated hits) and free components,
        4. `transform`: activations for new data with the templates held fixed,
        5. autograd through a model into a loss: a gradient check, then a loss on the
           separated *waveform* back-propagated through masks, STFT and NMF.

        The last cell checks the results (about 10 s on 2 CPU cores).
        """),
        code("""
        from pathlib import Path

        import matplotlib.pyplot as plt
        import torch
        import torch.nn as nn

        from nmfsep import plot
        from nmfsep.evaluation import si_sdr
        from nmfsep.functional import istft, magnitude, stft
        from nmfsep.io import load
        from nmfsep.masks import apply_masks, wiener_mask
        from nmfsep.metrics import beta_div
        from nmfsep.nmf import NMF
        from nmfsep.separation import learn_templates
        from nmfsep.trainer import BetaMu
        """, FIND_EXAMPLES, """
        torch.manual_seed(0)
        N_FFT, HOP_LENGTH = 1024, 256
        SOURCES = ("kick", "snare", "hihat")

        mixture, sample_rate = load(EXAMPLES / "drums_mix.wav")
        spec = stft(mixture, n_fft=N_FFT, hop_length=HOP_LENGTH)  # (1, 513, frames) complex
        X = magnitude(spec)
        V = X[0].T  # torchnmf's layout: V (N, C) = (frames, frequency bins) ≈ H Wᵀ
        n_frames, n_freqs = V.shape
        print("V", tuple(V.shape))
        """),
        md("""
        ## 1. `Chain` and `nn.Sequential`, trained with `BetaMu`

        Three NMF modules in a row: the first produces `H1 W1ᵀ` (frames x 10), which the second
        takes as its `H` (giving frames x 24) and the third maps to frequency bins. `BetaMu`
        updates every parameter in turn with multiplicative updates whose gradient parts come
        from autograd, so any such chain trains with it.
        """),
        code("""
        class Chain(nn.Module):
            def __init__(self):
                super().__init__()
                self.nmf1 = NMF((n_frames, 10), rank=4)
                self.nmf2 = NMF(W=(24, 10))
                self.nmf3 = NMF(W=(n_freqs, 24))

            def forward(self):
                WH = self.nmf1()
                WWH = self.nmf2(H=WH)
                WWWH = self.nmf3(H=WWH)
                return WWWH


        chain = Chain()
        sequential = nn.Sequential(NMF((n_frames, 10), rank=4), NMF(W=(24, 10)), NMF(W=(n_freqs, 24)))
        # the same parameters give the same model, whichever way it is written
        sequential.load_state_dict({f"{i}.{key}": value
                                    for i, layer in enumerate([chain.nmf1, chain.nmf2, chain.nmf3])
                                    for key, value in layer.state_dict().items()})
        same_output = torch.equal(chain(), sequential(None))
        print("Chain and Sequential agree:", same_output)

        @torch.no_grad()
        def kl_of(model):
            return float(beta_div(model(None), V, 1))


        trainer = BetaMu(sequential.parameters(), beta=1)
        chain_loss = [kl_of(sequential)]
        for epoch in range(200):
            def closure():
                trainer.zero_grad()
                return V, sequential(None)
            trainer.step(closure)
            chain_loss.append(kl_of(sequential))
        print(f"KL divergence: {chain_loss[0]:.1f} -> {chain_loss[-1]:.1f}")
        plot.loss_curve({"nn.Sequential + BetaMu": chain_loss})
        plt.show()
        """),
        md("""
        ## 2. Deep NMF: `V ≈ W1 W2 H`

        In torchnmf's layout, `V (frames, freq) ≈ H W2ᵀ W1ᵀ`: `W1` holds 12 spectral atoms and
        `W2` combines them into 3 components. The usual start is greedy, layer by layer: an NMF
        of `V` gives `W1` and activations `H1`, an NMF of `H1` gives `W2` and `H`. Training the
        whole stack end to end with `BetaMu` then lowers the loss below what the layer-wise fits
        reached.
        """),
        code("""
        layer1 = NMF(V.shape, rank=12, seed=0)
        layer1.fit(V, beta=1, max_iter=200)
        H1 = layer1.H.detach()
        layer2 = NMF(H1.shape, rank=3, seed=0)
        layer2.fit(H1, beta=1, max_iter=200)

        deep = nn.Sequential(NMF(H=layer2.H.detach(), W=layer2.W.detach()),  # H W2ᵀ: (frames, 12)
                             NMF(W=layer1.W.detach()))                        # (H W2ᵀ) W1ᵀ
        deep_loss = [kl_of(deep)]
        trainer = BetaMu(deep.parameters(), beta=1)
        for epoch in range(100):
            def closure():
                trainer.zero_grad()
                return V, deep(None)
            trainer.step(closure)
            deep_loss.append(kl_of(deep))
        print(f"layer-wise start: KL {deep_loss[0]:.1f}; trained end to end: {deep_loss[-1]:.1f}")

        effective = (deep[1].W @ deep[0].W).detach()  # W1 W2: (freq, 3), the combined templates
        plot.templates(effective, sample_rate=sample_rate, y_axis="log", title="W1 W2")
        plt.show()
        """),
        md("""
        ## 3. Fixed templates and free components

        `learn_templates` (with `T=None`) gives one spectrum per drum from the isolated hits.
        Those three columns of `W` are held fixed (`fixed_W`) while two free components learn
        whatever else the mixture needs. The fixed columns stay bit-exact.
        """),
        code("""
        hits = learn_templates({name: EXAMPLES / "hits" / f"{name}.wav" for name in SOURCES},
                               sample_rate=sample_rate, n_fft=N_FFT, hop_length=HOP_LENGTH)
        print(hits)
        informed = NMF(V.shape, rank=5, W=hits.W, fixed_W=[True, True, True, False, False], seed=0)
        free_before = informed.W[:, 3:].detach().clone()
        informed.fit(V, beta=1, max_iter=200)
        fixed_kept = torch.equal(informed.W[:, :3].detach(), hits.W)
        free_moved = not torch.equal(informed.W[:, 3:].detach(), free_before)
        # the three templates alone, for comparison: activations only (transform)
        H_fixed_only = NMF(W=hits.W).transform(V, beta=1, max_iter=200)
        kl_fixed_only = float(beta_div(NMF.reconstruct(H_fixed_only, hits.W), V, 1))
        print(f"fixed templates unchanged: {fixed_kept}, free ones learned: {free_moved}")
        print(f"KL with the 3 templates alone: {kl_fixed_only:.1f}; "
              f"with 2 free components too: {informed.loss_curve_[-1]:.1f}")
        plot.templates(informed, sample_rate=sample_rate, y_axis="log",
                       names=[*SOURCES, "free 1", "free 2"])
        plt.show()
        """),
        md("""
        ## 4. `transform`: new data, templates fixed

        The stereo mix (`drums_mix_stereo.wav`) pans the same drums. Its two channels' frames are
        new rows of `V`; `transform` fits their activations with `W` fixed and leaves the model
        as it was.
        """),
        code("""
        stereo, _ = load(EXAMPLES / "drums_mix_stereo.wav")
        X_stereo = magnitude(stft(stereo, n_fft=N_FFT, hop_length=HOP_LENGTH))  # (2, 513, frames)
        V_new = X_stereo.transpose(1, 2).reshape(-1, n_freqs)  # both channels' frames as rows
        state_before = {k: v.clone() for k, v in informed.state_dict().items()}
        H_new = informed.transform(V_new, beta=1, max_iter=200)
        model_unchanged = all(torch.equal(v, informed.state_dict()[k]) for k, v in state_before.items())


        def relative_kl(V, approx):
            return float(beta_div(approx, V, 1) / beta_div(torch.full_like(V, float(V.mean())), V, 1))


        fit_train = relative_kl(V, informed().detach())
        fit_new = relative_kl(V_new, NMF.reconstruct(H_new, informed.W.detach()))
        print(f"H_new {tuple(H_new.shape)}; model unchanged: {model_unchanged}")
        print(f"KL relative to a flat model: training data {fit_train:.3f}, new data {fit_new:.3f}")
        """),
        md("""
        ## 5. Autograd through a model into a loss

        First a numerical gradient check of the deep model's loss with respect to all its
        factors (float64, small sizes). Then a loss on the *separated waveform*: the informed
        model's kick part becomes a Wiener mask, the masked STFT is inverted, and the
        SI-SDR against the true kick stem is back-propagated through `istft`, the masks and the
        model to the activations, which Adam adjusts. (Using the true stem makes this an oracle
        experiment; the point is that the gradient reaches the factors.)
        """),
        code("""
        small = nn.Sequential(NMF((6, 4), rank=2), NMF(W=(5, 4))).double()
        target = torch.rand(6, 5, dtype=torch.float64)
        names = [name for name, _ in small.named_parameters()]


        def small_loss(*factors):
            output = torch.func.functional_call(small, dict(zip(names, factors)), (None,))
            return beta_div(output, target, 1)


        gradients_ok = torch.autograd.gradcheck(
            small_loss, tuple(p.detach().clone().requires_grad_() for p in small.parameters()))
        print("gradcheck through nn.Sequential of NMFs:", gradients_ok)

        def si_sdr_db(reference, estimate):
            # SI-SDR written out: nmfsep.evaluation.si_sdr scores without gradients
            reference, estimate = reference - reference.mean(), estimate - estimate.mean()
            target = (estimate @ reference) / (reference @ reference) * reference
            return 10 * torch.log10(target.pow(2).sum() / (estimate - target).pow(2).sum())


        kick_reference = load(EXAMPLES / "drums_stems" / "kick.wav")[0][0]
        templates = informed.W.detach()
        log_H = informed.H.detach().clamp_min(1e-8).log().requires_grad_()  # H = exp(log_H) > 0
        optimizer = torch.optim.Adam([log_H], lr=0.05)
        kick_si_sdr = []
        for step in range(30):
            H = log_H.exp()
            parts = torch.stack([NMF.reconstruct(H[:, [0]], templates[:, [0]]),   # kick
                                 NMF.reconstruct(H[:, 1:], templates[:, 1:])])  # everything else
            masks = wiener_mask(parts.transpose(1, 2))  # (2, freq, frames)
            kick = istft(apply_masks(masks[:1], spec[0])[0], n_fft=N_FFT, hop_length=HOP_LENGTH,
                         length=mixture.shape[-1])
            loss = -si_sdr_db(kick_reference, kick)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            kick_si_sdr.append(-loss.item())
        # the last step's estimate, scored by nmfsep.evaluation (the same formula, in float64)
        scored = float(si_sdr(kick_reference, kick.detach()))
        print(f"kick SI-SDR: {kick_si_sdr[0]:.1f} dB (NMF) -> {scored:.1f} dB "
              f"after 30 gradient steps through iSTFT, masks and NMF")
        """),
        md("""
        ## Checks
        """),
        code("""
        assert same_output
        # past the first epoch (which mostly rescales the random start), the loss halves
        assert chain_loss[-1] < 0.6 * chain_loss[1], chain_loss[::50]
        # BetaMu's default updates never increase the loss (Févotte & Idier 2011)
        assert all(b <= a * (1 + 1e-5) for a, b in zip(chain_loss, chain_loss[1:]))
        assert all(b <= a * (1 + 1e-5) for a, b in zip(deep_loss, deep_loss[1:]))
        assert deep_loss[-1] < 0.93 * deep_loss[0], (deep_loss[0], deep_loss[-1])
        assert all(bool((p >= 0).all()) for p in [*sequential.parameters(), *deep.parameters()])
        assert fixed_kept and free_moved
        assert informed.loss_curve_[-1] < 0.8 * kl_fixed_only, (kl_fixed_only, informed.loss_curve_)
        assert model_unchanged and H_new.shape == (2 * n_frames, 5)
        assert fit_new < 1.2 * fit_train, (fit_train, fit_new)
        assert gradients_ok
        assert kick_si_sdr[-1] > kick_si_sdr[0] + 1.0, (kick_si_sdr[0], kick_si_sdr[-1])
        print("all checks passed")
        """),
    ],
)

NOTEBOOKS = {
    "drum_separation": DRUMS,
    "cqt_shift_invariance": CQT_NB,
    "chaining_models": CHAINING,
}


def build(name: str) -> nbformat.NotebookNode:
    """The notebook ``name`` (a key of :data:`NOTEBOOKS`), without outputs."""
    spec = NOTEBOOKS[name]
    cells = []
    for index, (kind, source) in enumerate(spec["cells"]):
        cell = new_markdown_cell(source) if kind == "markdown" else new_code_cell(source)
        cell.id = f"{name.replace('_', '-')}-{index:02d}"  # stable ids: no diff on rebuild
        cells.append(cell)
    notebook = new_notebook(cells=cells)
    notebook.metadata = {
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python",
                       "name": "python3"},
        "language_info": {"name": "python"},
        "nmfsep": {"requires": list(spec["requires"]), "timeout_s": TIMEOUT_S,
                   "generated_by": "notebooks/build.py"},
    }
    nbformat.validate(notebook)
    return notebook


def render(name: str) -> str:
    """The file contents of notebook ``name``."""
    return nbformat.writes(build(name)) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="do not write; exit 1 if a notebook differs from this file")
    args = parser.parse_args(argv)
    stale = []
    for name in NOTEBOOKS:
        path = HERE / f"{name}.ipynb"
        text = render(name)
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(path.name)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if stale:
        print(f"out of date: {', '.join(stale)}; run .venv/bin/python notebooks/build.py",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
