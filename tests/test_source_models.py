"""The source-model protocol of ``Separator`` (``nmfsep.separation.SourceModel``): a custom
model is accepted and its parts become the stems, the recipes' models through a Separator
give the recipe functions' stems, and a bad model is refused by name."""

import pytest
import torch

from nmfsep import ParameterError, ParameterTypeError
from nmfsep.recipes import (
    DrumNMFD,
    HPSSCascade,
    PercussiveHarmonicNMF,
    SupervisedNMF,
    hit_templates,
    hpss_cascade,
    learn_instrument_dictionaries,
    separate_drums,
    separate_drums_harmonic,
    separate_supervised,
)
from nmfsep.separation import Factorisation, Separator, SourceModel, SourceParts, fitted_bins
from nmfsep.transforms import STFT

SR = 8000
N_FFT, HOP = 512, 128
CUT = 64  # bins under it belong to the low source (1000 Hz at 8 kHz, n_fft 512)


def two_tones(seconds=6.0, channels=1):
    t = torch.arange(int(seconds * SR)) / SR
    low = 0.5 * torch.sin(2 * torch.pi * 220 * t) * (1 + 0.5 * torch.sin(2 * torch.pi * 0.7 * t))
    high = 0.3 * torch.sin(2 * torch.pi * 2500 * t)
    if channels == 2:
        return torch.stack([low, 0.5 * low]), torch.stack([0.2 * high, high])
    return low[None], high[None]


class BandSplit(SourceModel):
    """An oracle of two sources in separate bands: the low one below bin ``CUT``."""

    sources = ("low", "high")

    def __init__(self, power=1.0, lookahead=0, fit_bandwidth=None):
        self.power, self.lookahead, self.fit_bandwidth = power, lookahead, fit_bandwidth
        self.prepared, self.seen = [], []

    def prepare(self, mixture, sample_rate, front, bounds):
        self.prepared.append(len(bounds))
        return list(range(len(bounds)))[::-1]  # any order the model asks for

    def parts(self, magnitude):
        self.seen.append(tuple(magnitude.shape))
        low = magnitude.clone()
        low[:, CUT:] = 0
        parts = torch.stack([low, magnitude - low]) ** self.power
        frames = magnitude.shape[-1] - self.lookahead  # the look-ahead frames have none
        return SourceParts(parts, activations=magnitude[..., :frames].sum(1, keepdim=True))


def band_split_by_hand(mixture):
    front = STFT(n_fft=N_FFT, hop_length=HOP)
    spectrogram = front.analyse(mixture)[0]
    low = spectrogram.clone()
    low[:, CUT:] = 0
    length = mixture.shape[-1]
    return {"low": front.synthesise(low, length), "high": front.synthesise(spectrogram - low, length)}


@pytest.mark.parametrize("chunk_duration", [None, 2.0])
def test_a_custom_model_gives_its_stems(chunk_duration):
    low, high = two_tones()
    mixture = low + high
    model = BandSplit()
    separator = Separator(front_end=STFT(n_fft=N_FFT, hop_length=HOP), model=model,
                          chunk_duration=chunk_duration, chunk_overlap=0.5)
    stems = separator.separate(mixture, SR)
    assert list(stems) == ["low", "high"] and separator.sources_ == ("low", "high")
    # binary parts give binary masks: the stems are the bands of the mixture
    expected = band_split_by_hand(mixture)
    for name, reference in (("low", low), ("high", high)):
        torch.testing.assert_close(stems[name], expected[name], atol=2e-5, rtol=0)
        assert (stems[name] - reference).pow(2).sum() < 1e-3 * reference.pow(2).sum()
    torch.testing.assert_close(stems["low"] + stems["high"], mixture, atol=1e-5, rtol=0)
    n_chunks = 1 if chunk_duration is None else 4
    assert model.prepared == [n_chunks] and len(model.seen) == n_chunks == separator.n_chunks_
    # the chunks' activations joined on the whole mixture's frames
    whole = STFT(n_fft=N_FFT, hop_length=HOP).analyse(mixture)[0].abs().sum(1, keepdim=True)
    torch.testing.assert_close(separator.activations_, whole, rtol=1e-4, atol=1e-4)
    assert separator.model_ is model and separator.source_components_ is None


