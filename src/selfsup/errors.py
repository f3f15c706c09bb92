"""Errors meant for the user: the CLI prints their message on one line, without a traceback.

The hierarchy (every class is importable from ``selfsup`` itself)::

    SelfsupError                     anything the user can fix; the CLI: one line, exit 2
    ├── InputError (ValueError)      a bad argument, config value, file or tensor
    │   └── NonFiniteInputError      a tensor argument holds NaN or inf
    └── NonFiniteLossError (RuntimeError)  training diverged; it stops before the bad step

``InputError`` is a ``ValueError`` and ``NonFiniteLossError`` a ``RuntimeError``, so code that
catches those keeps working.
"""

import argparse
import difflib
from collections.abc import Iterable
from typing import NoReturn


class SelfsupError(Exception):
    """Bad input that the user can fix: the message says what was wrong and what to do."""


class InputError(SelfsupError, ValueError):
    """An argument, config value or input is not allowed; the message names it and says what
    is allowed."""


class NonFiniteInputError(InputError):
    """A tensor argument holds NaN or inf values."""


class NonFiniteLossError(SelfsupError, RuntimeError):
    """The loss became NaN or infinite; training stops before the bad step is applied."""

    def __init__(self, step: int, epoch: int, value: float, lr: float | None = None) -> None:
        # the usual cause is a learning rate too large for the batch and the network
        advice = f"; the training diverged: try a smaller optim.lr (now {lr:g})" if lr else ""
        super().__init__(f"loss became {value} at step {step} (epoch {epoch}){advice}")
        self.step, self.epoch, self.value = step, epoch, value


def closest(name: str, names: Iterable[str]) -> str | None:
    """The one of ``names`` nearest to a mistyped ``name`` (compared in lower case, so that a
    case slip finds its name too), for a "did you mean ...?" hint; ``None`` if none is close."""
    lower = {str(n).lower(): str(n) for n in names}
    close = difflib.get_close_matches(str(name).lower(), list(lower), n=1)
    return lower[close[0]] if close else None


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose usage mistakes are a :class:`SelfsupError` (one line, exit 2 in
    the CLI) rather than argparse's usage text and ``SystemExit``."""

    def error(self, message: str) -> NoReturn:
        raise SelfsupError(f"{self.prog}: {message} (see {self.prog} --help)")
