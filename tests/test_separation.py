"""Separation pipeline: quality on synthetic mixtures, mixture consistency, channels, alignment,
templates files, clustering, chunking and input validation.

The sources are synthetic and known: a sequence of plucked harmonic tones (energy below
1.7 kHz) and bursts of band-limited noise (1.8-3.8 kHz), at 8 kHz. Templates are learned
from *other* instances of the same kinds of sound (other notes, other noise).
"""

import math

import numpy as np
import pytest
import torch

from nmfsep._pipeline._models import ModelSpec
from nmfsep.io import load, save
from nmfsep.separation import (
    Separator,
    Templates,
    cluster_components,
    learn_templates,
    write_stems,
)

SR = 8000
STFT = dict(n_fft=256, hop_length=64)



# --------------------------------------------------------------------------- signals
def tones(notes, duration):
    """Plucked tones: 5 harmonics (amplitude 1/k) with an exp(-6 t) decay, ``[(onset_s, f0)]``."""
    t = torch.arange(round(duration * SR), dtype=torch.float64) / SR
    x = torch.zeros_like(t)
    for onset, f0 in notes:
        since = (t - onset).clamp_min(0)
        envelope = torch.where(t >= onset, torch.exp(-6 * since), torch.zeros_like(t))
        for k in range(1, 6):
            x += envelope * torch.sin(2 * math.pi * k * f0 * since) / k
    return x.float()