def test_the_model_declares_power_lookahead_and_band():
    low, high = two_tones(3.0)
    mixture = low + high
    front = STFT(n_fft=N_FFT, hop_length=HOP)
    # parts of |X| ** 2 with masks of power 2 / 2 are the masks of |X| with power 1
    squared = Separator(front_end=front, model=BandSplit(power=2.0), mask_power=2.0,
                        chunk_duration=None).separate(mixture, SR)
    plain = Separator(front_end=front, model=BandSplit(), mask_power=1.0,
                      chunk_duration=None).separate(mixture, SR)
    for name in plain:
        torch.testing.assert_close(squared[name], plain[name], atol=1e-6, rtol=0)
    # the look-ahead frames and only the bins up to the bandwidth reach the model
    model = BandSplit(lookahead=3, fit_bandwidth=2000.0)
    stems = Separator(front_end=front, model=model, chunk_duration=None).separate(mixture, SR)
    n_fit = fitted_bins(front, SR, 2000.0)
    assert n_fit == 2000 * N_FFT // SR + 1
    assert model.seen == [(1, n_fit, front.n_frames(mixture.shape[-1]) + 3)]
    assert stems["low"].shape == mixture.shape
    torch.testing.assert_close(stems["low"] + stems["high"], mixture, atol=1e-5, rtol=0)


def test_fit_runs_the_loop_without_stems():
    low, high = two_tones()
    mixture = low + high
    model = Factorisation("nmf", n_components=3, max_iter=20)
    separated = Separator(model=model, n_fft=N_FFT, chunk_duration=2.0, chunk_overlap=0.5)
    separated.separate(mixture, SR)
    fitted = Separator(model=model, n_fft=N_FFT, chunk_duration=2.0, chunk_overlap=0.5)
    assert fitted.fit(mixture, SR) is fitted
    assert torch.equal(fitted.activations_, separated.activations_)
    assert torch.equal(fitted.templates_, separated.templates_)
    assert fitted.n_iter_ == separated.n_iter_ and fitted.masks_ is None


class NoParts:
    sources = ("a",)


@pytest.mark.parametrize("model, missing", [(object(), "sources, parts"), (NoParts(), "parts"),
                                            (3, "sources, parts")])
def test_a_bad_model_is_refused_by_what_it_lacks(model, missing):
    with pytest.raises(ParameterTypeError, match=f"source model .*lacks {missing}"):
        Separator(model=model).separate(two_tones(1.0)[0], SR)


def test_a_source_model_refuses_factorisation_settings():
    with pytest.raises(ParameterError, match=r"\['n_components', 'n_sources'\] are settings of "
                                             r"a factorisation"):
        Separator(model=BandSplit(), n_components=3, n_sources=2).separate(two_tones(1.0)[0], SR)
    with pytest.raises(ParameterError, match=r"\['solver'\] are settings of a factorisation"):
        Separator(model=BandSplit(), solver="auto").separate(two_tones(1.0)[0], SR)


# --------------------------------------------------------------------------- the recipes' models
@pytest.fixture(scope="module")
def drums():
    g = torch.Generator().manual_seed(0)
    t = torch.arange(1600) / SR
    kick = torch.sin(2 * torch.pi * 60 * t) * torch.exp(-25 * t)
    hat = torch.randn(1600, generator=g) * torch.exp(-80 * t) * 0.3
    mixture = torch.zeros(2, 9 * SR)
    for k, start in enumerate(range(0, 9 * SR - 3600, 4000)):
        mixture[:, start:start + 1600] += kick * torch.tensor([[1.0], [0.4]])
        mixture[:, start + 2000:start + 3600] += hat * (0.5 + 0.1 * (k % 3))
    return mixture, {"kick": [kick], "hihat": [hat]}


