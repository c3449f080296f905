"""Drum recipes: hit templates, NMFD separation with template adaptation, onsets, registry.

The mixtures are synthetic drum patterns made here (no benchmark data): a kick (a sine
sweeping down from 130 to 50 Hz), a snare (a 190 Hz tone plus noise in 300-1800 Hz) and a
hi-hat (noise in 2.5-3.9 kHz), each with exponential decays. The mixture uses two "velocity
layers" (brightness and decay changed by 10-20 %) and random gains; the recipe gets a third,
softer layer as its hits, so the templates never match the mixture exactly (as with the
benchmark's hits, which are other velocity layers than the mixture's).
"""

import math
import warnings

import pytest
import torch

from nmfsep._apps.recipes._kit import templates_at_rate
from nmfsep._apps.recipes.drums import GENERIC_TEMPLATES_PATH
from nmfsep.io import save
from nmfsep.recipes import (
    DRUM_SOURCES,
    RECIPES,
    drum_onsets,
    generic_templates,
    get_recipe,
    group_hits,
    hit_templates,
    learn_templates_cli,
    onset_f_measure,
    pick_onsets,
    register_recipe,
    run_recipe,
    separate_drums,
    source_of_hit,
)
from nmfsep.separation import Templates

SR = 8000


def _band_noise(n, low, high, generator):
    spectrum = torch.fft.rfft(torch.randn(n, generator=generator, dtype=torch.float64))
    frequencies = torch.fft.rfftfreq(n, 1 / SR)
    spectrum[(frequencies < low) | (frequencies > high)] = 0
    noise = torch.fft.irfft(spectrum, n)
    return noise / noise.std()


def _kit(generator, brightness=1.0, decay=1.0):
    n = int(0.25 * SR)
    t = torch.arange(n, dtype=torch.float64) / SR
    sweep = 50 + 80 * torch.exp(-40 * t)
    kick = torch.sin(2 * math.pi * torch.cumsum(sweep, 0) / SR) * torch.exp(-18 * t / decay)
    snare = (0.5 * torch.sin(2 * math.pi * 190 * t)
             + 0.4 * _band_noise(n, 300, 1800 * brightness, generator)) * torch.exp(-25 * t / decay)
    hihat = 0.3 * _band_noise(n, 2500 * brightness, 3900, generator) * torch.exp(-60 * t / decay)
    return {"kick": kick.float(), "snare": snare.float(), "hihat": hihat.float()}


def _pattern(seed=0, seconds=3.2, kit_seed=None):
    """Two bars of 8 steps at 0.2 s: stems, onset times and the hits given to the recipe.
    The kit's noise comes from ``kit_seed`` when given (the same kit for other patterns)."""
    g = torch.Generator().manual_seed(seed)
    kit = g if kit_seed is None else torch.Generator().manual_seed(kit_seed)
    n = int(seconds * SR)
    # the hits are a softer layer (duller, shorter) than the two the mixture is made of
    hits, *layers = [_kit(kit, b, d) for b, d in ((0.8, 0.9), (1.0, 1.0), (1.2, 1.1))]
    stems = {s: torch.zeros(n) for s in DRUM_SOURCES}
    onsets = {s: [] for s in DRUM_SOURCES}
    steps = {"kick": [0, 4, 6], "snare": [2, 6], "hihat": list(range(8))}
    for bar in range(2):
        for source, where in steps.items():
            for k in where:
                start = int((bar * 1.6 + k * 0.2 + 0.02 + 0.01 * float(torch.rand(1, generator=g))) * SR)
                layer = layers[int(torch.randint(0, 2, (1,), generator=g))]
                hit = layer[source] * (0.6 + 0.4 * float(torch.rand(1, generator=g)))
                end = min(n, start + len(hit))
                stems[source][start:end] += hit[:end - start]
                onsets[source].append(start / SR)
    return stems, onsets, {s: [h] for s, h in hits.items()}


def si_sdr(reference, estimate):
    reference = reference.double() - reference.double().mean()
    estimate = estimate.double() - estimate.double().mean()
    scale = (estimate @ reference) / (reference @ reference)
    error = estimate - scale * reference
    return float(10 * torch.log10((scale * reference).pow(2).sum() / error.pow(2).sum()))


@pytest.fixture(scope="module")
def pattern():
    return _pattern()


@pytest.fixture(scope="module")
def separated(pattern):
    stems, _, hits = pattern
    mixture = sum(stems.values())
    onsets, estimates = drum_onsets(mixture, SR, hits=hits, accompaniment=False, return_stems=True)
    fixed = separate_drums(mixture, SR, hits=hits, n_rounds=0)
    return mixture, onsets, estimates, fixed


