"""Objective evaluation of separated sources: BSS Eval v4-style metrics and SI-SDR.

Three levels:

* :func:`bss_eval` -- SDR, SIR and SAR of a stack of estimates against their references
  (time-invariant distortion filters, BSS Eval v4's "sources" variant, without permutation),
  computed with the torch backend of ``fast_bss_eval`` (optional dependency, the ``eval``
  extra; its numpy backend fails with numpy 2), optionally over time chunks so that memory
  stays bounded on long files;
* :func:`si_sdr` -- scale-invariant SDR (Le Roux et al., 2019) of zero-mean signals;
* :func:`evaluate_dirs` -- both, for every estimate file of a folder paired by name with the
  reference files of another folder, as a table plus means (:func:`format_table` prints it).

Conventions shared by all three (and by the benchmark's ``score.py``, whose numbers they
reproduce on the same inputs): metrics are in dB, computed in float64, and clamped to
``[-clamp_db, clamp_db]`` (default 100 dB, only reached by perfect or silent estimates). A
silent estimate scores ``-clamp_db``. A silent *reference* makes its source's metrics
undefined: they are NaN (with a :class:`RuntimeWarning`) and means skip them.
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

from .._core._validation import check_count, check_real
from .._errors import ParameterError, ParameterTypeError
from .._pipeline._checks import check_sample_rate

__all__ = [
    "CLAMP_DB",
    "METRICS",
    "bss_eval",
    "evaluate_dirs",
    "format_table",
    "si_sdr",
]

#: Default clamp of every metric, in dB (the benchmark's convention).
CLAMP_DB = 100.0
#: Metric keys of :func:`evaluate_dirs`' rows, in display order.
METRICS = ("sdr", "sir", "sar", "si_sdr")

_METRIC_LABELS = {"sdr": "SDR", "sir": "SIR", "sar": "SAR", "si_sdr": "SI-SDR"}
_AGGREGATES = ("global", "median")
# A reference segment whose mean square is this far (100 dB) below the loudest one counts as
# silent; the absolute floor (-200 dBFS) catches digital silence when everything is quiet.
_RELATIVE_SILENCE = 1e-10
_ABSOLUTE_SILENCE = 1e-20

PathLike = Union[str, "os.PathLike[str]"]


# --------------------------------------------------------------------------- helpers
def _require_fast_bss_eval():
    """fast_bss_eval's torch correlations and Toeplitz builders ``(compute_stats_2, toeplitz,
    block_toeplitz)``, or an ImportError naming the fix."""
    try:
        import fast_bss_eval.torch as backend  # noqa: PLC0415 - optional
    except ImportError as err:
        raise ImportError(
            "BSS Eval metrics (SDR/SIR/SAR) need the optional package fast_bss_eval: "
            "pip install fast_bss_eval   (or pip install 'nmfsep[eval]')."
        ) from err
    return backend.metrics.compute_stats_2, backend.linalg.toeplitz, backend.linalg.block_toeplitz


def _as_signal_tensor(x, name: str) -> Tensor:
    if not isinstance(x, Tensor):
        try:
            import numpy as np  # noqa: PLC0415

            if not isinstance(x, np.ndarray):
                raise TypeError
            x = torch.from_numpy(x)
        except TypeError:
            raise ParameterTypeError(
                f"{name} must be a torch.Tensor or numpy array of float samples, got "
                f"{type(x).__name__}."
            ) from None
    if x.is_complex() or not x.is_floating_point():
        raise ParameterTypeError(
            f"{name} must hold real floating-point samples, got {x.dtype}; convert integer "
            f"PCM with e.g. x.float() / 32768 for 16-bit audio."
        )
    return x


def _check_pair(references, estimates, *, min_ndim: int, max_ndim: int, layout: str):
    references = _as_signal_tensor(references, "references")
    estimates = _as_signal_tensor(estimates, "estimates")
    if references.shape != estimates.shape:
        raise ParameterError(
            f"references and estimates must have the same shape {layout}, got "
            f"{tuple(references.shape)} and {tuple(estimates.shape)}; trim or zero-pad the "
            f"estimates to the references' length and keep the sources in the same order."
        )
    if not min_ndim <= references.ndim <= max_ndim:
        raise ParameterError(
            f"references and estimates must have shape {layout}, got "
            f"{tuple(references.shape)}."
        )
    if references.shape[-1] < 2:
        raise ParameterError(f"signals need at least 2 samples, got {references.shape[-1]}.")
    for name, x in (("references", references), ("estimates", estimates)):
        bad = ~torch.isfinite(x)
        if bad.any():
            raise ParameterError(
                f"{name} contain {int(bad.sum())} NaN or Inf sample(s); repair the signals "
                f"(e.g. torch.nan_to_num) before evaluating them."
            )
    device = references.device
    return references.double(), estimates.to(device=device, dtype=torch.float64)


def _check_options(filter_length, aggregate, clamp_db) -> Tuple[int, str, Optional[float]]:
    """Validate the options shared by :func:`bss_eval` and :func:`evaluate_dirs`."""
    filter_length = check_count(filter_length, "filter_length")
    if aggregate not in _AGGREGATES:
        raise ParameterError(f"aggregate must be one of {_AGGREGATES}, got {aggregate!r}.")
    clamp_db = None if clamp_db is None else check_real(clamp_db, "clamp_db", low=0, low_open=True, unit="dB")
    return filter_length, aggregate, clamp_db


def _ratio_db(numerator: Tensor, denominator: Tensor, clamp_db: Optional[float]) -> Tensor:
    """``10 log10(numerator / denominator)`` of energies; 0/0 (a silent estimate) is -inf."""
    with torch.no_grad():
        value = 10.0 * (torch.log10(numerator) - torch.log10(denominator))
    value = torch.where(torch.isnan(value), torch.full_like(value, -math.inf), value)
    return value if clamp_db is None else value.clamp(-clamp_db, clamp_db)


def _warn_silent(names: Sequence[str], stacklevel: int) -> None:
    warnings.warn(
        f"silent reference(s): {', '.join(names)}; the metrics of a source with a silent "
        f"reference are undefined and set to NaN (means skip them).",
        RuntimeWarning,
        stacklevel=stacklevel + 1,
    )


# --------------------------------------------------------------------------- BSS Eval
def _spd_solve(matrices: Tensor, rhs: Tensor) -> Tensor:
    """``matrices⁻¹ rhs`` for symmetric positive definite ``(..., n, n)`` matrices, by Cholesky.

    fast_bss_eval's own ``torch.linalg.solve`` (batched LU) fails intermittently with torch
    2.11's oneMKL on two threads once ``torch.set_num_threads`` has been called in the process
    ("Parameter 6 was incorrect on entry to DLASWP", then "Pivots given to lu_solve must all be
    greater or equal to 1"; 20 of 20 calls, 3 sources of 2 s, 512 taps). Cholesky suits the
    correlation matrices and costs half as much. A matrix that is not numerically positive
    definite (references that are filtered copies of one another) goes through LU one matrix
    at a time, which does not fail.
    """
    factor, info = torch.linalg.cholesky_ex(matrices)
    if not bool(info.any()):
        return torch.cholesky_solve(rhs, factor)
    if matrices.dim() == 2:
        return torch.linalg.solve(matrices, rhs)
    return torch.stack([torch.linalg.solve(m, r) for m, r in zip(matrices, rhs)])


def _square_cosines(stats, references: Tensor, estimates: Tensor, filter_length: int
                    ) -> Tuple[Tensor, Tensor]:
    """fast_bss_eval's ``square_cosine_metrics(references, estimates, filter_length,
    pairwise=True)`` for unit-norm ``(S, samples)`` references and ``(E, samples)`` estimates,
    its linear systems solved by :func:`_spd_solve`.

    Returns the squared cosines ``(S, E)`` between each estimate and the filtered copies of each
    reference, and ``(E,)`` between each estimate and the filtered copies of all references.
    """
    compute_stats_2, toeplitz, block_toeplitz = stats
    # acf (2 L, S, S): the references' correlations; xcorr (L, S, E): with the estimates
    acf, xcorr = compute_stats_2(references, estimates, length=filter_length)
    own_acf = torch.diagonal(acf, dim1=-2, dim2=-1).transpose(-2, -1)[..., :filter_length]
    own_xcorr = xcorr.transpose(-3, -2)  # (S, L, E)
    coh_sdr = (own_xcorr * _spd_solve(toeplitz(own_acf), own_xcorr)).sum(-2)
    all_xcorr = xcorr.reshape(-1, xcorr.shape[-1])  # (L S, E)
    # (L S, L S); block_toeplitz needs two taps or more, one tap is the lag-0 block itself
    system = block_toeplitz(acf) if filter_length > 1 else acf[0]
    coh_sar = (all_xcorr * _spd_solve(system, all_xcorr)).sum(-2)
    return coh_sdr, coh_sar


def _segment_energies(
    stats, references: Tensor, estimates: Tensor, silent: Tensor, filter_length: int
) -> Tuple[Tensor, Tensor, Tensor]:
    """Energies of the target, interference and artifact parts of each estimate.

    ``references`` and ``estimates`` are ``(S, samples)`` (one channel, one chunk); ``silent``
    ``(S,)`` marks the references left out of the projections. BSS Eval splits an estimate
    ``e`` orthogonally: its projection on the shifts (up to ``filter_length - 1`` samples) of
    its own reference is the target, the rest of its projection on the shifts of all
    references is interference, and what remains is artifacts. fast_bss_eval returns these
    projections as squared cosines of unit-norm signals; times ``||e||^2`` they are energies,
    which add up over chunks and channels.
    """
    energy = estimates.square().sum(-1)
    target = torch.zeros_like(energy)
    projected = torch.zeros_like(energy)  # target + interference
    active = torch.nonzero(~silent).flatten()
    if active.numel():
        refs = references[active]
        refs = refs / refs.norm(dim=-1, keepdim=True)
        # Unit norm, a silent estimate zero (fast_bss_eval's own normalisation floors norms at
        # 1e-6, which would bias the squared cosines of very quiet but not silent chunks).
        norm = energy.sqrt().unsqueeze(-1)
        ests = torch.where(norm > 0, estimates / torch.where(norm > 0, norm, 1.0), 0.0)
        coh_sdr, coh_sar = _square_cosines(stats, refs, ests, filter_length)
        target[active] = coh_sdr[torch.arange(active.numel(), device=active.device), active]
        # Rounding can push the cosines a hair outside 0 <= target <= projected <= 1.
        target = target.clamp(0.0, 1.0)
        projected = torch.maximum(coh_sar.clamp(max=1.0), target)
    return target * energy, (projected - target) * energy, (1.0 - projected) * energy


def _resolve_chunk(chunk_seconds, sample_rate, n_samples: int, filter_length: int) -> int:
    if chunk_seconds is None:
        if n_samples <= filter_length:
            raise ParameterError(
                f"signals of {n_samples} samples are too short for filter_length="
                f"{filter_length}; pass a smaller filter_length."
            )
        return n_samples
    if sample_rate is None:
        raise ParameterError("chunk_seconds needs sample_rate (Hz) to convert seconds to samples.")
    sample_rate = check_sample_rate(sample_rate)
    chunk = int(round(check_real(chunk_seconds, "chunk_seconds", low=0, low_open=True, unit="seconds") * sample_rate))
    if chunk <= filter_length:
        raise ParameterError(
            f"chunk_seconds={chunk_seconds} gives chunks of {chunk} samples, not longer than "
            f"filter_length={filter_length}; use longer chunks (e.g. 1 s or more)."
        )
    return min(chunk, n_samples)


def _chunk_bounds(n_samples: int, chunk: int) -> List[Tuple[int, int]]:
    """Consecutive chunks of ``chunk`` samples; the remainder joins the last chunk."""
    n_chunks = max(n_samples // chunk, 1)
    starts = [k * chunk for k in range(n_chunks)]
    return [(start, start + chunk) for start in starts[:-1]] + [(starts[-1], n_samples)]


def _bss_eval(
    references: Tensor,
    estimates: Tensor,
    names: Sequence[str],
    *,
    filter_length: int,
    chunk_seconds,
    sample_rate,
    aggregate: str,
    clamp_db: Optional[float],
) -> Dict[str, Tensor]:
    """:func:`bss_eval` on validated ``(S, C, samples)`` float64 tensors."""
    stats = _require_fast_bss_eval()
    n_sources, n_channels, n_samples = references.shape
    chunk = _resolve_chunk(chunk_seconds, sample_rate, n_samples, filter_length)
    bounds = _chunk_bounds(n_samples, chunk)

    # Silence is judged per (source, channel, chunk), relative to the loudest reference.
    loudness = torch.stack(
        [references[..., a:b].square().mean(-1) for a, b in bounds], dim=-1
    )  # (S, C, K)
    threshold = max(float(loudness.max()) * _RELATIVE_SILENCE, _ABSOLUTE_SILENCE)
    silent = loudness <= threshold

    energies = torch.zeros((3, n_sources, n_channels, len(bounds)), dtype=torch.float64,
                           device=references.device)
    with torch.no_grad():
        for c in range(n_channels):
            for k, (a, b) in enumerate(bounds):
                parts = _segment_energies(
                    stats, references[:, c, a:b], estimates[:, c, a:b],
                    silent[:, c, k], filter_length,
                )
                energies[:, :, c, k] = torch.stack(parts)

    if aggregate == "global":
        # Sum the energies over channels and chunks, then take the ratios: the metrics of the
        # whole signal with one set of filters per chunk and channel.
        target, interference, artifacts = energies.sum(dim=(-2, -1))
        undefined = silent.all(dim=-1).all(dim=-1)
    else:
        # museval's convention: metrics per chunk (channels pooled), median over the chunks
        # whose reference is not silent.
        target, interference, artifacts = energies.sum(dim=-2)
        undefined = silent.all(dim=1)  # (S, K)

    metrics = {
        "sdr": _ratio_db(target, interference + artifacts, clamp_db),
        "sir": _ratio_db(target, interference, clamp_db),
        "sar": _ratio_db(target + interference, artifacts, clamp_db),
    }
    for key, value in metrics.items():
        value = value.masked_fill(undefined, math.nan)
        metrics[key] = value.nanmedian(dim=-1).values if aggregate == "median" else value
    whole_silent = silent.all(dim=-1).all(dim=-1)
    if whole_silent.any():
        # Reported at the caller of bss_eval / evaluate_dirs.
        _warn_silent([names[j] for j in torch.nonzero(whole_silent).flatten().tolist()], 3)
    return metrics


def bss_eval(
    references,
    estimates,
    *,
    filter_length: int = 512,
    chunk_seconds: Optional[float] = None,
    sample_rate: Optional[float] = None,
    aggregate: str = "global",
    clamp_db: Optional[float] = CLAMP_DB,
) -> Dict[str, Tensor]:
    r"""Source-to-distortion, -interference and -artifact ratios (BSS Eval v4, sources).

    Each estimate :math:`\hat s_j` is split orthogonally into a target part (its projection
    on the reference :math:`s_j` filtered by any FIR filter of ``filter_length`` taps), an
    interference part (the rest of its projection on all the references, each filtered) and
    artifacts (the remainder):

    .. math::
        \mathrm{SDR} = 10\log_{10}\frac{\|e_\mathrm{target}\|^2}
                                     {\|e_\mathrm{interf} + e_\mathrm{artif}\|^2},\quad
        \mathrm{SIR} = 10\log_{10}\frac{\|e_\mathrm{target}\|^2}{\|e_\mathrm{interf}\|^2},\quad
        \mathrm{SAR} = 10\log_{10}\frac{\|e_\mathrm{target} + e_\mathrm{interf}\|^2}
                                     {\|e_\mathrm{artif}\|^2}.

    Estimate ``j`` is compared with reference ``j`` (no permutation search). The projections
    are computed from ``fast_bss_eval``'s torch correlations, in float64, on the inputs' device;
    their linear systems are solved by Cholesky (fast_bss_eval's batched LU fails
    intermittently with oneMKL on two threads), which changes no thread setting.

    Parameters
    ----------
    references : Tensor or ndarray, shape (S, samples) or (S, C, samples)
        True source signals: ``S`` sources, optionally ``C`` channels.
    estimates : Tensor or ndarray, same shape as ``references``
        Estimated sources, in the same order.
    filter_length : int, default 512
        Taps of the distortion filters (512 is BSS Eval's and museval's value).
    chunk_seconds : float, optional
        Evaluate over consecutive chunks of this many seconds (the remainder joins the last
        chunk) so that memory stays bounded on long signals; by default the whole signal is
        one chunk. Needs ``sample_rate``. Each chunk (and each channel) gets its own
        filters.
    sample_rate : int, optional
        Sampling rate in Hz, only for ``chunk_seconds``.
    aggregate : {"global", "median"}, default "global"
        How chunks (and channels) are combined. ``"global"``: the target, interference and
        artifact *energies* are summed over chunks and channels before the ratios are taken,
        so the result is the full-signal metric (identical to the unchunked one when there
        is a single chunk) and quiet chunks weigh little. ``"median"``: museval's
        convention, the median over chunks of the per-chunk metrics (channels pooled),
        skipping chunks where the reference is silent.
    clamp_db : float or None, default 100.0
        Clamp the metrics to ``[-clamp_db, clamp_db]``; ``None`` leaves ``±inf``.

    Returns
    -------
    dict of str to Tensor
        ``"sdr"``, ``"sir"``, ``"sar"``: float64 tensors of shape ``(S,)`` in dB.

    Raises
    ------
    ImportError
        If ``fast_bss_eval`` is not installed (``pip install fast_bss_eval``).
    ValueError
        On mismatched shapes, NaN/Inf samples, signals or chunks not longer than
        ``filter_length``, or ``chunk_seconds`` without ``sample_rate``.
    TypeError
        If the signals are not real floating-point tensors/arrays.

    Warns
    -----
    RuntimeWarning
        When a reference is silent over the whole signal: its metrics are NaN, and it is
        left out of the projections of the other estimates (so the others are still
        scored). A silent *estimate* is not undefined: it scores ``-clamp_db``.

    Notes
    -----
    Cost: per chunk and channel one ``(S * filter_length)``-sized linear solve plus FFTs of
    twice the chunk length; memory grows with the chunk length, so pass ``chunk_seconds``
    (e.g. 10) for minutes-long files. With ``aggregate="global"`` and one chunk the result
    equals ``fast_bss_eval.bss_eval_sources(ref, est, filter_length=filter_length,
    compute_permutation=False, clamp_db=clamp_db)`` to within 1e-6 dB. Chunks give the filters
    more freedom (one set per chunk), which raises the metrics a little: for noise-like
    artifacts SAR by about ``-10 log10(1 - S * filter_length / chunk_samples)`` dB, i.e.
    0.07 dB for 2 sources, 64 taps and 8000-sample chunks, 0.02 dB for 4 sources, 512 taps
    and 10 s chunks at 44.1 kHz. Keep chunks much longer than ``S * filter_length``.

    Examples
    --------
    >>> import torch
    >>> from nmfsep.evaluation import bss_eval
    >>> g = torch.Generator().manual_seed(0)
    >>> references = torch.randn(2, 8000, generator=g, dtype=torch.float64)
    >>> estimates = references + 0.1 * references.flip(0)   # 20 dB of cross-talk
    >>> scores = bss_eval(references, estimates, filter_length=32)
    >>> [round(v) for v in scores["sir"].tolist()]
    [20, 20]
    """
    references, estimates = _check_pair(
        references, estimates, min_ndim=2, max_ndim=3, layout="(S, samples) or (S, C, samples)"
    )
    filter_length, aggregate, clamp_db = _check_options(filter_length, aggregate, clamp_db)
    if references.ndim == 2:
        references, estimates = references.unsqueeze(1), estimates.unsqueeze(1)
    names = [f"source {j}" for j in range(references.shape[0])]
    return _bss_eval(
        references, estimates, names, filter_length=filter_length, chunk_seconds=chunk_seconds,
        sample_rate=sample_rate, aggregate=aggregate, clamp_db=clamp_db,
    )


# --------------------------------------------------------------------------- SI-SDR
def _si_sdr(reference: Tensor, estimate: Tensor,
            clamp_db: Optional[float]) -> Tuple[Tensor, Tensor]:
    """SI-SDR of validated float64 tensors; also returns the mask of silent references."""
    reference = reference - reference.mean(-1, keepdim=True)
    estimate = estimate - estimate.mean(-1, keepdim=True)
    reference_energy = reference.square().sum(-1)
    silent = reference_energy <= _ABSOLUTE_SILENCE * reference.shape[-1]
    scale = (estimate * reference).sum(-1) / torch.where(silent, 1.0, reference_energy)
    target = scale.unsqueeze(-1) * reference
    value = _ratio_db(target.square().sum(-1), (estimate - target).square().sum(-1), clamp_db)
    return value.masked_fill(silent, math.nan), silent


def si_sdr(reference, estimate, *, clamp_db: Optional[float] = CLAMP_DB) -> Tensor:
    r"""Scale-invariant signal-to-distortion ratio (SI-SDR), in dB.

    Both signals are made zero-mean, then the estimate is split into its projection on the
    reference, :math:`e_\mathrm{target} = \frac{\langle \hat s, s\rangle}{\|s\|^2} s`, and the
    rest: :math:`\mathrm{SI\text{-}SDR} = 10\log_{10}\|e_\mathrm{target}\|^2 /
    \|\hat s - e_\mathrm{target}\|^2` (Le Roux et al., "SDR -- half-baked or well done?",
    ICASSP 2019). Rescaling the estimate leaves it unchanged.

    Parameters
    ----------
    reference : Tensor or ndarray, shape (..., samples)
        True signal(s).
    estimate : Tensor or ndarray, same shape as ``reference``
        Estimated signal(s).
    clamp_db : float or None, default 100.0
        Clamp the result to ``[-clamp_db, clamp_db]``; ``None`` leaves ``±inf``.

    Returns
    -------
    Tensor, shape (...)
        float64 SI-SDR in dB, one value per signal; NaN where the reference is silent (or
        constant), ``-clamp_db`` where the estimate is.

    Warns
    -----
    RuntimeWarning
        When a reference is silent: SI-SDR is undefined there.

    Notes
    -----
    A metric for scoring, computed without autograd in float64; to train through an SI-SDR
    loss, write the three-line formula on your own tensors (``notebooks/chaining_models``).

    Examples
    --------
    >>> import torch
    >>> from nmfsep.evaluation import si_sdr
    >>> reference = torch.tensor([1.0, -1.0, 1.0, -1.0])
    >>> noise = torch.tensor([1.0, 1.0, -1.0, -1.0])        # orthogonal to the reference
    >>> round(float(si_sdr(reference, 3.0 * reference + 0.3 * noise)), 4)  # 10 log10(9 / 0.09)
    20.0
    """
    reference, estimate = _check_pair(
        reference, estimate, min_ndim=1, max_ndim=64, layout="(..., samples)"
    )
    clamp_db = None if clamp_db is None else check_real(clamp_db, "clamp_db", low=0, low_open=True, unit="dB")
    value, silent = _si_sdr(reference, estimate, clamp_db)
    if silent.any():
        _warn_silent([f"index {tuple(i)}" for i in torch.nonzero(silent).tolist()[:5]]
                     + (["..."] if int(silent.sum()) > 5 else []), 2)
    return value


# --------------------------------------------------------------------------- folders
def _audio_files(folder: Path) -> Dict[str, Path]:
    """``{stem name: path}`` of the audio files (:data:`nmfsep.io.AUDIO_SUFFIXES`) directly
    inside ``folder``."""
    from ..io import AUDIO_SUFFIXES  # noqa: PLC0415 - the audio pipeline is only needed here

    files: Dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        audio = path.suffix.lower() in AUDIO_SUFFIXES and not path.name.startswith(".")
        if audio and path.is_file():
            if path.stem in files:
                raise ParameterError(
                    f"two audio files for source '{path.stem}' in '{folder}': "
                    f"'{files[path.stem].name}' and '{path.name}'; keep one."
                )
            files[path.stem] = path
    return files


def _pair_folders(est_dir: Path, ref_dir: Path, sources, mixture_name: str):
    """``[(mixture, [(source, est_path, ref_path), ...]), ...]`` for every estimate folder."""
    for name, folder in (("est_dir", est_dir), ("ref_dir", ref_dir)):
        if not folder.is_dir():
            raise FileNotFoundError(f"{name} '{folder}' is not a folder.")
    pairs, problems = [], []
    folders = [est_dir, *(p for p in est_dir.rglob("*") if p.is_dir())]
    folders = [f for f in sorted(folders)  # hidden ones: staging areas of unfinished runs, caches
               if not any(part.startswith(".") for part in f.relative_to(est_dir).parts)]
    with_estimates = [f for f in folders if set(_audio_files(f)) - {mixture_name}]
    # 'nmfsep separate song.wav --out EST_DIR' writes EST_DIR/song/<source>.wav: scored
    # against one mixture's references REF_DIR/<source>.wav, its one folder pairs with REF_DIR
    single = (len(with_estimates) == 1 and with_estimates[0] != est_dir
              and set(_audio_files(ref_dir)) - {mixture_name}
              and not (ref_dir / with_estimates[0].relative_to(est_dir)).is_dir())
    for folder in with_estimates:
        estimates = _audio_files(folder)
        estimates.pop(mixture_name, None)
        relative = folder.relative_to(est_dir).as_posix()
        ref_folder = ref_dir if single else ref_dir / relative
        references = _audio_files(ref_folder) if ref_folder.is_dir() else {}
        references.pop(mixture_name, None)
        if sources is not None:
            unknown = [s for s in sources if s not in references]
            if unknown:
                problems.append(f"no reference for source(s) {unknown} in '{ref_folder}'")
                continue
            references = {s: references[s] for s in sources}
        if not references:
            problems.append(f"no reference audio files in '{ref_folder}' for the estimates "
                            f"in '{folder}'")
            continue
        missing = [s for s in references if s not in estimates]
        if missing:
            problems.append(f"no estimate for source(s) {missing} in '{folder}'")
            continue
        extra = sorted(set(estimates) - set(references))
        if extra and sources is None:
            warnings.warn(f"'{folder}': estimates without a reference are ignored: {extra}",
                          UserWarning, stacklevel=3)
        pairs.append((relative, [(s, estimates[s], references[s]) for s in references]))
    if problems:
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        raise FileNotFoundError(problems[0] + more)
    if not pairs:
        from ..io import AUDIO_SUFFIXES  # noqa: PLC0415 - the audio pipeline is only needed here

        raise FileNotFoundError(
            f"no estimate audio files ({', '.join(AUDIO_SUFFIXES)}) found in '{est_dir}' or "
            f"its sub-folders; expected <mixture>/<source>.wav or <source>.wav files."
        )
    return pairs


def _load_mixture(stems, load):
    """Reference and estimate stacks ``(S, C, samples)`` of one mixture and their rate."""
    references, estimates, rate = [], [], None
    for source, est_path, ref_path in stems:
        reference, ref_rate = load(ref_path, dtype=torch.float64)
        estimate, est_rate = load(est_path, dtype=torch.float64)
        if rate is None:
            rate = ref_rate
        if ref_rate != rate:
            raise ParameterError(
                f"'{ref_path}' is at {ref_rate} Hz, the other references at {rate} Hz.")
        if est_rate != ref_rate:
            raise ParameterError(
                f"'{est_path}' is at {est_rate} Hz but its reference '{ref_path}' at "
                f"{ref_rate} Hz; write the estimates at the reference rate."
            )
        if estimate.shape[0] != reference.shape[0]:
            raise ParameterError(
                f"'{est_path}' has {estimate.shape[0]} channel(s), its reference "
                f"{reference.shape[0]}."
            )
        if references and reference.shape != references[0].shape:
            raise ParameterError(
                f"'{ref_path}' is {reference.shape[-1]} samples long, the other references "
                f"of its mixture {references[0].shape[-1]}."
            )
        n = reference.shape[-1]
        if estimate.shape[-1] != n:
            # The benchmark's rule: truncate or zero-pad the estimate to the reference.
            warnings.warn(
                f"'{est_path}': {estimate.shape[-1]} samples, reference has {n}; "
                f"truncating/zero-padding the estimate.", UserWarning, stacklevel=3,
            )
            padding = max(n - estimate.shape[-1], 0)
            estimate = torch.nn.functional.pad(estimate[..., :n], (0, padding))
        references.append(reference)
        estimates.append(estimate)
    return torch.stack(references), torch.stack(estimates), rate


def evaluate_dirs(
    est_dir: PathLike,
    ref_dir: PathLike,
    *,
    sources: Optional[Sequence[str]] = None,
    mixture_name: str = "mixture",
    filter_length: int = 512,
    chunk_seconds: Optional[float] = None,
    aggregate: str = "global",
    clamp_db: Optional[float] = CLAMP_DB,
    verbose: bool = False,
) -> Tuple[List[dict], Dict[str, dict]]:
    """Score every estimate folder against the reference folder of the same name.

    Files are paired by relative folder and file stem: ``est_dir/<mix>/<source>.<ext>`` is
    scored against ``ref_dir/<mix>/<source>.<ext>`` (any depth of ``<mix>``, e.g. the
    benchmark's ``dev/drums3/mix000``; or flat, ``est_dir/<source>.wav``). Each folder of
    ``est_dir`` holding audio files is one mixture; all its reference sources (except
    ``mixture_name``) are evaluated together, since SIR depends on the set of references.

    Parameters
    ----------
    est_dir : str or PathLike
        Folder of estimated sources.
    ref_dir : str or PathLike
        Folder of reference sources with the same layout.
    sources : sequence of str, optional
        Evaluate only these source names (each must exist in every mixture). By default every
        reference source of the folder, each of which must have an estimate; estimates
        without a reference are ignored with a warning.
    mixture_name : str, default "mixture"
        Stem of the mixture file, which is not a source.
    filter_length, chunk_seconds, aggregate, clamp_db
        As in :func:`bss_eval` (``chunk_seconds`` uses the files' sample rate).
    verbose : bool, default False
        Show a progress bar over mixtures.

    Returns
    -------
    rows : list of dict
        One per mixture and source, in file order: ``{"mixture": str, "source": str,
        "sdr": float, "sir": float, "sar": float, "si_sdr": float}`` (dB). ``mixture`` is
        the folder relative to ``est_dir`` (``"."`` for a flat layout).
    means : dict of str to dict
        Per source name, the mean over mixtures ``{"n": count, "sdr": ..., ...}``; the key
        ``"ALL"`` holds the mean over all rows. NaNs (silent references) are skipped.

    Raises
    ------
    FileNotFoundError
        If a folder is missing, no estimates are found, or a reference source has no
        estimate.
    ValueError
        On unreadable audio, or sample rates, channel counts or reference lengths that do
        not match.
    ImportError
        If ``fast_bss_eval`` is not installed.

    Notes
    -----
    Estimates longer or shorter than their reference are truncated or zero-padded, with a
    warning (the benchmark's rule). Multichannel files: SDR/SIR/SAR pool the channels'
    energies (see :func:`bss_eval`); SI-SDR uses one gain for all channels of a source (the
    zero-mean channels are concatenated).

    Examples
    --------
    >>> rows, means = evaluate_dirs("separated/", "data/dev/drums3")      # doctest: +SKIP
    >>> print(format_table(rows, means))                                 # doctest: +SKIP
    """
    from tqdm import tqdm  # noqa: PLC0415 - text bar: tqdm.auto warns without ipywidgets

    from ..io import load  # noqa: PLC0415 - the audio pipeline is only needed here

    if isinstance(sources, str):
        sources = [sources]
    filter_length, aggregate, clamp_db = _check_options(filter_length, aggregate, clamp_db)
    _require_fast_bss_eval()  # fail before reading any file
    pairs = _pair_folders(Path(os.fspath(est_dir)), Path(os.fspath(ref_dir)), sources, mixture_name)

    rows: List[dict] = []
    for mixture, stems in tqdm(pairs, desc="evaluating", unit="mix", disable=not verbose,
                                  leave=False):
        references, estimates, rate = _load_mixture(stems, load)
        names = [f"'{ref_path}'" for _, _, ref_path in stems]
        scores = _bss_eval(
            references, estimates, names, filter_length=filter_length,
            chunk_seconds=chunk_seconds, sample_rate=rate, aggregate=aggregate,
            clamp_db=clamp_db,
        )
        # One gain per source for all channels: SI-SDR of the concatenated zero-mean channels.
        flat_ref = (references - references.mean(-1, keepdim=True)).flatten(1)
        flat_est = (estimates - estimates.mean(-1, keepdim=True)).flatten(1)
        scores["si_sdr"], _ = _si_sdr(flat_ref, flat_est, clamp_db)  # silence warned above
        for j, (source, _, _) in enumerate(stems):
            rows.append({"mixture": mixture, "source": source,
                         **{key: float(scores[key][j]) for key in METRICS}})
    return rows, _means(rows)


def _means(rows: List[dict]) -> Dict[str, dict]:
    groups: Dict[str, List[dict]] = {}
    for row in rows:
        groups.setdefault(row["source"], []).append(row)
    groups["ALL"] = rows
    means = {}
    for name, members in groups.items():
        entry = {"n": len(members)}
        for key in METRICS:
            values = [r[key] for r in members if not math.isnan(r[key])]
            entry[key] = sum(values) / len(values) if values else math.nan
        means[name] = entry
    return means


def format_table(rows: List[dict], means: Optional[Dict[str, dict]] = None) -> str:
    """Plain-text table of :func:`evaluate_dirs`' rows, then the means.

    Parameters
    ----------
    rows : list of dict
        As returned by :func:`evaluate_dirs`.
    means : dict, optional
        As returned by :func:`evaluate_dirs`; printed below the rows.

    Returns
    -------
    str
        Columns ``mixture source SDR SIR SAR SI-SDR`` in dB with two decimals.

    Examples
    --------
    >>> rows = [{"mixture": "mix000", "source": "kick", "sdr": 9.1, "sir": 20.0,
    ...          "sar": 9.5, "si_sdr": 8.7}]
    >>> print(format_table(rows))
    mixture  source      SDR      SIR      SAR   SI-SDR
    mix000   kick       9.10    20.00     9.50     8.70
    """
    width_mix = max([len("mixture"), len("mean"), *(len(r["mixture"]) for r in rows)])
    names = [r["source"] for r in rows] + list(means or ())
    width_src = max([len("source"), *(len(n) for n in names)])
    head = (f"{'mixture':{width_mix}s}  {'source':{width_src}s} "
            + " ".join(f"{_METRIC_LABELS[m]:>8s}" for m in METRICS))

    def line(first: str, second: str, values: dict) -> str:
        return f"{first:{width_mix}s}  {second:{width_src}s} " + " ".join(
            f"{values[m]:8.2f}" for m in METRICS
        )

    lines = [head] + [line(r["mixture"], r["source"], r) for r in rows]
    if means:
        lines.append("")
        lines.extend(line("mean", name, m) for name, m in means.items())
    return "\n".join(lines)
