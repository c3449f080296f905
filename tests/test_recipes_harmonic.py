"""Recipes 3, 4 and 5b on synthetic audio with known answers (no benchmark data needed).

* drums vs harmonic: decaying harmonic notes plus two kinds of drum hits (a pitched-down
  "kick" and a noise "hat"); the hits given to the recipe are other realisations of the same
  drums (fresh noise, other levels), as a kit's other velocity layers would be;
* supervised: two harmonic instruments in different registers (a bright low one with all
  partials, a hollow high one with odd partials), dictionaries from their chromatic scales,
  mixtures of other notes at other times;
* piano roll: planted notes (single notes and a chord) whose pitches and times are known.
"""

import math

import pytest
import torch

from nmfsep._apps.recipes.harmonic import (
    _decimated_median_filter,
    _median_filter,
    _pseudo_median_filter,
    fit_percussive_harmonic,
    hpss_cascade,
    hpss_masks,
    percussive_dictionary,
    separate_drums_harmonic,
    template_spectra,
)
from nmfsep._apps.recipes.piano_roll import (
    binarize_roll,
    frame_scores,
    harmonic_templates,
    midi_to_hz,
    notes_to_roll,
    piano_roll,
)
from nmfsep._apps.recipes.supervised import (
    _fit_activations,
    learn_instrument_dictionaries,
    separate_supervised,
)
from nmfsep.metrics import beta_div
from nmfsep.separation import Templates

SR = 8000


def si_sdr(reference: torch.Tensor, estimate: torch.Tensor) -> float:
    reference = reference.double().flatten() - reference.double().mean()
    estimate = estimate.double().flatten() - estimate.double().mean()
    target = (estimate @ reference) / (reference @ reference) * reference
    return float(10 * torch.log10(target.pow(2).sum() / (estimate - target).pow(2).sum()))


def note(pitch: float, duration: float, *, odd_only: bool = False, n_partials: int = 8,
         decay: float = 3.0) -> torch.Tensor:
    t = torch.arange(round(duration * SR), dtype=torch.float64) / SR
    f0 = midi_to_hz(pitch)
    signal = torch.zeros_like(t)
    for h in range(1, n_partials + 1):
        if (odd_only and h % 2 == 0) or h * f0 >= SR / 2:
            continue
        signal += torch.sin(2 * math.pi * h * f0 * t) / h
    fade = torch.clamp(t / 0.005, max=1.0) * torch.clamp((duration - t) / 0.01, max=1.0)
    return (signal * torch.exp(-decay * t) * fade).float()


def place(events, length: int) -> torch.Tensor:
    out = torch.zeros(length)
    for start, sound in events:
        begin = round(start * SR)
        end = min(length, begin + sound.numel())
        out[begin:end] += sound[: end - begin]
    return out


def kick(generator: torch.Generator) -> torch.Tensor:
    t = torch.arange(round(0.2 * SR)) / SR
    phase = 2 * math.pi * (50 * t + 60 / 25 * (1 - torch.exp(-25 * t)))  # 110 Hz -> 50 Hz
    click = 0.3 * torch.randn(t.numel(), generator=generator) * torch.exp(-200 * t)
    return torch.sin(phase) * torch.exp(-15 * t) + click


def hat(generator: torch.Generator) -> torch.Tensor:
    t = torch.arange(round(0.1 * SR)) / SR
    noise = torch.randn(t.numel(), generator=generator)
    bright = noise[1:] - noise[:-1]  # first difference: a high-pass tilt
    return 0.5 * torch.cat([bright, bright[-1:]]) * torch.exp(-40 * t)


@pytest.fixture(scope="module")
def drums_and_harmony():
    generator = torch.Generator().manual_seed(0)
    length = 3 * SR
    beats = [(0.25 * k, kick(generator) if k % 2 == 0 else hat(generator)) for k in range(12)]
    drums = place(beats, length)
    pitches = [55, 59, 62, 57, 60, 64]
    harmonic = place([(0.5 * k + 0.1, 0.6 * note(p, 0.5)) for k, p in enumerate(pitches)], length)
    hits = {"kick": [0.7 * kick(generator), kick(generator)], "hat": [0.8 * hat(generator)]}
    return drums, harmonic, hits


STFT = dict(n_fft=512, hop_length=128)


def test_drums_harmonic_with_hits(drums_and_harmony):
    drums, harmonic, hits = drums_and_harmony
    stems = separate_drums_harmonic(drums + harmonic, SR, hits=hits, max_iter=60, **STFT)
    assert set(stems) == {"drums", "harmonic"}
    assert stems["drums"].shape == (1, drums.numel())
    torch.testing.assert_close(stems["drums"] + stems["harmonic"], (drums + harmonic)[None],
                               atol=1e-5, rtol=0)
    assert si_sdr(drums, stems["drums"]) > 12.0
    assert si_sdr(harmonic, stems["harmonic"]) > 10.0


