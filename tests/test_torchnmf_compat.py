"""nmfsep side by side with the installed torchnmf: code written for torchnmf runs unchanged.

Every check builds or fits the same thing with both libraries and compares what torchnmf code
can see: constructor outcomes (the rank, the factors' shapes, ``None`` attributes, the
exception type when it raises), ``fit`` / ``sparse_fit`` return values, trainer side effects,
and the numbers themselves from the same initial factors.

Deliberate differences, not checked here: random initial factors are uniform (torchnmf: half
normal); ``trainable_W`` / ``trainable_H`` also apply to factors given by size; with ``Vshape``
a ``W`` / ``H`` tensor is kept (torchnmf replaces it by a random one); a ``rank`` larger than a
given factor's completes it with random components (torchnmf ignores the rank); fits with
``beta <= 0`` accept zeros in V; ``fit``'s stopping rule compares the divergence itself
(torchnmf its square root), so a positive ``tol`` may stop at another check; ``PLCA.fit``
returns the number of iterations run (torchnmf one less); PLCA's Dirichlet priors (alpha != 1)
are exact MAP estimates.
"""

import math

import pytest
import torch
from torch import nn

tn = pytest.importorskip("torchnmf")

from torchnmf import metrics as tn_metrics  # noqa: E402
from torchnmf import nmf as tn_nmf  # noqa: E402
from torchnmf import plca as tn_plca  # noqa: E402
from torchnmf import trainer as tn_trainer  # noqa: E402

import nmfsep.metrics as our_metrics  # noqa: E402
import nmfsep.nmf as our_nmf  # noqa: E402
import nmfsep.plca as our_plca  # noqa: E402
import nmfsep.trainer as our_trainer  # noqa: E402
from nmfsep._core import ValueAssertionError  # noqa: E402

F64 = torch.float64


def _negative(*shape):
    x = torch.rand(*shape)
    x[0, 0] = -0.5
    return x


# (module, class name, builder of (args, kwargs)); the builder runs under the same seed for
# both libraries, so that the tensors it draws are the same
CONSTRUCTIONS = [
    ("nmf", "BaseComponent", lambda: ((8, (50, 8), (100, 8)), {})),
    ("nmf", "BaseComponent", lambda: ((8, torch.rand(50, 8), None), {})),
    ("nmf", "BaseComponent", lambda: ((8, None, None), {})),
    ("nmf", "BaseComponent", lambda: ((None, torch.rand(50, 8), None), {})),
    ("nmf", "BaseComponent", lambda: ((None, None, None), {})),
    ("nmf", "BaseComponent", lambda: ((None, (50, 8), (100, 10)), {})),
    ("nmf", "BaseComponent", lambda: ((None, torch.rand(50, 8), torch.rand(100, 10)), {})),
    ("nmf", "BaseComponent", lambda: ((None, _negative(50, 8), (100, 8)), {})),
    ("nmf", "BaseComponent", lambda: ((None, (50, 8), _negative(100, 8)), {})),
    ("nmf", "BaseComponent", lambda: ((8, torch.rand(50, 8), torch.rand(100, 8), False, True), {})),
    ("nmf", "NMF", lambda: (((100, 50),), {})),
    ("nmf", "NMF", lambda: (((100, 50), 8), {})),
    ("nmf", "NMF", lambda: ((), {"W": (32, 16)})),
    ("nmf", "NMF", lambda: (((100, 50, 50),), {})),
    ("nmf", "NMF", lambda: (((100,),), {})),
    ("nmf", "NMFD", lambda: (((10, 20, 30),), {})),
    ("nmf", "NMFD", lambda: (((1, 20, 30), 4, 5), {})),
    ("nmf", "NMFD", lambda: (((100, 50),), {})),
    ("nmf", "NMF2D", lambda: (((2, 3, 10, 12),), {})),
    ("nmf", "NMF2D", lambda: (((2, 3, 10, 12), 4, (3, 4)), {})),
    ("nmf", "NMF2D", lambda: (((100, 50) * 3,), {})),
    ("nmf", "NMF3D", lambda: (((1, 2, 6, 7, 8),), {})),
    ("nmf", "NMF3D", lambda: (((1, 2, 6, 7, 8), 3, 2), {})),
    ("nmf", "NMF3D", lambda: (((100, 50) * 2,), {})),
    ("plca", "BaseComponent", lambda: ((None, torch.rand(50, 8), torch.rand(100, 8)), {})),
    ("plca", "BaseComponent", lambda: ((None, (50, 8), None), {})),
    ("plca", "BaseComponent", lambda: ((8, torch.rand(50, 8), torch.rand(100, 8)), {})),
    ("plca", "BaseComponent", lambda: ((None, None, None, torch.rand(8)), {})),
    ("plca", "BaseComponent", lambda: ((None, torch.rand(50, 8), (100, 10), torch.rand(10)), {})),
    ("plca", "BaseComponent", lambda: ((None, torch.rand(50, 8), (100, 8), torch.rand(7)), {})),
    ("plca", "BaseComponent", lambda: ((None, torch.rand(50, 8), (100, 8), -torch.rand(8)), {})),
    ("plca", "BaseComponent", lambda: ((None, None, None, torch.rand(2, 4)), {})),
    ("plca", "BaseComponent", lambda: ((None, None, None, None), {})),
    ("plca", "PLCA", lambda: (((100, 50),), {})),
    ("plca", "PLCA", lambda: (((100, 50), 5), {"trainable_Z": False, "Z": torch.rand(5)})),
    ("plca", "SIPLCA", lambda: (((3, 20, 30),), {"T": 4})),
    ("plca", "SIPLCA2", lambda: (((1, 2, 10, 12),), {})),
    ("plca", "SIPLCA3", lambda: (((1, 2, 6, 7, 8),), {"kernel_size": 2})),
    ("plca", "SIPLCA3", lambda: (((100, 50),), {})),
]


