"""'nmfsep plot --kind activations|templates|masks': the drum model a recipe fits, drawn from
the very arrays of separate_drums(..., return_model=True)."""

import math

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch

import nmfsep.plot
from nmfsep._apps.cli import main
from nmfsep.io import load, save
from nmfsep.recipes import separate_drums

SR = 8000


def _hit(kind: str, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(1200) / SR
    if kind == "kick":
        return torch.sin(2 * math.pi * 60 * t) * torch.exp(-25 * t)
    noise = torch.randn(t.numel(), generator=g)
    return noise * torch.exp(-(30 if kind == "snare" else 90) * t) * (0.5 if kind == "snare" else 0.2)


@pytest.fixture(scope="module")
def drums(tmp_path_factory):
    folder = tmp_path_factory.mktemp("plot_model")
    mixture = torch.zeros(SR)
    for k, kind in enumerate(("kick", "hihat", "snare", "hihat", "kick", "snare")):
        start = 1200 * k + 200
        mixture[start:start + 1200] += _hit(kind, k)
    save(folder / "beat.wav", mixture[None], SR)
    hits = [save(folder / "kit" / f"{kind}_0.wav", _hit(kind, 10 + j)[None], SR)
            for j, kind in enumerate(("kick", "snare", "hihat"))]
    waveform, _ = load(folder / "beat.wav", mono=True)
    _, model = separate_drums(waveform, SR, hits=hits, return_model=True)
    return folder, model


@pytest.fixture
def drawn(monkeypatch):
    """What the CLI passed to nmfsep.plot's functions, and what they returned."""
    calls = {}
    for name in ("activations", "templates", "masks"):
        def spy(*args, _name=name, _draw=getattr(nmfsep.plot, name), **kwargs):
            result = _draw(*args, **kwargs)
            calls[_name] = (args, kwargs, result)
            return result
        monkeypatch.setattr(nmfsep.plot, name, spy)
    return calls


def _run(folder, kind, capsys, *extra):
    out = folder / f"{kind}.png"
    assert main(["plot", str(folder / "beat.wav"), "--kind", kind, "--hits",
                 str(folder / "kit"), "--out", str(out), "--overwrite", "-q", *extra]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG" and capsys.readouterr().err == ""


def test_activations_are_the_models(drums, drawn, capsys):
    folder, model = drums
    _run(folder, "activations", capsys)
    args, kwargs, ax = drawn["activations"]
    torch.testing.assert_close(args[0], model.activations, rtol=0, atol=0)
    assert kwargs["names"] == ["kick", "snare", "hihat"] and kwargs["hop_length"] == model.hop_length
    # the lanes drawn: component r at height R-1-r, 0.9 x its activations over their peak
    H = model.activations[0].double().numpy()
    for r, line in enumerate(ax.lines):
        expected = len(H) - 1 - r + 0.9 * H[r] / H[r].max()
        np.testing.assert_allclose(line.get_ydata(), expected, rtol=1e-12)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["kick", "snare", "hihat"]


def test_templates_are_the_models(drums, drawn, capsys):
    folder, model = drums
    _run(folder, "templates", capsys)
    args, kwargs, ax = drawn["templates"]
    torch.testing.assert_close(args[0], model.templates, rtol=0, atol=0)
    assert kwargs["db"]
    # the image: each template in dB of its peak, floored at -60, side by side with a gap
    W = model.templates.double().numpy()
    image = np.ma.filled(ax.collections[0].get_array(), np.nan).reshape(W.shape[0], -1)
    T = W.shape[2]
    for r in range(W.shape[1]):
        block = W[:, r, :] / W[:, r, :].max()
        expected = np.maximum(20 * np.log10(np.maximum(block, 1e-30)), -60.0)
        np.testing.assert_allclose(image[:, r * (T + 1):r * (T + 1) + T], expected, atol=1e-9)
    frequencies = kwargs["frequencies"].double().numpy()
    np.testing.assert_allclose(frequencies, np.arange(W.shape[0]) * SR / model.n_fft)


def test_masks_are_the_models(drums, drawn, capsys):
    folder, model = drums
    _run(folder, "masks", capsys, "--y-axis", "log")
    args, kwargs, figure = drawn["masks"]
    masks = model.masks()
    n_frames = SR // model.hop_length + 1  # the mixture's frames, not the fit's padding
    assert list(args[0]) == ["kick", "snare", "hihat"]
    panels = [a for a in figure.axes if a.get_title()]
    assert [a.get_title() for a in panels] == ["kick", "snare", "hihat"]
    for s, (name, panel) in enumerate(zip(args[0], panels)):
        torch.testing.assert_close(args[0][name], masks[s, :, :n_frames], rtol=0, atol=0)
        image = np.ma.filled(panel.collections[0].get_array(), np.nan)
        np.testing.assert_allclose(image.reshape(masks.shape[1], n_frames),
                                   masks[s, :, :n_frames].double().numpy(), rtol=1e-6)
    # soft masks: they share every cell out among the sources
    torch.testing.assert_close(masks.sum(0), torch.ones(masks.shape[1:]), atol=1e-5, rtol=0)


def test_model_masks_are_the_separations(drums):
    """DrumModel.masks times the mixture's STFT gives the stems separate_drums returned."""
    from nmfsep.functional import istft, stft

    folder, model = drums
    waveform, _ = load(folder / "beat.wav", mono=True)
    stems, _ = separate_drums(waveform, SR, hits=sorted((folder / "kit").iterdir()),
                              return_model=True)
    T = model.templates.shape[2]
    padded = torch.nn.functional.pad(waveform, (0, (T - 1) * model.hop_length))
    spectrogram = stft(padded, n_fft=model.n_fft, hop_length=model.hop_length)
    for s, source in enumerate(model.sources):
        estimate = istft(model.masks()[s] * spectrogram[0], n_fft=model.n_fft,
                         hop_length=model.hop_length, length=padded.shape[-1])[:SR]
        torch.testing.assert_close(estimate, stems[source][0], atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="channel"):
        model.masks(channel=1)


def test_model_options_are_checked(drums, capsys):
    folder, _ = drums
    beat = str(folder / "beat.wav")
    assert main(["plot", beat, "--hits", str(folder / "kit"), "--out", str(folder / "x.png")]) == 2
    assert "go with --kind activations, templates, masks" in capsys.readouterr().err
    assert main(["plot", beat, "--kind", "masks", "--recipe", "drums-generic", "--hits",
                 str(folder / "kit"), "--out", str(folder / "x.png")]) == 2
    assert "drums-generic uses the generic templates" in capsys.readouterr().err
    assert not (folder / "x.png").exists()
