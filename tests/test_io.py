"""Audio files: round trips, resampling, atomic and non-overwriting save, errors."""

import math
import os
import warnings

import numpy as np
import pytest
import soundfile as sf
import torch

from nmfsep._pipeline import io
from nmfsep._pipeline.io import AudioInfo, check_audio, info, load, save


def _sine(frequency, sample_rate, seconds, amplitude=0.5, channels=1, dtype=torch.float32):
    t = torch.arange(round(seconds * sample_rate), dtype=torch.float64) / sample_rate
    rows = [amplitude * torch.sin(2 * math.pi * frequency * (c + 1) * t) for c in range(channels)]
    return torch.stack(rows).to(dtype)


def _peak_frequency(waveform, sample_rate):
    spectrum = torch.fft.rfft(waveform.double(), dim=-1).abs()
    return float(torch.fft.rfftfreq(waveform.shape[-1], d=1 / sample_rate)[spectrum.argmax(-1)])


@pytest.mark.parametrize("channels", [1, 2])
def test_wav_float_round_trip_is_exact(tmp_path, channels):
    waveform = _sine(440, 16000, 0.25, channels=channels)
    path = save(tmp_path / "tone.wav", waveform, 16000)
    loaded, rate = load(path)
    assert rate == 16000 and loaded.shape == (channels, 4000) and loaded.dtype == torch.float32
    assert torch.equal(loaded, waveform)
    assert info(path) == AudioInfo(16000, channels, 4000, 0.25, "WAV", "FLOAT")


@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("subtype, bits", [("PCM_16", 16), ("PCM_24", 24)])
def test_flac_round_trip_within_quantisation(tmp_path, channels, subtype, bits):
    waveform = _sine(440, 22050, 0.2, channels=channels, dtype=torch.float64)
    path = save(tmp_path / "tone.flac", waveform, 22050, subtype=subtype)
    loaded, rate = load(path, dtype=torch.float64)
    assert rate == 22050 and loaded.shape == waveform.shape and loaded.dtype == torch.float64
    # Rounding to the nearest of 2**(bits-1) levels per unit: at most half a step.
    assert (loaded - waveform).abs().max() <= 0.5 / 2 ** (bits - 1) + 1e-12
    assert info(path).subtype == subtype


def test_save_accepts_1d_arrays(tmp_path):
    samples = np.linspace(-0.5, 0.5, 1000, dtype=np.float32)
    loaded, _ = load(save(tmp_path / "ramp.wav", samples, 8000))
    assert loaded.shape == (1, 1000)
    np.testing.assert_array_equal(loaded[0].numpy(), samples)


def test_ogg_vorbis_keeps_the_pitch(tmp_path):
    path = save(tmp_path / "tone.ogg", _sine(1000, 22050, 0.5), 22050)
    loaded, rate = load(path)
    assert info(path).subtype == "VORBIS"
    assert loaded.shape[0] == 1 and _peak_frequency(loaded[0], rate) == pytest.approx(1000, abs=2)


def test_resampling_preserves_frequency(tmp_path):
    path = save(tmp_path / "tone.wav", _sine(3000, 44100, 1.0, channels=2), 44100)
    loaded, rate = load(path, sample_rate=22050)
    assert rate == 22050 and loaded.shape == (2, 22050)
    # 1 Hz bins: the peaks stay at 3000 Hz and 6000 Hz (channel 2 is the octave).
    assert _peak_frequency(loaded[0], rate) == 3000
    assert _peak_frequency(loaded[1], rate) == 6000
    middle = loaded[0, 1000:-1000]
    assert middle.abs().max() == pytest.approx(0.5, abs=0.01)


@pytest.mark.parametrize("orig, new", [(44100, 22050), (48000, 22050), (22050, 44100),
                                       (16000, 44100), (44100, 8000)])