# --------------------------------------------------------------------------- separation
def test_separates_synthetic_drums_above_12_db(pattern, separated):
    stems, _, _ = pattern
    mixture, _, estimates, _ = separated
    assert list(estimates) == list(DRUM_SOURCES)
    scores = {s: si_sdr(stems[s], estimates[s][0]) for s in DRUM_SOURCES}
    # measured: kick 22.7, snare 14.9, hi-hat 18.0 dB
    assert min(scores.values()) > 12.0, scores
    assert estimates["kick"].shape == (1, mixture.shape[-1])
    total = sum(estimates.values())[0]
    assert torch.allclose(total, mixture, atol=1e-4)


def test_template_adaptation_beats_fixed_templates(pattern, separated):
    stems, _, _ = pattern
    _, _, adapted, fixed = separated
    gain = sum(si_sdr(stems[s], adapted[s][0]) - si_sdr(stems[s], fixed[s][0]) for s in DRUM_SOURCES) / 3
    # measured: fixed 22.3 / 9.9 / 9.6 dB, adapted 22.7 / 14.9 / 18.0 dB: +4.6 dB on average
    assert gain > 2.0


def test_onsets_from_activations(pattern, separated):
    _, reference, _ = pattern
    _, onsets, _, _ = separated
    for source in DRUM_SOURCES:
        scores = onset_f_measure(reference[source], onsets[source], window=0.05)
        assert scores["f_measure"] >= 0.9, (source, scores)
    # every detected onset lies within 25 ms of a true one (frames are 16 ms here)
    errors = [min(abs(t - r) for r in reference["kick"]) for t in onsets["kick"].tolist()]
    assert max(errors) < 0.025


def test_stereo_mixture_keeps_channels(pattern):
    stems, _, hits = pattern
    left = stems["kick"] + stems["hihat"]
    right = stems["snare"] + 0.5 * stems["hihat"]
    mixture = torch.stack([left, right])
    estimates = separate_drums(mixture, SR, hits=hits, n_rounds=1, n_iter=30, n_refit=30)
    assert estimates["snare"].shape == (2, mixture.shape[-1])
    assert torch.allclose(sum(estimates.values()), mixture, atol=1e-4)
    # the snare is only in the right channel: its left estimate is nearly silent (measured:
    # 1.1 % of the right's energy; the activations are shared by the channels, so the snare
    # templates' share of the left channel's hi-hat is only taken out by the gains)
    assert estimates["snare"][0].pow(2).sum() < 0.02 * estimates["snare"][1].pow(2).sum()


@pytest.mark.parametrize("chunk_duration", [None, 2.0])
def test_stereo_gains_follow_the_panning(pattern, chunk_duration):
    # every instrument panned at its own level: the model's gains are the pans (raised to the
    # spectrogram power), each stem keeps its instrument's channel levels, and the channels'
    # model beats a separation of each channel alone
    stems, _, hits = pattern
    pans = {"kick": (0.7, 0.7), "snare": (0.9, 0.3), "hihat": (0.2, 1.0)}
    mixture = torch.stack([sum(pans[s][c] * stems[s] for s in DRUM_SOURCES) for c in range(2)])
    options = dict(hits=hits, chunk_duration=chunk_duration, adapt_duration=1.0)
    estimates, model = separate_drums(mixture, SR, return_model=True, **options)
    assert model.gains.shape == (3, 2)
    assert model.activations.shape[0] == 1  # one fit serves both channels
    for k, s in enumerate(DRUM_SOURCES):
        truth = pans[s][1] / pans[s][0]
        # measured: gains within 6 % of truth ** 1.5, stems' levels within 5 % of truth
        gains = float(model.gains[k, 1] / model.gains[k, 0])
        assert abs(gains / truth ** model.spectrogram_power - 1) < 0.1, (s, gains, truth)
        levels = float(estimates[s][1].norm() / estimates[s][0].norm())
        assert abs(levels / truth - 1) < 0.1, (s, levels, truth)
    torch.testing.assert_close(sum(estimates.values()), mixture, atol=1e-4, rtol=0)
    alone = {s: torch.cat([separate_drums(mixture[c], SR, **options)[s] for c in range(2)])
             for s in DRUM_SOURCES}

    def score(estimate):  # mean SI-SDR of the stems' channels against the panned stems
        return sum(si_sdr(pans[s][c] * stems[s], estimate[s][c])
                   for s in DRUM_SOURCES for c in range(2)) / 6

    # measured: one piece 20.8 against 16.0 dB, chunks of 2 s 20.8 against 16.1 dB
    assert score(estimates) > score(alone) + 2.0, (score(estimates), score(alone))


