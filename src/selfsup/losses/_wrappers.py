"""The thin layers over a ``*_terms`` function: its scalar ``*_loss`` and its ``nn.Module``.

Both take their settings and defaults from the function's signature, so a default is written
once, where the maths is:

- ``vicreg_loss = scalar_loss(vicreg_terms)``: the same arguments, returns ``terms.loss``;
- ``class VICRegLoss(LossModule, terms=vicreg_terms)``: the function's keyword settings
  become the module's keyword-only constructor arguments (same names, same defaults) and
  attributes; ``forward(*tensors)`` returns the loss, ``terms(*tensors)`` the named terms.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, ClassVar, NamedTuple, ParamSpec

import torch
from torch import nn

from selfsup.validation import InputError

P = ParamSpec("P")


def setting_parameters(terms: Callable[..., Any]) -> list[inspect.Parameter]:
    """The parameters of ``terms`` that have a default (its settings, after the tensors)."""
    params = inspect.signature(terms).parameters.values()
    return [p for p in params if p.default is not inspect.Parameter.empty]


def setting_default(terms: Callable[..., Any], name: str) -> Any:
    """The default value of the setting ``name`` of ``terms``."""
    return inspect.signature(terms).parameters[name].default


def scalar_loss(
    terms: Callable[P, NamedTuple], name: str | None = None
) -> Callable[P, torch.Tensor]:
    """The scalar companion of ``terms``: same arguments and defaults, returns ``.loss``
    (named ``name``, by default ``terms``'s name with ``_terms`` replaced by ``_loss``)."""
    name = name or terms.__name__.removesuffix("_terms") + "_loss"

    @functools.wraps(terms)
    def loss(*args: P.args, **kwargs: P.kwargs) -> torch.Tensor:
        return terms(*args, **kwargs).loss

    loss.__name__ = loss.__qualname__ = name
    del loss.__wrapped__  # documentation tools then read this function, not ``terms``
    loss.__doc__ = (
        f"The loss of :func:`{terms.__name__}` alone: ``{terms.__name__}(...).loss``.\n\n"
        f"It takes the same arguments with the same defaults; :func:`{terms.__name__}` documents "
        f"them, the shapes and the named terms.\n\n"
        f"Returns:\n    A scalar tensor, differentiable in the embeddings.\n"
    )
    loss.__annotations__ = {**terms.__annotations__, "return": "torch.Tensor"}
    loss.__signature__ = inspect.signature(terms).replace(return_annotation=torch.Tensor)
    return loss


class LossModule(nn.Module):
    """A loss function's settings held as a module; the function does the maths.

    A subclass names its function (``class VICRegLoss(LossModule, terms=vicreg_terms)``);
    its constructor then takes exactly that function's keyword settings, with the
    function's defaults, and keeps them as attributes (change one between steps and the
    next call uses it). An unknown setting is an :class:`~selfsup.validation.InputError`
    naming the allowed ones.
    """

    terms_function: ClassVar[Callable[..., NamedTuple]]
    setting_names: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, *, terms: Callable[..., NamedTuple] | None = None, **kw) -> None:
        super().__init_subclass__(**kw)
        if terms is None:
            return
        params = setting_parameters(terms)
        cls.terms_function = staticmethod(terms)
        cls.setting_names = tuple(p.name for p in params)
        defaults = {p.name: p.default for p in params}

        def init(self, **settings: Any) -> None:
            LossModule.__init__(self)
            unknown = sorted(set(settings) - set(defaults))
            if unknown:
                allowed = ", ".join(defaults) or "none"
                raise InputError(
                    f"{cls.__name__}: unknown setting {unknown[0]!r}; its settings are: {allowed}"
                )
            for key, default in defaults.items():
                setattr(self, key, settings.get(key, default))

        keyword_only = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in params]
        self_param = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
        init.__signature__ = inspect.Signature([self_param, *keyword_only])
        init.__name__ = "__init__"
        init.__qualname__ = f"{cls.__qualname__}.__init__"
        cls.__init__ = init

    def settings(self) -> dict[str, Any]:
        """The current settings, by name."""
        return {name: getattr(self, name) for name in self.setting_names}

    def terms(self, *tensors: torch.Tensor) -> NamedTuple:
        """The loss and its named terms (the function's NamedTuple)."""
        return self.terms_function(*tensors, **self.settings())

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        """The loss, a scalar tensor."""
        return self.terms(*tensors).loss

    def extra_repr(self) -> str:
        return ", ".join(f"{key}={value!r}" for key, value in self.settings().items())
