"""The factorisation of a Separator as an object that validates itself (``Factorisation``),
and the flat keywords (``model="nmfd"``, ``T``, ``n_shifts``, ``beta``, ``max_iter``, ``tol``,
``n_components``) that build the same object.

The mixture is synthetic: a harmonic tone (220 Hz, 5 partials) and bursts of white noise, at
8 kHz.
"""


import pytest
import torch

from nmfsep import ParameterError, ParameterTypeError
from nmfsep.separation import ByClustering, ByHand, Factorisation, Separator, learn_templates
from nmfsep.transforms import CQT, STFT

from conftest import harmonic_tone, noise_bursts

SR = 8000


@pytest.fixture(scope="module")
def mixture():
    return (0.3 * harmonic_tone(1.5, SR) + 0.2 * noise_bursts(1.5, SR, 0)).float()


@pytest.fixture(scope="module")
def templates():
    return learn_templates({"tone": [harmonic_tone(1.0, SR).float()], "noise": [noise_bursts(1.0, SR, 1).float()]},
                           sample_rate=SR, n_fft=256, hop_length=64, T=4, max_iter=30)


def _assert_same(a, b):
    assert list(a) == list(b)
    for name in a:
        assert torch.equal(a[name], b[name]), name


def test_factorisation_object_and_flat_keywords_give_identical_stems(mixture, templates):
    stft = dict(n_fft=256, hop_length=64)
    pairs = [
        (dict(model=Factorisation("nmf", n_components=3, beta=2, max_iter=30), **stft),
         dict(model="nmf", n_components=3, beta=2, max_iter=30, **stft)),
        (dict(model=Factorisation("nmfd", n_components=2, T=4, max_iter=20, tol=0), **stft),
         dict(model="nmfd", n_components=2, T=4, max_iter=20, tol=0, **stft)),
        (dict(model=Factorisation("siplca", T=3, max_iter=15), grouping=ByHand({"a": [0], "b": [1, 2]}),
              **stft),
         dict(model="siplca", T=3, max_iter=15, components={"a": [0], "b": [1, 2]}, **stft)),
        (dict(model=Factorisation("plca", n_components=4, max_iter=20), grouping=ByClustering(2),
              **stft),
         dict(model="plca", n_components=4, max_iter=20, n_sources=2, **stft)),
        # no kind: the templates' model (NMFD), their T
        (dict(model=Factorisation(max_iter=10), templates=templates),
         dict(templates=templates, max_iter=10)),
        (dict(model=Factorisation("nmf2d", n_components=2, T=3, n_shifts=12, beta=0.5, max_iter=8),
              front_end=CQT(SR, fmin=110.0, n_bins=48)),
         dict(model="nmf2d", n_components=2, T=3, n_shifts=12, beta=0.5, max_iter=8,
              front_end="cqt", fmin=110.0, n_bins=48)),
    ]
    for composed, flat in pairs:
        _assert_same(Separator(**composed).separate(mixture, SR), Separator(**flat).separate(mixture, SR))


