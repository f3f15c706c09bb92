"""Errors meant for the user: the CLI prints their message on one line, without a traceback."""

import argparse
from typing import NoReturn


class SelfsupError(Exception):
    """Bad input that the user can fix: the message says what was wrong and what to do."""


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose usage mistakes are a :class:`SelfsupError` (one line, exit 2 in
    the CLI) rather than argparse's usage text and ``SystemExit``."""

    def error(self, message: str) -> NoReturn:
        raise SelfsupError(f"{self.prog}: {message} (see {self.prog} --help)")
