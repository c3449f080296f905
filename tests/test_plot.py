"""Plots: rendered to PNG, not blank, and drawn where the physical axes say."""

import math
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.image
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from nmfsep import functional, plot
from nmfsep.nmf import NMF

RATE = 8000
HOP = 128


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _render(ax, path):
    """Save the figure as PNG and return the RGB pixels inside ``ax`` (rows top-down)."""
    fig = ax.figure
    fig.savefig(path, dpi=fig.dpi)
    pixels = matplotlib.image.imread(path)[..., :3]
    box = ax.get_window_extent()
    height = pixels.shape[0]
    rows = slice(int(math.ceil(height - box.y1)) + 2, int(height - box.y0) - 2)
    cols = slice(int(math.ceil(box.x0)) + 2, int(box.x1) - 2)
    return pixels[rows, cols], (box, height)


def _assert_not_blank(pixels, min_colours=8, min_std=0.05):
    colours = np.unique((pixels * 255).round().astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) >= min_colours, f"only {len(colours)} colours"
    assert pixels.std() > min_std, f"pixel standard deviation {pixels.std():.3f}"


def _row_of(ax, frequency, geometry):
    """Pixel row (top-down, in the cropped image) of ``frequency`` Hz on ``ax``."""
    box, height = geometry
    _, y = ax.transData.transform((0.0, frequency))
    return (height - y) - (math.ceil(height - box.y1) + 2)


def _tone(frequency=1000.0, seconds=1.0):
    t = torch.arange(int(seconds * RATE), dtype=torch.float64) / RATE
    return torch.sin(2 * math.pi * frequency * t) + 0.01 * torch.randn(t.shape, dtype=torch.float64)


@pytest.mark.parametrize("y_axis", ["linear", "log", "cqt"])
def test_spectrogram_draws_a_tone_at_its_frequency(tmp_path, y_axis):
    tone = _tone(1000.0)
    if y_axis == "cqt":
        from nmfsep.transforms import CQT

        transform = CQT(RATE, fmin=110.0, n_bins=48, bins_per_octave=12, power=1.0)
        spec, hop, frequencies = transform(tone), transform.hop_length, transform.frequencies
    else:
        spec = functional.magnitude(functional.stft(tone, n_fft=512, hop_length=HOP))
        hop, frequencies = HOP, None
    ax = plot.spectrogram(spec, sample_rate=RATE, hop_length=hop, y_axis=y_axis,
                          frequencies=frequencies, title="tone")
    pixels, geometry = _render(ax, tmp_path / "spec.png")
    _assert_not_blank(pixels)
    # magma: the brightest row is the loudest bin, 1000 Hz
    brightest = int(pixels.mean(axis=(1, 2)).argmax())
    assert abs(brightest - _row_of(ax, 1000.0, geometry)) <= 4
    assert ax.get_xlabel() == "time (s)" and ax.get_ylabel() == "frequency (Hz)"
    assert ax.get_yscale() == {"linear": "linear", "log": "symlog", "cqt": "log"}[y_axis]
    # the time axis spans the signal: frames are centred on t * hop / RATE
    assert ax.get_xlim()[1] == pytest.approx((spec.shape[-1] - 0.5) * hop / RATE)
    if y_axis == "linear":
        assert ax.get_ylim()[1] == pytest.approx(RATE / 2 + RATE / 512 / 2)


def test_silence_is_drawn_in_the_quietest_colour_and_time_starts_at_zero():
    ax = plot.spectrogram(torch.zeros(257, 20), sample_rate=RATE, hop_length=HOP)
    image = ax.collections[0]
    assert np.all(np.asarray(image.get_array()) == image.norm.vmin)  # not the loudest colour
    assert image.norm.vmin < image.norm.vmax
    # one frame (a file of one sample) gives no negative times
    single = plot.spectrogram(torch.rand(257, 1), sample_rate=RATE, hop_length=HOP)
    assert single.get_xlim()[0] == 0.0 and single.get_xlim()[1] > 0.0


def test_spectrogram_long_input_is_pooled_but_keeps_its_axes(tmp_path):
    spec = torch.rand(1025, 5000)
    spec[:, 4321] = 50.0  # one loud frame must survive the max-pooling
    ax = plot.spectrogram(spec, sample_rate=44100, hop_length=512, colorbar=False)
    pixels, (box, _) = _render(ax, tmp_path / "long.png")
    assert ax.get_xlim()[1] == pytest.approx((5000 - 0.5) * 512 / 44100)
    column = int(pixels.mean(axis=(0, 2)).argmax())
    x_pixel = ax.transData.transform((4321 * 512 / 44100, 0))[0] - (math.ceil(box.x0) + 2)
    assert abs(column - x_pixel) <= 3