@pytest.mark.parametrize("chunk_duration", [None, 3.0])
def test_the_drum_recipe_is_its_separator(drums, chunk_duration):
    mixture, hits = drums
    options = dict(n_rounds=1, n_iter=20, n_adapt=10, n_refit=10, adapt_duration=2.0,
                   fit_bandwidth=3000.0)
    recipe, result = separate_drums(mixture, SR, hits=hits, n_fft=256, T=8,
                                    chunk_duration=chunk_duration, return_model=True, **options)
    templates = hit_templates(hits, SR, n_fft=256, T=8, sources=tuple(hits))
    model = DrumNMFD(templates, **options)
    separator = Separator(front_end=STFT(n_fft=256, hop_length=64), model=model,
                          chunk_duration=chunk_duration)
    stems = separator.separate(mixture, SR)
    assert list(stems) == list(recipe) == ["kick", "hihat"]
    assert separator.n_chunks_ == (1 if chunk_duration is None else 4)
    for name in stems:
        assert torch.equal(stems[name], recipe[name])
    assert torch.equal(separator.activations_, result.activations)
    assert torch.equal(model.templates_, result.templates)
    assert torch.equal(model.gains_, result.gains) and model.gains_.shape == (2, 2)
    # the kick is twice as loud on the left: its gains say so
    assert result.gains[0, 0] > 2 * result.gains[0, 1]


def test_the_drum_model_validates_itself(drums):
    templates = hit_templates(drums[1], SR, n_fft=256, T=8, sources=("kick", "hihat"))
    with pytest.raises(ParameterError, match="n_adapt"):
        DrumNMFD(templates, n_adapt=0)
    with pytest.raises(ParameterError, match="chunk_solver"):
        DrumNMFD(templates, chunk_solver="lbfgs")
    with pytest.raises(ParameterTypeError, match="STFT NMFD Templates"):
        DrumNMFD(templates.W)
    with pytest.raises(ParameterError, match="models an STFT"):
        Separator(front_end="cqt", model=DrumNMFD(templates)).separate(drums[0], SR)


def test_the_piano_bass_recipe_is_its_separator():
    low, high = two_tones(8.0, channels=2)
    dictionaries = learn_instrument_dictionaries({"low": low[0], "high": high[1]}, SR,
                                                 n_fft=N_FFT, hop_length=HOP)
    mixture = low + high
    recipe = separate_supervised(mixture, SR, dictionaries, max_iter=30, chunk_duration=3.0)
    model = SupervisedNMF(dictionaries, max_iter=30)
    separator = Separator(front_end=STFT(n_fft=N_FFT, hop_length=HOP), model=model,
                          chunk_duration=3.0)
    stems = separator.separate(mixture, SR)
    for name in stems:
        assert torch.equal(stems[name], recipe[name])
    assert separator.n_chunks_ == 4 == len(model.n_iter_)
    assert (stems["low"] - low).pow(2).sum() < 0.01 * low.pow(2).sum()
    with pytest.raises(ParameterError, match="fit_every"):
        SupervisedNMF(dictionaries, fit_every=0)


def test_the_drums_harmonic_dictionary_recipe_is_its_separator():
    t = torch.arange(2 * SR) / SR
    clicks = torch.zeros(2 * SR)
    clicks[::2000] = 1.0
    tone = 0.3 * torch.sin(2 * torch.pi * 220 * t)
    mixture = (tone + clicks)[None]
    recipe = separate_drums_harmonic(mixture, SR, method="dictionary", drum_templates=None,
                                     n_percussive=4, n_harmonic=4, n_fft=N_FFT,
                                     hop_length=HOP, max_iter=30, seed=3)
    model = PercussiveHarmonicNMF(n_percussive=4, n_harmonic=4, max_iter=30, seed=3,
                                  continuity=1.0)  # CONTINUITY["free"]: no fixed dictionary
    separator = Separator(front_end=STFT(n_fft=N_FFT, hop_length=HOP), model=model,
                          chunk_duration=None)
    stems = separator.separate(mixture, SR)
    assert list(stems) == list(recipe) == ["drums", "harmonic"]
    for name in stems:
        assert torch.equal(stems[name], recipe[name])
    # a second run starts from the same seed: the same stems
    again = separator.separate(mixture, SR)
    assert all(torch.equal(again[name], stems[name]) for name in stems)
    assert (stems["harmonic"][0] - tone).pow(2).sum() < 0.1 * tone.pow(2).sum()
    with pytest.raises(ParameterError, match="n_percussive > 0"):
        PercussiveHarmonicNMF()


