"""The front-end protocol: STFT and CQT objects in a Separator, the string form built through
the same objects, and front ends that do not answer the protocol refused.

The mixture is synthetic: a harmonic tone (220 Hz, 5 partials) and bursts of white noise, at
8 kHz.
"""

import math

import pytest
import torch

from nmfsep._pipeline.stft import n_fft_for_duration
from nmfsep.separation import Separator, learn_templates
from nmfsep.transforms import CQT, STFT

SR = 8000



@pytest.fixture(scope="module")
def mixture():
    t = torch.arange(2 * SR, dtype=torch.float64) / SR
    tone = sum(torch.sin(2 * math.pi * k * 220 * t) / k for k in range(1, 6))
    gate = ((t * 4) % 1 < 0.2).double()  # four bursts a second
    noise = torch.randn(2 * SR, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    return torch.stack([0.3 * tone + 0.2 * gate * noise, 0.1 * tone + 0.4 * gate * noise]).float()


def _assert_same(a, b):
    assert list(a) == list(b)
    for name in a:
        assert torch.equal(a[name], b[name]), name


@pytest.mark.parametrize("settings, front", [
    (dict(n_fft=256, hop_length=64), lambda: STFT(n_fft=256, hop_length=64)),
    (dict(n_fft=256, window="hamming"), lambda: STFT(n_fft=256, window="hamming")),
    (dict(front_end="cqt", fmin=150.0, bins_per_octave=6),
     lambda: CQT(SR, fmin=150.0, bins_per_octave=6)),
])
def test_front_end_object_and_string_form_give_identical_stems(mixture, settings, front):
    common = dict(n_components=3, n_sources=2, max_iter=40)
    by_name = Separator(**common, **settings)
    by_object = Separator(**common, front_end=front())
    stems = by_object.separate(mixture, SR)
    _assert_same(by_name.separate(mixture, SR), stems)
    torch.testing.assert_close(sum(stems.values()), mixture, atol=1e-5, rtol=0)
    assert type(by_object.transform_) is type(by_name.transform_)
    assert by_object.transform_.settings == by_name.transform_.settings
    torch.testing.assert_close(by_object.frequencies_, by_name.frequencies_)


def test_chunked_separation_with_a_front_end_object(mixture):
    common = dict(n_components=2, max_iter=20, chunk_duration=0.8, chunk_overlap=0.2)
    by_object = Separator(**common, front_end=STFT(n_fft=256, hop_length=64))
    stems = by_object.separate(mixture, SR)
    assert by_object.n_chunks_ > 1
    _assert_same(Separator(**common, n_fft=256, hop_length=64).separate(mixture, SR), stems)


def test_templates_accept_a_front_end_object_with_their_settings(mixture):
    t = torch.arange(SR, dtype=torch.float64) / SR
    examples = {"tone": [torch.sin(2 * math.pi * 220 * t).float()],
                "noise": [torch.randn(SR, generator=torch.Generator().manual_seed(1))]}
    templates = learn_templates(examples, sample_rate=SR, n_fft=256, hop_length=64, max_iter=50)
    assert templates.settings == STFT(n_fft=256, hop_length=64).settings
    _assert_same(Separator(templates=templates).separate(mixture, SR),
                 Separator(templates=templates, front_end=STFT(256, 64)).separate(mixture, SR))
    with pytest.raises(ValueError, match="computed with stft"):
        Separator(templates=templates, front_end=STFT(512, 64)).separate(mixture, SR)
    with pytest.raises(ValueError, match="computed with stft"):
        Separator(templates=templates, front_end=STFT(256, 64, center=False)).separate(mixture, SR)


class _Delegating:
    """A front end of one's own: the STFT's work behind the protocol, nothing inherited."""

    kind = "stft"

    def __init__(self, **settings):
        self._stft = STFT(**settings)
        self.settings, self.hop_length, self.n_freqs = (self._stft.settings,
                                                        self._stft.hop_length, self._stft.n_freqs)

    def analyse(self, waveform):
        return self._stft.analyse(waveform)

    def synthesise(self, spec, length, residual=None):
        return self._stft.synthesise(spec, length, residual)

    def n_frames(self, length):
        return self._stft.n_frames(length)

    def min_length(self):
        return self._stft.min_length()

    def bin_frequencies(self, sample_rate):
        return self._stft.bin_frequencies(sample_rate)

    def to(self, device):
        self._stft.to(device)
        return self


def test_any_object_answering_the_protocol_is_a_front_end(mixture):
    common = dict(n_components=2, components={"a": [0], "b": [1]}, max_iter=20)
    _assert_same(Separator(**common, front_end=_Delegating(n_fft=256)).separate(mixture, SR),
                 Separator(**common, n_fft=256).separate(mixture, SR))


def test_a_front_end_missing_a_method_is_refused(mixture):
    class NoInverse(_Delegating):
        synthesise = None

    with pytest.raises(TypeError, match=r"NoInverse lacks \['synthesise'\]"):
        Separator(n_components=2, front_end=NoInverse(n_fft=256)).separate(mixture, SR)
    with pytest.raises(TypeError, match=r"int lacks \['kind', 'settings', 'hop_length'"):
        Separator(n_components=2, front_end=3).separate(mixture, SR)
    with pytest.raises(ValueError, match="front_end must be one of"):
        Separator(n_components=2, front_end="mel").separate(mixture, SR)


def test_settings_beside_a_front_end_object_are_refused(mixture):
    with pytest.raises(ValueError, match=r"\['n_fft'\] are settings of the front end"):
        Separator(n_components=2, front_end=STFT(256), n_fft=512).separate(mixture, SR)
    with pytest.raises(ValueError, match=r"\['fmin'\] do not apply to front_end='stft'"):
        Separator(n_components=2, front_end="stft", fmin=100.0).separate(mixture, SR)
    with pytest.raises(ValueError, match=r"\['n_fft'\] do not apply to front_end='cqt'"):
        Separator(n_components=2, front_end="cqt", n_fft=512).separate(mixture, SR)


def test_a_cqt_made_for_another_rate_is_refused(mixture):
    with pytest.raises(ValueError, match="designed for 16000 Hz but the audio is at 8000 Hz"):
        Separator(n_components=2, front_end=CQT(2 * SR, fmin=150.0)).separate(mixture, SR)


@pytest.mark.parametrize("front", [
    STFT(n_fft=256, hop_length=64), STFT(n_fft=256, hop_length=100, window="hamming", center=False),
    STFT(n_fft=256, pad_mode="constant"), CQT(SR, fmin=150.0, bins_per_octave=6),
])
@pytest.mark.filterwarnings("ignore:The length of signal is shorter")  # center=False's tail
def test_the_protocol_describes_what_analyse_returns(front):
    for length in (front.min_length(), 1000, 4321):
        spec, residual = front.analyse(torch.randn(2, length))
        assert spec.shape == (2, front.n_freqs, front.n_frames(length)) and spec.is_complex()
        assert residual is None or residual.shape == (2, length)
        assert front.synthesise(spec, length, residual).shape == (2, length)
    if front.min_length() > 1:
        with pytest.raises(ValueError, match="needs at least"):
            front.analyse(torch.randn(2, front.min_length() - 1))
    frequencies = front.bin_frequencies(SR)
    assert frequencies.shape == (front.n_freqs,) and frequencies.dtype == torch.float64
    assert bool((frequencies.diff() > 0).all())


def test_a_signal_comes_back_through_the_protocol():
    x = torch.randn(2, 3000, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    for front in (STFT(n_fft=256, hop_length=64), CQT(SR, fmin=100.0, bins_per_octave=12)):
        spec, residual = front.analyse(x)
        torch.testing.assert_close(front.synthesise(spec, x.shape[-1], residual), x,
                                   atol=1e-9, rtol=0)


def test_window_sizes_keep_their_duration_at_every_rate():
    # 93 ms: 2048 samples at 22.05 kHz, 4096 at 44.1 kHz; 46 ms at 48 kHz is 2229 samples,
    # nearer 2048 than 4096 on a log scale
    assert [n_fft_for_duration(2048 / 22050, rate) for rate in (22050, 44100, 11025)] == \
        [2048, 4096, 1024]
    assert n_fft_for_duration(1024 / 22050, 48000) == 2048
    assert n_fft_for_duration(1e-4, 8000) == 16  # never below 16
    with pytest.raises(ValueError, match="seconds"):
        n_fft_for_duration(0, 8000)