def test_resample_in_blocks_equals_torchaudio_on_the_whole(monkeypatch, orig, new):
    # small blocks, so that a signal of 4 s is resampled in many: every join must give
    # torchaudio's samples of the whole signal, and the length must be its ceil rule
    torchaudio = pytest.importorskip("torchaudio")
    monkeypatch.setattr(io, "_RESAMPLE_BLOCK", 5000)
    signal = torch.randn(2, 4 * orig + 7, generator=torch.Generator().manual_seed(orig + new))
    whole = torchaudio.functional.resample(signal, orig, new)
    blocks = io.resample(signal, orig, new)
    assert blocks.shape == whole.shape == (2, math.ceil(signal.shape[-1] * new / orig))
    torch.testing.assert_close(blocks, whole, rtol=0, atol=1e-6)


def test_resample_refuses_rates_that_are_not_whole_hz():
    with pytest.raises(TypeError, match="orig_freq must be a whole number of Hz"):
        io.resample(torch.zeros(100), 44100.5, 22050)
    with pytest.raises(ValueError, match="new_freq must be a positive number of Hz"):
        io.resample(torch.zeros(100), 44100, 0)


def test_mono_offset_duration(tmp_path):
    waveform = torch.stack([torch.linspace(-1, 1, 8000), torch.linspace(1, -1, 8000) * 0.5])
    path = save(tmp_path / "two.wav", waveform, 8000)
    mono, _ = load(path, mono=True)
    assert mono.shape == (1, 8000)
    torch.testing.assert_close(mono, waveform.mean(0, keepdim=True))
    window, _ = load(path, offset=0.25, duration=0.5)
    assert torch.equal(window, waveform[:, 2000:6000])
    tail, _ = load(path, offset=0.75, duration=10.0)  # duration past the end: read to the end
    assert torch.equal(tail, waveform[:, 6000:])
    with pytest.raises(ValueError, match="past the end"):
        load(path, offset=1.0)


def test_silent_file_loads(tmp_path):
    path = save(tmp_path / "silence.wav", torch.zeros(1, 100), 8000)
    loaded, _ = load(path)
    assert torch.equal(loaded, torch.zeros(1, 100))


def test_save_refuses_to_overwrite(tmp_path):
    path = save(tmp_path / "keep.wav", _sine(440, 8000, 0.1), 8000)
    original = path.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save(path, torch.zeros(1, 10), 8000)
    assert path.read_bytes() == original
    assert os.listdir(tmp_path) == ["keep.wav"]  # no temporary file left behind
    save(path, torch.zeros(1, 10), 8000, overwrite=True)
    assert info(path).frames == 10


def test_failed_save_leaves_original_and_no_temporary(tmp_path, monkeypatch):
    path = save(tmp_path / "keep.wav", _sine(440, 8000, 0.1), 8000)
    original = path.read_bytes()

    def broken_write(file, *args, **kwargs):
        with open(file, "wb") as handle:
            handle.write(b"partial")  # half-written data must never reach `path`
        raise OSError("disk full")

    monkeypatch.setattr(io.sf, "SoundFile", broken_write)  # save streams blocks through it
    with pytest.raises(OSError, match="disk full"):
        save(path, torch.zeros(1, 10), 8000, overwrite=True)
    assert path.read_bytes() == original
    assert os.listdir(tmp_path) == ["keep.wav"]


def test_save_in_blocks_writes_the_same_file(tmp_path, monkeypatch):
    # a waveform written in blocks of 7 samples gives the bytes of one soundfile.write call;
    # clipping a 16-bit file leaves the caller's waveform alone
    monkeypatch.setattr(io, "_WRITE_BLOCK", 7)
    stereo = torch.cat([_sine(440, 8000, 0.01), -0.5 * _sine(220, 8000, 0.01)])
    mono = 1.5 * _sine(440, 8000, 0.01)
    for name, waveform, subtype in (("stereo.wav", stereo, None), ("mono.flac", mono, None)):
        kept = waveform.clone()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the clipping of the mono FLAC
            path = save(tmp_path / name, waveform, 8000, subtype=subtype)
        assert torch.equal(waveform, kept)
        reference = tmp_path / f"reference_{name}"
        data = np.clip(waveform.reshape(-1, waveform.shape[-1]).numpy().T, -1, 1)
        io.sf.write(reference, data, 8000, subtype="FLOAT" if name.endswith(".wav") else None)
        io._clear_peak_time(reference)
        assert path.read_bytes() == reference.read_bytes(), name


