"""Plots of spectrograms, factorisations, masks and loss curves (matplotlib).

matplotlib is imported inside the functions, so ``import nmfsep`` never needs it, and
nothing here selects a backend: the plots work under the non-interactive ``Agg`` backend
(scripts, CI) as in notebooks. Every function draws on the ``ax=`` it is given, or on a new
figure from :func:`matplotlib.pyplot.subplots`, and returns what it drew on (an ``Axes``, or
the ``Figure`` for multi-panel plots), so plots compose::

    import matplotlib.pyplot as plt
    from nmfsep import plot

    fig, (top, bottom) = plt.subplots(2, 1, sharex=True)
    plot.spectrogram(spec, sample_rate=22050, hop_length=512, ax=top)
    plot.activations(model.H, sample_rate=22050, hop_length=512, ax=bottom)
    fig.savefig("nmf.png")

Axes are in physical units where the caller gives them: frequencies in Hz, times in seconds.
Arrays may be torch tensors (any device, detached here) or numpy arrays.
"""

from __future__ import annotations

import math
from typing import Mapping, Optional, Sequence

import numpy as np

from .._core._validation import check_count, check_real
from .._errors import ParameterError, ParameterTypeError
from .._pipeline._checks import check_sample_rate

__all__ = ["activations", "loss_curve", "masks", "spectrogram", "templates"]

Y_AXES = ("linear", "log", "cqt")
#: C1 in Hz, the lowest bin of the CQT by default (as :func:`nmfsep.functional.cqt`).
C1_HZ = 32.70319566257483
# Below this frequency a "log" axis is linear, so that the 0 Hz bin of an STFT stays visible
# (librosa.display uses the same symmetric-log scale).
_LOG_LINEAR_BELOW_HZ = 64.0
# A figure a few thousand pixels wide cannot show more cells than this per axis; longer or
# taller images are max-pooled (which keeps short onsets and thin partials visible) so that
# drawing a minutes-long spectrogram takes seconds rather than minutes.
_MAX_COLUMNS = 1600
_MAX_ROWS = 800


# --------------------------------------------------------------------------- helpers
def _as_array(x, name: str) -> np.ndarray:
    """float64 numpy copy of a tensor/array; complex values become magnitudes."""
    if hasattr(x, "detach"):  # torch.Tensor, without importing torch here
        x = x.detach().cpu()
        x = x.abs() if x.is_complex() else x
        x = x.double().numpy()
    elif isinstance(x, (np.ndarray, list, tuple)):
        x = np.asarray(x)
        if np.iscomplexobj(x):
            x = np.abs(x)
    else:
        raise ParameterTypeError(f"{name} must be a torch.Tensor or numpy array, got {type(x).__name__}.")
    if x.dtype.kind not in "biuf":
        raise ParameterTypeError(f"{name} must hold numbers, got dtype {x.dtype}.")
    x = x.astype(np.float64)
    if x.size == 0:
        raise ParameterError(f"{name} is empty (shape {x.shape}).")
    if not np.isfinite(x).all():
        raise ParameterError(
            f"{name} contains NaN or Inf values; a diverged factorisation or a division by "
            f"zero upstream? Clean it with numpy.nan_to_num before plotting."
        )
    return x


def _squeeze_to(x: np.ndarray, ndims: Sequence[int], name: str, layout: str) -> np.ndarray:
    """Drop leading size-1 axes until ``x.ndim`` is one of ``ndims``."""
    while x.ndim > max(ndims) and x.shape[0] == 1:
        x = x[0]
    if x.ndim not in ndims:
        raise ParameterError(f"{name} must have shape {layout}, got {x.shape}.")
    return x


def _new_axes(ax, figsize):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt  # noqa: PLC0415 - lazy, see the module docstring

    return plt.subplots(figsize=figsize, constrained_layout=True)[1]


