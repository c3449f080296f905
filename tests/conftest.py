import pytest
import torch


@pytest.fixture(autouse=True)
def _seed_everything():
    torch.manual_seed(0)
    yield


def relative_error(estimate, reference):
    return float((estimate.detach() - reference).norm() / reference.norm())
