"""Grouping the components of a factorisation into sources, by clustering (torch only).

Unsupervised NMF finds components, not sources: a piano note, a drum hit and a noise floor
each take one or more components. :func:`cluster_components` groups them into ``k``
sources by the similarity of

* ``"timbre"``: the cepstrum (DCT of the log energies in 40 mel-spaced bands) of each
  template's spectrum, which is similar for notes of one instrument at different pitches
  (Spiertz and Gnann, "Source-filter based clustering for monaural blind source
  separation", DAFx 2009);
* ``"spectrum"``: the log band energies themselves (components that share frequency bands);
* ``"activations"``: the time courses of the activations (components that sound together,
  e.g. the parts of one drum hit).

Similarity is the cosine of the feature vectors (each centred); the clustering is
average-linkage agglomerative (deterministic) or k-means (k-means++ starts, seeded).
Clusters are numbered by the spectral centroid of their summed templates, low to high.
"""

from __future__ import annotations

import math
from typing import Optional

import torch
from torch import Tensor

from .._core._validation import check_rank
from .._errors import ParameterError, ParameterTypeError

__all__ = ["FEATURES", "METHODS", "cluster_components", "component_features", "template_spectra"]

FEATURES = ("timbre", "spectrum", "activations")
METHODS = ("agglomerative", "kmeans")
_N_BANDS = 40
_N_CEPSTRA = 13


def template_spectra(templates: Tensor) -> Tensor:
    """Spectrum of each component, ``(R, freq)``: the template summed over all other axes.

    Accepts ``(freq, R)``, ``(freq, R, T)`` and 2-D ``(1, R, K, T)`` templates (whose
    spectrum has ``K`` bins).
    """
    if templates.dim() == 4:
        return templates.sum((0, 3)).to(torch.float64)
    if templates.dim() not in (2, 3):
        raise ParameterError(f"templates must have 2 to 4 axes, got shape {tuple(templates.shape)}.")
    W = templates if templates.dim() == 3 else templates.unsqueeze(-1)
    return W.sum(2).t().to(torch.float64)


def _mel(f: Tensor) -> Tensor:
    return 2595.0 * torch.log10(1.0 + f / 700.0)


def _band_matrix(frequencies: Tensor, n_bands: int) -> Tensor:
    """``(n_bands, freq)`` triangular bands equally spaced on the mel scale over the bins."""
    mels = _mel(frequencies.clamp_min(0))
    edges = torch.linspace(float(mels.min()), float(mels.max()), n_bands + 2, dtype=torch.float64)
    low, centre, high = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (mels - low) / (centre - low)
    falling = (high - mels) / (high - centre)
    return torch.minimum(rising, falling).clamp_min(0)


def _centred_unit_rows(x: Tensor) -> Tensor:
    x = x - x.mean(1, keepdim=True)
    return x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)


def component_features(
    templates: Tensor,
    activations: Optional[Tensor] = None,
    *,
    frequencies: Optional[Tensor] = None,
    features: str = "timbre",
) -> Tensor:
    r"""Feature vector of every component, ``(R, n_features)``, centred and of unit norm.

    Parameters
    ----------
    templates : Tensor
        ``(freq, R)``, ``(freq, R, T)`` or ``(1, R, K, T)`` non-negative templates.
    activations : Tensor, shape (..., R, ..., frames), optional
        Needed for ``features="activations"``: the component axis is axis 1 when the tensor
        has a leading channel axis ``(channels, R, [shifts,] frames)``.
    frequencies : Tensor, shape (freq,), optional
        Centre frequency of each template bin in Hz, for mel-spaced bands; by default the
        bins are taken as equally spaced.
    features : {"timbre", "spectrum", "activations"}
        See the module docstring.

    Returns
    -------
    Tensor, shape (R, n_features), float64
    """
    if features not in FEATURES:
        raise ParameterError(f"features must be one of {FEATURES}, got {features!r}.")
    templates = templates.detach().cpu()
    if features == "activations":
        if activations is None:
            raise ParameterError("features='activations' needs the activations.")
        rank = templates.shape[1]
        if activations.dim() < 2 or activations.shape[1] != rank:
            raise ParameterError(
                f"activations must have the component axis (size {rank}) at axis 1, got "
                f"shape {tuple(activations.shape)}."
            )
        courses = activations.detach().cpu().transpose(0, 1).reshape(rank, -1, activations.shape[-1]).sum(1)
        courses = courses.to(torch.float64)
        return _centred_unit_rows(torch.log1p(courses / courses.mean().clamp_min(1e-30)))
    spectra = template_spectra(templates)
    n_freqs = spectra.shape[1]
    if frequencies is None:
        frequencies = torch.arange(n_freqs, dtype=torch.float64)
    frequencies = torch.as_tensor(frequencies, dtype=torch.float64)[:n_freqs]
    n_bands = min(_N_BANDS, n_freqs)
    bands = spectra @ _band_matrix(frequencies, n_bands).t()
    bands = bands / bands.sum(1, keepdim=True).clamp_min(1e-30)
    log_bands = torch.log(bands + 1e-6)
    if features == "spectrum":
        return _centred_unit_rows(log_bands)
    # DCT-II of the log band energies; dropping coefficient 0 (overall level)
    k = torch.arange(1, min(_N_CEPSTRA, n_bands), dtype=torch.float64)[:, None]
    n = torch.arange(n_bands, dtype=torch.float64)[None, :]
    dct = torch.cos(math.pi / n_bands * (n + 0.5) * k)
    return _centred_unit_rows(log_bands @ dct.t())


