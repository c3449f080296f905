"""Tests of the invertible constant-Q transform (nmfsep._pipeline.cqt)."""

import math

import pytest
import torch

from nmfsep._pipeline.cqt import CQT, CQTFrame, cqt, cqt_frequencies, icqt

SR = 22050
N_BINS = 84  # C1 .. B7, librosa's default range


def snr_db(reference: torch.Tensor, estimate: torch.Tensor) -> float:
    error = (reference - estimate).pow(2).sum()
    return float(10 * torch.log10(reference.pow(2).sum() / error))


def sine(frequency, seconds=1.0, amplitude=1.0, sample_rate=SR, dtype=torch.float64):
    t = torch.arange(int(seconds * sample_rate), dtype=torch.float64) / sample_rate
    return (amplitude * torch.sin(2 * math.pi * float(frequency) * t)).to(dtype)


def mean_magnitude(waveform, **settings):
    """Magnitude per bin averaged over the frames away from the (circular) ends."""
    magnitude = cqt(waveform, SR, n_bins=N_BINS, **settings).abs()
    edge = magnitude.shape[-1] // 5
    return magnitude[..., edge:-edge].mean(-1)


# --------------------------------------------------------------------------- frequencies
@pytest.mark.parametrize(
    "n_bins, fmin, bins_per_octave", [(84, 32.70319566257483, 12), (7, 55.0, 3), (100, 27.5, 24)]
)
def test_frequencies_match_librosa(n_bins, fmin, bins_per_octave):
    librosa = pytest.importorskip("librosa")
    expected = librosa.cqt_frequencies(n_bins, fmin=fmin, bins_per_octave=bins_per_octave)
    expected = torch.from_numpy(expected)
    frequencies = cqt_frequencies(n_bins, fmin, bins_per_octave)
    assert frequencies.dtype == torch.float64
    torch.testing.assert_close(frequencies, expected, rtol=1e-13, atol=0)


def test_default_design():
    # 84 bins from C1: the widest bin (B7, 3951 Hz) is 457 Hz wide -> hop 48 <= 22050 / 457.
    transform = CQT(SR, n_bins=N_BINS)
    assert transform.hop_length == 48
    assert transform.frame_rate == pytest.approx(SR / 48)
    # Neither fmax nor n_bins: bins up to the Nyquist frequency (C1 * 2 ** (100 / 12) = 10548 Hz).
    assert CQT(SR).n_bins == 101
    assert CQT(SR, fmax=4000.0).n_bins == N_BINS
    torch.testing.assert_close(transform.frequencies, cqt_frequencies(N_BINS))


# --------------------------------------------------------------------------- round trip
@pytest.mark.parametrize("length", [1, 257, 4001, 22051])
def test_round_trip_float64_any_length(length):
    x = torch.randn(length, dtype=torch.float64, generator=torch.Generator().manual_seed(length))
    coefficients, residual = cqt(x, SR, n_bins=N_BINS, return_residual=True)
    assert coefficients.shape[-2] == N_BINS and coefficients.dtype == torch.complex128
    y = icqt(coefficients, SR, length, residual=residual)
    assert y.shape == x.shape
    assert snr_db(x, y) > 200  # about 300 dB measured: exact up to rounding


