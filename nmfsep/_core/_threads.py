"""Thread-local limits on torch's CPU threads, for the threads a fit runs on.

``torch.set_num_threads`` is process-wide: every thread started afterwards takes its count,
and it switches oneMKL's dynamic adjustment off for the whole process (oneMKL's batched LU,
inside ``fast_bss_eval``, then fails intermittently on two threads). nmfsep never calls it.
A fit limits only the threads it runs on, through the thread-local counts of the OpenMP
runtime and oneMKL that torch loaded (``omp_set_num_threads``, ``mkl_set_num_threads_local``),
and restores the calling thread's on the way out, as it does with the denormal flag.

Where those libraries are not found (no ``/proc/self/maps``, another OpenMP runtime or BLAS),
:func:`can_limit` is False: :func:`one_thread` does nothing and the fast paths run their
blocks on the calling thread with torch's own threading.
"""

from __future__ import annotations

import ctypes
import functools
import os
from typing import Callable, Optional, Tuple

import torch

__all__ = ["can_limit", "one_thread", "limit_this_thread"]

# torch's OpenMP runtime (pip wheels ship libgomp; other builds libiomp5 or libomp) and the
# library that holds its oneMKL (statically linked into libtorch_cpu in the wheels)
_OPENMP = ("libgomp", "libiomp5", "libomp")
_MKL = ("libtorch_cpu", "libmkl_rt", "libmkl_core")


@functools.lru_cache(maxsize=None)
def _setters() -> Tuple[Optional[Callable], Optional[Callable]]:
    """``(omp_set_num_threads, MKL_Set_Num_Threads_Local)`` of the libraries this process
    loaded (None where not found), torch's own directory first."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "/" in line}
    except OSError:
        return None, None
    torch_dir = os.path.dirname(torch.__file__)
    paths = sorted(paths, key=lambda path: not path.startswith(torch_dir))
    openmp = _find(paths, _OPENMP, "omp_set_num_threads")
    # the C interface, by value (mkl_set_num_threads_local may be the Fortran one, by pointer)
    mkl = _find(paths, _MKL, "MKL_Set_Num_Threads_Local")
    if mkl is not None:
        mkl.restype = ctypes.c_int
    return openmp, mkl


def _find(paths, prefixes, symbol) -> Optional[Callable]:
    for path in paths:
        if os.path.basename(path).startswith(prefixes):
            try:
                return getattr(ctypes.CDLL(path), symbol)
            except (OSError, AttributeError):
                continue
    return None


def can_limit() -> bool:
    """Whether this process's torch threads can be limited per thread (OpenMP found)."""
    return _setters()[0] is not None


def limit_this_thread() -> None:
    """Run torch's CPU operations of the calling thread on that thread alone, for good (for
    threads nmfsep owns, such as the fast paths' block workers)."""
    openmp, mkl = _setters()
    torch.get_num_threads()  # torch's per-thread start-up first: it would undo what follows
    if openmp is not None:
        openmp(1)
    if mkl is not None:
        mkl(1)


class one_thread:
    """Run torch's CPU operations of the calling thread on that thread alone while the block
    runs (``with one_thread(): ...``); its counts are restored afterwards and no other thread
    is affected. A class, not a generator: a fast path enters it at every call (4 µs against
    8 for ``contextlib.contextmanager``'s)."""

    __slots__ = ("_threads", "_mkl")

    def __enter__(self) -> "one_thread":
        self._threads = torch.get_num_threads()
        openmp, mkl = _setters()
        if self._threads > 1 and openmp is not None:
            openmp(1)
            self._mkl = mkl(1) if mkl is not None else None
        return self

    def __exit__(self, *exc_info) -> None:
        openmp, mkl = _setters()
        if self._threads > 1 and openmp is not None:
            openmp(self._threads)
            if self._mkl is not None:
                mkl(self._mkl)  # its previous thread-local count (0: oneMKL's global one)
