"""Streaming separation: causality, block-size invariance, the offline computation it
streams, triggers at planted onsets, reset, the ``nmfsep stream`` command."""

import json
import math

import numpy as np
import pytest
import soundfile
import torch
import torch.nn.functional as F

from nmfsep._apps.cli import main
from nmfsep._pipeline.masks import wiener_mask
from nmfsep.recipes import drum_stream, hit_templates, onset_f_measure, streaming_n_fft
from nmfsep.separation import StreamingSeparator, Templates, Trigger

SR = 8000
N_FFT, HOP = 256, 64
KICK_TIMES = [0.1, 0.6, 1.1, 1.6]
HIHAT_TIMES = [0.35, 0.85, 1.35, 1.85]
SNARE_TIMES = [0.6, 1.35]


def _kick(g):
    t = torch.arange(int(0.25 * SR)) / SR
    return torch.sin(2 * math.pi * 60 * t) * torch.exp(-20 * t)


def _hihat(g):
    t = torch.arange(int(0.1 * SR)) / SR
    noise = torch.randn(t.numel() + 2, generator=g)
    return 0.15 * (noise[2:] - 2 * noise[1:-1] + noise[:-2]) * torch.exp(-60 * t)  # high-passed


def _snare(g):
    t = torch.arange(int(0.2 * SR)) / SR
    noise = torch.randn(t.numel() + 3, generator=g)
    low = noise[3:] + noise[2:-1] + noise[1:-2] + noise[:-3]                    # low-passed
    return (0.1 * low * torch.exp(-30 * t)
            + 0.5 * torch.sin(2 * math.pi * 200 * t) * torch.exp(-20 * t))


MAKERS = {"kick": _kick, "snare": _snare, "hihat": _hihat}
PLANTED = {"kick": KICK_TIMES, "snare": SNARE_TIMES, "hihat": HIHAT_TIMES}


def _groove(seconds=2.2, seed=1):
    """A drum-like mixture with a new noise in every hit, its stems, and the kit's hits."""
    g = torch.Generator().manual_seed(seed)
    stems = {name: torch.zeros(int(seconds * SR)) for name in MAKERS}
    for name, times in PLANTED.items():
        for start in times:
            hit = MAKERS[name](g)
            i = round(start * SR)
            stems[name][i:i + hit.numel()] += hit[:stems[name].numel() - i]
    hits = {name: [make(g)] for name, make in MAKERS.items()}
    return sum(stems.values()), stems, hits


@pytest.fixture(scope="module")
def groove():
    return _groove()


@pytest.fixture(scope="module")
def templates(groove):
    return hit_templates(groove[2], SR, n_fft=N_FFT, hop_length=HOP, T=8)


def _stream(separator, signal, sizes):
    """The separator's output for ``signal`` cut into blocks of ``sizes`` (cycled)."""
    separator.reset()
    out, start, k = [], 0, 0
    while start < signal.shape[-1]:
        size = sizes[k % len(sizes)]
        out.append(separator.process(signal[..., start:start + size]))
        start, k = start + size, k + 1
    return torch.cat(out, -1)


# --------------------------------------------------------------------------- the clock
def test_block_size_does_not_change_a_bit(groove, templates):
    mixture = groove[0]
    separator = StreamingSeparator(templates)
    reference = _stream(separator, mixture, [37])
    assert reference.shape == (3, mixture.numel())
    for sizes in ([512], [4096], [1, 700, 32, 8192, 5]):
        assert torch.equal(_stream(separator, mixture, sizes), reference), sizes
    stereo = torch.stack([mixture, 0.5 * mixture.flip(0)])
    assert torch.equal(_stream(separator, stereo, [37]), _stream(separator, stereo, [4096]))


def test_any_block_type_gives_the_same_ordinary_tensors(groove, templates):
    """float32 tensors take a fast check, numpy and float64 blocks check_audio; the output is
    an ordinary tensor of its own (not a view of the separator's buffers)."""
    mixture = groove[0]
    separator = StreamingSeparator(templates)
    reference = _stream(separator, mixture, [300])
    separator.reset()
    out = []
    for k, block in enumerate(mixture.split(300)):
        given = block.double().numpy() if k % 2 else block.double()
        result = separator.process(given)
        out.append(result.clone())
        result.fill_(7.0)                     # in place, outside inference mode, changes no more
        assert not result.is_inference()
    assert torch.equal(torch.cat(out, -1), reference)
    stereo = torch.stack([mixture, 0.5 * mixture])
    strided = stereo.t().contiguous().t()                       # the same, not contiguous
    assert not strided.is_contiguous()
    assert torch.equal(_stream(separator, strided, [300]), _stream(separator, stereo, [300]))


