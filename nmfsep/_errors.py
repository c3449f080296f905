"""The base of nmfsep's own exceptions, below every layer.

It imports nothing, so that each layer (the core included, and the command line, which starts
without torch) can derive its exceptions from :class:`NmfsepError`; users see it as
``nmfsep.NmfsepError``.
"""

__all__ = ["NmfsepError"]


class NmfsepError(Exception):
    """Base class of the exceptions that nmfsep defines: ``except nmfsep.NmfsepError`` catches
    any of them.

    Each one also keeps the built-in class that code catches today, so ``except ValueError``
    (or ``ImportError``) goes on working:

    * :class:`nmfsep.core.NonFiniteError` -- a fit met NaN/Inf (``FloatingPointError``,
      ``ValueError``);
    * :class:`nmfsep.core.ValueAssertionError` -- invalid data or factors where torchnmf
      asserts (``ValueError``, ``AssertionError``);
    * :class:`nmfsep.pipeline.TorchaudioMissingError` -- torchaudio is missing or broken
      (``ImportError``);
    * ``nmfsep.apps.cli.CommandError`` -- a command-line error the user can fix.

    Argument checks raise the built-in ``TypeError`` (a value of the wrong type) or
    ``ValueError`` (a value of the right type out of its range).

    Examples
    --------
    >>> import nmfsep
    >>> from nmfsep.core import ValueAssertionError
    >>> issubclass(ValueAssertionError, nmfsep.NmfsepError), issubclass(ValueAssertionError, ValueError)
    (True, True)
    """
