"""Grouping objects: how a Separator's components become sources, as objects that validate
themselves, and the flat keywords that build the same objects.

The mixture is synthetic: a harmonic tone (220 Hz, 5 partials) and bursts of white noise in two
channels at different levels, at 8 kHz.
"""


import pytest
import torch

from nmfsep import ParameterError, ParameterTypeError
from nmfsep.separation import (
    ByClustering,
    ByHand,
    ByTemplates,
    PerComponent,
    Separator,
    learn_templates,
)

from conftest import harmonic_tone, noise_bursts

SR = 8000
COMMON = dict(n_fft=256, hop_length=64, max_iter=40)



@pytest.fixture(scope="module")
def mixture():
    tone, noise = harmonic_tone(2.0, SR), noise_bursts(2.0, SR, 0)
    return torch.stack([0.3 * tone + 0.2 * noise, 0.1 * tone + 0.4 * noise]).float()


@pytest.fixture(scope="module")
def templates():
    return learn_templates({"tone": [harmonic_tone(1.0, SR).float()], "noise": [noise_bursts(1.0, SR, 1).float()]},
                           sample_rate=SR, n_fft=256, hop_length=64, max_iter=50)


def _assert_same(a, b):
    assert list(a) == list(b)
    for name in a:
        assert torch.equal(a[name], b[name]), name


def test_grouping_objects_and_flat_keywords_give_identical_stems(mixture, templates):
    pairs = [
        (dict(grouping=ByTemplates(templates, n_free=1)), dict(templates=templates, n_free=1)),
        (dict(grouping=ByTemplates(templates, n_free=1, free_source="tone")),
         dict(templates=templates, n_free=1, free_source="tone")),
        (dict(grouping=ByHand({"a": [0, 2], "b": [1]}), n_components=3),
         dict(components={"a": [0, 2], "b": [1]}, n_components=3)),
        (dict(grouping=ByClustering(2, features="spectrum"), n_components=4),
         dict(n_sources=2, cluster_features="spectrum", n_components=4)),
        (dict(grouping=PerComponent(), n_components=2), dict(n_components=2)),
    ]
    for by_object, by_keywords in pairs:
        separator = Separator(**by_object, **COMMON)
        stems = separator.separate(mixture, SR)
        _assert_same(Separator(**by_keywords, **COMMON).separate(mixture, SR), stems)
        torch.testing.assert_close(sum(stems.values()), mixture, atol=1e-5, rtol=0)
        assert separator.get_params()["grouping"] is by_object["grouping"]


def test_the_groupings_name_their_sources(mixture, templates):
    named = [
        (ByTemplates(templates), ("tone", "noise")),
        (ByTemplates(templates, n_free=2), ("tone", "noise", "other")),
        (ByHand({"low": [1], "high": [0]}), ("low", "high")),
        (ByClustering(2), ("source0", "source1")),
        (PerComponent(), ("component0", "component1")),
    ]
    for grouping, sources in named:
        n_components = None if isinstance(grouping, ByTemplates) else 2
        separator = Separator(grouping=grouping, n_components=n_components, **COMMON)
        assert tuple(separator.separate(mixture, SR)) == sources == separator.sources_
    # templates' components stay fixed, the free ones are learned from the mixture
    separator = Separator(grouping=ByTemplates(templates, n_free=1), **COMMON)
    separator.separate(mixture, SR)
    torch.testing.assert_close(separator.templates_[:, :2].float(), templates.W.float())
    assert separator.source_components_ == {"tone": [0], "noise": [1], "other": [2]}


def test_grouping_objects_validate_themselves():
    with pytest.raises(ParameterError, match="in both"):
        ByHand({"a": [0, 1], "b": [1]})
    with pytest.raises(ParameterError, match=r"components \[1\] belong to no source"):
        ByHand({"a": [0, 2]})
    with pytest.raises(ParameterTypeError, match="non-empty mapping"):
        ByHand([0, 1])
    with pytest.raises(ParameterError, match="cluster_features must be one of"):
        ByClustering(2, features="pitch")
    with pytest.raises(ParameterError, match="cluster_method must be one of"):
        ByClustering(2, method="spectral")
    with pytest.raises(ParameterError, match="n_sources"):
        ByClustering(0)
    with pytest.raises(ParameterTypeError, match="Templates object"):
        ByTemplates(3)
    with pytest.raises(ParameterError, match="n_free must be at least 0"):
        ByTemplates(_fake_templates(), n_free=-1)


def _fake_templates():
    from nmfsep.separation import Templates

    return Templates(torch.rand(129, 2), ("a", "b"), (0, 1), SR, "stft",
                     dict(n_fft=256, hop_length=64, window="hann"))


def test_a_grouping_is_refused_beside_the_keywords_it_replaces(mixture, templates):
    for extra in (dict(n_sources=2), dict(templates=templates), dict(n_free=1),
                  dict(cluster_features="spectrum"), dict(components={"a": [0, 1]})):
        with pytest.raises(ParameterError, match="describe the grouping"):
            Separator(grouping=ByClustering(2), n_components=2, **extra).separate(mixture, SR)
    with pytest.raises(ParameterTypeError, match="grouping must be one of"):
        Separator(grouping={"a": [0]}, n_components=1).separate(mixture, SR)
    # the model must hold what the grouping needs
    with pytest.raises(ParameterError, match="n_sources=3 exceeds n_components=2"):
        Separator(grouping=ByClustering(3), n_components=2).separate(mixture, SR)
    with pytest.raises(ParameterError, match="leave n_components unset"):
        Separator(grouping=ByTemplates(templates), n_components=2).separate(mixture, SR)
    with pytest.raises(ParameterError, match=r"components \[2\] belong to no source"):
        Separator(grouping=ByHand({"a": [0], "b": [1]}), n_components=3).separate(mixture, SR)
