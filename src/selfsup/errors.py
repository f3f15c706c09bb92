"""Errors meant for the user: the CLI prints their message on one line, without a traceback."""


class SelfsupError(Exception):
    """Bad input that the user can fix: the message says what was wrong and what to do."""
