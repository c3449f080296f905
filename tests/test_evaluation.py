"""Evaluation: BSS Eval metrics against fast_bss_eval and known answers, SI-SDR by hand,
chunking, silence, folders of files."""

import math
import sys

import numpy as np
import pytest
import torch

from nmfsep.evaluation import CLAMP_DB, bss_eval, evaluate_dirs, format_table, si_sdr
from nmfsep.io import save

fast_bss_eval = pytest.importorskip("fast_bss_eval")

RATE = 8000


def _signals(n_sources=3, n_samples=8000, seed=0, noise=0.3, leak=0.2, modulate=True):
    """References (white noise, the first amplitude-modulated unless ``modulate=False``) and
    estimates with cross-talk and additive noise: a known-quality separation."""
    g = torch.Generator().manual_seed(seed)
    refs = torch.randn(n_sources, n_samples, generator=g, dtype=torch.float64)
    if modulate:
        refs[0] *= torch.sin(torch.linspace(0, 20, n_samples, dtype=torch.float64)) ** 2
    ests = refs + leak * refs.roll(1, dims=0) + noise * torch.randn(
        n_sources, n_samples, generator=g, dtype=torch.float64)
    return refs, ests


# --------------------------------------------------------------------------- bss_eval
def test_bss_eval_equals_fast_bss_eval_on_the_full_signal():
    # The benchmark's call: 512 taps, no permutation, clamp at 100 dB, float64.
    refs, ests = _signals(n_samples=6000)
    refs, ests = refs.float(), ests.float()  # as read from float WAV files
    expected = fast_bss_eval.bss_eval_sources(
        refs.double(), ests.double(), filter_length=512, compute_permutation=False, clamp_db=100.0)
    scores = bss_eval(refs, ests)
    for key, value in zip(("sdr", "sir", "sar"), expected):
        assert scores[key].dtype == torch.float64 and scores[key].shape == (3,)
        torch.testing.assert_close(scores[key], value, atol=1e-6, rtol=0)
    # and the numbers are those of a real, imperfect separation
    assert 3.0 < float(scores["sdr"].min()) < float(scores["sdr"].max()) < 15.0


def test_bss_eval_accepts_numpy_and_perfect_estimate_hits_the_clamp():
    refs, _ = _signals(n_sources=2, n_samples=4000)
    scores = bss_eval(refs.numpy(), refs.numpy().copy(), filter_length=64)
    for key in ("sdr", "sir", "sar"):
        assert torch.all(scores[key] > 60.0)
        assert torch.all(scores[key] <= CLAMP_DB)


def test_known_cross_talk_gives_known_sir():
    # estimate_j = s_j + 0.1 s_k with orthogonal-ish white references: SIR = 20 dB, and with
    # no other error SDR = SIR and SAR is at the clamp.
    g = torch.Generator().manual_seed(1)
    refs = torch.randn(2, 16000, generator=g, dtype=torch.float64)
    ests = refs + 0.1 * refs.flip(0)
    scores = bss_eval(refs, ests, filter_length=16)
    torch.testing.assert_close(scores["sir"], torch.full((2,), 20.0, dtype=torch.float64), atol=0.15, rtol=0)
    torch.testing.assert_close(scores["sdr"], scores["sir"], atol=1e-6, rtol=0)
    assert torch.all(scores["sar"] > 60.0)


def test_scaling_and_short_delays_are_not_errors():
    # BSS Eval forgives any filter shorter than filter_length: a gain and a 5-sample delay.
    refs, _ = _signals(n_sources=2, n_samples=4000)
    ests = 0.5 * torch.roll(refs, 5, dims=-1)
    ests[:, :5] = 0.0
    assert torch.all(bss_eval(refs, ests, filter_length=32)["sdr"] > 25.0)


def test_silent_estimate_scores_minus_clamp():
    refs, ests = _signals(n_sources=2, n_samples=4000)
    ests[1] = 0.0
    scores = bss_eval(refs, ests, filter_length=32)
    for key in ("sdr", "sir", "sar"):
        assert float(scores[key][1]) == -CLAMP_DB
        assert math.isfinite(float(scores[key][0]))