def test_continuity_prior_is_what_separates(drums_and_harmony):
    # without the prior, free harmonic components soak up drum energy
    drums, harmonic, hits = drums_and_harmony
    with_prior = separate_drums_harmonic(drums + harmonic, SR, hits=hits, max_iter=60, **STFT)
    without = separate_drums_harmonic(drums + harmonic, SR, hits=hits, max_iter=60,
                                      continuity=0.0, **STFT)
    assert si_sdr(harmonic, with_prior["harmonic"]) > si_sdr(harmonic, without["harmonic"]) + 1.0


def test_drums_harmonic_without_hits_generic_templates(drums_and_harmony):
    # the shipped generic templates (22.05 kHz, STFT 1024) are resampled to this 8 kHz STFT
    drums, harmonic, _ = drums_and_harmony
    stems = separate_drums_harmonic(drums + harmonic, SR, method="dictionary", max_iter=60,
                                    **STFT)
    assert si_sdr(drums, stems["drums"]) > 10.0
    assert si_sdr(harmonic, stems["harmonic"]) > 12.0


def test_drums_harmonic_without_any_drum_prior(drums_and_harmony):
    # percussive spectra learned from an HPSS split of the mixture only
    drums, harmonic, _ = drums_and_harmony
    stems = separate_drums_harmonic(drums + harmonic, SR, method="dictionary",
                                    drum_templates=None, n_percussive=20, max_iter=60, **STFT)
    assert si_sdr(drums, stems["drums"]) > 4.0
    assert si_sdr(harmonic, stems["harmonic"]) > 7.0


def test_drums_harmonic_multichannel_and_float64(drums_and_harmony):
    drums, harmonic, hits = drums_and_harmony
    stereo = torch.stack([drums + harmonic, 0.5 * (drums + harmonic)]).double()
    stems = separate_drums_harmonic(stereo, SR, hits=hits, max_iter=20, **STFT)
    assert stems["drums"].shape == stereo.shape and stems["drums"].dtype == torch.float64
    torch.testing.assert_close(stems["drums"] + stems["harmonic"], stereo, atol=1e-9, rtol=0)
    for channel, gain in enumerate((1.0, 0.5)):  # each channel is separated, at its own level
        assert si_sdr(gain * drums, stems["drums"][channel]) > 12.0
        assert si_sdr(gain * harmonic, stems["harmonic"][channel]) > 10.0


def test_percussive_dictionary_atoms_are_hit_frames():
    generator = torch.Generator().manual_seed(1)
    hit = hat(generator)
    dictionary = percussive_dictionary([hit, 0.1 * hit], SR, threshold_db=20.0, **STFT)
    assert dictionary.sources == ("drums",)
    torch.testing.assert_close(dictionary.W.sum(0), torch.ones(dictionary.W.shape[1]))
    # the same hit at another level gives the same atoms (each hit against its own peak)
    half = dictionary.W.shape[1] // 2
    torch.testing.assert_close(dictionary.W[:, :half], dictionary.W[:, half:], atol=1e-5, rtol=1e-4)


def test_template_spectra_resample_in_frequency():
    generator = torch.Generator().manual_seed(3)
    W = torch.rand(129, 3, generator=generator)
    templates = Templates(W, ("drums",), (0, 0, 0), SR, "stft",
                          dict(n_fft=256, hop_length=64, window="hann"))
    unit = W / W.sum(0)
    torch.testing.assert_close(template_spectra(templates, SR, 256), unit)
    # twice the FFT size: every other bin is a source bin, those between are midpoints
    doubled = template_spectra(templates, SR, 512)
    ratio = doubled[::2] / unit
    torch.testing.assert_close(ratio, ratio[:1].expand_as(ratio))
    torch.testing.assert_close(doubled[1::2], (doubled[:-1:2] + doubled[2::2]) / 2)
    # twice the sample rate: the upper half lies above the templates' Nyquist frequency
    assert float(template_spectra(templates, 2 * SR, 512)[130:].abs().max()) == 0.0
    # NMFD frames within the threshold of their template's loudest frame become atoms
    decay = torch.tensor([1.0, 0.5, 0.01])  # 0, -6 and -40 dB
    nmfd = Templates(W[:, :2, None] * decay, ("drums",), (0, 0), SR, "stft",
                     dict(n_fft=256, hop_length=64, window="hann"))
    assert template_spectra(nmfd, SR, 256, threshold_db=20.0).shape == (129, 4)


def test_fit_recovers_a_planted_model():
    generator = torch.Generator().manual_seed(2)
    W_p = torch.rand(30, 3, generator=generator)
    W_h = torch.rand(30, 2, generator=generator)
    H_p = torch.rand(1, 3, 40, generator=generator)
    H_h = torch.rand(1, 2, 40, generator=generator)
    V = W_p @ H_p + W_h @ H_h
    parts = fit_percussive_harmonic(V, W_p, 2, continuity=0.0, max_iter=300, generator=generator)
    torch.testing.assert_close(parts["W_p"], W_p / W_p.sum(0))  # fixed templates stay put
    model = parts["percussive"] + parts["harmonic"]
    kl = (V * torch.log(V / model) - V + model).sum()
    assert float(kl) < 1e-3 * float(V.sum())


