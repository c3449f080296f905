"""nmfsep never changes torch's process-wide thread settings (issue 13).

A fit limits only the threads it runs on (:mod:`nmfsep._core._threads`): the calling thread
while a fast path runs, and its own block workers. ``torch.set_num_threads`` would change the
count of every thread started later and oneMKL's dynamic adjustment for the whole process.
"""

import ast
import pathlib
import threading

import pytest
import torch

from nmfsep._apps import evaluation
from nmfsep._core import _threads, fastpaths, updates
from nmfsep.evaluation import bss_eval
from nmfsep.nmf import NMF, NMFD
from nmfsep.updates import multiplicative_update_

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "nmfsep"
F64 = torch.float64

needs_limits = pytest.mark.skipif(not _threads.can_limit(), reason="torch's OpenMP runtime not found")


@pytest.fixture
def two_threads():
    before, set_threads = torch.get_num_threads(), torch.set_num_threads
    set_threads(2)
    yield
    set_threads(before)  # torch's own, whatever a test patched


@pytest.fixture
def no_set_num_threads(monkeypatch, two_threads):
    """torch.set_num_threads fails from here on (the fixture set two threads first)."""
    def forbidden(*args):
        raise AssertionError("nmfsep called torch.set_num_threads")

    monkeypatch.setattr(torch, "set_num_threads", forbidden)
    monkeypatch.setattr(torch._C, "set_num_threads", forbidden)


def test_no_set_num_threads_under_the_package():
    calls = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [node.attr] if isinstance(node, ast.Attribute) else \
                [node.id] if isinstance(node, ast.Name) else \
                [alias.name for alias in node.names] if isinstance(node, ast.ImportFrom) else []
            calls += [f"{path.relative_to(PACKAGE)}:{node.lineno}" for name in names
                      if name in ("set_num_threads", "_set_num_threads")]
    assert calls == []