def _agglomerative(features: Tensor, n_clusters: int) -> Tensor:
    """Average-linkage clustering on cosine distance; labels in order of first member."""
    distance = (1 - features @ features.t()).clamp_min(0)
    clusters = [[r] for r in range(features.shape[0])]
    while len(clusters) > n_clusters:
        best, pair = math.inf, (0, 1)
        for i in range(len(clusters)):
            for j in range(i + 1, len(clusters)):
                d = float(distance[clusters[i]][:, clusters[j]].mean())
                if d < best:
                    best, pair = d, (i, j)
        i, j = pair
        clusters[i] = clusters[i] + clusters.pop(j)
    labels = torch.empty(features.shape[0], dtype=torch.long)
    for c, members in enumerate(clusters):
        labels[members] = c
    return labels


def _kmeans(features: Tensor, n_clusters: int, generator: torch.Generator, n_init: int = 10,
            max_iter: int = 100) -> Tensor:
    """Lloyd's k-means with k-means++ starts; the run of lowest inertia wins."""
    n = features.shape[0]
    best_labels, best_inertia = None, math.inf
    for _ in range(n_init):
        centres = features[torch.randint(n, (1,), generator=generator)]
        while centres.shape[0] < n_clusters:
            d2 = torch.cdist(features, centres).min(1).values ** 2
            if float(d2.sum()) <= 0:
                pick = torch.randint(n, (1,), generator=generator)
            else:
                pick = torch.multinomial(d2 / d2.sum(), 1, generator=generator)
            centres = torch.cat([centres, features[pick]])
        labels = None
        for _ in range(max_iter):
            new = torch.cdist(features, centres).argmin(1)
            if labels is not None and torch.equal(new, labels):
                break
            labels = new
            for c in range(n_clusters):
                members = labels == c
                if members.any():
                    centres[c] = features[members].mean(0)
                else:  # an empty cluster takes the point farthest from its centre
                    far = torch.cdist(features, centres).gather(1, labels[:, None]).argmax()
                    centres[c] = features[far]
        inertia = float(((features - centres[labels]) ** 2).sum())
        if inertia < best_inertia:
            best_labels, best_inertia = labels, inertia
    return best_labels


def cluster_components(
    templates: Tensor,
    n_sources: int,
    *,
    activations: Optional[Tensor] = None,
    frequencies: Optional[Tensor] = None,
    features: str = "timbre",
    method: str = "agglomerative",
    seed: Optional[int] = 0,
) -> Tensor:
    r"""Assign each of ``R`` components to one of ``n_sources`` clusters.

    Parameters
    ----------
    templates : Tensor
        ``(freq, R)``, ``(freq, R, T)`` or ``(1, R, K, T)`` non-negative templates.
    n_sources : int
        Number of clusters, ``1 <= n_sources <= R``.
    activations : Tensor, shape (channels, R, [shifts,] frames), optional
        Needed for ``features="activations"``.
    frequencies : Tensor, shape (freq,), optional
        Bin centre frequencies in Hz (mel-spaced bands and the centroid order).
    features : {"timbre", "spectrum", "activations"}, default "timbre"
        What makes components similar (see the module docstring).
    method : {"agglomerative", "kmeans"}, default "agglomerative"
        Average-linkage clustering on cosine distance, or k-means (10 k-means++ starts).
    seed : int, optional
        Seed of k-means.

    Returns
    -------
    Tensor, shape (R,), int64
        Cluster of each component, numbered by the spectral centroid of the cluster's
        summed template spectra (0 = lowest). Every cluster has at least one component.

    Examples
    --------
    >>> import torch
    >>> from nmfsep.separation import cluster_components
    >>> low = torch.zeros(64, 3); low[2:10] = torch.rand(8, 3) + 1     # energy low
    >>> high = torch.zeros(64, 2); high[40:60] = torch.rand(20, 2) + 1  # energy high
    >>> cluster_components(torch.cat([low, high], 1), 2, features="spectrum").tolist()
    [0, 0, 0, 1, 1]
    """
    if not isinstance(templates, Tensor) or templates.dim() not in (2, 3, 4):
        raise ParameterTypeError("templates must be a (freq, R), (freq, R, T) or (1, R, K, T) tensor.")
    rank = templates.shape[1]
    n_sources = check_rank(n_sources, name="n_sources")
    if n_sources > rank:
        raise ParameterError(
            f"cannot group {rank} components into n_sources={n_sources} sources; use at most "
            f"{rank} sources or more components."
        )
    if method not in METHODS:
        raise ParameterError(f"method must be one of {METHODS}, got {method!r}.")
    feats = component_features(templates, activations, frequencies=frequencies, features=features)
    if method == "agglomerative":
        labels = _agglomerative(feats, n_sources)
    else:
        generator = torch.Generator().manual_seed(int(seed) if seed is not None else 0)
        labels = _kmeans(feats, n_sources, generator)
    # number the clusters from low to high spectral centroid
    spectra = template_spectra(templates.detach().cpu())
    bins = (torch.arange(spectra.shape[1], dtype=torch.float64) if frequencies is None
            else torch.as_tensor(frequencies, dtype=torch.float64)[: spectra.shape[1]])
    summed = torch.stack([spectra[labels == c].sum(0) for c in range(n_sources)])
    centroid = (summed * bins).sum(1) / summed.sum(1).clamp_min(1e-30)
    order = torch.argsort(centroid, stable=True)
    rank_of = torch.empty_like(order)
    rank_of[order] = torch.arange(n_sources)
    return rank_of[labels]
