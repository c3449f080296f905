"""Soft and binary masks: known values, sum to one, mixture consistency, purity, validation."""

import pytest
import torch

from nmfsep._pipeline.masks import SoftMask, apply_masks, binary_mask, ratio_mask, wiener_mask

# Masks are quotients, so their sum over sources is one up to a few roundings.
SUM_TOLERANCE = {torch.float32: 4 * torch.finfo(torch.float32).eps, torch.float64: 4 * torch.finfo(torch.float64).eps}

MASKS = {
    "ratio": ratio_mask,
    "wiener": wiener_mask,
    "power3": lambda e: wiener_mask(e, power=3.0),
    "power0.5": lambda e: wiener_mask(e, power=0.5),
    "binary": binary_mask,
}


def _estimates(dtype, seed=0):
    """(3 sources, 2 channels, 17 freq, 11 frames) with some all-zero bins and zero entries."""
    generator = torch.Generator().manual_seed(seed)
    estimates = torch.rand(3, 2, 17, 11, generator=generator, dtype=dtype) ** 3
    estimates[:, 0, 4, :] = 0.0  # silent bins
    estimates[1, 1, :, 3] = 0.0  # one silent source
    return estimates


@pytest.mark.parametrize("name", list(MASKS))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_masks_sum_to_one_everywhere(name, dtype):
    estimates = _estimates(dtype)
    masks = MASKS[name](estimates)
    assert masks.shape == estimates.shape and masks.dtype == dtype
    assert (masks >= 0).all() and (masks <= 1).all()
    assert (masks.sum(0) - 1).abs().max() <= SUM_TOLERANCE[dtype]
    # All-zero bins are split equally.
    torch.testing.assert_close(masks[:, 0, 4, :], torch.full((3, 11), 1 / 3, dtype=dtype), rtol=0, atol=0)


@pytest.mark.parametrize("name", list(MASKS))
def test_inputs_are_not_modified(name):
    estimates = _estimates(torch.float64)
    before = estimates.clone()
    MASKS[name](estimates)
    assert torch.equal(estimates, before)


def test_known_values():
    estimates = torch.tensor([[3.0, 1.0, 0.0, 2.0], [1.0, 3.0, 0.0, 2.0]], dtype=torch.float64)
    expected_ratio = torch.tensor([[0.75, 0.25, 0.5, 0.5], [0.25, 0.75, 0.5, 0.5]], dtype=torch.float64)
    expected_wiener = torch.tensor([[0.9, 0.1, 0.5, 0.5], [0.1, 0.9, 0.5, 0.5]], dtype=torch.float64)
    expected_binary = torch.tensor([[1.0, 0.0, 0.5, 1.0], [0.0, 1.0, 0.5, 0.0]], dtype=torch.float64)  # tie -> first
    torch.testing.assert_close(ratio_mask(estimates), expected_ratio)
    torch.testing.assert_close(wiener_mask(estimates, power=1.0), expected_ratio)
    torch.testing.assert_close(wiener_mask(estimates), expected_wiener)
    torch.testing.assert_close(wiener_mask(estimates, power=3.0)[:, 0],
                               torch.tensor([27 / 28, 1 / 28], dtype=torch.float64))
    torch.testing.assert_close(binary_mask(estimates), expected_binary)
    torch.testing.assert_close(SoftMask(power=2.0)(estimates), expected_wiener)


def test_large_power_approaches_binary():
    estimates = torch.tensor([[2.0, 1.0], [1.0, 1.5]], dtype=torch.float64)
    soft = wiener_mask(estimates, power=30.0)
    # 2**30 / (2**30 + 1) and 1.5**30 / (1.5**30 + 1): within 1e-5 of the one-hot masks.
    torch.testing.assert_close(soft[0], torch.tensor([2**30 / (2**30 + 1), 1 / (1.5**30 + 1)], dtype=torch.float64))
    assert (soft - binary_mask(estimates)).abs().max() < 1e-5


@pytest.mark.parametrize("scale", [1e-30, 1e-10, 1e10, 1e30])
def test_scale_invariant_without_underflow(scale):
    # Tiny magnitudes squared underflow in float32 (1e-30 ** 2 == 0); the masks must not care.
    estimates = torch.tensor([[3.0], [1.0]], dtype=torch.float32)
    torch.testing.assert_close(wiener_mask(estimates * scale), torch.tensor([[0.9], [0.1]]))
    torch.testing.assert_close(ratio_mask(estimates * scale), torch.tensor([[0.75], [0.25]]))