def _nmf_problem(shape=(40, 16), rank=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    W, H = torch.rand(shape[1], rank, generator=g, dtype=F64), torch.rand(shape[0], rank, generator=g, dtype=F64)
    return (H @ W.t()) + 0.01, rank


@pytest.mark.parametrize("beta", [1, 2])
def test_fits_leave_every_thread_count_alone(no_set_num_threads, monkeypatch, beta):
    # many blocks on two workers; while a pass runs, the fit's own thread runs torch on itself,
    # the workers likewise, and a thread started meanwhile still gets torch's two threads
    monkeypatch.setattr(fastpaths, "BLOCK_BYTES", 3 * 16 * 8)
    seen = {"caller": set(), "worker": set(), "new thread": set(), "workers": set()}
    run = fastpaths._run_blocks

    def recording(blocks, work, n_workers):
        seen["caller"].add(torch.get_num_threads())
        seen["workers"].add(n_workers)
        fresh = threading.Thread(target=lambda: seen["new thread"].add(torch.get_num_threads()))
        fresh.start()
        fresh.join()

        def watched(k, items, rows):
            seen["worker"].add(torch.get_num_threads())
            return work(k, items, rows)

        return run(blocks, watched, n_workers)

    monkeypatch.setattr(fastpaths, "_run_blocks", recording)
    V, rank = _nmf_problem()
    model = NMF(V.shape, rank, seed=0)
    model.fit(V, beta=beta, max_iter=5)
    NMFD((1, 16, 30), rank, 3, seed=0).fit(torch.rand(1, 16, 30, dtype=F64), beta=beta, max_iter=3)
    assert torch.get_num_threads() == 2
    assert seen["new thread"] == {2}
    if _threads.can_limit():
        assert seen == {"caller": {1}, "worker": {1}, "new thread": {2}, "workers": {2}}
    else:  # no per-thread limits: torch's own threading, no workers
        assert seen["workers"] == {1}


def test_a_fit_in_another_thread_leaves_this_one_alone(no_set_num_threads):
    V, rank = _nmf_problem((400, 64))
    counts, done, errors = set(), threading.Event(), []

    def fit():
        try:
            NMF(V.shape, rank, seed=0).fit(V, beta=1, max_iter=30)
        except Exception as error:  # reported below
            errors.append(error)
        finally:
            done.set()

    worker = threading.Thread(target=fit)
    worker.start()
    while not done.is_set():
        counts.add(torch.get_num_threads())
    worker.join()
    assert errors == [] and counts == {2}


@pytest.mark.parametrize("shape", [(300, 128), (600, 512)])
def test_updates_run_on_the_calling_thread_alone(no_set_num_threads, monkeypatch, shape):
    # a factor above torch's grain size is updated with torch on this thread only, however large
    # (below the grain size its operations run inline anyway)
    assert updates._GRAIN_SIZE < shape[0] * shape[1]
    seen = []
    original = torch.Tensor.mul_

    def recording(self, *args, **kwargs):
        seen.append(torch.get_num_threads())
        return original(self, *args, **kwargs)

    param = torch.full(shape, 2.0, dtype=F64)
    negative, positive = torch.full(shape, 3.0, dtype=F64), torch.full(shape, 1.5, dtype=F64)
    monkeypatch.setattr(torch.Tensor, "mul_", recording)
    multiplicative_update_(param, negative, positive, beta=2)
    monkeypatch.undo()
    torch.testing.assert_close(param, torch.full(shape, 4.0, dtype=F64))  # 2 * 3 / 1.5
    assert seen and set(seen) == ({1} if _threads.can_limit() else {2})
    assert torch.get_num_threads() == 2


@needs_limits
@pytest.mark.parametrize("extrapolation", ["squarem", "geometric"])
def test_the_safeguards_bookkeeping_runs_on_the_calling_thread_alone(no_set_num_threads, monkeypatch,
                                                                     extrapolation):
    # oneMKL's dot splits even a piece under ATen's grain size among its threads, whose team
    # then spins into the next pass over V: the jumps, copies and comparisons take one thread
    from nmfsep._core import accelerated

    seen = {}
    for name in ("dot", "equal", "where", "clamp_min"):
        original = getattr(torch, name)

        def recording(*args, _original=original, _name=name, **kwargs):
            if threading.current_thread() is threading.main_thread():
                seen.setdefault(_name, set()).add(torch.get_num_threads())
            return _original(*args, **kwargs)

        monkeypatch.setattr(torch, name, recording)
    monkeypatch.setattr(accelerated, "PIECE", 64)  # several pieces per factor
    V, rank = _nmf_problem((300, 40))
    model = NMF(V.shape, rank, seed=0)
    model.fit(V, beta=1, max_iter=12, tol=-1, solver="auto", extrapolation=extrapolation)
    monkeypatch.undo()
    expected = {"squarem": {"dot", "equal", "where"}, "geometric": {"equal", "clamp_min"}}[extrapolation]
    assert set(seen) == expected and all(counts == {1} for counts in seen.values()), seen
    assert torch.get_num_threads() == 2


@needs_limits
def test_one_thread_restores_the_count_after_an_error():
    before = torch.get_num_threads()
    with pytest.raises(RuntimeError, match="inside"):
        with _threads.one_thread():
            assert torch.get_num_threads() == 1
            with _threads.one_thread():  # nested: still one thread, then one again
                assert torch.get_num_threads() == 1
            assert torch.get_num_threads() == 1
            raise RuntimeError("inside")
    assert torch.get_num_threads() == before


def test_bss_eval_on_two_threads_equals_one_thread(no_set_num_threads):
    # fast_bss_eval's batched LU failed here 20 times in 20 (3 sources, 512 taps, two threads
    # after torch.set_num_threads); the Cholesky solves give the one-thread numbers
    g = torch.Generator().manual_seed(0)
    refs = torch.randn(3, 4000, generator=g, dtype=F64)
    ests = refs + 0.3 * refs.roll(1, 0) + 0.2 * torch.randn(3, 4000, generator=g, dtype=F64)
    first = bss_eval(refs, ests)
    for _ in range(5):
        again = bss_eval(refs, ests)
        for key in first:
            torch.testing.assert_close(again[key], first[key], rtol=0, atol=1e-9)
    assert torch.get_num_threads() == 2


def test_spd_solve_falls_back_to_lu_when_not_positive_definite():
    g = torch.Generator().manual_seed(1)
    A = torch.randn(3, 6, 6, generator=g, dtype=F64)
    spd = A @ A.transpose(1, 2) + torch.eye(6, dtype=F64)
    indefinite = spd.clone()
    indefinite[1] -= 100 * torch.eye(6, dtype=F64)  # symmetric, negative eigenvalues
    rhs = torch.randn(3, 6, 2, generator=g, dtype=F64)
    for matrices in (spd, indefinite, spd[0]):
        b = rhs if matrices.dim() == 3 else rhs[0]
        x = evaluation._spd_solve(matrices, b)
        torch.testing.assert_close(matrices @ x, b, rtol=0, atol=1e-9)