def test_templates_of_a_source_need_not_be_side_by_side(groove, templates):
    """Templates listed source after source or interleaved give the same stems."""
    mixture = groove[0]
    stems = StreamingSeparator(templates).separate(mixture)
    order = [2, 0, 1]                                       # hihat, kick, snare templates
    shuffled = Templates(templates.W[:, order], templates.sources,
                         tuple(templates.components[r] for r in order), templates.sample_rate,
                         "stft", templates.settings)
    separator = StreamingSeparator(shuffled)
    assert separator.components.tolist() == sorted(separator.components.tolist())
    again = separator.separate(mixture)
    for source in stems:
        assert torch.allclose(again[source], stems[source], atol=1e-6), source


def test_no_output_depends_on_input_after_it(groove, templates):
    """Output sample m of the stream (stem sample m - lookahead) depends on no input after m."""
    mixture = groove[0]
    separator = StreamingSeparator(templates)
    assert separator.lookahead == N_FFT - 1 and separator.lookahead_seconds <= 0.05
    before = _stream(separator, mixture, [100])
    g = torch.Generator().manual_seed(5)
    for t in (HOP * 7, 5000, 5003):                        # on and off the hop grid
        changed = mixture.clone()
        changed[t:] += 0.3 * torch.randn(mixture.numel() - t, generator=g)
        after = _stream(separator, changed, [100])
        assert torch.equal(after[..., :t], before[..., :t]), t
        assert not torch.equal(after[..., t:t + 2 * HOP], before[..., t:t + 2 * HOP])
        # and the bound is the look-ahead: stem samples just before t already changed
        stems_before = before[..., separator.lookahead:]
        stems_after = after[..., separator.lookahead:]
        assert torch.equal(stems_after[..., :t - separator.lookahead],
                           stems_before[..., :t - separator.lookahead])
        assert not torch.equal(stems_after[..., t - 8:t], stems_before[..., t - 8:t])


def test_separate_aligns_the_stems_and_they_sum_to_the_mixture(groove, templates):
    mixture = groove[0]
    separator = StreamingSeparator(templates)
    stems = separator.separate(mixture, block_size=300)
    assert list(stems) == ["kick", "snare", "hihat"]
    total = sum(stems.values())[0]
    assert total.shape == mixture.shape
    assert torch.allclose(total, mixture, atol=1e-5)
    streamed = _stream(separator, torch.cat([mixture, torch.zeros(separator.lookahead)]), [300])
    assert torch.equal(streamed[0, separator.lookahead:], stems["kick"][0])
    # separated: each stem is closer to its source than the mixture is
    for name, source in groove[1].items():
        error = (stems[name][0] - source).norm() / source.norm()
        assert error < 0.5, (name, float(error))


def _offline_reference(mixture, templates, *, power=1.5, mask_power=2.0, n_iter=4,
                       exponent=1.5, beta=1.0):
    """The same frames computed offline in float64, written out plainly: all frames of the
    STFT at once, the per-frame beta-divergence fit warm-started frame after frame, masks,
    overlap-add."""
    kept = templates.W[:, :, :8].double()                           # the first 8 frames ...
    W = kept.reshape(kept.shape[0], -1) ** power                      # ... each a component
    W = W / W.sum(0)
    components = torch.tensor([c for c in templates.components for _ in range(kept.shape[2])])
    window = torch.hann_window(N_FFT, dtype=torch.float64)
    padded = F.pad(mixture.double(), (N_FFT - HOP, N_FFT))
    frames = padded.unfold(0, N_FFT, HOP)                           # (frames, n_fft)
    X = torch.fft.rfft(frames * window)
    V = X.abs() ** power
    eps = torch.finfo(torch.float32).eps
    h = torch.zeros(W.shape[1], dtype=torch.float64)
    out = torch.zeros(3, padded.numel(), dtype=torch.float64)
    for k in range(frames.shape[0]):
        h = torch.maximum(h, V[k].sum() * 0.01 / W.shape[1])
        for _ in range(n_iter):
            model = W @ h + (eps if beta != 2 else 0.0)                 # guarded but for beta 2
            negative = W.t() @ (V[k] * model ** (beta - 2))
            positive = (W.t() @ model ** (beta - 1)).clamp_min(eps ** 2)  # 0 / 0: 0 (silence)
            h = h * (negative / positive) ** exponent
        parts = torch.stack([W[:, components == s] @ h[components == s] for s in range(3)])
        masks = parts ** (mask_power / power)
        total = masks.sum(0)
        masks = torch.where(total > 0, masks / total, 1 / 3)          # silence: split equally
        out[:, k * HOP:k * HOP + N_FFT] += torch.fft.irfft(masks * X[k], n=N_FFT) * window
    envelope = torch.zeros(padded.numel(), dtype=torch.float64)
    for k in range(frames.shape[0]):
        envelope[k * HOP:k * HOP + N_FFT] += window ** 2
    start = N_FFT - HOP
    return (out / envelope)[:, start:start + mixture.numel()]


