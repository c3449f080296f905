import math

import pytest
import torch

# The tests fit tiny problems: one thread avoids thread start-up and contention costs that
# dominate them on a small or shared machine. Speed is measured in benchmarks/, not here.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _one_thread():
    # every test starts on one thread, whatever a test before it set (tests/test_threads.py)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _seed_everything():
    torch.manual_seed(0)
    yield


def relative_error(estimate, reference):
    return float((estimate.detach() - reference).norm() / reference.norm())


def harmonic_tone(seconds, sample_rate):
    """A 220 Hz tone with four harmonics (amplitudes 1/k), float64."""
    t = torch.arange(round(seconds * sample_rate), dtype=torch.float64) / sample_rate
    return sum(torch.sin(2 * math.pi * k * 220 * t) / k for k in range(1, 6))


def noise_bursts(seconds, sample_rate, seed):
    """White-noise bursts of 50 ms, four a second (a percussive source), float64."""
    t = torch.arange(round(seconds * sample_rate), dtype=torch.float64) / sample_rate
    noise = torch.randn(t.shape[0], generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return ((t * 4) % 1 < 0.2).double() * noise