def test_round_trip_other_designs():
    x = torch.randn(3, 5003, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    for settings in (
        dict(fmin=50.0, bins_per_octave=24, gamma=20.0),  # variable Q
        dict(fmin=100.0, bins_per_octave=3, hop_length=5),  # a smaller hop than the default
        dict(fmin=30.0),  # bins up to the Nyquist frequency, the top one cut there
    ):
        c, r = cqt(x, 16000, return_residual=True, **settings)
        y = icqt(c, 16000, 5003, residual=r, **settings)
        assert snr_db(x, y) > 200, settings


def test_round_trip_float32():
    x = torch.randn(2, 22051, generator=torch.Generator().manual_seed(1))
    transform = CQT(SR, n_bins=N_BINS)
    c, r = transform(x, return_residual=True)
    assert c.dtype == torch.complex64
    y = transform.inverse(c, 22051, residual=r)
    assert y.dtype == torch.float32
    assert snr_db(x.double(), y.double()) > 120  # about 132 dB measured


def test_batch_equals_per_item():
    x = torch.randn(2, 3, 3001, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    c, r = cqt(x, SR, n_bins=N_BINS, return_residual=True)
    assert c.shape[:3] == (2, 3, N_BINS) and r.shape == x.shape
    for i in range(2):
        for j in range(3):
            ci, ri = cqt(x[i, j], SR, n_bins=N_BINS, return_residual=True)
            torch.testing.assert_close(c[i, j], ci, rtol=0, atol=1e-12)
            torch.testing.assert_close(r[i, j], ri, rtol=0, atol=1e-12)
    y = icqt(c, SR, 3001, residual=r)
    for i in range(2):
        torch.testing.assert_close(y[i], icqt(c[i], SR, 3001, residual=r[i]), rtol=0, atol=1e-12)


def test_residual_is_the_out_of_band_part():
    frame = CQTFrame.build(SR, 4000, n_bins=N_BINS, dtype=torch.float64)
    # A signal whose spectrum lies between the lowest and highest centre frequencies
    # (built on the transform's own FFT grid): no residual, icqt alone rebuilds it.
    n_fft = frame.n_fft
    grid = torch.fft.rfftfreq(n_fft, 1 / SR, dtype=torch.float64)
    band = (grid >= frame.frequencies[0]) & (grid <= frame.frequencies[-1])
    g = torch.Generator().manual_seed(3)
    spectrum = torch.complex(torch.randn(grid.shape, generator=g, dtype=torch.float64),
                             torch.randn(grid.shape, generator=g, dtype=torch.float64)) * band
    x = torch.fft.irfft(spectrum, n=n_fft)
    c, r = cqt(x, SR, return_residual=True, frame=frame)
    assert float(r.abs().max()) < 1e-13 * float(x.abs().max())
    assert snr_db(x, icqt(c, SR, n_fft, frame=frame)) > 200
    # A periodic tone near 10 Hz, far below C1's band: nothing in the bins, all in the residual.
    low = torch.cos(2 * math.pi * grid[2] * torch.arange(n_fft, dtype=torch.float64) / SR)
    c, r = cqt(low, SR, return_residual=True, frame=frame)
    assert float(c.abs().max()) < 1e-13
    torch.testing.assert_close(r, low, rtol=0, atol=1e-13)


# --------------------------------------------------------------------------- pitch
@pytest.mark.parametrize("k", [9, 40, 70])
def test_sine_peaks_at_its_bin_with_its_amplitude(k):
    frequencies = cqt_frequencies(N_BINS)
    profile = mean_magnitude(sine(frequencies[k], seconds=2.0, amplitude=0.5))
    assert int(profile.argmax()) == k
    # Amplitude normalisation: a sinusoid of amplitude A at a centre gives |c| = A there.
    assert float(profile[k]) == pytest.approx(0.5, rel=1e-3)


def test_octave_is_a_shift_by_bins_per_octave():
    frequencies = cqt_frequencies(N_BINS)
    k = 30
    low = mean_magnitude(sine(frequencies[k]))
    high = mean_magnitude(sine(2 * frequencies[k]))
    assert int(high.argmax()) == int(low.argmax()) + 12 == k + 12
    # Constant Q: the whole profile moves by 12 bins, not just its peak.
    torch.testing.assert_close(high[12:], low[:-12], rtol=0, atol=2e-3)


def test_delay_by_one_hop_shifts_one_frame():
    frame = CQTFrame.build(SR, 6000, n_bins=N_BINS, dtype=torch.float64)
    x = torch.randn(frame.n_fft, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    c = cqt(x, SR, frame=frame)
    shifted = cqt(torch.roll(x, frame.hop_length), SR, frame=frame)
    torch.testing.assert_close(shifted, torch.roll(c, 1, dims=-1), rtol=0, atol=1e-12)


# --------------------------------------------------------------------------- autograd
# A tiny design whose windows each span 3 to 6 FFT bins of a 30-sample signal.
TINY = dict(fmin=100.0, n_bins=4, bins_per_octave=2, hop_length=5)


def test_gradcheck_cqt():
    frame = CQTFrame.build(1000, 30, dtype=torch.float64, **TINY)
    x = torch.randn(30, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    x.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda s: cqt(s, 1000, frame=frame), (x,))
    residual = lambda s: cqt(s, 1000, return_residual=True, frame=frame)[1]  # noqa: E731
    assert torch.autograd.gradcheck(residual, (x,))


def test_gradcheck_icqt():
    frame = CQTFrame.build(1000, 30, dtype=torch.float64, **TINY)
    g = torch.Generator().manual_seed(6)
    c = torch.randn(4, frame.n_frames, dtype=torch.complex128, generator=g).requires_grad_(True)
    r = torch.randn(30, dtype=torch.float64, generator=g).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda c, r: icqt(c, 1000, 30, residual=r, frame=frame), (c, r))


# --------------------------------------------------------------------------- memory, module
@pytest.mark.parametrize("length", [1, 1000, 110250])
def test_memory_bound(length):
    frame = CQTFrame.build(SR, length, n_bins=N_BINS)
    # Three (n_bins, n_frames) tables and the residual filter: O(n_bins * n_frames + length).
    stored = sum(
        t.numel()
        for t in (frame.index, frame.windows, frame.dual_windows, frame.residual_filter,
                  frame.frequencies, frame.bandwidths)
    )
    assert stored <= 3 * N_BINS * frame.n_frames + frame.n_fft // 2 + 1 + 2 * N_BINS
    # Padding to fast FFT sizes costs at most 10 % more frames than ceil(length / hop).
    minimum = -(-length // frame.hop_length)
    assert minimum <= frame.n_frames <= 1.1 * minimum


def test_module_matches_functions_and_caches():
    transform = CQT(SR, n_bins=N_BINS)
    x = torch.randn(2, 4000, dtype=torch.float64, generator=torch.Generator().manual_seed(7))
    c, r = transform(x, return_residual=True)
    torch.testing.assert_close(c, cqt(x, SR, n_bins=N_BINS), rtol=0, atol=0)
    assert transform.frame(4000, torch.float64) is transform.frame(4000, torch.float64)
    torch.testing.assert_close(transform.inverse(c, 4000, residual=r), x, rtol=0, atol=1e-12)
    power = CQT(SR, n_bins=N_BINS, power=2.0)(x)
    torch.testing.assert_close(power, c.abs() ** 2)
    assert "hop_length=48" in repr(transform)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():
    x = torch.randn(2, 9001, dtype=torch.float64, generator=torch.Generator().manual_seed(8))
    c, r = cqt(x, SR, n_bins=N_BINS, return_residual=True)
    c_gpu, r_gpu = cqt(x.cuda(), SR, n_bins=N_BINS, return_residual=True)
    assert c_gpu.is_cuda
    torch.testing.assert_close(c_gpu.cpu(), c, rtol=0, atol=1e-10)
    torch.testing.assert_close(r_gpu.cpu(), r, rtol=0, atol=1e-10)
    y = icqt(c_gpu, SR, 9001, residual=r_gpu)
    assert snr_db(x, y.cpu()) > 200


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "waveform, settings, error, match",
    [
        (torch.tensor([0.0, float("nan"), 1.0]), {}, ValueError, "NaN or Inf"),
        (torch.zeros(2, 0), {}, ValueError, "empty"),
        (torch.zeros(100, dtype=torch.int64), {}, TypeError, "float32 or float64"),
        ([0.0, 1.0], {}, TypeError, "torch.Tensor"),
        (torch.zeros(100), dict(fmin=0.0), ValueError, "fmin must be a positive"),
        (torch.zeros(100), dict(fmin=12000.0), ValueError, "not below the Nyquist"),
        (torch.zeros(100), dict(fmax=20000.0), ValueError, "above the Nyquist"),
        (torch.zeros(100), dict(n_bins=0), ValueError, "n_bins must be at least 1"),
        (torch.zeros(100), dict(n_bins=120), ValueError, r"use n_bins <= 101"),
        (torch.zeros(100), dict(n_bins=84, fmax=4000.0), ValueError, "either fmax or n_bins"),
        (torch.zeros(100), dict(n_bins=84, hop_length=64), ValueError, "between 1 and 48"),
        (torch.zeros(100), dict(gamma=-1.0), ValueError, "gamma must be >= 0"),
        (torch.zeros(100), dict(bins_per_octave=0), ValueError, "bins_per_octave"),
    ],
)
def test_cqt_errors(waveform, settings, error, match):
    with pytest.raises(error, match=match):
        cqt(waveform, SR, **settings)


def test_icqt_and_frame_errors():
    x = torch.randn(1000, dtype=torch.float64)
    c, r = cqt(x, SR, n_bins=N_BINS, return_residual=True)
    with pytest.raises(TypeError, match="cannot be inverted"):
        icqt(c.abs(), SR, 1000)
    with pytest.raises(ValueError, match="pass the settings and length"):
        icqt(c, SR, 50000)
    with pytest.raises(ValueError, match="residual has shape"):
        icqt(c, SR, 1000, residual=r[:-1])
    with pytest.raises(ValueError, match="length must be a positive"):
        icqt(c, SR, 0)
    frame = CQTFrame.build(SR, 1000, n_bins=N_BINS)
    with pytest.raises(ValueError, match="frame was built for signals of"):
        cqt(torch.randn(50000), SR, frame=frame)
    with pytest.raises(ValueError, match="frame was built for sample_rate"):
        cqt(torch.randn(1000), 16000, frame=frame)
    with pytest.raises(ValueError, match="sample_rate must be a positive"):
        CQT(0)