def test_stereo_model_masks_are_the_separations(pattern):
    # DrumModel.masks of each channel (shared activations times that channel's gains) times
    # the channel's STFT gives the stems separate_drums returned
    from nmfsep.functional import istft, stft

    stems, _, hits = pattern
    mixture = torch.stack([stems["kick"] + 0.9 * stems["snare"] + 0.2 * stems["hihat"],
                           stems["kick"] + 0.3 * stems["snare"] + stems["hihat"]])
    estimates, model = separate_drums(mixture, SR, hits=hits, return_model=True)
    T = model.templates.shape[2]
    padded = torch.nn.functional.pad(mixture, (0, (T - 1) * model.hop_length))
    spectrogram = stft(padded, n_fft=model.n_fft, hop_length=model.hop_length)
    for c in range(2):
        masks = model.masks(channel=c)
        for s, source in enumerate(model.sources):
            estimate = istft(masks[s] * spectrogram[c], n_fft=model.n_fft,
                             hop_length=model.hop_length, length=padded.shape[-1])
            torch.testing.assert_close(estimate[:mixture.shape[-1]], estimates[source][c],
                                       atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="channel"):
        model.masks(channel=2)


def test_float64_and_numpy_mixtures(pattern):
    stems, _, hits = pattern
    mixture = sum(stems.values()).double()
    estimates = separate_drums(mixture.numpy(), SR, hits=hits, n_rounds=0, n_iter=20)
    assert estimates["kick"].dtype == torch.float64
    assert torch.allclose(sum(estimates.values())[0], mixture, atol=1e-4)


# --------------------------------------------------------------------------- templates
def test_hit_template_starts_at_the_onset():
    click = torch.zeros(2000)
    click[0] = 1.0
    templates = hit_templates({"click": [click]}, SR, n_fft=256, hop_length=64, T=6,
                              sources=("click",))
    W = templates.W[:, 0]
    assert W.shape == (129, 6)
    assert W.sum().item() == pytest.approx(1.0, abs=1e-6)
    # frame 1 of the padded hit (column 0) is centred 64 - 128 = -64 samples from the click:
    # it sees the click at window position 64 of 256, frame 2 at 128 (the window's peak)
    energy = W.sum(0)
    assert energy[0] > 0 and energy[1] > energy[0] and torch.all(energy[4:] == 0)
    # leading silence is skipped: the same template with 300 zeros before the click
    delayed = hit_templates({"click": [torch.cat([torch.zeros(300), click])]}, SR, n_fft=256,
                            hop_length=64, T=6, sources=("click",))
    assert torch.allclose(delayed.W, templates.W)


def test_hit_templates_default_sizes_follow_the_sample_rate():
    hit = torch.randn(4000, generator=torch.Generator().manual_seed(0)) * torch.exp(-torch.arange(4000) / 400)
    hits = {s: [hit] for s in DRUM_SOURCES}
    assert hit_templates(hits, 22050).settings == dict(n_fft=1024, hop_length=256, window="hann")
    assert hit_templates(hits, 44100).settings["n_fft"] == 2048
    assert hit_templates(hits, 16000).W.shape == (513, 3, 16)


def test_templates_mapped_to_another_rate_keep_their_spectrum():
    W = torch.zeros(513, 1, 2)
    W[93, 0, :] = 1.0  # 93 * 22050 / 1024 = 2002.6 Hz
    templates = Templates(W, ("tone",), (0,), 22050, "stft",
                          dict(n_fft=1024, hop_length=256, window="hann"))
    mapped, n_fft, hop, window = templates_at_rate(templates, 44100, None, None)
    assert (n_fft, hop, window) == (2048, 512, "hann")  # same Hz per bin, same frame duration
    assert int(mapped[:, 0, 0].argmax()) == 93
    assert mapped.sum().item() == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(ValueError, match="leave n_fft and hop_length unset"):
        templates_at_rate(templates, 22050, 2048, None)


def test_generic_templates_file():
    assert GENERIC_TEMPLATES_PATH.is_file()
    assert GENERIC_TEMPLATES_PATH.stat().st_size < 1_000_000
    templates = generic_templates()
    assert templates.sources == ("kick", "snare", "hihat")
    assert templates.W.shape == (513, 24, 16)
    assert templates.W.dtype == torch.float32
    assert templates.components == (0,) * 8 + (1,) * 8 + (2,) * 8
    assert templates.sample_rate == 22050
    assert templates.settings == dict(n_fft=1024, hop_length=256, window="hann")
    assert torch.all(templates.W >= 0)
    assert torch.allclose(templates.W.sum((0, 2)), torch.ones(24), atol=2e-3)  # float16 storage
    # kick templates put their energy lower than hi-hat templates
    frequencies = torch.arange(513) * 22050 / 1024
    spectra = templates.W.sum(2)
    centroid = (frequencies @ spectra) / spectra.sum(0)
    assert centroid[:8].max() < centroid[16:].min()