def test_save_creates_folders_with_normal_permissions(tmp_path):
    path = save(tmp_path / "a" / "b" / "out.flac", torch.zeros(2, 100), 8000)
    assert path.is_file()
    reference = tmp_path / "a" / "b" / "reference"
    reference.write_bytes(b"")
    assert path.stat().st_mode & 0o777 == reference.stat().st_mode & 0o777


def test_clipping_warns_for_integer_subtypes(tmp_path):
    loud = torch.tensor([[0.5, 1.5, -2.0, 0.25]])
    with pytest.warns(UserWarning, match="clipping 2 sample"):
        path = save(tmp_path / "loud.wav", loud, 8000, subtype="PCM_16")
    loaded, _ = load(path)
    torch.testing.assert_close(loaded, torch.tensor([[0.5, 1.0, -1.0, 0.25]]), rtol=0, atol=1 / 32768)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # FLOAT keeps the range: no warning
        loaded, _ = load(save(tmp_path / "loud_float.wav", loud, 8000))
    assert torch.equal(loaded, loud)


def test_save_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="NaN or Inf"):
        save(tmp_path / "nan.wav", torch.tensor([0.0, float("nan")]), 8000)
    with pytest.raises(ValueError, match="empty"):
        save(tmp_path / "empty.wav", torch.zeros(1, 0), 8000)
    with pytest.raises(ValueError, match="transpose"):
        save(tmp_path / "swapped.wav", torch.zeros(1000, 2), 8000)
    with pytest.raises(ValueError, match="extension"):
        save(tmp_path / "audio.xyz", torch.zeros(1, 10), 8000)
    with pytest.raises(ValueError, match="cannot store subtype 'FLOAT'"):
        save(tmp_path / "x.flac", torch.zeros(1, 10), 8000, subtype="FLOAT")
    with pytest.raises(ValueError, match="positive"):
        save(tmp_path / "rate.wav", torch.zeros(1, 10), 0)
    assert os.listdir(tmp_path) == []


def test_missing_and_unreadable_files(tmp_path):
    missing = tmp_path / "nope.wav"
    with pytest.raises(FileNotFoundError, match="nope.wav"):
        load(missing)
    with pytest.raises(FileNotFoundError, match="nope.wav"):
        info(missing)
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(ValueError, match=r"could not decode .*garbage\.wav.*WAV, FLAC, OGG"):
        load(garbage)
    with pytest.raises(IsADirectoryError, match="folder"):
        load(tmp_path)


def test_empty_and_non_finite_files(tmp_path):
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros((0, 1), dtype=np.float32), 8000, subtype="FLOAT")
    with pytest.raises(ValueError, match="no audio samples"):
        load(empty)
    nan = tmp_path / "nan.wav"
    sf.write(nan, np.array([0.0, np.nan, np.inf], dtype=np.float32), 8000, subtype="FLOAT")
    with pytest.raises(ValueError, match=r"nan\.wav.*2 NaN or Inf"):
        load(nan)


