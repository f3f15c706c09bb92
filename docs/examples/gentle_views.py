"""A view-preset plug-in: light crops and pixel noise, no flips (``data.views=gentle``)."""

import selfsup
from selfsup.data import ViewSpec


@selfsup.register_views("gentle")
def gentle():
    """The first view, the second, and the recipe of any further one."""
    crop = ViewSpec(scale=(0.8, 1.0), ratio=(0.9, 1.1), flip_p=0.0)
    noisy = ViewSpec(scale=(0.8, 1.0), ratio=(0.9, 1.1), flip_p=0.0, noise_std=0.1, noise_p=0.5)
    return crop, noisy, noisy