def test_generic_recipe_separates_without_hits(pattern):
    stems, _, _ = pattern
    mixture = sum(stems.values())
    estimates = separate_drums(mixture, SR, n_rounds=1, n_iter=30, n_refit=30)
    gains = {s: si_sdr(stems[s], estimates[s][0]) - si_sdr(stems[s], mixture) for s in DRUM_SOURCES}
    # measured: +11.1, +11.4, +12.8 dB (kick 14.9, snare 4.7, hi-hat 4.1 dB)
    assert min(gains.values()) > 6.0, gains


# --------------------------------------------------------------------------- hits by name
def test_source_of_hit_names():
    assert source_of_hit("kit/kick_0.wav") == "kick"
    assert source_of_hit("BD-hard.flac") == "kick"
    assert source_of_hit("sd3.wav") == "snare"
    assert source_of_hit("hh_open_1.wav") == "hihat"
    assert source_of_hit("Hi-Hat closed.wav") == "hihat"
    assert source_of_hit("hat.wav") == "hihat"
    assert source_of_hit("sdx.wav") is None          # a prefix must end the word
    assert source_of_hit("tom_lo_0.wav") is None
    assert source_of_hit("crash.wav") is None


def test_group_hits_from_a_folder(tmp_path):
    for name in ("kick_0", "kick_1", "snare_0", "hh_closed_0", "crash_0"):
        save(tmp_path / f"{name}.wav", torch.zeros(1, 100), SR)
    with pytest.warns(UserWarning, match="crash_0.wav"):
        grouped = group_hits([tmp_path])
    assert {s: [p.name for p in v] for s, v in grouped.items()} == {
        "kick": ["kick_0.wav", "kick_1.wav"], "snare": ["snare_0.wav"], "hihat": ["hh_closed_0.wav"]}


def test_group_hits_errors():
    with pytest.raises(ValueError, match=r"no hits for \['hihat'\]"):
        group_hits(["kick.wav", "snare.wav"])
    with pytest.raises(ValueError, match="unknown instruments"):
        group_hits({"kick": [torch.ones(10)], "cowbell": [torch.ones(10)]})
    with pytest.raises(TypeError, match="mapping"):
        group_hits([torch.ones(10)])
    with pytest.raises(ValueError, match="hits is empty"):
        group_hits([])


# --------------------------------------------------------------------------- onsets
def test_pick_onsets_thresholds():
    curve = torch.zeros(100)
    curve[[10, 40, 70, 90]] = torch.tensor([1.0, 0.5, 0.05, 0.3])
    curve[55] = 0.2            # 15 frames after 0.5: under retrigger * 0.5
    assert pick_onsets(curve, 100.0).tolist() == pytest.approx([0.1, 0.4, 0.9])
    assert pick_onsets(curve, 100.0, retrigger=0.0).tolist() == pytest.approx([0.1, 0.4, 0.55, 0.9])
    assert pick_onsets(curve, 100.0, threshold=0.01, retrigger=0.0, offset=0.5).tolist() == \
        pytest.approx([0.6, 0.9, 1.05, 1.2, 1.4])
    # two peaks closer than min_interval: the larger wins
    close = torch.zeros(50)
    close[[20, 22]] = torch.tensor([0.6, 1.0])
    assert pick_onsets(close, 100.0).tolist() == pytest.approx([0.22])
    assert pick_onsets(torch.zeros(10), 100.0).numel() == 0
    with pytest.raises(ValueError, match="non-negative"):
        pick_onsets(-curve, 100.0)
    with pytest.raises(ValueError, match="threshold"):
        pick_onsets(curve, 100.0, threshold=2.0)


def test_onset_f_measure_known_answers():
    scores = onset_f_measure([0.1, 0.5, 1.0], [0.11, 0.52, 0.7, 0.71])
    assert (scores["matched"], scores["precision"], scores["recall"]) == (2, 0.5, 2 / 3)
    assert scores["f_measure"] == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    # one estimate cannot match two references
    assert onset_f_measure([0.10, 0.14], [0.12])["matched"] == 1
    assert onset_f_measure([], [])["f_measure"] == 1.0
    assert onset_f_measure([0.1], [])["f_measure"] == 0.0