def test_continuity_smooths_the_harmonic_activations_only():
    # the core's continuity penalty, weighted on the harmonic components alone: their
    # activations get smoother, the percussive ones (weight 0) are free to stay impulsive
    generator = torch.Generator().manual_seed(3)
    W_p, W_h = torch.rand(30, 2, generator=generator), torch.rand(30, 2, generator=generator)
    H_p = (torch.rand(1, 2, 60, generator=generator) > 0.8).float()  # sparse hits
    H_h = 1.0 + torch.rand(1, 2, 60, generator=generator)
    V = W_p @ H_p + W_h @ H_h + 0.05

    def roughness(H):  # mean D / E over the activation rows
        return float(((H[..., 1:] - H[..., :-1]).pow(2).sum(-1) / H.pow(2).sum(-1)).mean())

    fits = {c: fit_percussive_harmonic(V, W_p, 2, continuity=c, max_iter=200,
                                       generator=torch.Generator().manual_seed(0))
            for c in (0.0, 1.0)}
    assert roughness(fits[1.0]["H_h"]) < 0.5 * roughness(fits[0.0]["H_h"])
    assert roughness(fits[1.0]["H_p"]) > 0.5  # the hits stay hits
    torch.testing.assert_close(fits[1.0]["W_h"].sum(0), torch.ones(2))  # unit-sum templates


def test_hpss_masks_split_lines():
    V = torch.zeros(15, 15)
    V[7, :] = 1.0
    V[:, 3] += 2.0
    percussive, harmonic = hpss_masks(V, harmonic_size=5, percussive_size=5)
    assert float(harmonic[7, 10]) == 1.0 and float(percussive[0, 3]) == 1.0
    torch.testing.assert_close(percussive + harmonic, torch.ones_like(V))


@pytest.mark.parametrize("kwargs, error", [
    (dict(hits=[]), ValueError),
    (dict(hits={}), ValueError),
    (dict(continuity=-1.0), ValueError),
    (dict(n_harmonic=0), ValueError),
    (dict(drum_templates=Templates(torch.rand(1, 2, 5, 3), ("drums",), (0, 0), SR, "cqt",
                                   dict(fmin=32.7, n_bins=5, bins_per_octave=12,
                                        hop_length=64))), ValueError),
    (dict(drum_templates="no_such_templates.pt"), FileNotFoundError),
    (dict(method="dictionary", drum_templates=None, n_percussive=0), ValueError),
    (dict(method="dictionary", drum_templates=None, n_percussive=-1), ValueError),
    (dict(method="median"), ValueError),
    (dict(method="cascade", hits={"kick": [torch.randn(800)]}), ValueError),
])
def test_drums_harmonic_rejects_bad_input(kwargs, error):
    with pytest.raises(error):
        separate_drums_harmonic(torch.randn(SR), SR, **STFT, **kwargs)


# --------------------------------------------------------------------------- cascade
def test_pseudo_median_is_the_median_of_three_and_drops_short_outliers():
    generator = torch.Generator().manual_seed(0)
    X = torch.rand(4, 50, generator=generator)
    torch.testing.assert_close(_pseudo_median_filter(X, 3, -1), _median_filter(X, 3, -1))
    # along any axis, and a ramp (every window's median is its centre) comes back unchanged
    torch.testing.assert_close(_pseudo_median_filter(X.t(), 3, 0), _median_filter(X, 3, -1).t())
    ramp = torch.arange(40.0).repeat(2, 1)
    torch.testing.assert_close(_pseudo_median_filter(ramp, 9, -1)[:, 4:-4], ramp[:, 4:-4])
    spikes = torch.ones(1, 60)
    spikes[0, [10, 30, 31, 50]] = 100.0  # one- and two-sample outliers in a 17 window
    torch.testing.assert_close(_pseudo_median_filter(spikes, 17, -1), torch.ones(1, 60))


def test_decimated_median_follows_the_exact_one():
    t = torch.arange(400.0)
    slow = 1 + 0.5 * torch.sin(2 * math.pi * t / 200)
    X = (slow + (t % 37 == 0) * 5.0)[None]  # a slow envelope with isolated clicks
    exact, decimated = _median_filter(X, 17, -1), _decimated_median_filter(X, 17)
    assert float((decimated - exact).abs().max()) < 0.05
    assert float((decimated - slow)[:, 8:-8].abs().max()) < 0.05  # the clicks are gone


def _kick_over_bass(sample_rate: int) -> tuple:
    """A 45 Hz sustained bass note and 70 Hz kick bursts every 0.5 s, 3 s long."""
    t = torch.arange(3 * sample_rate) / sample_rate
    bass = 0.3 * torch.sin(2 * math.pi * 45 * t)
    burst_t = torch.arange(round(0.15 * sample_rate)) / sample_rate
    burst = torch.sin(2 * math.pi * 70 * burst_t) * torch.exp(-30 * burst_t)
    kicks = torch.zeros_like(t)
    for start in torch.arange(0.25, 3.0, 0.5):
        begin = round(float(start) * sample_rate)
        kicks[begin:begin + burst.numel()] += burst[: kicks.numel() - begin]
    return kicks, bass