def test_silent_reference_is_nan_with_warning_and_others_unaffected():
    refs, ests = _signals(n_sources=3, n_samples=4000)
    refs[1] = 0.0
    with pytest.warns(RuntimeWarning, match="silent reference"):
        scores = bss_eval(refs, ests, filter_length=32)
    # The silent source is left out of every projection: the others score exactly as if
    # it were not there.
    others = bss_eval(refs[[0, 2]], ests[[0, 2]], filter_length=32)
    for key in ("sdr", "sir", "sar"):
        assert math.isnan(float(scores[key][1]))
        torch.testing.assert_close(scores[key][[0, 2]], others[key], atol=1e-9, rtol=0)


def test_chunked_agrees_with_unchunked_on_a_stationary_signal():
    # 2 sources, 64 taps, 1 s chunks of 8000 samples: the per-chunk filters can absorb about
    # 2 * 64 / 8000 = 1.6 % of the artifact energy, i.e. ~0.07 dB (measured: <= 0.06 dB).
    # Tolerance 0.1 dB for "global"; 0.3 dB for "median" of 2 chunks, which also carries the
    # chunk-to-chunk spread of the estimates (measured: <= 0.19 dB).
    refs, ests = _signals(n_sources=2, n_samples=2 * RATE, seed=3, modulate=False)
    full = bss_eval(refs, ests, filter_length=64)
    chunked = bss_eval(refs, ests, filter_length=64, chunk_seconds=1.0, sample_rate=RATE)
    median = bss_eval(refs, ests, filter_length=64, chunk_seconds=1.0, sample_rate=RATE,
                      aggregate="median")
    for key in ("sdr", "sir", "sar"):
        difference = chunked[key] - full[key]
        assert torch.all(difference.abs() < 0.1), (key, difference)
        if key != "sir":  # larger projections: SDR and SAR do not drop (SIR may either way)
            assert torch.all(difference > -0.01)
        assert torch.all((median[key] - full[key]).abs() < 0.3), (key, median[key] - full[key])


def test_one_chunk_is_the_unchunked_computation():
    refs, ests = _signals(n_sources=2, n_samples=4000)
    full = bss_eval(refs, ests, filter_length=32)
    one = bss_eval(refs, ests, filter_length=32, chunk_seconds=10.0, sample_rate=RATE)
    for key in full:
        torch.testing.assert_close(one[key], full[key], atol=1e-12, rtol=0)


def test_chunks_with_a_silent_reference_are_scored_or_skipped():
    # Reference 0 is silent in the second half. "global" counts the estimate's energy there
    # as error; "median" skips that chunk (museval's convention).
    refs, ests = _signals(n_sources=2, n_samples=2 * RATE, noise=0.1)
    refs[0, RATE:] = 0.0
    ests[0, RATE:] = 0.3 * refs[1, RATE:]  # pure interference where the source is silent
    first_half = bss_eval(refs[:, :RATE], ests[:, :RATE], filter_length=32)
    glob = bss_eval(refs, ests, filter_length=32, chunk_seconds=1.0, sample_rate=RATE)
    median = bss_eval(refs, ests, filter_length=32, chunk_seconds=1.0, sample_rate=RATE,
                      aggregate="median")
    torch.testing.assert_close(median["sdr"][0], first_half["sdr"][0], atol=1e-9, rtol=0)
    assert float(glob["sdr"][0]) < float(first_half["sdr"][0]) - 1.0
    assert float(glob["sir"][0]) < float(first_half["sir"][0]) - 1.0


def test_multichannel_pools_channels():
    refs, ests = _signals(n_sources=2, n_samples=4000)
    mono = bss_eval(refs, ests, filter_length=32)
    stereo = bss_eval(torch.stack([refs, refs], 1), torch.stack([ests, ests], 1), filter_length=32)
    for key in mono:
        torch.testing.assert_close(stereo[key], mono[key], atol=1e-9, rtol=0)