# --------------------------------------------------------------------------- registry
def test_registry_lookups_and_errors():
    assert {"drums", "drums-generic"} <= set(RECIPES)
    assert get_recipe("drums").sources == DRUM_SOURCES
    assert get_recipe("drums").uses_hits and not get_recipe("drums-generic").uses_hits
    with pytest.raises(ValueError, match="unknown recipe 'drum'.*drums-generic"):
        get_recipe("drum")
    with pytest.raises(TypeError):
        get_recipe(3)
    with pytest.raises(ValueError, match="already registered"):
        register_recipe("drums", lambda mixture, sample_rate, **kw: {})
    with pytest.raises(ValueError, match="lower-case"):
        register_recipe("Drums X", lambda mixture, sample_rate, **kw: {})
    with pytest.raises(TypeError, match="callable"):
        register_recipe("not-callable", 3)
    recipe = register_recipe("test-identity", lambda mixture, sample_rate, **kw: {"all": mixture},
                             sources=("all",))
    try:
        assert RECIPES["test-identity"] is recipe
        assert recipe(torch.ones(1, 4), SR)["all"].shape == (1, 4)
    finally:
        del RECIPES["test-identity"]


def test_run_recipe_writes_stems_and_refuses_to_overwrite(tmp_path, pattern):
    stems, _, hits = pattern
    mixture_path = save(tmp_path / "mix.wav", sum(stems.values()).unsqueeze(0), SR)
    hit_files = [save(tmp_path / "hits" / f"{s}_0.wav", h[0].unsqueeze(0), SR) for s, h in hits.items()]
    out = tmp_path / "out"
    written = run_recipe("drums", mixture_path, out, hits=hit_files, verbose=False)
    assert {s: p.name for s, p in written.items()} == {s: f"{s}.wav" for s in DRUM_SOURCES}
    from nmfsep.io import load
    kick, rate = load(written["kick"])
    assert rate == SR and si_sdr(stems["kick"], kick[0]) > 12.0
    with pytest.raises(FileExistsError, match="overwrite"):
        run_recipe("drums", mixture_path, out, hits=hit_files, verbose=False)
    with pytest.raises(ValueError, match="takes no hits"):
        run_recipe("drums-generic", mixture_path, out, hits=hit_files, overwrite=True, verbose=False)
    with pytest.raises(FileNotFoundError):
        run_recipe("drums", tmp_path / "missing.wav", out, hits=hit_files, verbose=False)


def test_learn_templates_cli_names_sources_by_file(tmp_path, pattern):
    _, _, hits = pattern
    files = [save(tmp_path / name, hits[s][0].unsqueeze(0), SR)
             for name, s in (("kick_0.wav", "kick"), ("hh_1.wav", "hihat"), ("snare.wav", "snare"))]
    path = learn_templates_cli(files, tmp_path / "kit.pt", verbose=False)
    templates = Templates.load(path)
    assert templates.sources == ("kick", "hihat", "snare") and templates.W.shape == (257, 3, 16)
    with pytest.raises(FileExistsError):
        learn_templates_cli(files, path, verbose=False)
    with pytest.raises(ValueError, match="2 names for 3 FILE arguments"):
        learn_templates_cli(files, tmp_path / "b.pt", sources=["kick", "snare"], verbose=False)
    # the saved templates separate like the hits they came from
    estimates = separate_drums(sum(_pattern()[0].values()), SR, templates=path, n_rounds=0, n_iter=30)
    assert set(estimates) == {"kick", "hihat", "snare"}


def test_separate_drums_validation(pattern):
    stems, _, hits = pattern
    mixture = sum(stems.values())
    with pytest.raises(ValueError, match="hits or templates, not both"):
        separate_drums(mixture, SR, hits=hits, templates=generic_templates())
    with pytest.raises(ValueError, match="spectrogram_power"):
        separate_drums(mixture, SR, hits=hits, spectrogram_power=0)
    with pytest.raises(ValueError, match="n_rounds"):
        separate_drums(mixture, SR, hits=hits, n_rounds=-1)
    with pytest.raises(ValueError, match="shape"):
        separate_drums(mixture.view(1, 1, -1), SR, hits=hits)
    with pytest.raises(ValueError, match="silent"):
        separate_drums(torch.zeros(SR), SR, hits=hits)
    with pytest.raises(TypeError, match="templates"):
        separate_drums(mixture, SR, templates=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="sample_rate"):
            separate_drums(mixture, 0, hits=hits)


def _notes(onsets, seconds, f0s):
    """Plucked notes (10 ms attack, 1.2 s of decaying partials) starting at ``onsets``."""
    n = int(seconds * SR)
    t = torch.arange(int(1.2 * SR), dtype=torch.float64) / SR
    envelope = torch.exp(-t) * torch.clamp(t / 0.01, max=1.0)
    out = torch.zeros(n, dtype=torch.float64)
    for k, start in enumerate(onsets):
        f0 = f0s[k % len(f0s)]
        note = sum(torch.sin(2 * math.pi * h * f0 * t) / h for h in range(1, 8)) * envelope
        begin = int(start * SR)
        end = min(n, begin + note.numel())
        out[begin:end] += 0.6 * note[:end - begin]
    return out.float()