def test_factorisation_settings_reach_the_fit(mixture):
    separator = Separator(front_end=STFT(n_fft=256),
                          model=Factorisation("nmfd", n_components=2, T=5, max_iter=7, tol=0))
    separator.separate(mixture, SR)
    assert separator.n_iter_ == [7]
    assert separator.templates_.shape == (129, 2, 5)   # (freq, R, T)
    assert type(separator.model_).__name__ == "NMFD"
    assert separator.activations_.shape[-1] == separator.spectrogram_.shape[-1]


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(kind="svd"), ParameterError, "model must be one of"),
    (dict(kind="nmf", T=8), ParameterError, "T applies to nmfd"),
    (dict(kind="nmfd", n_shifts=4), ParameterError, "n_shifts applies to"),
    (dict(kind="siplca", T=4, beta=2), ParameterError, "corresponds to beta=1"),
    (dict(T=0), ParameterError, "T must be at least 1"),
    (dict(T=2.5), ParameterTypeError, "T must be a positive integer"),
    (dict(n_components=True), ParameterTypeError, "n_components"),
    (dict(n_shifts=-1), ParameterError, "n_shifts must be at least 1"),
    (dict(beta=float("nan")), ParameterError, "beta must be finite"),
    (dict(beta="kl"), ParameterTypeError, "beta must be a real number"),
    (dict(max_iter=0), ParameterError, "max_iter must be at least 1"),
    (dict(max_iter="10"), ParameterTypeError, "max_iter"),
    (dict(tol=-1e-3), ParameterError, "tol"),
    (dict(solver="newton"), ParameterError, "solver must be one of"),
    (dict(kind="nmf", solver="hals"), ParameterError, "minimises the Euclidean distance"),
    (dict(kind="nmfd", T=4, beta=2, solver="hals"), ParameterError, "fits model='nmf' only"),
    (dict(kind="plca", solver="auto"), ParameterError, "fits by EM"),
])
def test_factorisation_refuses_bad_settings_when_made(kwargs, error, match):
    with pytest.raises(error, match=match):
        Factorisation(**kwargs)


def test_settings_that_depend_on_templates_or_front_end_are_checked_at_separate(mixture, templates):
    with pytest.raises(ParameterError, match="pass T"):
        Separator(model=Factorisation("nmfd", n_components=2)).separate(mixture, SR)
    with pytest.raises(ParameterError, match="needs the log-frequency axis"):
        Separator(model=Factorisation("nmf2d", n_components=2, T=2)).separate(mixture, SR)
    with pytest.raises(ParameterError, match="cannot use templates"):
        Separator(model=Factorisation("nmf"), templates=templates).separate(mixture, SR)
    with pytest.raises(ParameterError, match="T=8 differs"):
        Separator(model=Factorisation(T=8), templates=templates).separate(mixture, SR)
    with pytest.raises(ParameterError, match="leave n_components unset"):
        Separator(model=Factorisation(n_components=3), templates=templates).separate(mixture, SR)


@pytest.mark.parametrize("flat", [dict(n_components=2), dict(T=4), dict(n_shifts=3), dict(beta=2),
                                  dict(max_iter=10), dict(tol=0), dict(solver="auto")])
def test_factorisation_refused_beside_its_flat_keywords(mixture, flat):
    separator = Separator(model=Factorisation("nmf", n_components=2), **flat)
    with pytest.raises(ParameterError, match=f"{list(flat)[0]}.*settings of the factorisation"):
        separator.separate(mixture, SR)


@pytest.mark.parametrize("kind, T", [("nmf", None), ("nmfd", 4)])
def test_the_solver_reaches_the_fit(mixture, kind, T):
    # from the same start, 30 updates of "auto" end lower than 30 of "mu" (the default):
    # equal losses would mean that one of them never reached the model's fit
    losses = {}
    for solver in ("mu", "auto"):
        separator = Separator(model=Factorisation(kind, n_components=3, T=T, max_iter=30, tol=0, solver=solver),
                              n_fft=256, hop_length=64, chunk_duration=None)
        separator.separate(mixture, SR)
        assert separator.n_iter_ == [30]
        losses[solver] = separator.model_.loss_curve_[-1]
    assert losses["auto"] < 0.99 * losses["mu"], losses


def test_model_of_another_type_is_refused(mixture):
    with pytest.raises(ParameterTypeError, match="model must be a Factorisation"):
        Separator(model=3, n_components=2).separate(mixture, SR)


def test_factorisation_equality_and_repr():
    a = Factorisation("nmfd", n_components=4, T=8, beta=1)
    assert a == Factorisation("nmfd", n_components=4, T=8, beta=1.0, max_iter=200, tol=1e-4, solver="mu")
    assert a != Factorisation("nmfd", n_components=4, T=9)
    assert a != Factorisation("nmfd", n_components=4, T=8, solver="auto")
    assert "model=Factorisation(kind='nmfd'" in repr(Separator(model=a))
