"""nmfsep's exceptions, below every layer.

This module imports nothing, so that each layer (the core included, and the command line,
which starts without torch) can raise them; users see them at the package's root
(``nmfsep.ParameterError``, ...).
"""

__all__ = ["NmfsepError", "ParameterError", "ParameterTypeError", "NonFiniteError",
           "ValueAssertionError", "TorchaudioMissingError"]


class NmfsepError(Exception):
    """Base class of the exceptions that nmfsep defines: ``except nmfsep.NmfsepError`` catches
    any of them.

    Each one also keeps the built-in class that code catches today, so ``except ValueError``
    (or ``TypeError``, ``ImportError``) goes on working:

    * :class:`nmfsep.ParameterError` -- an argument of the right type out of its range, or
      invalid data (``ValueError``);
    * :class:`nmfsep.ParameterTypeError` -- an argument of the wrong type (``TypeError``);
    * :class:`nmfsep.NonFiniteError` -- a fit met NaN/Inf (``FloatingPointError``,
      ``ValueError``);
    * :class:`nmfsep.ValueAssertionError` -- invalid data or factors where torchnmf asserts
      (``ValueError``, ``AssertionError``);
    * :class:`nmfsep.TorchaudioMissingError` -- torchaudio is missing or broken
      (``ImportError``);
    * ``CommandError`` of the command line -- an error the user can fix, printed as one line.

    Examples
    --------
    >>> import nmfsep
    >>> issubclass(nmfsep.ValueAssertionError, nmfsep.NmfsepError)
    True
    >>> issubclass(nmfsep.ParameterError, ValueError), issubclass(nmfsep.ParameterTypeError, TypeError)
    (True, True)
    """


class ParameterError(ValueError, NmfsepError):
    """An argument of the right type but out of its range, or data that cannot be used (a
    ``ValueError``, like librosa's ``ParameterError``)."""


class ParameterTypeError(TypeError, NmfsepError):
    """An argument of the wrong type (a ``TypeError``)."""


class NonFiniteError(FloatingPointError, ValueError, NmfsepError):
    """A fit met NaN or Inf: raised instead of returning non-finite factors.

    Both a ``FloatingPointError`` (what happened) and a ``ValueError`` (what callers of a
    validating API catch).
    """


class ValueAssertionError(ValueError, AssertionError, NmfsepError):
    """Invalid data or factors where torchnmf asserts (negative values, factors that disagree
    on the rank, a rank that cannot be inferred).

    Both a ``ValueError`` (what callers of a validating API catch) and an ``AssertionError``
    (what torchnmf raised there), so that code written for either library catches it.
    """


class TorchaudioMissingError(ImportError, NmfsepError):
    """torchaudio is missing or cannot be imported next to the installed torch (an
    ``ImportError``)."""


# Tracebacks and reprs name the public path (``nmfsep.ParameterError: ...``), not this module.
for _error in (NmfsepError, ParameterError, ParameterTypeError, NonFiniteError,
               ValueAssertionError, TorchaudioMissingError):
    _error.__module__ = "nmfsep"
del _error