def _edges(centres: np.ndarray, geometric: bool) -> np.ndarray:
    """Cell boundaries around sorted ``centres``: midpoints, extrapolated at both ends."""
    if centres.size == 1:
        half = np.array([-0.1, 0.1]) * centres if geometric else np.array([-0.5, 0.5])
        return centres + half
    values = np.log(centres) if geometric else centres
    inner = (values[1:] + values[:-1]) / 2
    edges = np.concatenate([[2 * values[0] - inner[0]], inner, [2 * values[-1] - inner[-1]]])
    return np.exp(edges) if geometric else edges


def _frequency_centres(n_bins: int, y_axis: str, sample_rate, frequencies, fmin: float,
                       bins_per_octave: int) -> Optional[np.ndarray]:
    """Bin frequencies in Hz for an ``n_bins``-row image, or None to show bin numbers."""
    if y_axis not in Y_AXES:
        raise ParameterError(f"y_axis must be one of {Y_AXES}, got {y_axis!r}.")
    if frequencies is not None:
        frequencies = _as_array(frequencies, "frequencies").ravel()
        if frequencies.size != n_bins:
            raise ParameterError(
                f"frequencies has {frequencies.size} values for {n_bins} frequency bins; "
                f"pass one centre frequency (Hz) per bin."
            )
        if np.any(np.diff(frequencies) <= 0) or frequencies[0] < 0:
            raise ParameterError("frequencies must be non-negative and strictly increasing (Hz).")
        return frequencies
    from .. import functional  # noqa: PLC0415 - the pipeline is only needed here

    if y_axis == "cqt":
        return functional.cqt_frequencies(n_bins, fmin, bins_per_octave).numpy()
    if sample_rate is None:
        return None
    # A one-sided STFT of even n_fft has n_fft // 2 + 1 bins.
    n_fft = max(2 * (n_bins - 1), 2)
    return functional.stft_frequencies(sample_rate, n_fft).double().numpy()[:n_bins]


def _frame_edges(n_frames: int, sample_rate, hop_length) -> Optional[np.ndarray]:
    """Frame boundaries in seconds (frame ``t`` is centred on ``t * hop_length``)."""
    if sample_rate is None or hop_length is None:
        if (sample_rate is None) != (hop_length is None):
            raise ParameterError("pass both sample_rate and hop_length for a time axis in seconds.")
        return None
    from .. import functional  # noqa: PLC0415

    centres = functional.frames_to_time(list(range(n_frames + 1)), sample_rate, hop_length).numpy()
    edges = centres - 0.5 * hop_length / float(sample_rate)
    edges[0] = 0.0  # the signal starts at 0 s: frame 0's left half lies before it
    return edges


