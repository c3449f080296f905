"""The overcomplete face: its documentation's example with the import changed, planted
dictionaries recovered by every solver, all-zero input, the input types it accepts, and (where
overcomplete is installed) the same behaviour as the original on the same inputs."""

import importlib
import importlib.util
import sys
import types

import numpy as np
import pytest
import scipy.optimize
import torch
from torch.utils.data import DataLoader, TensorDataset

import nmfsep.compat.overcomplete as oc
from nmfsep.compat.overcomplete import NMF
from nmfsep.compat.overcomplete.optimization import NMF as OptimizationNMF

from conftest import relative_error

SOLVERS = ["hals", "mu", "anls", "pgd"]


def planted(N=120, C=40, R=5, seed=0):
    """``A = Z D`` with sparse non-negative codes and dictionary (an identifiable NMF)."""
    g = torch.Generator().manual_seed(seed)
    Z = torch.rand(N, R, generator=g) * (torch.rand(N, R, generator=g) < 0.6)
    D = torch.rand(R, C, generator=g) * (torch.rand(R, C, generator=g) < 0.5)
    return Z, D


def matched_cosines(D_true, D):
    """Cosine similarity of each planted atom with its match (Hungarian assignment)."""
    a = torch.nn.functional.normalize(D_true.double(), dim=1)
    b = torch.nn.functional.normalize(D.double(), dim=1)
    similarity = (a @ b.t()).numpy()
    rows, cols = scipy.optimize.linear_sum_assignment(-similarity)
    return similarity[rows, cols]


def test_documentation_example_runs_with_the_import_changed():
    # overcomplete's "Basic Usage", with a small A and 10 concepts: 10_000 concepts would need a
    # 10_000 x 10_000 Gram matrix (400 MB) per iteration, which is not a unit test
    Z_true, D_true = planted(R=10, C=60)
    A = Z_true @ D_true

    # define an NMF model with 10 concepts using the HALS solver
    nmf = NMF(nb_concepts=10, solver='hals')
    # fit the model to input activations A
    Z, D = nmf.fit(A)
    # encode new data
    Z = nmf.encode(A)
    # decode (reconstruct) data from codes
    A_hat = nmf.decode(Z)

    assert Z.shape == (120, 10) and D.shape == (10, 60) and A_hat.shape == A.shape
    assert relative_error(A_hat, A) < 5e-4  # measured 1.4e-4
    assert oc.optimization.NMF is OptimizationNMF is NMF


# relative reconstruction error on the planted problem after fit(A) with the default tol,
# measured: hals 2.1e-4, anls 1.7e-4, mu 6.5e-3, pgd 1.1e-3 (x3 margin); atoms matched to 0.999
@pytest.mark.parametrize("solver, bound", [
    ("hals", 6e-4), ("anls", 5e-4), ("mu", 2e-2), ("pgd", 3.3e-3),
])
def test_every_solver_recovers_the_planted_dictionary(solver, bound):
    Z_true, D_true = planted()
    A = Z_true @ D_true
    nmf = NMF(5, solver=solver)
    Z, D = nmf.fit(A)
    assert Z.shape == (120, 5) and D.shape == (5, 40)
    assert bool((Z >= 0).all() and (D >= 0).all())
    assert relative_error(Z @ D, A) < bound
    assert matched_cosines(D_true, D).min() > 0.99
    assert torch.equal(nmf.get_dictionary(), D) and torch.equal(nmf.decode(Z), Z @ D)