def test_equals_the_offline_computation_of_the_same_frames(groove, templates):
    mixture = groove[0]
    stems = StreamingSeparator(templates).separate(mixture, block_size=512)
    reference = _offline_reference(mixture, templates)
    streamed = torch.stack([stems[s][0] for s in ("kick", "snare", "hihat")]).double()
    assert torch.allclose(streamed, reference, atol=2e-5), (streamed - reference).abs().max()
    # with the other NMFD choice and settings as well
    summed = StreamingSeparator(templates, nmfd="sum", n_iter=2).separate(mixture)
    assert not torch.allclose(summed["kick"][0].double(), reference[0], atol=1e-3)


@pytest.mark.parametrize("mask_power", [2.0, 1.0])
def test_the_frame_masks_are_wiener_masks(templates, mask_power):
    """The stream's masks (a softmax of the parts' logs) are wiener_mask's of its parts, over
    8 decades of level; silent bins (all parts 0 or below the smallest normal float) split
    equally, and a source without a part in a bin gets a negligible share of it."""
    separator = StreamingSeparator(templates, mask_power=mask_power)
    separator.process(torch.zeros(2, HOP))                     # the buffers of a stereo stream
    g = torch.Generator().manual_seed(2)
    shape = separator._parts.shape
    parts = torch.rand(shape, generator=g) * 10.0 ** (8 * torch.rand(shape, generator=g) - 4)
    parts[..., :5] = 0
    parts[..., 5:8] = 1e-39                                    # denormal: silent as well
    parts[0, :, 8:12] = 0
    with torch.inference_mode():                              # the stream's buffers are
        separator._parts.copy_(parts)
        masks = separator._masks().clone()
    expected = wiener_mask(parts, power=mask_power / 1.5)
    assert torch.allclose(masks, expected, rtol=1e-5, atol=1e-6), (masks - expected).abs().max()
    assert torch.equal(masks[..., :8], torch.full_like(masks[..., :8], 1 / 3))
    assert masks[0, :, 8:12].max() < 1e-20                 # its part counts as the smallest


@pytest.mark.parametrize("beta", [0.5, 2.0])
def test_other_divergences_equal_their_offline_computation(groove, templates, beta):
    """Beyond KL the positive part of the update is a product of its own (not the templates'
    unit column sums)."""
    mixture = groove[0]
    stems = StreamingSeparator(templates, beta=beta).separate(mixture, block_size=300)
    reference = _offline_reference(mixture, templates, beta=beta)
    streamed = torch.stack([stems[s][0] for s in ("kick", "snare", "hihat")]).double()
    assert torch.allclose(streamed, reference, atol=2e-5), (streamed - reference).abs().max()
    kl = _offline_reference(mixture, templates)
    assert not torch.allclose(streamed, kl, atol=1e-3)


def test_a_learned_dictionary_separates_two_tones():
    t = torch.arange(SR) / SR
    low, high = torch.sin(2 * math.pi * 250 * t), 0.5 * torch.sin(2 * math.pi * 1500 * t)
    window = torch.hann_window(N_FFT)
    W = torch.stack([torch.fft.rfft(x[:N_FFT] * window).abs() for x in (low, high)], 1)
    dictionary = Templates(W, ("low", "high"), (0, 1), SR, "stft",
                           dict(n_fft=N_FFT, hop_length=HOP, window="hann"))
    stems = StreamingSeparator(dictionary).separate(torch.stack([low + high, high]))
    assert stems["low"].shape == (2, SR)
    inside = slice(500, SR - N_FFT)                 # the tones start and stop at the ends
    assert torch.allclose(stems["low"][0, inside], low[inside], atol=1e-3)
    assert torch.allclose(stems["high"][1, inside], high[inside], atol=1e-3)
    assert stems["low"][1, inside].abs().max() < 1e-3