def test_templates_nmf_and_nmfd(tmp_path):
    # component 0 holds low bins, component 1 high bins
    W = torch.zeros(64, 2, 4)
    W[5:10, 0] = torch.linspace(0.5, 1.0, 5)[:, None]
    W[50:55, 1] = torch.linspace(0.2, 1.0, 4)
    for weights in (W, W[..., 0]):
        fig, ax = plt.subplots()
        assert plot.templates(weights, names=["low", "high"], ax=ax, colorbar=True) is ax
        pixels, _ = _render(ax, tmp_path / "W.png")
        _assert_not_blank(pixels, min_colours=3, min_std=0.05)
        assert [t.get_text() for t in ax.get_xticklabels()] == ["low", "high"]
        half = pixels.shape[1] // 2
        rows_left = pixels[:, : half - 5].mean(axis=(1, 2)).argmax()
        rows_right = pixels[:, half + 5:].mean(axis=(1, 2)).argmax()
        assert rows_left > 0.7 * pixels.shape[0] and rows_right < 0.3 * pixels.shape[0]
    ax = plot.templates(W, sample_rate=RATE, db=True)
    assert ax.get_ylabel() == "frequency (Hz)"


def test_activations_put_peaks_at_their_times(tmp_path):
    H = torch.full((200, 3), 0.01)
    for r, frame in enumerate([20, 90, 150]):
        H[frame, r] = 5.0
    ax = plot.activations(H, sample_rate=RATE, hop_length=HOP, names=["a", "b", "c"])
    pixels, _ = _render(ax, tmp_path / "H.png")
    _assert_not_blank(pixels, min_colours=4, min_std=0.02)
    for line, frame in zip(ax.get_lines(), [20, 90, 150]):
        x, y = line.get_xdata(), line.get_ydata()
        assert x[np.argmax(y)] == pytest.approx(frame * HOP / RATE)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b", "c"]
    # NMFD layout (N, R, frames) and a fitted model
    assert plot.activations(H.T.unsqueeze(0)).get_xlabel() == "frame"


def test_masks_dict_and_tensor(tmp_path):
    mask = torch.zeros(129, 60)
    mask[:64] = 1.0
    fig = plot.masks({"low": mask, "high": 1 - mask}, sample_rate=RATE, hop_length=HOP)
    panels = [a for a in fig.axes if a.get_title()]
    assert [a.get_title() for a in panels] == ["low", "high"]
    pixels, _ = _render(panels[0], tmp_path / "masks.png")
    _assert_not_blank(pixels, min_colours=2, min_std=0.1)
    # low frequencies are drawn at the bottom: the lower half is the bright (yellow) one
    top, bottom = pixels[: len(pixels) // 3], pixels[-len(pixels) // 3:]
    assert bottom.mean() > top.mean() + 0.2
    fig, axes = plt.subplots(2, 1)
    assert plot.masks(torch.stack([mask, 1 - mask]), ax=axes, colorbar=False) is fig
    with pytest.raises(ValueError, match="one Axes per source"):
        plot.masks(torch.stack([mask, 1 - mask]), ax=axes[:1])


def test_loss_curve_of_a_model_list_and_dict(tmp_path):
    V = torch.rand(40, 30)
    model = NMF(V.shape, rank=3)
    model.fit(V, max_iter=30)
    ax = plot.loss_curve(model)
    pixels, _ = _render(ax, tmp_path / "loss.png")
    _assert_not_blank(pixels, min_colours=4, min_std=0.01)
    line = ax.get_lines()[0]
    assert list(line.get_xdata()) == list(model.loss_iterations_)
    assert np.allclose(line.get_ydata(), model.loss_curve_)
    assert ax.get_yscale() == "log"
    ax = plot.loss_curve({"a": [3.0, 2.0, 1.0], "b": [3.0, 1.5, 0.0]})
    assert len(ax.get_lines()) == 2 and ax.get_yscale() == "linear"  # a zero: no log axis
    with pytest.raises(ValueError, match="fit it first"):
        plot.loss_curve(NMF((4, 5), rank=2))


def test_plot_input_errors():
    spec = torch.rand(65, 10)
    with pytest.raises(ValueError, match="y_axis"):
        plot.spectrogram(spec, sample_rate=RATE, hop_length=HOP, y_axis="mel")
    with pytest.raises(ValueError, match="negative"):
        plot.spectrogram(spec - 0.5, sample_rate=RATE, hop_length=HOP)
    with pytest.raises(ValueError, match="NaN"):
        plot.spectrogram(spec * math.nan, sample_rate=RATE, hop_length=HOP)
    with pytest.raises(ValueError, match="frequencies has 3 values"):
        plot.spectrogram(spec, sample_rate=RATE, hop_length=HOP, frequencies=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"\(freq, frames\)"):
        plot.spectrogram(torch.rand(2, 65, 10), sample_rate=RATE, hop_length=HOP)
    with pytest.raises(ValueError, match="W must have shape"):
        plot.templates(torch.rand(5))
    with pytest.raises(ValueError, match="H must have shape"):
        plot.activations(torch.rand(2, 2, 2, 2))
    with pytest.raises(TypeError, match="Tensor or numpy"):
        plot.templates("W")


def test_importing_the_plot_module_does_not_import_matplotlib():
    code = "import sys, nmfsep.plot; assert 'matplotlib' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