def test_bss_eval_validates_its_inputs():
    refs, ests = _signals(n_sources=2, n_samples=1000)
    with pytest.raises(ValueError, match="same shape"):
        bss_eval(refs, ests[:, :900])
    with pytest.raises(ValueError, match="sample_rate"):
        bss_eval(refs, ests, filter_length=32, chunk_seconds=0.1)
    with pytest.raises(ValueError, match="too short"):
        bss_eval(refs, ests, filter_length=1000)
    with pytest.raises(ValueError, match="chunk"):
        bss_eval(refs, ests, filter_length=512, chunk_seconds=0.05, sample_rate=RATE)
    with pytest.raises(ValueError, match="aggregate"):
        bss_eval(refs, ests, aggregate="mean")
    bad = ests.clone()
    bad[0, 3] = math.nan
    with pytest.raises(ValueError, match="NaN"):
        bss_eval(refs, bad)
    with pytest.raises(TypeError, match="floating-point"):
        bss_eval(refs.long(), ests.long())
    with pytest.raises(ValueError, match="shape"):
        bss_eval(refs[0], ests[0])


def test_missing_fast_bss_eval_names_the_fix(monkeypatch):
    monkeypatch.setitem(sys.modules, "fast_bss_eval.torch", None)
    refs, ests = _signals(n_sources=2, n_samples=1000)
    with pytest.raises(ImportError, match="pip install fast_bss_eval"):
        bss_eval(refs, ests, filter_length=32)


# --------------------------------------------------------------------------- SI-SDR
def test_si_sdr_by_hand():
    # reference and noise zero-mean and orthogonal: SI-SDR = 10 log10(a^2 |s|^2 / |n|^2)
    t = torch.arange(1000, dtype=torch.float64)
    reference = torch.sin(2 * math.pi * 5 * t / 1000)
    noise = torch.cos(2 * math.pi * 50 * t / 1000)
    estimate = 2.0 * reference + 0.1 * noise + 0.7  # the DC offset is removed first
    expected = 10 * math.log10(4.0 * float(reference @ reference) / (0.01 * float(noise @ noise)))
    assert expected == pytest.approx(26.0206, abs=1e-4)  # = 10 log10(400)
    assert float(si_sdr(reference, estimate)) == pytest.approx(expected, abs=1e-9)
    # scale invariance
    assert float(si_sdr(reference, -5.0 * estimate)) == pytest.approx(expected, abs=1e-9)


def test_si_sdr_matches_the_benchmark_formula_batched():
    refs, ests = _signals(n_sources=3, n_samples=3000)
    expected = []
    for r, e in zip(refs.numpy(), ests.numpy()):  # the benchmark's numpy formula
        r, e = r - r.mean(), e - e.mean()
        target = (e @ r) / (r @ r) * r
        expected.append(10 * np.log10((target @ target) / ((e - target) @ (e - target))))
    torch.testing.assert_close(si_sdr(refs, ests), torch.tensor(expected, dtype=torch.float64),
                               atol=1e-9, rtol=0)
    assert si_sdr(refs.reshape(3, 2, 1500), ests.reshape(3, 2, 1500)).shape == (3, 2)


def test_si_sdr_silence():
    reference = torch.randn(500, dtype=torch.float64)
    assert float(si_sdr(reference, torch.zeros(500, dtype=torch.float64))) == -CLAMP_DB
    assert float(si_sdr(reference, reference)) == CLAMP_DB
    with pytest.warns(RuntimeWarning, match="silent"):
        value = si_sdr(torch.full((500,), 0.25), torch.randn(500))  # constant: silent once zero-mean
    assert math.isnan(float(value))


# --------------------------------------------------------------------------- folders
def _write_mixture(folder, refs, ests, names, est_folder, sample_rate=RATE):
    for name, r, e in zip(names, refs, ests):
        save(folder / f"{name}.wav", r.float(), sample_rate)
        save(est_folder / f"{name}.wav", e.float(), sample_rate)
    save(folder / "mixture.wav", refs.sum(0).float(), sample_rate)