def _build(module: str, cls: str, ours: bool, case, seed: int):
    torch.manual_seed(seed)
    args, kwargs = case()
    library = {"nmf": (our_nmf, tn_nmf), "plca": (our_plca, tn_plca)}[module][0 if ours else 1]
    try:
        return getattr(library, cls)(*args, **kwargs)
    except Exception as err:  # the outcome compared is the exception's type
        return err


def _visible_state(model) -> dict:
    """What torchnmf code sees of a module: rank, factor shapes or None, flags, attributes."""
    state = {"rank": model.rank, "out_channels": getattr(model, "out_channels", None),
             "kernel_size": tuple(getattr(model, "kernel_size", ()))}
    for name in ("W", "H", "Z"):
        factor = getattr(model, name, None)
        state[name] = None if factor is None else (tuple(factor.shape), factor.requires_grad)
    return state


@pytest.mark.parametrize("index", range(len(CONSTRUCTIONS)))
def test_constructors_behave_like_torchnmf(index):
    module, cls, case = CONSTRUCTIONS[index]
    theirs = _build(module, cls, False, case, index)
    ours = _build(module, cls, True, case, index)
    if isinstance(theirs, Exception):
        assert isinstance(ours, type(theirs)), f"torchnmf raised {theirs!r}, nmfsep gave {ours!r}"
        return
    assert not isinstance(ours, Exception), f"torchnmf built it, nmfsep raised {ours!r}"
    assert _visible_state(ours) == _visible_state(theirs)


def test_plca_normalises_given_factors_like_torchnmf():
    W, H, Z = torch.rand(50, 8), torch.rand(100, 8), torch.rand(8)
    ours, theirs = our_plca.BaseComponent(None, W, H, Z), tn_plca.BaseComponent(None, W, H, Z)
    for name in ("W", "H", "Z"):
        assert torch.allclose(getattr(ours, name), getattr(theirs, name), rtol=1e-6)