@pytest.mark.parametrize("solver", SOLVERS)
def test_each_solver_decreases_the_loss(solver):
    # NNDSVDa is deterministic: fit(A, max_iter=k) continues the same sequence of iterates
    A = torch.rand(50, 30, dtype=torch.float64)
    nmf = NMF(4, solver=solver, tol=0)
    Z0, D0 = nmf.init_nndsvda(A)
    losses = [float((A - Z0 @ D0).norm())]
    for max_iter in (1, 2, 4, 8, 16):
        Z, D = nmf.fit(A, max_iter=max_iter)
        losses.append(float((A - Z @ D).norm()))
    assert all(b <= a * (1 + 1e-12) for a, b in zip(losses, losses[1:])), losses
    assert losses[-1] < 0.9 * losses[0]


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("nb_concepts", [3, 50])  # NNDSVDa start, random start (overcomplete)
def test_all_zero_input_gives_all_zero_codes_and_dictionary(solver, nb_concepts):
    A = torch.zeros(20, 10)
    nmf = NMF(nb_concepts, solver=solver)
    Z, D = nmf.fit(A, max_iter=20)
    assert Z.shape == (20, nb_concepts) and D.shape == (nb_concepts, 10)
    assert torch.equal(Z, torch.zeros_like(Z)) and torch.equal(D, torch.zeros_like(D))
    assert torch.equal(nmf.encode(A, max_iter=5), torch.zeros(20, nb_concepts))


def test_encode_finds_the_codes_of_new_data():
    Z_true, D_true = planted(N=200)
    nmf = NMF(5, solver="anls")
    nmf.fit(Z_true[:150] @ D_true)
    A_new = Z_true[150:] @ D_true
    Z_new = nmf.encode(A_new, max_iter=300, tol=1e-8)
    assert Z_new.shape == (50, 5) and bool((Z_new >= 0).all())
    assert relative_error(nmf.decode(Z_new), A_new) < 5e-4  # measured 1.4e-4
    assert torch.equal(nmf.get_dictionary(), nmf.D)  # encoding leaves the dictionary alone


def test_tensors_arrays_iterables_and_dataloaders_give_the_same_fit():
    Z_true, D_true = planted()
    A = Z_true @ D_true
    loader = DataLoader(TensorDataset(A), batch_size=32)  # (data,) batches, as overcomplete unwraps
    inputs = [A, A.numpy(), list(A.split(50)), loader, A.tolist()]
    fits = [NMF(5).fit(x, max_iter=30) for x in inputs]
    for Z, D in fits[1:]:
        assert torch.equal(Z, fits[0][0]) and torch.equal(D, fits[0][1])
    nmf = NMF(5)
    sanitized = nmf.sanitize_np_input(loader)
    assert sanitized.dtype == np.float32 and np.array_equal(sanitized, A.numpy())
    assert nmf.sanitize_np_codes(Z_true.double()).dtype == np.float32