@pytest.mark.parametrize("f0s", [(55.0, 65.4, 73.4), (196.0, 247.0, 294.0), (392.0, 494.0, 587.0)],
                         ids=["bass", "guitar", "lead"])
def test_onsets_in_a_song_skip_the_accompaniment(pattern, f0s):
    # drums plus notes off the drum grid: with accompaniment=True the notes are taken away
    # before the drum model sees them (measured: 2-4 of the 8 note onsets still reported,
    # against all 8 when the song is treated as drums alone)
    stems, reference, hits = pattern
    note_onsets = [0.12 + 0.4 * k for k in range(8)]
    song = sum(stems.values()) + _notes(note_onsets, stems["kick"].numel() / SR, f0s)

    def reported_notes(onsets):
        times = torch.cat(list(onsets.values()))
        return sum(bool((times - t).abs().min() < 0.03) for t in note_onsets)

    in_song = drum_onsets(song, SR, hits=hits)
    as_drums = drum_onsets(song, SR, hits=hits, accompaniment=False)
    assert reported_notes(in_song) <= 4
    assert reported_notes(as_drums) >= reported_notes(in_song) + 4
    assert onset_f_measure(reference["hihat"], in_song["hihat"])["f_measure"] >= 0.9


def test_onsets_in_a_song_with_hits_of_some_instruments(pattern):
    # a mapping of hits names the model's instruments, in songs as on drum recordings
    stems, reference, hits = pattern
    song = stems["kick"] + stems["hihat"] + _notes([0.12 + 0.4 * k for k in range(8)],
                                                  stems["kick"].numel() / SR, (196.0, 247.0))
    onsets = drum_onsets(song, SR, hits={"kick": hits["kick"], "hihat": hits["hihat"]})
    assert list(onsets) == ["kick", "hihat"]
    for source in ("kick", "hihat"):
        assert onset_f_measure(reference[source], onsets[source])["f_measure"] >= 0.9, source


def test_drum_onsets_defaults_to_the_whole_kit_templates():
    stems, reference, _ = _pattern(seed=3)
    onsets = drum_onsets(sum(stems.values()), SR, accompaniment=False)
    assert list(onsets) == ["kick", "snare", "hihat", "tom", "cymbal"]
    assert onset_f_measure(reference["kick"], onsets["kick"])["f_measure"] >= 0.8


@pytest.mark.parametrize("kwargs", [dict(accompaniment="yes"), dict(threshold=1.5),
                                    dict(threshold={"snare": -0.1})])
def test_drum_onsets_rejects_bad_options(kwargs):
    with pytest.raises((TypeError, ValueError)):
        drum_onsets(torch.randn(SR), SR, **kwargs)


def test_fit_bandwidth_fits_the_band_and_extends_its_masks(pattern):
    # the pattern at twice its rate: nothing above 4 kHz, so fitting the bins under 4 kHz
    # (half the work) must separate as well as fitting all of them
    stems, _, hits = pattern
    torchaudio = pytest.importorskip("torchaudio")
    up = lambda x: torchaudio.functional.resample(x, SR, 2 * SR)  # noqa: E731
    stems = {s: up(x) for s, x in stems.items()}
    mixture = sum(stems.values())
    hits = {s: [up(h) for h in items] for s, items in hits.items()}
    full = separate_drums(mixture, 2 * SR, hits=hits, fit_bandwidth=None)
    band, model = separate_drums(mixture, 2 * SR, hits=hits, fit_bandwidth=SR / 2,
                                 return_model=True)
    # the model holds the band's bins; its masks cover every bin, as the separation's do
    assert model.templates.shape[0] == model.n_fft // 4 + 1
    assert model.masks().shape[-2] == model.n_fft // 2 + 1
    for s in DRUM_SOURCES:
        assert si_sdr(stems[s], band[s][0]) > si_sdr(stems[s], full[s][0]) - 0.5, s
    torch.testing.assert_close(sum(band.values()), mixture[None], atol=1e-4, rtol=0)
    # a band that holds every bin is the full fit, bit for bit
    every = separate_drums(mixture, 2 * SR, hits=hits, fit_bandwidth=float(SR))
    assert all(torch.equal(every[s], full[s]) for s in DRUM_SOURCES)
    with pytest.raises(ValueError, match="fit_bandwidth"):
        separate_drums(mixture, 2 * SR, hits=hits, fit_bandwidth=0.0)


