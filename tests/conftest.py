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