def test_initialisations():
    A = torch.rand(60, 30) ** 2
    nmf = NMF(4)
    Z, D = nmf.init_random_z(A), nmf.init_random_d(A)
    assert Z.shape == (60, 4) and D.shape == (4, 30) and bool((Z >= 0).all() and (D >= 0).all())
    # |N(0, 1)| sqrt(mean(A) / nb_concepts): E[ZD] = 4 (2/pi) mean(A) / 4
    Z, D = NMF(400).init_random_z(A), NMF(400).init_random_d(A)
    assert float((Z @ D).mean()) == pytest.approx(2 / np.pi * float(A.mean()), rel=0.05)
    # NNDSVDa is scikit-learn's (exact SVD here, a randomised one there: the same on rank-4 data)
    from sklearn.decomposition._nmf import _initialize_nmf

    Z_true, D_true = planted(N=60, C=30, R=4)
    A = (Z_true @ D_true).double()
    Z, D = nmf.init_nndsvda(A)
    Z_sk, D_sk = _initialize_nmf(A.numpy(), 4, init="nndsvda", random_state=0)
    np.testing.assert_allclose(Z.numpy(), Z_sk, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(D.numpy(), D_sk, rtol=1e-4, atol=1e-6)


def test_arguments_are_checked():
    assert NMF(n_components=3).nb_concepts == 3 and NMF(3).n_components == 3
    with pytest.raises(TypeError, match="give nb_concepts"):
        NMF()
    with pytest.raises(ValueError, match="disagree"):
        NMF(3, n_components=4)
    with pytest.raises(ValueError, match="solver must be one of"):
        NMF(3, solver="adam")
    with pytest.warns(UserWarning, match="ignores"):
        NMF(3, random_state=0)
    nmf = NMF(3)
    for method, argument in ((nmf.encode, torch.rand(4, 5)), (nmf.decode, torch.rand(4, 3))):
        with pytest.raises(ValueError, match="must be fitted"):
            method(argument)
    with pytest.raises(ValueError, match="negative"):
        nmf.fit(-torch.ones(10, 5))
    with pytest.raises(ValueError, match="2 dimensions"):
        nmf.fit(torch.rand(2, 10, 5))
    with pytest.raises(ValueError, match="nb_concepts = 3 columns"):
        nmf.sanitize_np_codes(torch.rand(4, 5))


# -- side by side with overcomplete ----------------------------------------------------------------

@pytest.fixture(scope="module")
def original():
    """overcomplete's ``optimization.nmf`` module.

    overcomplete's ``__init__`` imports its vision models (torchvision, timm); where those are
    missing, only its optimisation subpackage is loaded, under a bare parent package.
    """
    spec = importlib.util.find_spec("overcomplete")
    if spec is None:
        pytest.skip("overcomplete is not installed (pip install --no-deps overcomplete)")
    before = set(sys.modules)
    try:
        module = importlib.import_module("overcomplete.optimization.nmf")
    except ImportError:
        for name in [n for n in sys.modules if n.split(".")[0] == "overcomplete"]:
            del sys.modules[name]
        parent = types.ModuleType("overcomplete")
        parent.__path__ = list(spec.submodule_search_locations)
        sys.modules["overcomplete"] = parent
        try:
            module = importlib.import_module("overcomplete.optimization.nmf")
        except ImportError as err:
            pytest.skip(f"overcomplete's NMF does not import here: {err}")
    yield module
    for name in set(sys.modules) - before:
        if name.split(".")[0] == "overcomplete":
            del sys.modules[name]


@pytest.mark.parametrize("solver", ["hals", "mu"])  # (its anls takes seconds)
def test_same_fit_as_overcomplete(original, solver):
    Z_true, D_true = planted()
    A = Z_true @ D_true
    ours, theirs = NMF(5, solver=solver), original.NMF(5, solver=solver)
    (Z, D), (Z_o, D_o) = ours.fit(A), theirs.fit(A)
    assert (Z.shape, D.shape) == (Z_o.shape, D_o.shape)
    # the same planted atoms, and a reconstruction at least as good (x1.5 margin)
    assert matched_cosines(D_o, D).min() > 0.99
    assert relative_error(Z @ D, A) <= 1.5 * relative_error(Z_o @ D_o, A) + 1e-4


def test_same_initialisations_encoding_and_zero_input_as_overcomplete(original):
    Z_true, D_true = planted()
    A = Z_true @ D_true
    ours, theirs = NMF(5), original.NMF(5)
    for mine, other in zip(ours.init_nndsvda(A), theirs.init_nndsvda(A)):
        torch.testing.assert_close(mine, other.to(mine.dtype), rtol=1e-3, atol=1e-4)
    # encoding with one dictionary: the non-negative least-squares codes are unique
    ours.fit(A)
    theirs.D, theirs.fitted = ours.get_dictionary().clone(), True
    Z, Z_o = ours.encode(A, tol=0), theirs.encode(A, tol=0)
    torch.testing.assert_close(Z, Z_o, rtol=1e-2, atol=1e-3)
    torch.testing.assert_close(ours.decode(Z_o), theirs.decode(Z_o))
    for model in (NMF(3), original.NMF(3)):
        Z, D = model.fit(torch.zeros(20, 10), max_iter=20)
        assert not Z.any() and not D.any()


def test_docstring_examples():
    import doctest

    from nmfsep.compat.overcomplete.optimization import nmf

    result = doctest.testmod(nmf)
    assert result.attempted > 0 and result.failed == 0