# --------------------------------------------------------------------------- triggers
def test_triggers_find_the_planted_onsets_as_soon_as_known(groove, templates):
    separator = StreamingSeparator(templates)
    stems, triggers = separator.separate(groove[0], block_size=128, return_triggers=True)
    assert all(isinstance(t, Trigger) for t in triggers)
    assert separator.trigger_latency_seconds <= 2 * HOP / SR + 1e-12
    for trigger in triggers:
        assert 0 < trigger.known_at - trigger.time <= separator.trigger_latency_seconds + 1e-9
        assert trigger.strength > 0
    for name, times in PLANTED.items():
        found = [t.time for t in triggers if t.source == name]
        scores = onset_f_measure(times, found, window=0.02)
        assert scores["f_measure"] == 1.0, (name, found)


def test_triggers_come_out_with_the_block_that_reveals_them(groove, templates):
    separator = StreamingSeparator(templates)
    separator.reset()
    mixture, seen = groove[0], 0
    for start in range(0, mixture.numel(), 64):
        separator.process(mixture[start:start + 64])
        now = (start + 64) / SR
        for trigger in separator.pop_triggers():
            assert trigger.known_at <= now + 1e-9
            assert now - trigger.time <= separator.trigger_latency_seconds + 64 / SR
            seen += 1
    assert seen == sum(len(times) for times in PLANTED.values())
    assert separator.pop_triggers() == []


def test_reset_reproduces_and_accepts_new_channels(groove, templates):
    mixture = groove[0]
    separator = StreamingSeparator(templates)
    first, first_triggers = separator.separate(mixture, return_triggers=True)
    separator.reset()
    separator.process(torch.randn(2, 1000))                  # another stream, stereo
    with pytest.raises(ValueError, match="2 channel"):
        separator.process(mixture[:100])
    separator.reset()
    second, second_triggers = separator.separate(mixture, return_triggers=True)
    assert all(torch.equal(first[s], second[s]) for s in first)
    assert first_triggers == second_triggers


# --------------------------------------------------------------------------- validation
def test_bad_templates_and_blocks(templates):
    with pytest.raises(TypeError, match="Templates"):
        StreamingSeparator(torch.rand(129, 2))
    long = Templates(torch.rand(1025, 2), ("a", "b"), (0, 1), SR, "stft",
                     dict(n_fft=2048, hop_length=512, window="hann"))
    with pytest.raises(ValueError, match="n_fft <= 256"):
        StreamingSeparator(long)
    assert StreamingSeparator(long, max_lookahead=None).lookahead == 2047
    with pytest.raises(ValueError, match="nmfd"):
        StreamingSeparator(templates, nmfd="middle")
    separator = StreamingSeparator(templates)
    with pytest.raises(ValueError, match="NaN"):
        separator.process(torch.tensor([0.0, float("nan")]))
    with pytest.raises(ValueError, match="shape"):
        separator.process(torch.zeros(1, 2, 100))


def test_drum_stream_windows_stay_under_50_ms():
    for rate in (8000, 16000, 22050, 32000, 44100, 48000, 96000):
        n_fft = streaming_n_fft(rate)
        assert (n_fft - 1) / rate <= 0.05 and (2 * n_fft - 1) / rate > 0.05
    separator = drum_stream(32000)                           # generic templates, mapped
    assert separator.n_fft == 1024 and separator.sources == ("kick", "snare", "hihat")
    assert separator.W.shape[0] == 513