def _max_pool(data: np.ndarray, edges: np.ndarray, factor: int, axis: int):
    """Max over groups of ``factor`` cells along ``axis``; returns the image and its edges."""
    if factor <= 1:
        return data, edges
    n = data.shape[axis]
    padding = [(0, 0), (0, 0)]
    padding[axis] = (0, -n % factor)
    data = np.pad(data, padding, mode="edge")
    shape = list(data.shape)
    shape[axis:axis + 1] = [shape[axis] // factor, factor]
    return data.reshape(shape).max(axis=axis + 1), np.append(edges[:n:factor], edges[-1])


def _draw_image(ax, data: np.ndarray, *, frequencies, y_axis: str, time_edges, cmap, vmin,
                vmax, colorbar: bool, colorbar_label: Optional[str]):
    """Draw a ``(freq, frames)`` image with physical axes where they are known."""
    n_bins, n_frames = data.shape
    x = np.arange(n_frames + 1) - 0.5 if time_edges is None else time_edges
    if frequencies is None:
        y = np.arange(n_bins + 1) - 0.5
        ax.set_ylabel("frequency bin")
    else:
        geometric = y_axis == "cqt"
        y = _edges(frequencies, geometric)
        if not geometric:
            y[0] = max(y[0], 0.0)
        ax.set_ylabel("frequency (Hz)")
    data, x = _max_pool(data, x, math.ceil(n_frames / _MAX_COLUMNS), axis=1)
    data, y = _max_pool(data, y, math.ceil(n_bins / _MAX_ROWS), axis=0)
    mesh = ax.pcolormesh(x, y, np.ma.masked_invalid(data), cmap=cmap, vmin=vmin, vmax=vmax,
                         shading="flat", rasterized=True)
    if frequencies is not None and y_axis == "log":
        ax.set_yscale("symlog", linthresh=_LOG_LINEAR_BELOW_HZ, base=2)
    elif frequencies is not None and y_axis == "cqt":
        ax.set_yscale("log", base=2)
    if frequencies is not None and y_axis in ("log", "cqt"):
        from matplotlib.ticker import ScalarFormatter  # noqa: PLC0415

        formatter = ScalarFormatter()
        formatter.set_scientific(False)
        ax.yaxis.set_major_formatter(formatter)
    ax.set_xlabel("frame" if time_edges is None else "time (s)")
    ax.set_xlim(x[0], x[-1])
    ax.set_ylim(y[0], y[-1])
    if colorbar:
        ax.figure.colorbar(mesh, ax=ax, label=colorbar_label)
    return mesh


def _to_db(magnitude: np.ndarray, power: float, top_db: Optional[float]):
    """dB relative to the maximum, floored ``top_db`` below it; returns (image, vmin, vmax)."""
    peak = float(magnitude.max())
    if peak <= 0:  # silence: a flat image in the quietest colour
        vmin = -80.0 if top_db is None else -float(top_db)
        return np.full_like(magnitude, vmin), vmin, 0.0
    floor = peak * 1e-30
    image = (10.0 * 2.0 / power) * np.log10(np.maximum(magnitude, floor) / peak)
    vmin = float(image.min()) if top_db is None else -float(top_db)
    return np.maximum(image, vmin), vmin, 0.0


def _check_nonnegative(x: np.ndarray, name: str, what: str) -> None:
    if (x < 0).any():
        raise ParameterError(
            f"{name} has negative values, but {what} of a non-negative factorisation are >= 0; "
            f"pass the fitted factor itself.")


def _component_names(names, n: int) -> list:
    if names is None:
        return [str(r) for r in range(n)]
    names = [str(name) for name in names]
    if len(names) != n:
        raise ParameterError(f"names has {len(names)} entries for {n} components.")
    return names


def _label_components(ax, axis: str, positions, names: Sequence[str]) -> None:
    """One tick per component on ``axis`` ("x" or "y"), labelled with its name."""
    getattr(ax, f"set_{axis}ticks")(positions)
    getattr(ax, f"set_{axis}ticklabels")(names)
    getattr(ax, f"set_{axis}label")("component")


def _with_title(ax, title: Optional[str]):
    """``ax``, titled when a title is given: the last step of every single-axes plot."""
    if title:
        ax.set_title(title)
    return ax


def _factor(x, attribute: str, name: str):
    """``x`` itself, or ``x.<attribute>`` when a fitted model is given."""
    # Check for an array first: tensor.H is torch's conjugate transpose, not activations.
    if not hasattr(x, "shape") and hasattr(x, attribute):
        x = getattr(x, attribute)
    return _as_array(x, name)


# --------------------------------------------------------------------------- public
def spectrogram(
    spec,
    *,
    sample_rate: int,
    hop_length: int,
    y_axis: str = "linear",
    frequencies=None,
    ax=None,
    db: bool = True,
    power: float = 1.0,
    top_db: Optional[float] = 80.0,
    fmin: float = C1_HZ,
    bins_per_octave: int = 12,
    cmap: str = "magma",
    colorbar: bool = True,
    title: Optional[str] = None,
):
    """Show a spectrogram with time in seconds and frequency in Hz.

    Parameters
    ----------
    spec : Tensor or ndarray, shape (freq, frames) or (1, freq, frames)
        Magnitude (``power=1``) or power (``power=2``) spectrogram; a complex spectrogram
        is shown as its magnitude.
    sample_rate : int
        Sampling rate of the audio in Hz.
    hop_length : int
        Samples between frames; frame ``t`` is drawn centred on ``t * hop_length /
        sample_rate`` seconds (centred STFT frames, as :func:`nmfsep.functional.stft`).
    y_axis : {"linear", "log", "cqt"}, default "linear"
        ``"linear"``/``"log"``: STFT bins ``k * sample_rate / n_fft`` with
        ``n_fft = 2 * (freq - 1)``, on a linear or logarithmic (linear below 64 Hz) axis.
        ``"cqt"``: constant-Q bins ``fmin * 2 ** (k / bins_per_octave)`` on a log axis.
    frequencies : Tensor or ndarray, shape (freq,), optional
        Centre frequency of each bin in Hz, overriding the rule above (e.g. an odd
        ``n_fft``, or :attr:`nmfsep.transforms.CQT.frequencies`).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure by default.
    db : bool, default True
        Show ``10 log10`` of the power in dB relative to the maximum; False shows the
        values as they are.
    power : float, default 1.0
        Exponent of the spectrogram over the magnitude (1: magnitude, 2: power), for ``db``.
    top_db : float or None, default 80.0
        With ``db``, the range shown below the maximum.
    fmin, bins_per_octave
        The CQT's lowest frequency (Hz, default C1) and resolution, for ``y_axis="cqt"``.
    cmap : str, default "magma"
        matplotlib colour map.
    colorbar : bool, default True
        Add a colour bar.
    title : str, optional
        Axes title.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import torch
    >>> from nmfsep import functional, plot
    >>> tone = torch.sin(2 * torch.pi * 440 * torch.arange(22050) / 22050)
    >>> spec = functional.magnitude(functional.stft(tone, n_fft=1024, hop_length=256))
    >>> ax = plot.spectrogram(spec, sample_rate=22050, hop_length=256, y_axis="log")
    >>> ax.get_xlabel(), ax.get_ylabel()
    ('time (s)', 'frequency (Hz)')
    """
    data = _squeeze_to(_as_array(spec, "spec"), (2,), "spec", "(freq, frames)")
    sample_rate = check_sample_rate(sample_rate)
    check_count(hop_length, "hop_length")
    power = check_real(power, "power", low=0, low_open=True)
    frequencies = _frequency_centres(data.shape[0], y_axis, sample_rate, frequencies, fmin,
                                     bins_per_octave)
    if db:
        if (data < 0).any():
            raise ParameterError("spec has negative values: pass a magnitude or power spectrogram "
                             "(or db=False to show signed values).")
        data, vmin, vmax = _to_db(data, power, top_db)
    else:
        vmin, vmax = float(data.min()), float(data.max())
    ax = _new_axes(ax, (8, 4))
    _draw_image(ax, data, frequencies=frequencies, y_axis=y_axis,
                time_edges=_frame_edges(data.shape[1], sample_rate, hop_length), cmap=cmap,
                vmin=vmin, vmax=vmax, colorbar=colorbar,
                colorbar_label="dB" if db else None)
    return _with_title(ax, title)


def templates(
    W,
    *,
    frequencies=None,
    sample_rate: Optional[float] = None,
    y_axis: str = "linear",
    names: Optional[Sequence[str]] = None,
    ax=None,
    db: bool = False,
    normalize: bool = True,
    top_db: Optional[float] = 60.0,
    fmin: float = C1_HZ,
    bins_per_octave: int = 12,
    cmap: str = "magma",
    colorbar: bool = False,
    title: Optional[str] = None,
):
    """Show the spectral templates of a factorisation side by side.

    Parameters
    ----------
    W : Tensor, ndarray or fitted model
        NMF templates ``(freq, R)``, one column per component, or NMFD templates
        ``(freq, R, T)``, one ``T``-frame spectrogram per component (drawn next to each
        other, separated by a blank column). A model with a ``W`` attribute may be passed.
    frequencies : Tensor or ndarray, shape (freq,), optional
        Centre frequency of each bin in Hz. Without it the y axis shows Hz when
        ``sample_rate`` is given (STFT bins, as in :func:`spectrogram`) or for
        ``y_axis="cqt"``, and bin numbers otherwise.
    sample_rate : int, optional
        Sampling rate in Hz, for STFT bin frequencies.
    y_axis : {"linear", "log", "cqt"}, default "linear"
        As in :func:`spectrogram`.
    names : sequence of str, optional
        Component labels (default ``0 .. R-1``).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure by default.
    db : bool, default False
        Show the templates in dB (relative to each template's maximum).
    normalize : bool, default True
        Scale each template to a maximum of 1, so that quiet components stay visible.
    top_db : float or None, default 60.0
        With ``db``, the range shown.
    fmin, bins_per_octave, cmap, colorbar, title
        As in :func:`spectrogram`.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import torch
    >>> from nmfsep import plot
    >>> W = torch.rand(513, 3, 8)                        # NMFD: (freq, R, T)
    >>> ax = plot.templates(W, sample_rate=22050, names=["kick", "snare", "hihat"])
    >>> [t.get_text() for t in ax.get_xticklabels()]
    ['kick', 'snare', 'hihat']
    """
    W = _factor(W, "W", "W")
    if W.ndim not in (2, 3):
        raise ParameterError(
            f"W must have shape (freq, R) (NMF) or (freq, R, T) (NMFD), got {W.shape}.")
    _check_nonnegative(W, "W", "templates")
    blocks = W[:, :, None] if W.ndim == 2 else W  # (freq, R, T)
    n_bins, rank, width = blocks.shape
    names = _component_names(names, rank)
    if normalize or db:
        peak = blocks.max(axis=(0, 2), keepdims=True)
        blocks = blocks / np.where(peak > 0, peak, 1.0)
    if db:
        floor = -600.0 if top_db is None else -float(top_db)  # 1e-30 is -600 dB
        blocks = np.maximum(20.0 * np.log10(np.maximum(blocks, 1e-30)), floor)
    # NMFD templates are separated by one blank (NaN) column; NMF ones are adjacent.
    gap = 0 if width == 1 else 1
    image = np.full((n_bins, rank * (width + gap) - gap), np.nan)
    for r in range(rank):
        start = r * (width + gap)
        image[:, start:start + width] = blocks[:, r, :]
    frequencies = _frequency_centres(n_bins, y_axis, sample_rate, frequencies, fmin,
                                     bins_per_octave)
    ax = _new_axes(ax, (max(4, 1.0 + 0.6 * rank * (1 if width == 1 else 2)), 4))
    _draw_image(ax, image, frequencies=frequencies, y_axis=y_axis, time_edges=None, cmap=cmap,
                vmin=float(np.nanmin(image)), vmax=float(np.nanmax(image)), colorbar=colorbar,
                colorbar_label="dB" if db else None)
    _label_components(ax, "x", [r * (width + gap) + (width - 1) / 2 for r in range(rank)], names)
    return _with_title(ax, title)


def activations(
    H,
    *,
    sample_rate: Optional[float] = None,
    hop_length: Optional[int] = None,
    names: Optional[Sequence[str]] = None,
    ax=None,
    normalize: bool = True,
    title: Optional[str] = None,
):
    """Show the activations of a factorisation as one lane per component.

    Parameters
    ----------
    H : Tensor, ndarray or fitted model
        NMF activations ``(frames, R)`` (torchnmf's layout, component axis last) or NMFD
        activations ``(N, R, frames)`` (averaged over ``N``). A model with an ``H``
        attribute may be passed.
    sample_rate : int, optional
        Sampling rate in Hz; with ``hop_length`` the x axis is in seconds, otherwise in
        frames.
    hop_length : int, optional
        Samples between frames.
    names : sequence of str, optional
        Component labels (default ``0 .. R-1``), shown on the y axis.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure by default.
    normalize : bool, default True
        Scale each lane to its maximum (otherwise to the global maximum).
    title : str, optional
        Axes title.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import torch
    >>> from nmfsep import plot
    >>> ax = plot.activations(torch.rand(1, 3, 100), sample_rate=22050, hop_length=512)
    >>> ax.get_xlabel()
    'time (s)'
    """
    H = _factor(H, "H", "H")
    if H.ndim == 3:
        lanes = H.mean(axis=0)  # (R, frames)
    elif H.ndim == 2:
        lanes = H.T
    else:
        raise ParameterError(
            f"H must have shape (frames, R) (NMF) or (N, R, frames) (NMFD), got {H.shape}.")
    _check_nonnegative(lanes, "H", "activations")
    rank, n_frames = lanes.shape
    names = _component_names(names, rank)
    peak = lanes.max(axis=1, keepdims=True) if normalize else np.full((rank, 1), lanes.max())
    lanes = lanes / np.where(peak > 0, peak, 1.0)
    time_edges = _frame_edges(n_frames, sample_rate, hop_length)
    if time_edges is None:
        x = np.arange(n_frames, dtype=np.float64)
    else:
        x = (time_edges[:-1] + time_edges[1:]) / 2
    ax = _new_axes(ax, (8, 1.0 + 0.6 * rank))
    for r in range(rank):
        # Component 0 on top, as in a piano roll read from the first template.
        base = rank - 1 - r
        line, = ax.plot(x, base + 0.9 * lanes[r], linewidth=0.8)
        ax.fill_between(x, base, base + 0.9 * lanes[r], color=line.get_color(), alpha=0.4)
    _label_components(ax, "y", [rank - 1 - r + 0.45 for r in range(rank)], names)
    ax.set_ylim(-0.1, rank)
    ax.set_xlim(x[0], x[-1] if n_frames > 1 else x[0] + 1)
    ax.set_xlabel("frame" if time_edges is None else "time (s)")
    return _with_title(ax, title)


def masks(
    masks,
    *,
    sample_rate: Optional[float] = None,
    hop_length: Optional[int] = None,
    frequencies=None,
    y_axis: str = "linear",
    names: Optional[Sequence[str]] = None,
    ax=None,
    fmin: float = C1_HZ,
    bins_per_octave: int = 12,
    cmap: str = "viridis",
    colorbar: bool = True,
):
    """Show one time-frequency mask per source, stacked vertically.

    Parameters
    ----------
    masks : dict of str to Tensor, or Tensor/ndarray of shape (S, freq, frames)
        Masks in ``[0, 1]`` (e.g. from :func:`nmfsep.masks.wiener_mask`); a dict names the
        sources. ``(S, 1, freq, frames)`` is accepted (single channel).
    sample_rate, hop_length : optional
        For time in seconds and (STFT) frequencies in Hz, as in :func:`spectrogram`.
    frequencies : Tensor or ndarray, shape (freq,), optional
        Centre frequency of each bin in Hz.
    y_axis : {"linear", "log", "cqt"}, default "linear"
        As in :func:`spectrogram`.
    names : sequence of str, optional
        Source labels when ``masks`` is a tensor (default ``source 0 ..``).
    ax : sequence of matplotlib.axes.Axes, optional
        ``S`` axes to draw on (one per source); a new figure with ``S`` rows by default.
    fmin, bins_per_octave
        As in :func:`spectrogram`.
    cmap : str, default "viridis"
        Colour map; the colour scale is fixed to ``[0, 1]``.
    colorbar : bool, default True
        Add a colour bar to each panel.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import torch
    >>> from nmfsep import plot
    >>> m = torch.rand(513, 50)
    >>> fig = plot.masks({"drums": m, "bass": 1 - m}, sample_rate=22050, hop_length=512)
    >>> [a.get_title() for a in fig.axes if a.get_title()]
    ['drums', 'bass']
    """
    if isinstance(masks, Mapping):
        if not masks:
            raise ParameterError("masks is an empty dict; pass at least one source's mask.")
        names = [str(k) for k in masks]
        stack = [_squeeze_to(_as_array(v, f"masks[{k!r}]"), (2,), f"masks[{k!r}]", "(freq, frames)")
                 for k, v in masks.items()]
        if len({s.shape for s in stack}) != 1:
            raise ParameterError(f"all masks must have the same shape, got {[s.shape for s in stack]}.")
        stack = np.stack(stack)
    else:
        stack = _as_array(masks, "masks")
        if stack.ndim == 4 and stack.shape[1] == 1:
            stack = stack[:, 0]
        if stack.ndim == 2:
            stack = stack[None]
        if stack.ndim != 3:
            raise ParameterError(f"masks must have shape (S, freq, frames), got {stack.shape}.")
        names = [f"source {s}" for s in range(stack.shape[0])] if names is None else \
            _component_names(names, stack.shape[0])
    n_sources, n_bins, n_frames = stack.shape
    frequencies = _frequency_centres(n_bins, y_axis, sample_rate, frequencies, fmin,
                                     bins_per_octave)
    time_edges = _frame_edges(n_frames, sample_rate, hop_length)
    if ax is None:
        import matplotlib.pyplot as plt  # noqa: PLC0415

        fig, axes = plt.subplots(n_sources, 1, figsize=(8, 2.2 * n_sources), sharex=True,
                                 squeeze=False, constrained_layout=True)
        axes = list(axes[:, 0])
    else:
        axes = list(ax) if isinstance(ax, (list, tuple, np.ndarray)) else [ax]
        if len(axes) != n_sources:
            raise ParameterError(f"ax must hold one Axes per source ({n_sources}), got {len(axes)}.")
        fig = axes[0].figure
    for axis, name, mask in zip(axes, names, stack):
        _draw_image(axis, mask, frequencies=frequencies, y_axis=y_axis, time_edges=time_edges,
                    cmap=cmap, vmin=0.0, vmax=1.0, colorbar=colorbar, colorbar_label=None)
        axis.set_title(name)
    for axis in axes[:-1]:
        axis.set_xlabel("")
    return fig


def loss_curve(
    loss,
    *,
    ax=None,
    label: Optional[str] = None,
    log_y: bool = True,
    title: Optional[str] = None,
):
    """Plot the loss of a fit against the iteration number.

    Parameters
    ----------
    loss : fitted model, sequence of float, or dict of str to either
        A model fitted by nmfsep (its ``loss_curve_``, at iterations ``loss_iterations_``),
        or the loss values themselves (at iterations ``0, 1, ...``). A dict draws one line
        per entry, labelled by its key, to compare fits.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure by default.
    label : str, optional
        Legend entry of a single curve.
    log_y : bool, default True
        Logarithmic loss axis (only when every value is positive).
    title : str, optional
        Axes title.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from nmfsep import plot
    >>> ax = plot.loss_curve({"MU": [10.0, 4.0, 3.0, 2.9], "HALS": [10.0, 3.0, 2.8, 2.7]})
    >>> ax.get_yscale(), len(ax.get_lines())
    ('log', 2)
    """
    curves = dict(loss) if isinstance(loss, Mapping) else {label: loss}
    if not curves:
        raise ParameterError("loss is an empty dict; pass at least one model or list of losses.")
    ax = _new_axes(ax, (6, 4))
    positive = True
    for name, curve in curves.items():
        if hasattr(curve, "loss_curve_"):
            values = _as_array(curve.loss_curve_, "loss_curve_").ravel()
            steps = getattr(curve, "loss_iterations_", None)
            steps = np.arange(values.size) if steps is None else np.asarray(steps, dtype=float)
        elif hasattr(curve, "fit"):
            raise ParameterError(f"{type(curve).__name__} has no loss_curve_ yet: fit it first.")
        else:
            values = _as_array(curve, "loss").ravel()
            steps = np.arange(values.size)
        if steps.size != values.size:
            raise ParameterError(f"{steps.size} iteration numbers for {values.size} loss values.")
        positive &= bool((values > 0).all())
        ax.plot(steps, values, marker="." if values.size < 50 else None, label=name)
    if log_y and positive:
        ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss")
    if any(name is not None for name in curves):
        ax.legend()
    return _with_title(ax, title)
