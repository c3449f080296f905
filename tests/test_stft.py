"""STFT / ISTFT: round trips, agreement with torch.stft and librosa, gradients, validation."""

import math

import numpy as np
import pytest
import torch

from nmfsep._pipeline.stft import (
    STFT,
    frames_to_time,
    istft,
    magnitude,
    stft,
    stft_frequencies,
)

TOLERANCE = {torch.float32: 1e-5, torch.float64: 1e-10}


def _signal(shape, dtype, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=generator, dtype=dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("batch", [(), (3,), (2, 3)])
@pytest.mark.parametrize("length", [1000, 1023, 4097])
def test_round_trip_error(dtype, batch, length):
    x = _signal((*batch, length), dtype)
    spec = stft(x, n_fft=256, hop_length=64)
    assert spec.shape == (*batch, 129, 1 + length // 64)
    y = istft(spec, n_fft=256, hop_length=64, length=length)
    assert y.shape == x.shape and y.dtype == dtype
    assert (x - y).abs().max() < TOLERANCE[dtype]


@pytest.mark.parametrize(
    "settings",
    [
        dict(n_fft=255, hop_length=50),  # odd n_fft: must be passed to istft
        dict(n_fft=512, hop_length=100, win_length=400),  # window shorter than n_fft
        dict(n_fft=256, hop_length=64, window="hamming", center=False),
        dict(n_fft=256, hop_length=64, window="blackman", normalized="window"),
    ],
)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_round_trip_other_settings(settings, dtype):
    x = _signal((2, 3000), dtype)
    if settings.get("center", True):
        y = istft(stft(x, **settings), length=3000, **settings)
        assert y.shape == x.shape
    else:
        # Without centring the samples after the last full frame are not covered.
        y = istft(stft(x, **settings), **settings)
        assert y.shape == (2, 256 + 64 * ((3000 - 256) // 64))
    assert (x[..., : y.shape[-1]] - y).abs().max() < TOLERANCE[dtype]


@pytest.mark.parametrize("center", [True, False])
def test_matches_torch_stft(center):
    x = _signal((2, 5000), torch.float64)
    window = torch.hann_window(400, dtype=torch.float64)
    expected = torch.stft(
        x, 512, hop_length=128, win_length=400, window=window, center=center,
        pad_mode="reflect", return_complex=True,
    )
    actual = stft(x, n_fft=512, hop_length=128, win_length=400, center=center)
    torch.testing.assert_close(actual, expected, rtol=0, atol=1e-12)


def test_matches_librosa():
    librosa = pytest.importorskip("librosa")
    x = _signal((3000,), torch.float64).numpy()
    expected = librosa.stft(x, n_fft=256, hop_length=64, window="hann", pad_mode="reflect")
    actual = stft(torch.from_numpy(x), n_fft=256, hop_length=64).numpy()
    np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-10)


def test_sine_peak_bin_and_amplitude():
    # A sine on bin k with amplitude A gives |X[k]| = A * sum(window) / 2 = A * n_fft / 4 (Hann).
    n_fft, k, amplitude = 512, 40, 0.5
    t = torch.arange(8192, dtype=torch.float64)
    x = amplitude * torch.sin(2 * math.pi * k * t / n_fft)
    mag = magnitude(stft(x, n_fft=n_fft, hop_length=128))
    middle = mag[:, 10:-10]  # away from the reflect-padded edges
    assert (middle.argmax(dim=0) == k).all()
    torch.testing.assert_close(middle[k], torch.full_like(middle[k], amplitude * n_fft / 4))


def test_gradcheck_stft_and_istft():
    x = _signal((2, 24), torch.float64).requires_grad_()
    settings = dict(n_fft=8, hop_length=2)
    assert torch.autograd.gradcheck(lambda s: stft(s, **settings), (x,))
    spec = stft(x.detach(), **settings).requires_grad_()
    assert torch.autograd.gradcheck(lambda z: istft(z, length=24, **settings), (spec,))


def test_magnitude_power():
    spec = torch.tensor([[3 + 4j, 0j], [1j, -2 + 0j]], dtype=torch.complex128)
    torch.testing.assert_close(magnitude(spec), torch.tensor([[5.0, 0.0], [1.0, 2.0]], dtype=torch.float64))
    torch.testing.assert_close(magnitude(spec, power=2.0), torch.tensor([[25.0, 0.0], [1.0, 4.0]], dtype=torch.float64))
    with pytest.raises(ValueError, match="power"):
        magnitude(spec, power=0.0)


@pytest.mark.parametrize("n_fft", [8, 9, 2048])
def test_stft_frequencies(n_fft):
    expected = np.fft.rfftfreq(n_fft, d=1 / 22050)
    actual = stft_frequencies(22050, n_fft, dtype=torch.float64).numpy()
    np.testing.assert_allclose(actual, expected, rtol=1e-12)
    assert actual.shape == (n_fft // 2 + 1,)


def test_frames_to_time_matches_librosa():
    librosa = pytest.importorskip("librosa")
    frames = np.array([0, 1, 5, 100])
    np.testing.assert_allclose(
        frames_to_time(frames, 22050, 512).numpy(), librosa.frames_to_time(frames, sr=22050, hop_length=512)
    )
    np.testing.assert_allclose(
        frames_to_time(frames, 22050, 512, n_fft=2048).numpy(),
        librosa.frames_to_time(frames, sr=22050, hop_length=512, n_fft=2048),
    )
    assert frames_to_time(3, 16000, 160).item() == pytest.approx(0.03)


def test_module_is_the_function():
    x = _signal((2, 2000), torch.float32)
    transform = STFT(n_fft=256, hop_length=64, window="hamming")
    torch.testing.assert_close(transform(x), stft(x, n_fft=256, hop_length=64, window="hamming"), rtol=0, atol=0)
    assert (transform.inverse(transform(x), length=2000) - x).abs().max() < 1e-5
    assert "window" not in transform.state_dict()  # derived from settings, not a parameter
    transform = transform.double()
    assert (transform.inverse(transform(x.double()), length=2000) - x.double()).abs().max() < 1e-10


def test_custom_window_tensor():
    x = _signal((1500,), torch.float64)
    window = torch.hann_window(256, dtype=torch.float64) ** 0.5
    spec = stft(x, n_fft=256, hop_length=64, window=window)
    assert (istft(spec, n_fft=256, hop_length=64, window=window, length=1500) - x).abs().max() < 1e-10
    with pytest.raises(ValueError, match="length win_length=256"):
        stft(x, n_fft=256, window=torch.ones(100))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(n_fft=1), "n_fft must be at least 2"),
        (dict(n_fft=256, hop_length=0), "hop_length must be between 1"),
        (dict(n_fft=256, hop_length=300), "hop_length must be between 1"),
        (dict(n_fft=256, win_length=300), "win_length must be between 1"),
        (dict(n_fft=256, hop_length=200, win_length=128), "hop_length must be between 1"),
        (dict(n_fft=256, window="kaiser"), "unknown window"),
        (dict(n_fft=256, pad_mode="mirror"), "pad_mode must be one of"),
    ],
)
def test_invalid_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        stft(torch.randn(1000), **kwargs)
    if "window" not in kwargs:  # the module checks its settings when built
        with pytest.raises(ValueError, match=message):
            STFT(**kwargs)


def test_invalid_signals():
    with pytest.raises(ValueError, match="needs at least 129"):
        stft(torch.randn(128), n_fft=256)  # reflect padding needs more than n_fft // 2
    with pytest.raises(ValueError, match="needs at least 256"):
        stft(torch.randn(255), n_fft=256, center=False)
    assert stft(torch.randn(10), n_fft=256, pad_mode="constant").shape == (129, 1)
    bad = torch.randn(1000)
    bad[10] = float("nan")
    with pytest.raises(ValueError, match="NaN or Inf"):
        stft(bad, n_fft=256)
    with pytest.raises(TypeError, match="float32 or float64"):
        stft(torch.ones(1000, dtype=torch.int16), n_fft=256)
    with pytest.raises(TypeError, match="torch.Tensor"):
        stft(np.zeros(1000), n_fft=256)


def test_invalid_spectrograms():
    spec = stft(torch.randn(1000), n_fft=256, hop_length=64)
    with pytest.raises(ValueError, match="129 frequency bins but n_fft=512"):
        istft(spec, n_fft=512)
    with pytest.raises(TypeError, match="complex"):
        istft(spec.abs(), n_fft=256)
    with pytest.raises(ValueError, match="NaN or Inf"):
        istft(spec * float("inf"), n_fft=256)
    with pytest.raises(ValueError, match="pass length="):
        istft(spec[..., :1], n_fft=256, hop_length=64)
    # A hop equal to the Hann window's length leaves zero-weight samples: not invertible.
    spec = stft(torch.randn(1000), n_fft=256, hop_length=256)
    with pytest.raises(ValueError, match="NOLA"):
        istft(spec, n_fft=256, hop_length=256)


@pytest.fixture
def without_torchaudio(monkeypatch):
    """Make ``import torchaudio`` fail, as with a missing or mismatched install."""
    from nmfsep._pipeline import _backend

    monkeypatch.setitem(__import__("sys").modules, "torchaudio", None)
    _backend.require_torchaudio.cache_clear()
    yield
    _backend.require_torchaudio.cache_clear()


def test_missing_torchaudio_names_the_fix(without_torchaudio):
    from nmfsep._pipeline import TorchaudioMissingError

    with pytest.raises(TorchaudioMissingError, match="constraints.txt"):
        stft(torch.randn(1000), n_fft=256)