def noise_bursts(onsets, duration, seed, level=0.5):
    """Noise band-limited to 1.8-3.8 kHz with exp(-25 t) decays starting at ``onsets`` (s)."""
    n = round(duration * SR)
    noise = torch.randn(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    spectrum = torch.fft.rfft(noise)
    f = torch.fft.rfftfreq(n, 1 / SR)
    spectrum[(f < 1800) | (f > 3800)] = 0
    noise = torch.fft.irfft(spectrum, n)
    t = torch.arange(n, dtype=torch.float64) / SR
    envelope = sum(torch.where(t >= o, torch.exp(-25 * (t - o).clamp_min(0)), torch.zeros_like(t))
                   for o in onsets)
    return (level * noise * envelope / noise.std()).float()


def si_sdr(estimate, reference):
    """Scale-invariant SDR in dB of zero-mean signals (Le Roux et al. 2019)."""
    estimate = estimate.double() - estimate.double().mean()
    reference = reference.double() - reference.double().mean()
    target = (estimate @ reference) / (reference @ reference) * reference
    return float(10 * torch.log10((target @ target) / ((estimate - target) @ (estimate - target))))


@pytest.fixture(scope="module")
def sources():
    tone = tones([(0.1, 220), (0.6, 277), (1.1, 330), (1.6, 220)], 2.0)
    noise = noise_bursts([0.05, 0.35, 0.85, 1.3, 1.75, 1.95], 2.0, seed=1)
    return tone, noise


@pytest.fixture(scope="module")
def examples():
    return {"tone": [tones([(0.0, f)], 0.5) for f in (196, 247, 294, 370)],
            "noise": [noise_bursts([0.0], 0.3, seed=s) for s in (5, 6)]}


@pytest.fixture(scope="module")
def nmfd_templates(examples):
    return learn_templates(examples, sample_rate=SR, T=4, **STFT,
                           n_components_per_source={"tone": 3, "noise": 1})


# --------------------------------------------------------------------------- quality
@pytest.mark.parametrize("T, model", [(4, None), (4, "siplca"), (None, None), (None, "plca")])
def test_template_informed_separation_quality(sources, examples, T, model):
    tone, noise = sources
    templates = learn_templates(examples, sample_rate=SR, T=T, **STFT,
                                n_components_per_source={"tone": 3, "noise": 1})
    assert templates.models == (("nmfd", "siplca") if T else ("nmf", "plca"))
    separator = Separator(templates=templates, model=model)
    stems = separator.separate(tone + noise, SR)
    assert list(stems) == ["tone", "noise"]
    # measured: about 35 / 26 dB (NMFD, SI-PLCA) and 34 / 25 dB (NMF, PLCA dictionaries)
    assert si_sdr(stems["tone"][0], tone) > 20
    assert si_sdr(stems["noise"][0], noise) > 15
    # the templates were held fixed (they are only scaled to unit sum)
    assert not separator.model_.W.requires_grad
    axes = (0, 2) if T else (0,)
    torch.testing.assert_close(separator.templates_, templates.W / templates.W.sum(axes, keepdim=True))


def test_clustering_separates_unsupervised_nmf(sources):
    tone, noise = sources
    separator = Separator(n_components=6, n_sources=2, **STFT)
    stems = separator.separate(tone + noise, SR)
    # sources are numbered from low to high spectral centroid: the tone first
    assert si_sdr(stems["source0"][0], tone) > 20  # measured 33.5 dB
    assert si_sdr(stems["source1"][0], noise) > 15  # measured 24.5 dB
    assert sorted(r for rs in separator.source_components_.values() for r in rs) == list(range(6))


def test_cluster_components_groups_distinct_templates():
    generator = torch.Generator().manual_seed(0)
    frequencies = torch.linspace(0, 4000, 129)
    harmonic = torch.zeros(129, 4)
    for r, f0 in enumerate((110, 150, 196, 247)):  # same timbre, different pitches
        for k in range(1, 8):
            harmonic[:, r] += torch.exp(-0.5 * ((frequencies - k * f0) / 20) ** 2) / k
    noisy = torch.zeros(129, 3)
    noisy[70:120] = torch.rand(50, 3, generator=generator) + 0.5
    templates = torch.cat([noisy[:, :1], harmonic[:, :2], noisy[:, 1:], harmonic[:, 2:]], 1)
    expected = [1, 0, 0, 1, 1, 0, 0]
    for features in ("timbre", "spectrum"):
        for method in ("agglomerative", "kmeans"):
            labels = cluster_components(templates, 2, frequencies=frequencies, features=features,
                                        method=method)
            assert labels.tolist() == expected, (features, method)
    # the same with activations: components that sound together belong together
    activations = torch.zeros(1, 7, 50)
    activations[0, [1, 2, 5, 6], :25] = torch.rand(4, 25, generator=generator) + 1
    activations[0, [0, 3, 4], 25:] = torch.rand(3, 25, generator=generator) + 1
    labels = cluster_components(templates, 2, activations=activations, frequencies=frequencies,
                                features="activations")
    assert labels.tolist() == expected
    with pytest.raises(ValueError, match="n_sources=8"):
        cluster_components(templates, 8)


# --------------------------------------------------------------------------- consistency
@pytest.mark.parametrize("config", [
    dict(model="nmf", n_components=4, components={"a": [0, 2], "b": [1, 3]}, **STFT),
    dict(model="nmfd", T=3, n_components=3, mask_power="binary", **STFT),
    dict(model="plca", n_components=4, n_sources=2, mask_power=1, **STFT),
    dict(model="siplca", T=3, n_components=3, n_sources=2, **STFT),
    dict(model="nmf", n_components=3, front_end="cqt", fmin=150.0, bins_per_octave=6),
    dict(model="nmf2d", T=2, n_components=2, n_shifts=6, front_end="cqt", fmin=150.0,
         bins_per_octave=6, max_iter=20),
])
def test_sources_sum_to_mixture_and_activations_are_aligned(sources, config):
    tone, noise = sources
    mixture = torch.stack([tone + noise, 0.5 * tone - noise])[:, :6000]
    separator = Separator(**config)
    stems = separator.separate(mixture, SR)
    total = sum(stems.values())
    assert all(s.shape == mixture.shape and s.dtype == mixture.dtype for s in stems.values())
    assert float((total - mixture).abs().max()) < 1e-5
    frames = separator.spectrogram_.shape[-1]
    assert separator.activations_.shape[0] == 2 and separator.activations_.shape[-1] == frames
    assert separator.masks_.shape == (len(stems),) + tuple(separator.spectrogram_.shape)
    torch.testing.assert_close(separator.masks_.sum(0), torch.ones_like(separator.masks_[0]))


def test_silent_stretches_and_float64(nmfd_templates, sources):
    tone, noise = sources
    mixture = (tone + noise).double()
    mixture[4000:8000] = 0  # digital silence inside the mixture is fine
    stems = Separator(templates=nmfd_templates).separate(mixture, SR)
    assert stems["tone"].dtype == torch.float64
    assert float((sum(stems.values())[0] - mixture).abs().max()) < 1e-10
    assert float(stems["tone"][0, 4500:7500].abs().max()) < 1e-3


# --------------------------------------------------------------------------- channels
def test_multichannel_keeps_channels_apart(nmfd_templates, sources):
    tone, noise = sources
    mixture = torch.stack([tone + noise, noise])  # the tone is only in the left channel
    separator = Separator(templates=nmfd_templates)
    stems = separator.separate(mixture, SR)
    assert stems["tone"].shape == (2, tone.shape[0])
    assert separator.activations_.shape == (2, 4, separator.spectrogram_.shape[-1])
    assert si_sdr(stems["tone"][0], tone) > 20
    # right channel: measured 3.6% of the noise's amplitude leaks into the tone (-29 dB)
    assert float(stems["tone"][1].norm() / noise.norm()) < 0.1
    assert si_sdr(stems["noise"][1], noise) > 20
    tone_activity = separator.activations_[:, :3].sum()
    assert float(separator.activations_[1, :3].sum() / tone_activity) < 0.05


# --------------------------------------------------------------------------- alignment
def test_nmfd_activations_mark_onsets_even_at_the_edges(examples):
    templates = learn_templates({"noise": examples["noise"]}, sample_rate=SR, T=6, **STFT)
    onsets = [0.3, 1.0, 1.96]  # the last one starts 2 frames before the end
    mixture = noise_bursts(onsets, 2.0, seed=9)
    separator = Separator(templates=templates)
    separator.separate(mixture, SR)
    activations = separator.activations_[0, 0]
    frames = separator.spectrogram_.shape[-1]
    assert activations.shape == (frames,) == (1 + mixture.shape[0] // STFT["hop_length"],)
    peaks = torch.topk(activations, 3).indices.sort().values
    expected = torch.tensor([round(o * SR / STFT["hop_length"]) for o in onsets])
    assert (peaks - expected).abs().max() <= 1


def test_the_pipeline_builds_aligned_core_models():
    # the deconvolutions take one activation per frame (plus T - 1 before): NMFD(aligned=True)
    spec = ModelSpec("nmfd", 5, T=4)
    assert spec.activation_shape(2, 1, 10) == (1, 2, 13)
    model = spec.build(torch.rand(1, 5, 10), 2, generator=torch.Generator().manual_seed(0))
    assert type(model).__name__ == "NMFD" and model.aligned and model.has_closed_form()
    assert model().shape == (1, 5, 10)


def test_separator_stems_equal_the_autograd_fit(monkeypatch, sources):
    # the aligned NMFD's closed forms give the stems that autograd's gradient parts give
    tone, noise = sources
    mixture = (tone + noise).double()
    options = dict(model="nmfd", n_components=4, n_sources=2, T=4, max_iter=60, seed=0, **STFT)
    for beta in (1.0, 2.0, 0.5):
        fast = Separator(beta=beta, **options).separate(mixture, SR)
        from nmfsep.nmf import NMFD
        with monkeypatch.context() as patch:
            patch.setattr(NMFD, "has_closed_form", lambda self: False)
            generic = Separator(beta=beta, **options).separate(mixture, SR)
        assert fast.keys() == generic.keys()
        for name in fast:
            torch.testing.assert_close(fast[name], generic[name], rtol=0, atol=1e-6)


# --------------------------------------------------------------------------- long input
def test_chunks_cross_fade_and_match_one_piece(nmfd_templates, sources):
    tone, noise = sources
    mixture = torch.cat([tone + noise] * 3)
    whole = Separator(templates=nmfd_templates, chunk_duration=None)
    reference = whole.separate(mixture, SR)
    chunked = Separator(templates=nmfd_templates, chunk_duration=2.0, chunk_overlap=0.5)
    stems = chunked.separate(mixture, SR)
    assert chunked.n_chunks_ == 4 and whole.n_chunks_ == 1
    assert chunked.spectrogram_ is None and chunked.masks_ is None
    assert float((sum(stems.values()) - mixture).abs().max()) < 1e-5
    assert chunked.activations_.shape == whole.activations_.shape
    assert si_sdr(stems["tone"][0], reference["tone"][0]) > 30
    assert si_sdr(stems["tone"][0], torch.cat([tone] * 3)) > 20


def test_returning_freed_memory_leaves_the_separation_unchanged(nmfd_templates, sources,
                                                               monkeypatch):
    # add_chunk gives freed heap pages back after every chunk (glibc's malloc_trim); the
    # stems are the same without it (as on systems without glibc, where it does nothing)
    import platform

    from nmfsep._pipeline import separation

    assert separation.release_freed_memory() is (platform.libc_ver()[0] == "glibc")
    tone, noise = sources
    mixture = torch.cat([tone + noise] * 3)
    calls = []
    trim = separation._malloc_trim()
    if trim is not None:
        monkeypatch.setattr(separation, "_malloc_trim",
                            lambda: lambda pad: calls.append(pad) or trim(pad))
    chunked = Separator(templates=nmfd_templates, chunk_duration=2.0, chunk_overlap=0.5)
    stems = chunked.separate(mixture, SR)
    assert len(calls) == (chunked.n_chunks_ if trim is not None else 0) and chunked.n_chunks_ == 4
    monkeypatch.setattr(separation, "_malloc_trim", lambda: None)  # no glibc
    assert separation.release_freed_memory() is False
    again = Separator(templates=nmfd_templates, chunk_duration=2.0, chunk_overlap=0.5)
    for name, stem in again.separate(mixture, SR).items():
        assert torch.equal(stem, stems[name])


def test_add_chunk_without_fades_joins_chunks_in_the_middle_of_the_overlaps():
    # chunks equal to the whole except near their edges (less than half an overlap in) join
    # into the whole exactly
    from nmfsep._pipeline.separation import add_chunk, chunk_bounds

    whole = torch.randn(2, 3, 1000, generator=torch.Generator().manual_seed(0))
    bounds = chunk_bounds(1000, 300, 60, 10)
    stems = torch.zeros_like(whole)
    for k, (start, end) in enumerate(bounds):
        chunk = whole[..., start:end].clone()
        chunk[..., :29] = 1e3 if k else chunk[..., :29]  # a chunk's edges are unreliable
        chunk[..., -29:] = -1e3 if k + 1 < len(bounds) else chunk[..., -29:]
        add_chunk(stems, chunk, bounds, k, crossfade=False)
    assert torch.equal(stems, whole)


def test_chunks_overlap_only_their_neighbours():
    # the largest overlap allowed keeps the cross-faded chunks summing to the whole; one
    # hop more would make chunk k + 2 start inside chunk k, which is refused
    from nmfsep._pipeline.separation import add_chunk, chunk_bounds, chunk_sizes

    whole = torch.randn(1, 2, 1000, generator=torch.Generator().manual_seed(1))
    bounds = chunk_bounds(1000, 300, 150, 10)
    assert all(bounds[k + 2][0] >= bounds[k][1] for k in range(len(bounds) - 2))
    stems = torch.zeros_like(whole)
    for k, (start, end) in enumerate(bounds):
        add_chunk(stems, whole[..., start:end], bounds, k)
    torch.testing.assert_close(stems, whole)
    assert chunk_bounds(1000, 300, 155, 10)[1][0] == 150  # the step rounded up: no triple
    with pytest.raises(ValueError, match="three chunks would overlap"):
        chunk_bounds(1000, 300, 160, 10)
    with pytest.raises(ValueError, match="chunk_duration >= 2 x chunk_overlap"):
        chunk_sizes(1.5, 1.0, 100)
    assert chunk_sizes(2.0, 1.0, 100) == (200, 100)
    # the wrong type is a TypeError, a wrong value a ValueError (nmfsep's family)
    from nmfsep import ParameterError, ParameterTypeError

    with pytest.raises(ParameterTypeError, match="chunk_duration must be a positive finite number of seconds"):
        chunk_sizes("2", 1.0, 100)
    with pytest.raises(ParameterError, match="chunk_overlap must be a non-negative finite number of seconds"):
        chunk_sizes(2.0, -1.0, 100)


def test_chunked_cqt_front_end(sources):
    tone, noise = sources
    mixture = torch.cat([tone + noise] * 2)
    settings = dict(model="nmf", front_end="cqt", fmin=150.0, bins_per_octave=6,
                    components={"low": [0, 1], "high": [2]})
    whole = Separator(chunk_duration=None, **settings)
    whole.separate(mixture, SR)
    chunked = Separator(chunk_duration=1.5, chunk_overlap=0.25, **settings)
    stems = chunked.separate(mixture, SR)
    assert chunked.n_chunks_ == 3
    assert float((sum(stems.values()) - mixture).abs().max()) < 1e-5
    assert chunked.activations_.shape == whole.activations_.shape


def test_chunked_clustering_learns_templates_once(sources):
    tone, noise = sources
    mixture = torch.cat([tone + noise] * 2)
    separator = Separator(n_components=6, n_sources=2, chunk_duration=1.5, chunk_overlap=0.25,
                          **STFT)
    stems = separator.separate(mixture, SR)
    assert separator.n_chunks_ == 3
    assert not separator.model_.W.requires_grad  # later chunks hold the learned templates
    assert si_sdr(stems["source0"][0], torch.cat([tone] * 2)) > 15


# --------------------------------------------------------------------------- templates
def test_templates_save_load_round_trip(nmfd_templates, tmp_path):
    path = nmfd_templates.save(tmp_path / "t.pt")
    loaded = Templates.load(path)
    assert torch.equal(loaded.W, nmfd_templates.W)
    assert (loaded.sources, loaded.components, loaded.sample_rate, loaded.settings) == (
        ("tone", "noise"), (0, 0, 0, 1), SR, dict(n_fft=256, hop_length=64, window="hann"))
    with pytest.raises(FileExistsError, match="overwrite=True"):
        nmfd_templates.save(path)
    nmfd_templates.save(path, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.pt"]  # no temporary left over
    # a separator reads the file
    assert Separator(templates=str(path)).separate(noise_bursts([0.2], 1.0, 3), SR)["noise"].shape == (1, 8000)
    (tmp_path / "bad.pt").write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="not a templates file"):
        Templates.load(tmp_path / "bad.pt")
    with pytest.raises(FileNotFoundError):
        Templates.load(tmp_path / "missing.pt")


def test_templates_from_files_and_patterns(examples, tmp_path):
    for i, x in enumerate(examples["noise"]):
        save(tmp_path / f"noise_{i}.wav", x, SR)
    save(tmp_path / "tone.flac", 0.5 * examples["tone"][0], 2 * SR)  # resampled on loading
    templates = learn_templates({"noise": str(tmp_path / "noise_*.wav"), "tone": tmp_path / "tone.flac"},
                                sample_rate=SR, **STFT)
    assert templates.W.shape == (129, 2) and templates.source_components == {"noise": [0], "tone": [1]}
    with pytest.raises(FileNotFoundError, match="matches"):
        learn_templates({"x": str(tmp_path / "kick_*.wav")}, sample_rate=SR)


def test_templates_settings_must_match(nmfd_templates, sources):
    mixture = sum(sources)
    with pytest.raises(ValueError, match="learned at 8000 Hz but the audio is at 16000 Hz"):
        Separator(templates=nmfd_templates).separate(mixture, 2 * SR)
    with pytest.raises(ValueError, match="n_fft"):
        Separator(templates=nmfd_templates, n_fft=512).separate(mixture, SR)
    with pytest.raises(ValueError, match="T=8 differs"):
        Separator(templates=nmfd_templates, T=8).separate(mixture, SR)
    with pytest.raises(ValueError, match="cannot use templates"):
        Separator(templates=nmfd_templates, model="nmf").separate(mixture, SR)


def test_free_components_join_the_named_source(nmfd_templates, sources):
    tone, noise = sources
    separator = Separator(templates=nmfd_templates, n_free=2)
    stems = separator.separate(tone + noise, SR)
    assert list(stems) == ["tone", "noise", "other"]
    assert separator.source_components_["other"] == [4, 5]
    fixed = nmfd_templates.W / nmfd_templates.W.sum((0, 2), keepdim=True)
    assert torch.equal(separator.templates_[:, :4], fixed)  # bit-exact: fixed_W
    assert not torch.allclose(separator.templates_[:, 4:], separator.model_.W.new_zeros(1))
    joined = Separator(templates=nmfd_templates, n_free=1, free_source="noise")
    stems = joined.separate(tone + noise, SR)
    assert list(stems) == ["tone", "noise"] and joined.source_components_["noise"] == [3, 4]


# --------------------------------------------------------------------------- files
def test_separate_file_and_write_stems(nmfd_templates, sources, tmp_path):
    mixture = torch.stack([sum(sources)] * 2)
    save(tmp_path / "mix.wav", mixture, SR)
    separator = Separator(templates=nmfd_templates)
    stems = separator.separate_file(tmp_path / "mix.wav")
    paths = write_stems(stems, tmp_path / "out", SR, prefix="mix_")
    assert sorted(p.name for p in paths.values()) == ["mix_noise.wav", "mix_tone.wav"]
    loaded, rate = load(paths["tone"])
    assert rate == SR and torch.allclose(loaded, stems["tone"])
    # refusing to overwrite writes nothing at all
    paths["tone"].unlink()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_stems(stems, tmp_path / "out", SR, prefix="mix_")
    assert not paths["tone"].exists()
    write_stems(stems, tmp_path / "out", SR, prefix="mix_", overwrite=True)
    # a file at another rate: an error, or resampled on request
    save(tmp_path / "mix16k.wav", mixture, 2 * SR)
    with pytest.raises(ValueError, match="resample"):
        separator.separate_file(tmp_path / "mix16k.wav")
    # 16000 samples at 16 kHz -> 8000 at the templates' 8 kHz
    assert separator.separate_file(tmp_path / "mix16k.wav", resample=True)["tone"].shape == (2, 8000)
    assert separator.sample_rate_ == SR


# --------------------------------------------------------------------------- validation
def test_bad_inputs_raise_clear_errors(nmfd_templates, tmp_path):
    separator = Separator(templates=nmfd_templates)
    with pytest.raises(ValueError, match="empty"):
        separator.separate(torch.zeros(0), SR)
    with pytest.raises(ValueError, match="silent"):
        separator.separate(torch.zeros(2, 4000), SR)
    with pytest.raises(ValueError, match="NaN"):
        separator.separate(torch.tensor([0.1, float("nan")] * 2000), SR)
    with pytest.raises(TypeError, match="floating-point"):
        separator.separate(torch.ones(4000, dtype=torch.int16), SR)
    with pytest.raises(ValueError, match="transpose"):
        separator.separate(torch.rand(4000, 2), SR)
    with pytest.raises(ValueError, match="needs at least"):
        separator.separate(torch.rand(1, 100), SR)
    (tmp_path / "broken.wav").write_bytes(b"RIFF\x00\x00garbage")
    with pytest.raises(ValueError, match="could not decode"):
        separator.separate_file(tmp_path / "broken.wav")
    with pytest.raises(FileNotFoundError):
        separator.separate_file(tmp_path / "missing.wav")
    with pytest.raises(ValueError, match="silent"):
        learn_templates({"x": [torch.zeros(4000)]}, sample_rate=SR)
    with pytest.raises(ValueError, match="solver must be 'mu' or 'auto'"):
        learn_templates({"x": [torch.rand(4000)]}, sample_rate=SR, solver="hals")


@pytest.mark.parametrize("params, error, match", [
    (dict(model="svd", n_components=2), ValueError, "model must be one of"),
    (dict(), ValueError, "pass n_components"),
    (dict(model="nmfd", n_components=2), ValueError, "pass T"),
    (dict(model="nmf2d", n_components=2, T=2), ValueError, "front_end='cqt'"),
    (dict(n_components=2, n_sources=3), ValueError, "n_sources=3 exceeds"),
    (dict(n_components=3, components={"a": [0], "b": [1]}), ValueError, r"components \[2\] belong to no"),
    (dict(n_components=2, components={"a": [0, 1], "b": [1]}), ValueError, "in both"),
    (dict(n_components=2, components={"a": [0]}, n_sources=2), ValueError, "only one of"),
    (dict(n_components=2, mask_power=0), ValueError, "mask_power"),
    (dict(n_components=2, mask_power="soft"), ValueError, "mask_power"),
    (dict(n_components=2, mask_power=[2]), TypeError, "mask_power"),
    (dict(n_components=2, chunk_duration=1.0, chunk_overlap=1.0), ValueError, "chunk_duration"),
    (dict(n_components=2, chunk_duration=0.01, chunk_overlap=0), ValueError, "too short"),
    (dict(n_components=2, n_free=2), ValueError, "n_free"),
    (dict(n_components=2, model="plca", beta=2), ValueError, "beta=1"),
    (dict(n_components=2, fmin=50.0), ValueError, "do not apply"),
    (dict(n_components=2, beta=float("nan")), ValueError, "beta"),
    (dict(n_components=2, solver="hals"), ValueError, "minimises the Euclidean distance"),
    (dict(n_components=2, model="nmfd", T=3, beta=2, solver="anls"), ValueError, "fits model='nmf' only"),
    (dict(n_components=2, templates=3), TypeError, "Templates object"),
])
def test_invalid_parameters(params, error, match):
    with pytest.raises(error, match=match):
        Separator(**params).separate(torch.rand(4000) - 0.5, SR)


def test_scikit_learn_conventions():
    mapping = {"a": [0], "b": [1]}
    separator = Separator(n_components=2, components=mapping, n_fft=512)
    assert separator.get_params()["components"] is mapping  # stored as given
    assert repr(separator) == "Separator(n_components=2, components={'a': [0], 'b': [1]}, n_fft=512)"
    assert separator.set_params(n_fft=256) is separator and separator.n_fft == 256
    assert not hasattr(separator, "activations_")
    with pytest.raises(ValueError, match="unknown parameters"):
        separator.set_params(rank=3)


def test_numpy_input_and_mono_shape():
    x = (np.random.default_rng(0).random(4000) - 0.5).astype(np.float32)
    stems = Separator(n_components=2, **STFT).separate(x, SR)
    assert list(stems) == ["component0", "component1"] and stems["component0"].shape == (1, 4000)


def test_add_chunk_cross_fades_to_one():
    # chunks of ones cross-faded into zeros give ones: the fades sum to one over each overlap;
    # activations are copied from the middle of one overlap to the middle of the next
    from nmfsep._pipeline.separation import add_chunk, chunk_bounds

    hop = 10
    bounds = chunk_bounds(1000, 300, 50, hop)
    assert bounds == [(0, 300), (250, 550), (500, 800), (750, 1000)]
    stems = torch.zeros(2, 1, 1000)
    activations = torch.zeros(3, 1000 // hop + 1)
    for k, (start, end) in enumerate(bounds):
        frames = torch.arange(start // hop, start // hop + (end - start) // hop + 1)
        add_chunk(stems, torch.ones(2, 1, end - start), bounds, k, activations=activations,
                  chunk_activations=(100 * k + frames).float().expand(3, -1), hop=hop)
    torch.testing.assert_close(stems, torch.ones_like(stems), rtol=0, atol=1e-6)
    # frame j of the whole from the chunk whose middle part holds it: 100 * chunk + j
    owner = torch.tensor([sum(j * hop >= (b[0] + a[1]) // 2 for a, b in zip(bounds, bounds[1:]))
                          for j in range(activations.shape[-1])])
    torch.testing.assert_close(activations[0], (100 * owner + torch.arange(101)).float())