def _expected(refs, ests, filter_length=512):
    refs, ests = refs.float().double(), ests.float().double()  # what the files hold
    sdr, sir, sar = fast_bss_eval.bss_eval_sources(
        refs, ests, filter_length=filter_length, compute_permutation=False, clamp_db=100.0)
    return {"sdr": sdr, "sir": sir, "sar": sar, "si_sdr": si_sdr(refs, ests)}


def test_evaluate_dirs_nested_layout(tmp_path):
    names = ["bass", "drums"]
    expected = {}
    for k, mix in enumerate(["mix000", "mix001"]):
        refs, ests = _signals(n_sources=2, n_samples=3000, seed=k, noise=0.2 + 0.3 * k)
        _write_mixture(tmp_path / "ref" / "dev" / mix, refs, ests, names, tmp_path / "est" / "dev" / mix)
        expected[f"dev/{mix}"] = _expected(refs, ests)
    rows, means = evaluate_dirs(tmp_path / "est", tmp_path / "ref")
    assert [(r["mixture"], r["source"]) for r in rows] == [
        ("dev/mix000", "bass"), ("dev/mix000", "drums"), ("dev/mix001", "bass"), ("dev/mix001", "drums")]
    for row in rows:
        j = names.index(row["source"])
        for key in ("sdr", "sir", "sar", "si_sdr"):
            assert row[key] == pytest.approx(float(expected[row["mixture"]][key][j]), abs=1e-6)
    for key in ("sdr", "si_sdr"):
        assert means["bass"][key] == pytest.approx(np.mean([r[key] for r in rows if r["source"] == "bass"]))
        assert means["ALL"][key] == pytest.approx(np.mean([r[key] for r in rows]))
    assert means["ALL"]["n"] == 4 and means["drums"]["n"] == 2
    table = format_table(rows, means)
    assert f"{rows[0]['sdr']:8.2f}" in table.splitlines()[1]
    assert table.splitlines()[-1].split()[:2] == ["mean", "ALL"]


def test_evaluate_dirs_flat_layout_sources_and_length_mismatch(tmp_path):
    refs, ests = _signals(n_sources=3, n_samples=3000)
    _write_mixture(tmp_path / "ref", refs, ests, ["a", "b", "c"], tmp_path / "est")
    # a longer estimate is truncated to the reference, with a warning
    save(tmp_path / "est" / "c.wav", torch.cat([ests[2], torch.ones(100, dtype=torch.float64)]).float(),
         RATE, overwrite=True)
    with pytest.warns(UserWarning, match="truncating"):
        rows, _ = evaluate_dirs(tmp_path / "est", tmp_path / "ref", filter_length=64)
    expected = _expected(refs, ests, filter_length=64)
    assert [r["mixture"] for r in rows] == ["."] * 3
    assert [r["sdr"] for r in rows] == pytest.approx(expected["sdr"].tolist(), abs=1e-6)
    # a subset of sources is evaluated against that subset of references only
    rows, _ = evaluate_dirs(tmp_path / "est", tmp_path / "ref", sources=["a", "b"], filter_length=64)
    subset = _expected(refs[:2], ests[:2], filter_length=64)
    assert [r["sir"] for r in rows] == pytest.approx(subset["sir"].tolist(), abs=1e-6)


def test_evaluate_dirs_errors(tmp_path):
    refs, ests = _signals(n_sources=2, n_samples=2000)
    _write_mixture(tmp_path / "ref" / "m", refs, ests, ["a", "b"], tmp_path / "est" / "m")
    (tmp_path / "est" / "m" / "b.wav").unlink()
    with pytest.raises(FileNotFoundError, match=r"no estimate for source\(s\) \['b'\]"):
        evaluate_dirs(tmp_path / "est", tmp_path / "ref")
    with pytest.raises(FileNotFoundError, match="not a folder"):
        evaluate_dirs(tmp_path / "nowhere", tmp_path / "ref")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no estimate audio files"):
        evaluate_dirs(tmp_path / "empty", tmp_path / "ref")
    save(tmp_path / "est" / "m" / "b.wav", ests[1].float(), 2 * RATE)
    with pytest.raises(ValueError, match="Hz"):
        evaluate_dirs(tmp_path / "est", tmp_path / "ref")
