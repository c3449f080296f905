"""Damaged audio files: truncated, corrupt, mutated at random.

The loader either returns finite audio of shape (channels, samples) or raises nmfsep's
clear error (ValueError or OSError naming the file): never another exception, never NaN.
"""

import warnings

import numpy as np
import pytest
import soundfile as sf
import torch

from nmfsep.io import load

RATE = 8000


def _tone(channels=2, frames=4000):
    t = np.arange(frames) / RATE
    return (0.3 * np.sin(2 * np.pi * 440 * t)[:, None] * np.linspace(1, 0.5, channels)).astype(
        np.float32)


@pytest.mark.parametrize("name, subtype", [("pcm.wav", "PCM_16"), ("float.wav", "FLOAT"),
                                           ("a.aiff", "PCM_16")])
def test_a_file_cut_short_is_refused_or_read_with_a_warning(tmp_path, name, subtype):
    audio = _tone()
    whole = tmp_path / name
    sf.write(whole, audio, RATE, subtype=subtype)
    data = whole.read_bytes()
    cut = tmp_path / f"cut_{name}"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"truncated: its header promises 4000 frames .* holds "
                                         r"\d+ .*allow_truncated=True \(--allow-truncated"):
        load(cut)
    with pytest.warns(UserWarning, match=r"truncated.*promises 4000 frames"):
        waveform, rate = load(cut, allow_truncated=True)
    kept = waveform.shape[1]
    assert rate == RATE and waveform.shape[0] == 2 and 1900 < kept < 2000
    # the frames that are there are the original's first ones
    tolerance = 1e-4 if subtype == "PCM_16" else 0
    assert torch.allclose(waveform, torch.from_numpy(audio[:kept].T), atol=tolerance)


def test_a_streamed_file_of_unknown_length_is_not_truncated(tmp_path):
    # writers that stream set the data size to 0xFFFFFFFF: no promise of a length
    path = tmp_path / "streamed.wav"
    sf.write(path, _tone(1), RATE, subtype="PCM_16")
    data = bytearray(path.read_bytes())
    at = data.index(b"data") + 4
    data[at:at + 4] = b"\xff\xff\xff\xff"
    path.write_bytes(bytes(data))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        waveform, _ = load(path)
    assert waveform.shape == (1, 4000)


def test_a_corrupt_flac_names_the_file(tmp_path):
    path = tmp_path / "broken.flac"
    sf.write(path, _tone(), RATE)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"broken\.flac.*corrupt or truncated"):
        load(path)


FORMATS = [("pcm.wav", dict(subtype="PCM_16")), ("float.wav", dict(subtype="FLOAT")),
           ("a.flac", {}), ("a.aiff", {}), ("a.ogg", {})]


@pytest.mark.parametrize("seed", range(4))
def test_fuzzed_files_load_cleanly_or_raise_a_clear_error(tmp_path, seed):
    rng = np.random.default_rng(seed)
    originals = {}
    for name, options in FORMATS:
        sf.write(tmp_path / name, _tone(), RATE, **options)
        originals[name] = (tmp_path / name).read_bytes()
    outcomes = {"loaded": 0, "refused": 0}
    for trial in range(60):
        name = FORMATS[trial % len(FORMATS)][0]
        data = bytearray(originals[name])
        mutation = trial // len(FORMATS) % 3
        if mutation == 0:  # cut anywhere, header included
            data = data[: rng.integers(0, len(data))]
        elif mutation == 1:  # bytes flipped anywhere
            for at in rng.integers(0, len(data), rng.integers(1, 20)):
                data[at] = rng.integers(256)
        else:  # garbage over the header
            size = int(rng.integers(1, 64))
            data[:size] = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
        path = tmp_path / f"mutated_{trial}_{name}"
        path.write_bytes(bytes(data))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                waveform, rate = load(path)
        except (ValueError, OSError) as err:
            assert path.name in str(err), err
            outcomes["refused"] += 1
        else:
            assert waveform.ndim == 2 and waveform.shape[0] >= 1 and waveform.shape[1] >= 1
            assert waveform.dtype == torch.float32 and bool(torch.isfinite(waveform).all())
            assert rate > 0
            outcomes["loaded"] += 1
    assert outcomes["loaded"] and outcomes["refused"]  # the mutations reach both outcomes