def test_rank_is_inferred_as_in_torchnmf():
    # the issue's cases, spelled out: the last axis but one (C for NMF, NMFD; L, M otherwise)
    assert our_nmf.NMF((100, 50)).rank == tn_nmf.NMF((100, 50)).rank == 50
    assert our_nmf.NMF2D((2, 3, 10, 12)).rank == tn_nmf.NMF2D((2, 3, 10, 12)).rank == 10
    assert our_plca.PLCA((100, 50)).Z.shape == (50,)
    plain = our_plca.BaseComponent(None, torch.rand(50, 8), torch.rand(100, 8))
    assert plain.Z is None and tn_plca.BaseComponent(None, torch.rand(50, 8), torch.rand(100, 8)).Z is None
    # where torchnmf's fit fails on the missing Z, nmfsep's starts it uniform
    late = our_plca.PLCA(None, W=torch.rand(50, 8), H=torch.rand(100, 8), trainable_Z=False)
    late.fit(torch.rand(100, 50), max_iter=5)
    assert torch.equal(late.Z, torch.full((8,), 1 / 8)) and not late.Z.requires_grad


def test_disagreeing_and_negative_factors_raise_assertion_and_value_errors():
    for build in (lambda lib: lib.BaseComponent(None, torch.rand(5, 3), torch.rand(4, 2)),
                  lambda lib: lib.BaseComponent(None, -torch.rand(5, 3), torch.rand(4, 3)),
                  lambda lib: lib.NMF(W=(5, 3))()):
        with pytest.raises(AssertionError):
            build(tn_nmf)
        with pytest.raises(AssertionError):
            build(our_nmf)
        with pytest.raises(ValueAssertionError):  # a ValueError too: nmfsep's own contract
            build(our_nmf)
    with pytest.raises(AssertionError):
        tn_nmf.NMF((4, 5), 2).fit(-torch.rand(4, 5))
    with pytest.raises(AssertionError, match="negative"):
        our_nmf.NMF((4, 5), 2).fit(-torch.rand(4, 5))


def _same_start(library, cls, W0, H0, **kwargs):
    model = getattr(library, cls)(W=W0, H=H0, **kwargs).double()
    with torch.no_grad():  # torchnmf copies into float32 first: restore the float64 values
        model.W.copy_(W0)
        model.H.copy_(H0)
    return model


@pytest.mark.parametrize("beta, alpha, l1_ratio", [
    (2, 0, 0), (1, 0, 0), (0, 0, 0), (0.5, 0, 0), (3, 0, 0), (1, 0.1, 0.5), (2, 0.2, 1.0),
])
def test_nmf_fit_gives_torchnmf_numbers(beta, alpha, l1_ratio, monkeypatch):
    monkeypatch.setattr(tn_nmf, "eps", 1e-300)  # torchnmf biases its updates by float32's eps
    V = 10 * torch.rand(30, 20, dtype=F64) + 0.1
    W0, H0 = torch.rand(20, 4, dtype=F64), torch.rand(30, 4, dtype=F64)
    ours, theirs = _same_start(our_nmf, "NMF", W0, H0), _same_start(tn_nmf, "NMF", W0, H0)
    assert ours.fit(V, beta, 0, 25, False, alpha, l1_ratio) == 25
    assert theirs.fit(V, beta, 0, 25, False, alpha, l1_ratio) == 25
    for name in ("W", "H"):
        mine, reference = getattr(ours, name).detach(), getattr(theirs, name).detach()
        assert float((mine - reference).norm() / reference.norm()) < 1e-9, name


@pytest.mark.parametrize("beta", [2, 1, 0])
def test_nmfd_fit_gives_torchnmf_numbers(beta, monkeypatch):
    monkeypatch.setattr(tn_nmf, "eps", 1e-300)
    V = torch.rand(1, 12, 40, dtype=F64) + 0.1
    W0, H0 = torch.rand(12, 3, 4, dtype=F64), torch.rand(1, 3, 37, dtype=F64)
    ours, theirs = _same_start(our_nmf, "NMFD", W0, H0), _same_start(tn_nmf, "NMFD", W0, H0)
    assert ours.fit(V, beta, 0, 15) == theirs.fit(V, beta, 0, 15) == 15
    for name in ("W", "H"):
        mine, reference = getattr(ours, name).detach(), getattr(theirs, name).detach()
        assert float((mine - reference).norm() / reference.norm()) < 1e-9, name