def test_cascade_keeps_clicks_and_sustained_tones_apart():
    t = torch.arange(4 * SR) / SR
    fade = torch.clamp(torch.minimum(t, 4 - t) / 0.3, max=1.0)  # no step at either end
    tone = fade * (0.5 * torch.sin(2 * math.pi * 330 * t) + 0.3 * torch.sin(2 * math.pi * 660 * t))
    clicks = torch.zeros(4 * SR)
    clicks[1000::4000] = 1.0
    drums = hpss_cascade(tone + clicks, SR)
    assert drums.shape == tone.shape
    assert si_sdr(clicks, drums) > 15.0
    assert si_sdr(tone, tone + clicks - drums) > 15.0


def test_cascade_low_band_gives_the_kick_to_the_drums():
    # below low_cutoff a bin is judged by time alone: the kick's short body rises above its
    # running median, the bass note does not; without the rule the kick goes with the bass
    kicks, bass = _kick_over_bass(SR)
    with_rule = hpss_cascade(kicks + bass, SR)
    without = hpss_cascade(kicks + bass, SR, low_cutoff=0.0)
    assert si_sdr(kicks, with_rule) > 5.0
    assert si_sdr(kicks, with_rule) > si_sdr(kicks, without) + 3.0
    assert si_sdr(bass, kicks + bass - with_rule) > 10.0