class WrongParts(BandSplit):
    def parts(self, magnitude):
        return SourceParts(super().parts(magnitude).parts[:, :, :-1])  # one bin short


def test_parts_of_the_wrong_shape_are_refused_by_name():
    with pytest.raises(ParameterError, match=r"WrongParts.parts gave parts of shape \(2, 1, 256, "):
        Separator(front_end=STFT(n_fft=N_FFT), model=WrongParts()).separate(two_tones(1.0)[0], SR)


# --------------------------------------------------------------------------- exact context
class LocalBandSplit(BandSplit):
    """A model with a local non-linear filter: the low source's part is the running maximum
    over 5 frames of a low-passed ``|X|``, which a frame's neighbours change (and so the
    chunks' edges). An output sample hears the samples within its reach."""

    context = N_FFT + 2 * HOP

    def parts(self, magnitude):
        self.seen.append(tuple(magnitude.shape))
        weight = torch.linspace(1.0, 0.0, magnitude.shape[-2])[:, None] ** 4
        low = torch.nn.functional.max_pool1d(magnitude * weight, 5, 1, 2)
        return SourceParts(torch.stack([low, magnitude]))


def test_exact_context_chunks_join_to_the_one_piece_result():
    low, high = two_tones(8.0, channels=2)
    mixture = low + high
    front = STFT(n_fft=N_FFT, hop_length=HOP)
    whole = Separator(front_end=front, model=LocalBandSplit(), chunk_duration=None).separate(
        mixture, SR)
    model = LocalBandSplit()
    separator = Separator(front_end=front, model=model, chunk_duration=2.0)
    chunked = separator.separate(mixture, SR)
    assert separator.n_chunks_ == 4 and len(model.seen) == 4
    for name in whole:  # no cross-fades: every sample is the one-piece result's
        torch.testing.assert_close(chunked[name], whole[name], atol=1e-6, rtol=0)
    # cross-faded chunks without the context differ from it near the joins
    model.context = None
    faded = Separator(front_end=front, model=model, chunk_duration=2.0,
                      chunk_overlap=0.1).separate(mixture, SR)
    assert (faded["low"] - whole["low"]).abs().max() > 1e-3


def test_the_drums_harmonic_cascade_recipe_is_its_separator():
    t = torch.arange(12 * SR) / SR
    clicks = torch.zeros(12 * SR)
    clicks[500::2000] = 1.0
    tone = 0.3 * torch.sin(2 * torch.pi * 220 * t)
    mixture = torch.stack([tone + clicks, 0.5 * tone - clicks])
    recipe = separate_drums_harmonic(mixture, SR)  # method "cascade" without hits
    model = HPSSCascade(SR)
    separator = Separator(front_end=model.front_end, model=model, chunk_duration=None)
    stems = separator.separate(mixture, SR)
    assert list(stems) == list(recipe) == ["drums", "harmonic"]
    assert all(torch.equal(stems[name], recipe[name]) for name in stems)
    assert (stems["harmonic"][0] - tone).pow(2).sum() < 0.1 * tone.pow(2).sum()
    for refine in (True, False):
        model = HPSSCascade(SR, refine=refine)
        separator = Separator(front_end=model.front_end, model=model, chunk_duration=4.0,
                              chunk_overlap=0.0)
        chunked = separator.separate(mixture, SR)
        assert separator.n_chunks_ == 5  # 4 s chunks overlapping by 2 x 0.86 s of context
        assert torch.equal(chunked["drums"], hpss_cascade(mixture, SR, chunk_duration=4.0,
                                                          refine=refine))
        whole = hpss_cascade(mixture, SR, chunk_duration=None, refine=refine)
        torch.testing.assert_close(chunked["drums"], whole, atol=1e-6, rtol=0)
        assert torch.equal(chunked["harmonic"], mixture - chunked["drums"])


