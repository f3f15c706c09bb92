"""The version of selfsup (``selfsup.__version__``), importable without the package's names."""

__version__ = "0.1.0"