# --------------------------------------------------------------------------- the command
def test_stream_command_writes_aligned_stems_and_triggers(tmp_path, groove, capsys):
    mixture, stems, hits = groove
    rate = 8000
    song = tmp_path / "groove.wav"
    soundfile.write(song, mixture.numpy(), rate, subtype="FLOAT")
    kit = tmp_path / "kit"
    kit.mkdir()
    for name, (hit,) in hits.items():
        soundfile.write(kit / f"{name}_0.wav", hit.numpy(), rate, subtype="FLOAT")
    out = tmp_path / "out"
    assert main(["stream", str(song), "--recipe", "drums", "--hits", str(kit), "--out",
                 str(out), "--block", "128", "-q"]) == 0
    folder = out / "groove"
    assert sorted(p.name for p in folder.iterdir()) == [
        "drums.mid", "hihat.wav", "kick.wav", "onsets.csv", "onsets.json", "snare.wav"]
    # the same as the API with the same templates
    kit_files = {name: [kit / f"{name}_0.wav"] for name in ("kick", "snare", "hihat")}
    separator = drum_stream(rate, hits=kit_files)
    expected, triggers = separator.separate(mixture, return_triggers=True)
    for name in ("kick", "snare", "hihat"):
        written, written_rate = soundfile.read(folder / f"{name}.wav", dtype="float32")
        assert written_rate == rate and written.shape == (mixture.numel(),)
        assert np.array_equal(written, expected[name][0].numpy())
    onsets = json.loads((folder / "onsets.json").read_text())
    for name in ("kick", "snare", "hihat"):
        assert onsets[name] == pytest.approx([t.time for t in triggers if t.source == name])
    # an existing output is refused before any work; --overwrite replaces it
    assert main(["stream", str(song), "--recipe", "drums", "--hits", str(kit), "--out",
                 str(out), "-q"]) == 1
    assert "--overwrite" in capsys.readouterr().err
    assert main(["stream", str(song), "--recipe", "drums", "--hits", str(kit), "--out",
                 str(out), "-q", "--overwrite", "--block", "4096"]) == 0
    again, _ = soundfile.read(folder / "kick.wav", dtype="float32")
    assert np.array_equal(again, expected["kick"][0].numpy())


def test_stream_command_usage(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["stream", "--help"])
    assert exit_info.value.code == 0
    shown = capsys.readouterr().out
    assert "examples:" in shown and "--live" in shown and "not covered by the" in shown
    song = tmp_path / "a.wav"
    soundfile.write(song, np.zeros(100, dtype=np.float32), 8000)
    with pytest.raises(SystemExit):
        main(["stream", str(song), "--recipe", "piano", "--out", "o"])
    assert main(["stream", str(song), "--recipe", "drums", "--out", str(tmp_path / "o"),
                 "--block", "0"]) == 2
    assert "--block" in capsys.readouterr().err
    assert main(["stream", "--recipe", "drums", "--out", str(tmp_path / "o")]) == 2
    assert "MIXTURE" in capsys.readouterr().err
    assert main(["stream", str(song), "--recipe", "drums", "--out", str(tmp_path / "o"),
                 "--live"]) == 2
    assert "no MIXTURE" in capsys.readouterr().err


def test_the_docstring_examples_run():
    import doctest

    from nmfsep._apps.recipes import drum_stream as drum_stream_module
    from nmfsep._pipeline import streaming

    for module in (streaming, drum_stream_module):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.attempted > 0 and result.failed == 0, module.__name__


def test_the_docs_page_runs_and_prints_what_it_shows(tmp_path, monkeypatch, capsys):
    """docs/streaming.md's examples, run on the repository's audio example."""
    import ast
    import contextlib
    import pathlib
    import re

    import matplotlib

    matplotlib.use("Agg")
    root = pathlib.Path(__file__).resolve().parents[1]
    page = (root / "docs" / "streaming.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", page, re.S)
    shown = re.findall(r"prints\n\n```text\n(.*?)```", page, re.S)[0].splitlines()
    (tmp_path / "audio_examples").symlink_to(root / "audio_examples")
    monkeypatch.chdir(tmp_path)
    namespace = {}
    for index, block in enumerate(blocks):
        exec(compile(block, f"docs/streaming.md python block {index}", "exec"), namespace)
        if index == 0:
            printed = capsys.readouterr().out.splitlines()
    with contextlib.suppress(Exception):
        matplotlib.pyplot.close("all")
    assert (tmp_path / "streaming.png").stat().st_size > 10_000
    assert printed[:-1] == shown[:-1]
    # SDRs to the rounding of another machine's arithmetic
    got, expected = (ast.literal_eval(line.split(":", 1)[1]) for line in (printed[-1], shown[-1]))
    assert got.keys() == expected.keys()
    assert all(abs(got[s] - expected[s]) <= 0.2 for s in got), (got, expected)