class Stems(BandSplit):
    """Gives the chunk's stems itself: all of it to the first source."""

    complex_input = True

    def __init__(self, shape_error=False, **kwargs):
        super().__init__(**kwargs)
        self.shape_error = shape_error

    def parts(self, spectrogram, waveform):
        self.seen.append((spectrogram.dtype, tuple(waveform.shape)))
        stems = torch.stack([waveform, torch.zeros_like(waveform)])
        return SourceParts(None, stems=stems[..., 1:] if self.shape_error else stems)


def test_complex_input_context_and_stems_are_checked():
    mixture = sum(two_tones(3.0))
    front = STFT(n_fft=N_FFT, hop_length=HOP)
    model = Stems()
    stems = Separator(front_end=front, model=model, chunk_duration=None).separate(mixture, SR)
    assert model.seen == [(torch.complex64, tuple(mixture.shape))]
    assert torch.equal(stems["low"], mixture) and not stems["high"].any()
    with pytest.raises(ParameterError, match=r"Stems.parts gave stems of shape \(2, 1, 23999\)"):
        Separator(front_end=front, model=Stems(shape_error=True)).separate(mixture, SR)
    with pytest.raises(ParameterError, match="fit_bandwidth must be None"):
        Separator(front_end=front, model=Stems(fit_bandwidth=1000.0)).separate(mixture, SR)
    bad = Stems()
    bad.complex_input = "yes"
    with pytest.raises(ParameterTypeError, match="complex_input must be True or False"):
        Separator(front_end=front, model=bad).separate(mixture, SR)
    for context in (-1, 2.5):
        bad = LocalBandSplit()
        bad.context = context
        with pytest.raises((ParameterError, ParameterTypeError), match="context"):
            Separator(front_end=front, model=bad).separate(mixture, SR)
    long = LocalBandSplit()
    long.context = SR  # 1 s on either side: chunks of 2 s are too short
    with pytest.raises(ParameterError, match="too short for the context of LocalBandSplit"):
        Separator(front_end=front, model=long, chunk_duration=2.0).separate(
            sum(two_tones(8.0)), SR)


def test_the_cascade_model_validates_itself():
    model = HPSSCascade(SR)
    assert model.context > 0 and model.chunk_alignment >= 1 and model.complex_input
    with pytest.raises(ParameterError, match="margin"):
        HPSSCascade(SR, margin=-1.0)
    with pytest.raises(ParameterTypeError, match="refine"):
        HPSSCascade(SR, refine="no")
    mixture = sum(two_tones(3.0))
    with pytest.raises(ParameterError, match="stage 1 STFT"):
        Separator(front_end=STFT(n_fft=N_FFT), model=model).separate(mixture, SR)
    with pytest.raises(ParameterError, match="set up for 8000 Hz"):
        Separator(front_end=model.front_end, model=model).separate(mixture, 2 * SR)


def test_the_piano_roll_recipe_is_its_separator():
    # the roll of a planted A3 + E4 through Separator.fit equals the recipe's; the model fits
    # its own CQT, in one piece
    from nmfsep.recipes import PitchActivations, piano_roll
    from nmfsep.transforms import CQT

    sr = 22050
    t = torch.arange(sr) / sr
    mixture = sum((torch.sin(2 * torch.pi * 220 * h * t) + 0.5 * torch.sin(2 * torch.pi * 330 * h * t)) / h
                  for h in range(1, 6))
    settings = dict(lowest_pitch=40, n_pitches=32, frame_rate=50, max_iter=20)
    roll, times = piano_roll(mixture, sr, **settings)
    model = PitchActivations(sr, **settings)
    Separator(front_end=model.front_end, model=model, chunk_duration=None).fit(mixture, sr)
    assert torch.equal(model.roll_, roll) and torch.equal(model.times_, times)
    assert {int(p) + 40 for p in roll.sum(1).topk(2).indices} == {57, 64}
    with pytest.raises(ParameterError, match="its own CQT"):
        Separator(front_end=CQT(sr, fmin=50.0, n_bins=100, bins_per_octave=24),
                  model=PitchActivations(sr, **settings), chunk_duration=None).fit(mixture, sr)
    with pytest.raises(ParameterError, match="one channel in one piece"):
        model = PitchActivations(sr, **settings)
        Separator(front_end=model.front_end, model=model, chunk_duration=None).fit(
            torch.stack([mixture, mixture]), sr)