def test_minus_infinite_tol_runs_max_iter_iterations():
    V = torch.rand(20, 10)
    for library in (tn_nmf, our_nmf):
        model = library.NMF(V.shape, 3)
        assert model.fit(V, tol=-math.inf, max_iter=37) == 37
        assert model.sparse_fit(V, 2, 12, False, 0.5, None) == 12
    ours = our_plca.PLCA(V.shape, 3)
    n_iter, norm = ours.fit(V, tol=-math.inf, max_iter=37)
    assert n_iter == ours.n_iter_ == 37 and torch.equal(norm, V.sum())
    # torchnmf returns the index of its last iteration, one less than the count
    their_n_iter, their_norm = tn_plca.PLCA(V.shape, 3).fit(V, tol=-math.inf, max_iter=37)
    assert their_n_iter == 36 and torch.equal(their_norm, norm)
    with pytest.raises(ValueError, match="nan"):
        our_nmf.NMF(V.shape, 3).fit(V, tol=math.nan)


@pytest.mark.parametrize("beta", [0, 1, 2, 3])
def test_betamu_steps_and_gradients_match_torchnmf(beta, monkeypatch):
    monkeypatch.setattr(tn_trainer, "eps", 1e-300)
    target = torch.rand(30, 20, dtype=F64) + 0.1
    start = [torch.rand(10, 4, dtype=F64), torch.rand(30, 4, dtype=F64), torch.rand(20, 10, dtype=F64)]
    models, grads = [], []
    for nmf, trainer in ((our_nmf, our_trainer), (tn_nmf, tn_trainer)):
        chain = nn.Sequential(nmf.NMF(W=(10, 4), H=(30, 4)), nmf.NMF(W=(20, 10))).double()
        with torch.no_grad():
            for param, value in zip(chain.parameters(), start):
                param.copy_(value)
        optimiser = trainer.BetaMu(chain.parameters(), beta, 1e-3, 1e-3, 1e-2)

        def closure():
            optimiser.zero_grad()
            return target, chain(None)

        for _ in range(3):
            optimiser.step(closure)
        models.append(chain)
        grads.append([p.grad for p in chain.parameters()])
    for mine, reference in zip(models[0].parameters(), models[1].parameters()):
        assert float((mine - reference).detach().norm() / reference.detach().norm()) < 1e-9
    # the gradients left in .grad: the closure's zero_grad cleared all but the last one's
    assert [g is None for g in grads[0]] == [g is None for g in grads[1]] == [True, True, False]
    assert torch.allclose(grads[0][-1], grads[1][-1], rtol=1e-9, atol=1e-12)


def test_betamu_leaves_the_loss_gradient_in_grad():
    model, reference = our_nmf.NMF((30, 20), 4), our_nmf.NMF((30, 20), 4)
    reference.load_state_dict(model.state_dict())
    target = torch.rand(30, 20)
    optimiser = our_trainer.BetaMu([model.W], 1)

    def closure():
        optimiser.zero_grad()
        return target, model()

    optimiser.step(closure)
    our_metrics.beta_div(reference(), target, 1).backward()
    assert torch.allclose(model.W.grad, reference.W.grad, rtol=1e-5, atol=1e-6)
    assert model.H.grad is None  # not a parameter of the optimiser


def test_trainer_and_metric_arguments_are_checked_alike():
    param = [nn.Parameter(torch.rand(3, 2))]
    for kwargs in ({"l1_reg": -1}, {"l2_reg": -1}, {"orthogonal": -1}):
        for trainer in (tn_trainer, our_trainer):
            with pytest.raises(ValueError):
                trainer.BetaMu(param, **kwargs)
    for sparsity in (0, 1, 1.5):
        for trainer in (tn_trainer, our_trainer):
            with pytest.raises(ValueError):
                trainer.SparsityProj(param, sparsity)


@pytest.mark.parametrize("beta", [-1, 0, 0.5, 1, 1.5, 2, 3])
def test_metrics_give_torchnmf_values(beta):
    x, y = torch.rand(100, dtype=F64) + 0.1, torch.rand(100, dtype=F64) + 0.1
    assert math.isclose(float(our_metrics.beta_div(x, y, beta)), float(tn_metrics.beta_div(x, y, beta)),
                        rel_tol=1e-5)
    assert math.isclose(float(our_metrics.sparseness(x)), float(tn_metrics.sparseness(x)), rel_tol=1e-12)