def test_eps_sets_the_silence_threshold():
    estimates = torch.tensor([[1e-6, 2.0], [0.0, 1.0]], dtype=torch.float64)
    masks = ratio_mask(estimates, eps=1e-3)
    torch.testing.assert_close(masks[:, 0], torch.tensor([0.5, 0.5], dtype=torch.float64))  # treated as silent
    torch.testing.assert_close(masks[:, 1], torch.tensor([2 / 3, 1 / 3], dtype=torch.float64))
    torch.testing.assert_close(ratio_mask(estimates)[:, 0], torch.tensor([1.0, 0.0], dtype=torch.float64))


@pytest.mark.parametrize("power", [1.0, 2.0, 0.5])
def test_wiener_mask_same_with_and_without_autograd(power):
    # Without autograd the steps run in place; the masks must be the same numbers.
    estimates = _estimates(torch.float64)
    plain = wiener_mask(estimates, power=power)
    tracked = wiener_mask(estimates.clone().requires_grad_(), power=power)
    assert torch.equal(plain, tracked.detach())


def test_wiener_mask_gradients():
    estimates = (_estimates(torch.float64)[:, 1, :4, :4] + 0.1).requires_grad_()
    assert torch.autograd.gradcheck(lambda e: wiener_mask(e, power=2.0), (estimates,))
    # Gradients through silent bins are finite (zero), not NaN.
    silent = _estimates(torch.float64).requires_grad_()
    wiener_mask(silent)[0].sum().backward()
    assert torch.isfinite(silent.grad).all()
    assert (silent.grad[:, 0, 4, :] == 0).all()


@pytest.mark.parametrize("name", list(MASKS))
def test_masked_sources_sum_to_mixture(name):
    generator = torch.Generator().manual_seed(1)
    mixture = torch.randn(2, 17, 11, dtype=torch.complex128, generator=generator)
    masks = MASKS[name](_estimates(torch.float64))
    before = mixture.clone()
    sources = apply_masks(masks, mixture)
    assert sources.shape == (3, 2, 17, 11) and sources.dtype == torch.complex128
    torch.testing.assert_close(sources.sum(0), mixture, rtol=0, atol=1e-14)
    assert torch.equal(mixture, before)


def test_apply_masks_broadcasts_over_channels():
    generator = torch.Generator().manual_seed(2)
    mixture = torch.randn(2, 17, 11, dtype=torch.complex64, generator=generator)
    masks = ratio_mask(_estimates(torch.float32)[:, 1])  # (3, 17, 11): shared by both channels
    sources = apply_masks(masks, mixture)
    assert sources.shape == (3, 2, 17, 11)
    torch.testing.assert_close(sources[2, 1], masks[2] * mixture[1], rtol=0, atol=0)
    torch.testing.assert_close(sources.sum(0), mixture, rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="do not broadcast"):
        apply_masks(masks[:, :, :5], mixture)
    with pytest.raises(ValueError, match="more dimensions"):
        apply_masks(torch.ones(3, 1, 2, 17, 11), mixture)


@pytest.mark.parametrize("name", list(MASKS))
def test_invalid_estimates(name):
    mask = MASKS[name]
    with pytest.raises(ValueError, match="negative"):
        mask(torch.tensor([[1.0, -0.5], [1.0, 1.0]]))
    with pytest.raises(ValueError, match="NaN or Inf"):
        mask(torch.tensor([[1.0, float("nan")], [1.0, 1.0]]))
    with pytest.raises(ValueError, match="at least one source"):
        mask(torch.zeros(0, 4))
    with pytest.raises(TypeError, match="magnitudes"):
        mask(torch.ones(2, 3, dtype=torch.complex64))
    with pytest.raises(TypeError, match="torch.Tensor"):
        mask([[1.0], [2.0]])


def test_invalid_power_and_eps():
    with pytest.raises(ValueError, match="power"):
        wiener_mask(torch.ones(2, 3), power=0.0)
    with pytest.raises(ValueError, match="binary_mask"):
        wiener_mask(torch.ones(2, 3), power=float("inf"))
    with pytest.raises(ValueError, match="eps"):
        ratio_mask(torch.ones(2, 3), eps=-1.0)
    with pytest.raises(ValueError, match="power"):
        SoftMask(power=-1.0)