# --------------------------------------------------------------------------- long mixtures
def _long_pattern(repeats=4):
    """``repeats`` x 2 bars of :func:`_pattern` (3.2 s each) with one kit and other timings
    and velocity layers: stems and the hits."""
    parts = [_pattern(seed, kit_seed=0) for seed in range(repeats)]
    stems = {s: torch.cat([p[0][s] for p in parts]) for s in DRUM_SOURCES}
    return stems, parts[0][2]


@pytest.fixture(scope="module")
def long_pattern():
    return _long_pattern()


def test_chunks_give_the_separation_of_the_whole_mixture(long_pattern):
    # with the templates held fixed, chunks (4 s of 12.8 s) separate as the whole mixture: an
    # activation update sees the T frames around a frame only, and the constant start's value
    # (each chunk's mean) cancels in the first update. What differs is each chunk's last
    # activation frame (it takes on the hits that start in the look-ahead frames after the
    # chunk), whose template lies in the next chunk's part of the overlap, and the first
    # frames (the tails of earlier hits): the activations are taken from the middle of the
    # overlaps, and the stems are cross-faded
    stems, hits = long_pattern
    mixture = sum(stems.values())
    options = dict(hits=hits, n_rounds=0, n_iter=100, n_refit=100, return_model=True)
    whole, whole_model = separate_drums(mixture, SR, chunk_duration=None, **options)
    chunked, chunked_model = separate_drums(mixture, SR, chunk_duration=4.0, **options)
    torch.testing.assert_close(chunked_model.templates, whole_model.templates, rtol=0, atol=0)
    scale = float(whole_model.activations.max())
    # measured: 5e-4 of 5.5e3 (float32 rounding)
    torch.testing.assert_close(chunked_model.activations, whole_model.activations, rtol=0,
                               atol=1e-6 * scale)
    for s in DRUM_SOURCES:  # measured: 3e-5 at most, the mixture's peak 1.9
        torch.testing.assert_close(chunked[s], whole[s], rtol=0, atol=1e-4)
    torch.testing.assert_close(sum(chunked.values()), mixture[None], atol=1e-4, rtol=0)


def test_chunks_separate_nearly_as_well_as_the_whole_mixture(long_pattern):
    # templates adapted on one 5 s excerpt of the 12.8 s mixture, then 4 s chunks: most of
    # the gain of the adaptation on the whole mixture over fixed templates
    stems, hits = long_pattern
    mixture = torch.stack([sum(stems.values()), stems["kick"] + 0.5 * stems["hihat"]])
    runs = {"whole": dict(chunk_duration=None), "fixed": dict(chunk_duration=None, n_rounds=0),
            "chunked": dict(chunk_duration=4.0, adapt_duration=5.0)}
    scores = {}
    for name, options in runs.items():
        estimates = separate_drums(mixture, SR, hits=hits, **options)
        scores[name] = sum(si_sdr(stems[s], estimates[s][0]) for s in DRUM_SOURCES) / 3
    # measured (kick, snare, hi-hat): whole 22.6 / 14.4 / 15.7 dB, chunked 22.6 / 13.8 / 14.5,
    # fixed templates 22.1 / 7.5 / 6.7
    assert scores["chunked"] > scores["whole"] - 1.0, scores
    assert scores["chunked"] > scores["fixed"] + 4.0, scores
    assert estimates["snare"].shape == (2, mixture.shape[-1])
    torch.testing.assert_close(sum(estimates.values()), mixture, atol=1e-4, rtol=0)


def test_chunks_bound_the_spectrograms(long_pattern, monkeypatch):
    # flat memory: no STFT of the mixture is longer than a chunk or the excerpts, plus the
    # templates' length of look-ahead (the model's T - 1 frames)
    from nmfsep.transforms import STFT

    stems, hits = long_pattern
    mixture = sum(stems.values())
    templates = hit_templates(hits, SR)
    lengths = []

    def recording_analyse(self, signal):
        lengths.append(signal.shape[-1])
        return analyse(self, signal)

    analyse = STFT.analyse
    monkeypatch.setattr(STFT, "analyse", recording_analyse)
    estimates = separate_drums(mixture, SR, templates=templates, chunk_duration=4.0,
                               adapt_duration=5.0)
    extra = (templates.W.shape[2] - 1) * templates.settings["hop_length"]
    assert max(lengths) <= 5 * SR + extra < mixture.shape[-1]
    assert len(lengths) == 1 + 4  # the excerpt, then the chunks of 12.8 s
    torch.testing.assert_close(sum(estimates.values()), mixture[None], atol=1e-4, rtol=0)


