"""Files in and out safely: clear errors for unreadable inputs and unwritable outputs, and
one all-or-nothing atomic writer for every file nmfsep writes.

:func:`write_atomically` writes a *set* of files (the stems of one mixture, the onset files
of one transcription, one image, ...): each goes to a temporary file next to its target,
and only when all of them are complete are they renamed into place (:func:`os.replace`).
On any failure, Ctrl-C (SIGINT) or SIGTERM the temporary files are removed and no target is
touched; the renames themselves are not interrupted by either signal. Temporary files are
named ``.<target name>.nmfsep-<pid>-<random>.tmp``: those of a process that no longer runs
(a run killed with SIGKILL, or a power cut) are removed by the next write into that folder.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import signal
import stat
import threading
import uuid
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Union

PathLike = Union[str, "os.PathLike[str]"]

#: What an nmfsep temporary file is called; group 1 is the pid of the process writing it.
TEMPORARY_NAME = re.compile(r"^\..+\.nmfsep-(\d+)-[0-9a-f]{8}\.tmp$")
# Temporary files and staging folders of nmfsep versions before TEMPORARY_NAME (no pid):
# nothing writes them any more, so any left is stale.
_LEGACY_TEMPORARY_NAME = re.compile(r"^\..+\.[0-9a-f]{12}\.tmp$|^\..+\.[a-z0-9_]{8}\.partial$")
# Free space under which a failed write is reported as a full disk (libsndfile says only
# "System error" when the disk fills up, so the free space is the evidence).
_NEARLY_FULL_BYTES = 1 << 20
_DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})


class Terminated(BaseException):
    """SIGTERM arrived while files were being written (raised so that clean-up runs).

    A :class:`BaseException`, like :class:`KeyboardInterrupt`: it stops the program rather
    than being handled as an error of one input. ``signum`` is the signal's number.
    """

    def __init__(self, signum: int = signal.SIGTERM):
        super().__init__(f"terminated by signal {signum}")
        self.signum = signum


# --------------------------------------------------------------------------- inputs
def check_readable_file(path: PathLike, what: str = "audio file") -> Path:
    """Return ``path`` as a Path if it is a file this process may read.

    Raises
    ------
    FileNotFoundError
        If nothing is at ``path``.
    IsADirectoryError
        If ``path`` is a folder (the message says what to pass instead).
    PermissionError
        If the file exists but may not be read (the message names the permission).
    """
    path = Path(os.fspath(path))
    if not path.exists():
        raise FileNotFoundError(f"{what} not found: '{path}'")
    if path.is_dir():
        raise IsADirectoryError(
            f"{what} '{path}' is a folder, not a file; pass the audio file(s) inside it "
            f"(e.g. '{path / '*.wav'}').")
    try:
        with open(path, "rb"):
            pass
    except PermissionError as err:
        raise PermissionError(
            err.errno, f"permission denied: cannot read {what} '{path}' (mode "
            f"{_mode(path)}); make it readable (e.g. chmod a+r) or run as a user who may "
            f"read it") from None
    return path


def check_writable_folder(folder: PathLike, what: str = "output folder") -> Path:
    """Return ``folder`` as a Path if files can be created in it (or it can be created).

    Checked before any work, by creating and removing a temporary file in ``folder`` or, if
    it does not exist yet, in its nearest existing parent (nothing is left behind).

    Raises
    ------
    NotADirectoryError
        If ``folder`` (or a parent of it) is a file.
    PermissionError
        If files cannot be created there (the message names the folder at fault).
    """
    folder = Path(os.fspath(folder))
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise NotADirectoryError(f"{what} '{folder}' cannot be created: '{existing}' is a "
                                 f"file, not a folder.")
    probe = existing / f".nmfsep-{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp"
    try:
        os.close(os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        os.unlink(probe)
    except OSError as err:
        raise PermissionError(
            err.errno, f"cannot write to {what} '{folder}': creating a file in '{existing}' "
            f"failed ({err.strerror}); choose a folder you may write to") from None
    return folder


def _mode(path: Path) -> str:
    try:
        return stat.filemode(path.stat().st_mode)
    except OSError:
        return "unknown"


# --------------------------------------------------------------------------- outputs
def temporary_name(target: Path) -> Path:
    """A fresh temporary file name next to ``target`` (matching :data:`TEMPORARY_NAME`)."""
    return target.with_name(f".{target.name}.nmfsep-{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. EPERM: it runs, as another user
        return True
    return True


def remove_stale_temporaries(folder: PathLike) -> List[Path]:
    """Remove the temporary files (and staging folders) that killed nmfsep runs left in
    ``folder``.

    Only entries named like :data:`TEMPORARY_NAME` whose writing process no longer runs are
    removed (those of a run still writing are kept), and those of older nmfsep versions
    (``.<name>.<12 hex digits>.tmp`` files, ``.<name>.<8 characters>.partial`` folders).
    Returns the paths removed.
    """
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:  # missing or unreadable: nothing to clean here
        return removed
    for entry in entries:
        match = TEMPORARY_NAME.match(entry.name)
        if match is None and _LEGACY_TEMPORARY_NAME.match(entry.name) is None:
            continue
        if match is not None and _running(int(match.group(1))):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
            removed.append(Path(entry.path))
        except OSError:
            pass
    return removed


class _SignalGuard:
    """While active (main thread only): SIGTERM raises :class:`Terminated` while ``deferring``
    is False; while it is True, SIGINT and SIGTERM are only recorded in ``pending``."""

    _SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.deferring = False
        self.pending: Optional[int] = None
        self.previous: Dict[int, object] = {}

    def _handle(self, signum, frame):
        if self.deferring:
            self.pending = signum
        elif signum == signal.SIGINT:
            raise KeyboardInterrupt
        else:
            raise Terminated(signum)

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for signum in self._SIGNALS:
                handler = signal.getsignal(signum)
                # Only take over the defaults: an ignored signal stays ignored, and a handler
                # that a caller installed is theirs to keep.
                if handler in (signal.SIG_DFL, signal.default_int_handler):
                    self.previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc):
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)
        return False

    def raise_pending(self):
        if self.pending is not None:
            signum, self.pending = self.pending, None
            raise KeyboardInterrupt if signum == signal.SIGINT else Terminated(signum)


def _disk_full(err: BaseException, folder: Path) -> bool:
    if isinstance(err, OSError) and err.errno in _DISK_FULL_ERRNOS:
        return True
    if not isinstance(err, Exception):
        return False
    try:
        return shutil.disk_usage(folder).free < _NEARLY_FULL_BYTES
    except OSError:
        return False


def write_atomically(writers: Mapping[PathLike, Callable[[Path], None]]) -> List[Path]:
    """Write a set of files all-or-nothing.

    Parameters
    ----------
    writers : mapping of path to callable
        ``{target: write}``; ``write(temporary)`` writes the whole content of ``target`` to
        the file ``temporary`` (an empty file in the target's folder, which it may replace).
        Missing folders are created (and removed again if nothing is written).

    Returns
    -------
    list of Path
        The targets written, in order.

    Raises
    ------
    OSError
        ``errno.ENOSPC`` with a message naming the full disk and the path, when the disk
        fills up; any other error of a writer as it is. Either way no target was touched and
        no temporary file is left.
    Terminated, KeyboardInterrupt
        On SIGTERM / SIGINT while writing (after the same clean-up).
    """
    targets = {Path(os.fspath(t)): write for t, write in writers.items()}
    created: List[Path] = []  # folders made here, innermost first
    temporaries: List[Path] = []
    with _SignalGuard() as guard:
        try:
            for folder in dict.fromkeys(t.parent for t in targets):
                missing = [f for f in (folder, *folder.parents) if not f.exists()]
                folder.mkdir(parents=True, exist_ok=True)
                created.extend(missing)
                remove_stale_temporaries(folder)
            for target, write in targets.items():
                temporary = temporary_name(target)
                temporaries.append(temporary)  # before it exists: an interrupt can come now
                os.close(os.open(temporary, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
                write(temporary)
                with open(temporary, "rb") as handle:  # on disk before it replaces anything
                    os.fsync(handle.fileno())
            guard.deferring = True  # the renames run to the end: all files or none
            for temporary, target in zip(temporaries, targets):
                os.replace(temporary, target)
            temporaries.clear()
        except BaseException as err:
            guard.deferring = True  # a second Ctrl-C must not stop the clean-up
            failed = list(targets)[max(len(temporaries) - 1, 0)]  # the file being written
            full = _disk_full(err, failed.parent)  # before the clean-up frees the space
            for temporary in temporaries:
                try:
                    temporary.unlink()
                except OSError:
                    pass
            for folder in created:
                try:
                    folder.rmdir()
                except OSError:  # not empty: something else is in it now
                    pass
            if full:
                raise OSError(errno.ENOSPC, f"the disk is full: no space left to write "
                                            f"'{failed}' (free some space on that disk or "
                                            f"write elsewhere); nothing was written") from err
            raise
        finally:
            guard.deferring = False
    guard.raise_pending()  # a signal during the renames stops the program now, files complete
    return list(targets)