def test_check_audio():
    assert check_audio(torch.ones(2, 5)).shape == (2, 5)
    assert isinstance(check_audio(np.ones(5)), torch.Tensor)
    with pytest.raises(ValueError, match="mix is silent"):
        check_audio(torch.zeros(2, 5), name="mix")
    assert torch.equal(check_audio(torch.zeros(2, 5), allow_silent=True), torch.zeros(2, 5))
    with pytest.raises(ValueError, match="empty"):
        check_audio(torch.zeros(2, 0))
    with pytest.raises(ValueError, match="1 NaN or Inf"):
        check_audio(torch.tensor([1.0, float("inf")]))
    with pytest.raises(TypeError, match="32768"):
        check_audio(torch.ones(5, dtype=torch.int16))

    # one min/max pass: a NaN, a -Inf or a lone non-zero sample anywhere is seen
    long = torch.zeros(2, 100_000)
    for value, count in ((float("nan"), 1), (float("-inf"), 1)):
        bad = long.clone()
        bad[1, -1] = value
        bad[0, 7] = 0.5
        with pytest.raises(ValueError, match=f"{count} NaN or Inf"):
            check_audio(bad)
    long[1, 54_321] = -1e-30
    assert check_audio(long) is long  # not silent
    with pytest.raises(ValueError, match="silent"):
        check_audio(-long.abs().mul(0))  # -0.0 everywhere is silence


def test_only_resampling_needs_torchaudio(tmp_path, monkeypatch):
    from nmfsep._pipeline import TorchaudioMissingError, _backend

    path = save(tmp_path / "tone.wav", _sine(440, 16000, 0.1), 16000)
    monkeypatch.setitem(__import__("sys").modules, "torchaudio", None)
    _backend.require_torchaudio.cache_clear()
    try:
        assert load(path)[0].shape == (1, 1600)
        with pytest.raises(TorchaudioMissingError, match="constraints.txt"):
            load(path, sample_rate=8000)
    finally:
        _backend.require_torchaudio.cache_clear()


@pytest.mark.parametrize("name", ["float.wav", "float.aiff"])
def test_float_files_carry_no_time_of_writing(tmp_path, name):
    # libsndfile's PEAK chunk holds the time of writing: cleared, the same audio gives the
    # same bytes whenever it is written
    waveform = _sine(440, 8000, 0.1)
    path = save(tmp_path / name, waveform, 8000, subtype="FLOAT")
    data = path.read_bytes()
    at = data.index(b"PEAK")
    assert data[at + 12:at + 16] == bytes(4)
    loaded, _ = load(path)
    assert torch.equal(loaded, waveform.reshape(1, -1).float())


def test_one_sample_rate_rule_at_every_entry_point():
    # a whole number of Hz (int or a float like 16000.0) everywhere; a fraction is a TypeError,
    # zero or less a ValueError, with the same words
    import nmfsep
    from nmfsep.functional import frames_to_time, stft_frequencies
    from nmfsep.io import check_sample_rate
    from nmfsep.recipes import drum_onsets, piano_roll, separate_drums
    from nmfsep.separation import Separator
    from nmfsep.transforms import CQT

    mixture = torch.rand(8000) - 0.5
    entry_points = {
        "check_sample_rate": check_sample_rate,
        "stft_frequencies": lambda rate: stft_frequencies(rate, 512),
        "frames_to_time": lambda rate: frames_to_time(3, rate, hop_length=128),
        "CQT": lambda rate: CQT(rate),
        "resample": lambda rate: io.resample(mixture, rate, 8000),
        "Separator": lambda rate: Separator(n_components=2).separate(mixture, rate),
        "separate_drums": lambda rate: separate_drums(mixture, rate),
        "drum_onsets": lambda rate: drum_onsets(mixture, rate),
        "piano_roll": lambda rate: piano_roll(mixture, rate),
    }
    for name, call in entry_points.items():
        with pytest.raises(nmfsep.ParameterTypeError, match="must be a whole number of Hz"):
            call(16000.5)
        with pytest.raises(nmfsep.ParameterTypeError, match="must be a whole number of Hz"):
            call(True)
        with pytest.raises(nmfsep.ParameterError, match="must be a positive number of Hz"):
            call(0)
    assert check_sample_rate(16000.0) == 16000 and isinstance(check_sample_rate(16000.0), int)
    assert float(stft_frequencies(16000.0, 4)[-1]) == 8000.0