def test_cascade_mid_band_keeps_plucked_attacks_with_the_accompaniment():
    # sharply plucked notes at 1.5 / 2.5 kHz look as transient as a drum; inside mid_band the
    # higher margin leaves them with the accompaniment
    plucks, clicks = torch.zeros(4 * SR), torch.zeros(4 * SR)
    tt = torch.arange(SR // 3) / SR
    pluck = 0.3 * torch.exp(-tt / 0.02) * (torch.sin(2 * math.pi * 1500 * tt)
                                          + 0.5 * torch.sin(2 * math.pi * 2500 * tt))
    for k in range(8):
        start = int((0.1 + 0.5 * k) * SR)
        plucks[start:start + pluck.numel()] += pluck
        clicks[start + SR // 4] = 1.0
    mixture = plucks + clicks
    with_rule = mixture - hpss_cascade(mixture, SR)
    without = mixture - hpss_cascade(mixture, SR, mid_margin=2.5)  # = margin: no band rule
    assert si_sdr(plucks, with_rule) > si_sdr(plucks, without) + 1.0


def test_cascade_settings_are_in_seconds_and_hz():
    # the same sounds at twice the rate give the same separation
    scores = []
    for rate in (SR, 2 * SR):
        kicks, bass = _kick_over_bass(rate)
        scores.append(si_sdr(kicks, hpss_cascade(kicks + bass, rate)))
    assert abs(scores[0] - scores[1]) < 1.5


def test_cascade_is_the_default_without_hits_and_scales_with_each_channel(drums_and_harmony):
    drums, harmonic, _ = drums_and_harmony
    stereo = torch.stack([drums + harmonic, 0.25 * (drums + harmonic)])
    stems = separate_drums_harmonic(stereo, SR)
    torch.testing.assert_close(stems["drums"], hpss_cascade(stereo, SR))
    torch.testing.assert_close(stems["drums"] + stems["harmonic"], stereo, atol=1e-6, rtol=0)
    # masks are ratios of medians: a channel at a quarter of the level gives a quarter
    torch.testing.assert_close(stems["drums"][1], 0.25 * stems["drums"][0], atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize("kwargs", [dict(margin=-1.0), dict(harmonic_kernel=(0.4,)),
                                    dict(percussive_kernel=(0.0, 300.0)),
                                    dict(long_window=float("nan")),
                                    dict(mid_band=(4000.0, 1000.0)), dict(mid_margin=-2.0)])
def test_cascade_rejects_bad_settings(kwargs):
    with pytest.raises(ValueError):
        hpss_cascade(torch.randn(SR), SR, **kwargs)


def test_cascade_rejects_too_short_input():
    with pytest.raises(ValueError, match="samples"):
        hpss_cascade(torch.randn(100), SR)


def test_cascade_in_chunks_is_the_cascade_in_one_piece(monkeypatch):
    # every step is local in time: chunks overlapping by twice its reach, joined in the
    # middle of the overlaps, give the one-piece result (a song's memory stays bounded); the
    # chunks are the separator's (HPSSCascade's context), joined by its one add_chunk
    import nmfsep._pipeline.separation as separation

    generator = torch.Generator().manual_seed(3)
    n = 14 * SR
    t = torch.arange(n) / SR
    tone = 0.4 * torch.sin(2 * math.pi * 220 * t) * (torch.sin(2 * math.pi * 0.3 * t) > 0)
    clicks = torch.zeros(n)
    clicks[700::3001] = 1.0
    stereo = torch.stack([tone + clicks, 0.5 * tone - clicks]) \
        + 0.01 * torch.randn(2, n, generator=generator)
    whole = hpss_cascade(stereo, SR, chunk_duration=None)
    joined = []
    add_chunk = separation.add_chunk
    monkeypatch.setattr(separation, "add_chunk", lambda *a, **k: joined.append(1) or add_chunk(*a, **k))
    chunked = hpss_cascade(stereo, SR, chunk_duration=4.0)
    assert len(joined) >= 4  # really in chunks
    torch.testing.assert_close(chunked, whole, atol=1e-6, rtol=0)
    torch.testing.assert_close(hpss_cascade(stereo[0], SR, chunk_duration=4.0), whole[0],
                               atol=1e-6, rtol=0)
    # the default (30 s chunks) leaves this mixture in one piece
    joined.clear()
    torch.testing.assert_close(hpss_cascade(stereo, SR), whole, atol=0, rtol=0)
    assert len(joined) == 1


def test_cascade_rejects_chunks_shorter_than_its_filters():
    with pytest.raises(ValueError, match="too short for the context of HPSSCascade"):
        hpss_cascade(torch.randn(10 * SR), SR, chunk_duration=1.0)
    with pytest.raises(ValueError, match="chunk_duration"):
        hpss_cascade(torch.randn(10 * SR), SR, chunk_duration=-4.0)


# --------------------------------------------------------------------------- supervised
LOW = list(range(36, 48))    # C2..B2, all partials
HIGH = list(range(60, 72))   # C4..B4, odd partials only


def instrument(pitch: int, duration: float) -> torch.Tensor:
    return note(pitch, duration, odd_only=pitch >= 60, decay=2.0)


@pytest.fixture(scope="module")
def two_instruments():
    train = {"low": place([(0.3 * k, instrument(p, 0.3)) for k, p in enumerate(LOW)], 4 * SR),
             "high": place([(0.3 * k, instrument(p, 0.3)) for k, p in enumerate(HIGH)], 4 * SR)}
    length = 3 * SR
    low = place([(0.1 + 0.7 * k, 0.8 * instrument(p, 0.6)) for k, p in enumerate([38, 43, 41, 45])],
                length)
    high = place([(0.35 * k, 0.5 * instrument(p, 0.3)) for k, p in enumerate([64, 67, 71, 62, 65,
                                                                                69, 60, 66])],
                 length)
    dictionaries = learn_instrument_dictionaries(train, SR, n_fft=1024, hop_length=256)
    return low, high, dictionaries


def test_supervised_separates_two_registers(two_instruments):
    low, high, dictionaries = two_instruments
    stems = separate_supervised(low + high, SR, dictionaries, max_iter=60)
    assert list(stems) == ["low", "high"]
    torch.testing.assert_close(stems["low"] + stems["high"], (low + high)[None], atol=1e-5, rtol=0)
    assert si_sdr(low, stems["low"]) > 15.0
    assert si_sdr(high, stems["high"]) > 12.0


def test_activation_fit_finds_planted_activations():
    # planted: V = W H exactly with sparse H; the core's NMF with W fixed finds them
    generator = torch.Generator().manual_seed(0)
    W = torch.rand(40, 6, generator=generator)
    W /= W.sum(0)
    H_true = torch.rand(6, 200, generator=generator) * (torch.rand(6, 200, generator=generator) > 0.5)
    V = W @ H_true + 1e-3
    H, n_iter = _fit_activations(V, W, beta=0.5, max_iter=500, tol=1e-4)
    assert H.shape == (6, 200) and 5 < n_iter < 500  # stopped where the loss flattened
    assert float(beta_div(W @ H, V, 0.5)) <= float(beta_div(W @ H_true, V, 0.5))
    assert (H - H_true).abs().max() < 0.03 * H_true.max()
    _, sooner = _fit_activations(V, W, beta=0.5, max_iter=500, tol=1e-3)
    assert sooner < n_iter


def test_supervised_chunks_give_the_one_piece_stems(two_instruments):
    # with the atoms fixed every frame is its own problem: 3 s chunks cross-faded give the
    # stems of the whole 7.75 s at once
    low, high, dictionaries = two_instruments
    low = torch.cat([low, low.roll(3000), low[:SR]])
    high = torch.cat([high, high.roll(5000), high[:SR]])
    mixture = low + high
    whole = separate_supervised(mixture, SR, dictionaries, chunk_duration=None)
    chunked = separate_supervised(mixture, SR, dictionaries, chunk_duration=3.0)
    torch.testing.assert_close(chunked["low"] + chunked["high"], mixture[None], atol=1e-5, rtol=0)
    for name, reference in (("low", low), ("high", high)):
        error = (chunked[name] - whole[name]).pow(2).sum() / whole[name].pow(2).sum()
        assert error < 1e-6  # -60 dB
        assert si_sdr(reference, chunked[name]) > 12.0
    with pytest.raises(ValueError, match="chunk_duration"):
        separate_supervised(mixture, SR, dictionaries, chunk_duration=0.5)


def test_supervised_stereo_masks_follow_the_panning(two_instruments):
    # the low instrument mostly left, the high one mostly right (20 dB): one fit on the
    # channels' mean, then per-channel gains put each instrument where it is loud
    low, high, dictionaries = two_instruments
    stereo = torch.stack([low + 0.1 * high, 0.1 * low + high])
    stems = separate_supervised(stereo, SR, dictionaries)
    assert stems["low"].shape == (2, low.numel())
    torch.testing.assert_close(stems["low"] + stems["high"], stereo, atol=1e-5, rtol=0)
    assert si_sdr(low, stems["low"][0]) > 25.0
    assert si_sdr(high, stems["high"][1]) > 25.0
    # the quiet sides: shared masks without the gains give -6 and 5 dB here
    assert si_sdr(0.1 * high, stems["high"][0]) > 1.0
    assert si_sdr(0.1 * low, stems["low"][1]) > 10.0


def test_supervised_band_limited_fit(two_instruments):
    low, high, dictionaries = two_instruments
    mixture = low + high
    full = separate_supervised(mixture, SR, dictionaries, max_iter=60, fit_bandwidth=None)
    # a band reaching the Nyquist frequency is the whole spectrum: the same stems
    whole = separate_supervised(mixture, SR, dictionaries, max_iter=60, fit_bandwidth=SR / 2)
    torch.testing.assert_close(whole["low"], full["low"], atol=0, rtol=0)
    band = separate_supervised(mixture, SR, dictionaries, max_iter=60, fit_bandwidth=2000.0)
    torch.testing.assert_close(band["low"] + band["high"], mixture[None], atol=1e-5, rtol=0)
    assert si_sdr(low, band["low"]) > 15.0
    assert si_sdr(high, band["high"]) > 12.0
    with pytest.raises(ValueError, match="fit_bandwidth"):
        separate_supervised(mixture, SR, dictionaries, fit_bandwidth=-1.0)


def test_supervised_fits_every_other_frame(two_instruments):
    # the default fits every other frame and interpolates: as good as fitting every frame
    low, high, dictionaries = two_instruments
    every = separate_supervised(low + high, SR, dictionaries, max_iter=60, fit_every=1)
    other = separate_supervised(low + high, SR, dictionaries, max_iter=60, fit_every=2)
    torch.testing.assert_close(other["low"] + other["high"], (low + high)[None], atol=1e-5, rtol=0)
    for name, reference in (("low", low), ("high", high)):
        assert si_sdr(reference, other[name]) > si_sdr(reference, every[name]) - 1.0
    with pytest.raises(ValueError, match="fit_every"):
        separate_supervised(low + high, SR, dictionaries, fit_every=0)


def test_dictionaries_save_load_round_trip(two_instruments, tmp_path):
    low, high, dictionaries = two_instruments
    path = dictionaries.save(tmp_path / "dictionaries.pt")
    loaded = Templates.load(path)
    assert loaded.sources == dictionaries.sources
    assert loaded.settings == dict(n_fft=1024, hop_length=256, window="hann")
    torch.testing.assert_close(loaded.W, dictionaries.W)
    a = separate_supervised(low + high, SR, dictionaries, max_iter=10)
    b = separate_supervised(low + high, SR, str(path), max_iter=10)
    torch.testing.assert_close(a["low"], b["low"])


def test_exemplars_are_unit_sum_training_frames():
    tone = instrument(40, 1.0)
    dictionaries = learn_instrument_dictionaries({"a": tone}, SR, n_fft=256, hop_length=64,
                                                 exemplar_hop_length=64, threshold_db=60.0)
    W = dictionaries.W
    torch.testing.assert_close(W.sum(0), torch.ones(W.shape[1]))
    assert W.shape[1] <= 1 + SR // 64
    small = learn_instrument_dictionaries({"a": tone}, SR, n_fft=256, hop_length=64,
                                          max_exemplars=10)
    assert small.W.shape[1] == 10


def test_nmf_dictionaries():
    low = place([(0.3 * k, instrument(p, 0.3)) for k, p in enumerate(LOW[:4])], 2 * SR)
    dictionaries = learn_instrument_dictionaries({"low": low, "other": torch.randn(2 * SR)}, SR,
                                                 n_fft=512, hop_length=128, method="nmf",
                                                 n_components=3, max_iter=20)
    assert dictionaries.W.shape == (257, 6)
    assert dictionaries.source_components == {"low": [0, 1, 2], "other": [3, 4, 5]}


@pytest.mark.parametrize("train, kwargs, error", [
    ([torch.randn(SR)], {}, TypeError),
    ({"a": "file.wav"}, {}, TypeError),
    ({"a": torch.zeros(SR)}, {}, ValueError),
    ({"a": torch.randn(SR)}, dict(method="pca"), ValueError),
    ({"a": torch.randn(SR)}, dict(threshold_db=0.0), ValueError),
    ({"a": torch.randn(SR)}, dict(max_exemplars=0), ValueError),
    ({"a": torch.randn(100)}, dict(n_fft=512), ValueError),
])
def test_learn_dictionaries_rejects_bad_input(train, kwargs, error):
    with pytest.raises(error):
        learn_instrument_dictionaries(train, SR, **kwargs)


def test_supervised_rejects_other_sample_rate(two_instruments):
    low, high, dictionaries = two_instruments
    with pytest.raises(ValueError, match="Hz"):
        separate_supervised(low + high, 16000, dictionaries)


def test_supervised_option_errors_are_nmfsep_parameter_errors(two_instruments):
    from nmfsep import ParameterError, ParameterTypeError

    low, high, dictionaries = two_instruments
    with pytest.raises(ParameterTypeError, match="mask_power must be a positive finite number"):
        separate_supervised(low + high, SR, dictionaries, mask_power="soft")
    with pytest.raises(ParameterError, match="tol must be a non-negative finite number"):
        separate_supervised(low + high, SR, dictionaries, tol=-0.1)


def test_learn_templates_command_gives_the_api_dictionaries_and_quality(two_instruments, tmp_path,
                                                                         capsys):
    """A folder of note files per instrument through 'nmfsep learn-templates', then 'nmfsep
    separate --recipe piano-bass': the API's dictionaries and the API's separation."""
    from nmfsep._apps.cli import main
    from nmfsep.io import load, save

    low, high, _ = two_instruments
    notes = {"low": [instrument(p, 0.3) for p in LOW], "high": [instrument(p, 0.3) for p in HIGH]}
    for name, sounds in notes.items():  # files named by pitch: the folder tells the source
        for pitch, sound in zip(LOW if name == "low" else HIGH, sounds):
            save(tmp_path / "notes" / name / f"{pitch}.wav", sound[None], SR)
    save(tmp_path / "mix.wav", (low + high)[None], SR)
    learned = tmp_path / "duo.pt"
    assert main(["learn-templates", str(tmp_path / "notes" / "low"), str(tmp_path / "notes" / "high"),
                 "--sources", "low", "high", "--out", str(learned)]) == 0
    assert "exemplar dictionaries for --recipe piano-bass" in capsys.readouterr().out
    api = learn_instrument_dictionaries(notes, SR)
    cli = Templates.load(learned)
    assert (cli.sources, cli.components, cli.settings) == (api.sources, api.components, api.settings)
    torch.testing.assert_close(cli.W, api.W)

    assert main(["separate", str(tmp_path / "mix.wav"), "--recipe", "piano-bass", "--templates",
                 str(learned), "--out", str(tmp_path / "stems"), "--quiet"]) == 0
    reference = separate_supervised(low + high, SR, api, seed=0)
    for name, truth in (("low", low), ("high", high)):
        estimate, rate = load(tmp_path / "stems" / "mix" / f"{name}.wav")
        expected = si_sdr(truth, reference[name])
        assert rate == SR and expected > 12.0
        assert abs(si_sdr(truth, estimate) - expected) < 0.5

    # the drum recipes' templates of the same files are refused, not separated with badly
    assert main(["learn-templates", str(tmp_path / "notes" / "low"), str(tmp_path / "notes" / "high"),
                 "--sources", "low", "high", "--recipe", "drums", "--out", str(tmp_path / "d.pt"),
                 "--quiet"]) == 0
    assert Templates.load(tmp_path / "d.pt").W.dim() == 3
    assert main(["separate", str(tmp_path / "mix.wav"), "--recipe", "piano-bass", "--templates",
                 str(tmp_path / "d.pt"), "--out", str(tmp_path / "bad"), "--quiet"]) == 1
    assert "--recipe piano-bass" in capsys.readouterr().err
    assert not (tmp_path / "bad" / "mix").exists()


# --------------------------------------------------------------------------- piano roll
PLANTED = [(45, 0.1, 0.6), (52, 0.7, 1.2), (57, 1.3, 1.9), (60, 1.3, 1.9), (64, 1.3, 1.9),
           (69, 2.0, 2.5)]


@pytest.fixture(scope="module")
def planted():
    audio = place([(onset, note(p, offset - onset, decay=1.0)) for p, onset, offset in PLANTED],
                  3 * SR)
    return audio


ROLL = dict(lowest_pitch=40, n_pitches=32, bins_per_octave=24, frame_rate=50, max_iter=30)


def test_piano_roll_finds_planted_notes(planted):
    roll, times = piano_roll(planted, SR, **ROLL)
    assert roll.shape == (32, times.numel())
    assert float(times[1] - times[0]) == pytest.approx(1 / 50, rel=0.15)
    reference = notes_to_roll(PLANTED, times, lowest_pitch=40, n_pitches=32)
    scores = frame_scores(binarize_roll(roll, -15.0), reference)
    assert scores["f_measure"] > 0.85
    # the strongest pitch of each single note's middle frame is that note
    for pitch, onset, offset in (PLANTED[0], PLANTED[1], PLANTED[5]):
        frame = int(torch.argmin((times - (onset + offset) / 2).abs()))
        assert int(roll[:, frame].argmax()) + 40 == pitch


def test_piano_roll_siplca2(planted):
    roll, times = piano_roll(planted, SR, model="siplca2", **ROLL)
    reference = notes_to_roll(PLANTED, times, lowest_pitch=40, n_pitches=32)
    assert frame_scores(binarize_roll(roll, -15.0), reference)["f_measure"] > 0.85


def test_harmonic_templates_put_partials_at_log_distances():
    W = harmonic_templates(2, 36, 6, spread=1)
    centres = [round(36 * math.log2(h)) for h in range(1, 7)]
    assert W.shape == (1, 2, centres[-1] + 2, 1)
    for r in range(2):
        column = W[0, r, :, 0]
        peaks = [b for b in range(column.numel()) if column[b] > 0 and all(
            column[b] > column[c] for c in (b - 1, b + 1) if 0 <= c < column.numel())]
        assert peaks == centres
        torch.testing.assert_close(column.sum(), torch.tensor(1.0))
    # the second template's partials fall off faster
    top, fundamental = W[0, :, centres[-1], 0], W[0, :, 0, 0]
    assert float(top[1] / fundamental[1]) < float(top[0] / fundamental[0])


def test_frame_scores_counts():
    reference = notes_to_roll([(60, 0.0, 0.3), (62, 0.1, 0.2)], torch.arange(5) / 10,
                              lowest_pitch=60, n_pitches=3)
    estimate = torch.zeros(3, 5, dtype=torch.bool)
    estimate[0, :2] = True   # two hits
    estimate[2, 0] = True    # one false alarm
    scores = frame_scores(estimate, reference)
    assert (scores["tp"], scores["fp"], scores["fn"]) == (2, 1, 2)
    assert scores["precision"] == pytest.approx(2 / 3)
    assert scores["recall"] == pytest.approx(0.5)
    assert scores["f_measure"] == pytest.approx(4 / 7)


@pytest.mark.parametrize("kwargs", [
    dict(bins_per_octave=30), dict(n_pitches=80, n_harmonics=8), dict(model="nmf"),
    dict(n_components=0), dict(frame_rate=0.0),
])
def test_piano_roll_rejects_bad_settings(kwargs):
    with pytest.raises(ValueError):
        piano_roll(torch.randn(SR), SR, **kwargs)


# --------------------------------------------------------------------------- registry
def test_recipes_are_registered_and_run_from_files(drums_and_harmony, two_instruments, tmp_path):
    from nmfsep.io import load, save
    from nmfsep.recipes import RECIPES, run_recipe

    assert RECIPES["drums-harmonic"].sources == ("drums", "harmonic")
    assert RECIPES["drums-harmonic"].uses_hits and RECIPES["piano-bass"].uses_templates
    drums, harmonic, hits = drums_and_harmony
    save(tmp_path / "mix.wav", (drums + harmonic)[None], SR)
    hit_files = [save(tmp_path / "hits" / f"{role}_{k}.wav", hit[None], SR)
                 for role, items in hits.items() for k, hit in enumerate(items)]
    paths = run_recipe("drums-harmonic", tmp_path / "mix.wav", tmp_path / "dvh", hits=hit_files,
                       verbose=False)
    assert sorted(paths) == ["drums", "harmonic"]
    estimate, _ = load(paths["drums"])
    assert si_sdr(drums, estimate) > 10.0  # default STFT at 8 kHz: 1024 / 256
    folder = run_recipe("drums-harmonic", tmp_path / "mix.wav", tmp_path / "dvh2",
                        hits=[tmp_path / "hits"], verbose=False)
    torch.testing.assert_close(load(folder["drums"])[0], estimate, atol=1e-4, rtol=0)

    low, high, dictionaries = two_instruments
    save(tmp_path / "duo.wav", (low + high)[None], SR)
    dictionaries.save(tmp_path / "duo.pt")
    paths = run_recipe("piano-bass", tmp_path / "duo.wav", tmp_path / "duo",
                       templates=tmp_path / "duo.pt", verbose=False)
    assert si_sdr(low, load(paths["low"])[0]) > 15.0
    with pytest.raises(ValueError, match="learn_instrument_dictionaries"):
        run_recipe("piano-bass", tmp_path / "duo.wav", tmp_path / "none", verbose=False)


def test_hits_folder_gives_the_hits_it_holds(drums_and_harmony, tmp_path):
    # a folder of hits is read as its audio files (other files skipped), in name order
    from nmfsep.io import load, save

    drums, harmonic, hits = drums_and_harmony
    folder = tmp_path / "kit"
    folder.mkdir()
    waveforms = [w for items in hits.values() for w in items]
    for k, waveform in enumerate(waveforms):
        save(folder / f"hit_{k}.wav", waveform, SR, subtype="FLOAT")
    (folder / "notes.txt").write_text("not audio")
    loaded = [load(folder / f"hit_{k}.wav", sample_rate=SR, mono=True)[0]
              for k in range(len(waveforms))]
    from_folder = separate_drums_harmonic(drums + harmonic, SR, hits=folder, max_iter=20, **STFT)
    from_list = separate_drums_harmonic(drums + harmonic, SR, hits=loaded, max_iter=20, **STFT)
    torch.testing.assert_close(from_folder["drums"], from_list["drums"])
    with pytest.raises(ValueError, match="holds no audio files"):
        (tmp_path / "empty").mkdir()
        separate_drums_harmonic(drums + harmonic, SR, hits=tmp_path / "empty", **STFT)