def test_excerpts_spread_over_the_mixture():
    from nmfsep._apps.recipes._shared import excerpt_starts

    assert excerpt_starts(100_000, 10_000, 4, 64) == [0, 30_016, 59_968, 89_984]
    assert excerpt_starts(100_000, 10_000, 1, 64) == [0]


def test_chunk_options_are_checked(pattern):
    stems, _, hits = pattern
    mixture = sum(stems.values())
    with pytest.raises(ValueError, match="adapt_duration"):
        separate_drums(mixture, SR, hits=hits, adapt_duration=0)
    with pytest.raises(ValueError, match="chunk_duration"):
        separate_drums(mixture, SR, hits=hits, chunk_duration=-2.0)
    with pytest.raises(ValueError, match="n_chunk"):
        separate_drums(mixture, SR, hits=hits, n_chunk=0)
    with pytest.raises(ValueError, match="chunk_solver"):
        separate_drums(mixture, SR, hits=hits, chunk_solver="hals")


def test_chunk_activations_take_their_own_updates_and_solver(long_pattern):
    # n_chunk and chunk_solver change the chunks' activation fits only: with fixed templates
    # (n_rounds=0) 12 extrapolated updates per chunk come as close to the converged chunks
    # (100 plain updates) as 30 plain updates do
    stems, hits = long_pattern
    mixture = sum(stems.values())
    options = dict(hits=hits, n_rounds=0, n_iter=100, chunk_duration=4.0, return_model=True)
    ref, ref_model = separate_drums(mixture, SR, n_refit=100, **options)
    plain, _ = separate_drums(mixture, SR, n_refit=100, n_chunk=30, **options)
    fast, fast_model = separate_drums(mixture, SR, n_refit=100, n_chunk=12, chunk_solver="auto",
                                      **options)
    _, same_model = separate_drums(mixture, SR, n_refit=100, n_chunk=100, **options)
    torch.testing.assert_close(same_model.activations, ref_model.activations, rtol=0, atol=0)
    torch.testing.assert_close(fast_model.templates, ref_model.templates, rtol=0, atol=0)

    def distance(estimates):
        return max(float((estimates[s] - ref[s]).abs().max()) for s in DRUM_SOURCES)

    # measured: 2.4e-3 (30 plain updates), 1.7e-3 (12 extrapolated); the mixture's peak 1.9
    assert distance(fast) < distance(plain) < 5e-3
    torch.testing.assert_close(sum(fast.values()), mixture[None], atol=1e-4, rtol=0)


def test_generic_recipe_adapts_long_mixtures_on_fewer_excerpts(monkeypatch):
    from nmfsep._apps.recipes import drums

    seen = {}

    def recording(mixture, sample_rate, **options):
        seen.update(options)
        return {}

    monkeypatch.setattr(drums, "separate_drums", recording)
    RECIPES["drums-generic"](torch.zeros(SR), SR)  # the registered recipe, with its settings
    assert {k: seen[k] for k in drums.GENERIC_CHUNK_FIT} == \
        dict(adapt_duration=20.0, n_chunk=20)
    seen.clear()
    RECIPES["drums"](torch.zeros(SR), SR)  # the kit recipe keeps separate_drums' defaults
    assert {k: seen[k] for k in drums.GENERIC_CHUNK_FIT} == dict(adapt_duration=30.0, n_chunk=None)


def test_channel_gains_are_a_fit_of_the_one_engine():
    # V_c ≈ Σ_s G_sc Λ_s with the parts Λ fixed: the gains are 30 KL multiplicative updates
    # (an NMF fit whose templates are the parts), the textbook loop's numbers to float32
    # rounding, and a planted mixing is recovered
    from nmfsep._apps.recipes._shared import GAIN_UPDATES, channel_gains

    g = torch.Generator().manual_seed(3)
    parts = torch.rand(3, 1, 40, 300, generator=g) + 0.05
    truth = torch.tensor([[0.9, 0.1], [0.5, 0.5], [0.2, 0.8]])
    V = (truth.view(3, 2, 1, 1) * parts).sum(0).unsqueeze(1)        # (channels, 1, freq, frames)
    gains = channel_gains(parts, V)
    P, X = parts.flatten(1).double(), V.flatten(1).double()          # (S, values), (C, values)
    G = (X.mean(1) / P.sum(0).mean()).expand(3, -1).clone()
    for _ in range(GAIN_UPDATES):
        G *= (P @ (X / (G.T @ P)).T) / P.sum(1, keepdim=True)
    assert gains.shape == (3, 2, 1, 1)
    assert torch.allclose(gains[..., 0, 0].double(), G, rtol=1e-5, atol=0)
    assert (gains[..., 0, 0] - truth).abs().max() < 0.05
