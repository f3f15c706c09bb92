"""View.forward_with_params: the same views as forward, and parameters that describe them."""

import torch

from selfsup.data.pipeline import View, ViewSpec


def test_same_views_as_forward_and_one_value_per_sample():
    view = View(ViewSpec(scale=(0.2, 1.0), jitter=(0.4, 0.4, 0.2, 0.1), grey_p=0.2), size=16)
    x = torch.rand(32, 3, 16, 16)
    torch.manual_seed(0)
    plain = view(x)
    torch.manual_seed(0)
    views, params = view.forward_with_params(x)
    assert torch.equal(plain, views)
    expected = {"crop_top", "crop_left", "crop_height", "crop_width", "crop_scale", "flip"}
    assert expected | {"brightness", "contrast", "saturation", "hue", "grey"} <= set(params)
    assert all(v.shape == (32,) and v.dtype == torch.float64 for v in params.values())


def test_crop_box_and_flip_parameters_match_the_pixels():
    # an image whose value is the x coordinate (pixel centres, fraction of the width): the mean
    # of an unrotated resized crop of it is the box's horizontal centre
    n, side = 64, 32
    ramp = ((torch.arange(side) + 0.5) / side).expand(n, 1, side, side).contiguous()
    view = View(ViewSpec(scale=(0.1, 0.9), flip_p=0.5), size=16)
    torch.manual_seed(1)
    out, p = view.forward_with_params(ramp)
    centre = p["crop_left"] + p["crop_width"] / 2
    assert torch.allclose(out.double().mean((1, 2, 3)), centre, atol=1e-4)
    assert torch.allclose(p["crop_scale"], p["crop_height"] * p["crop_width"])
    increasing = out[:, 0, 0, -1] > out[:, 0, 0, 0]
    assert torch.equal(increasing, p["flip"] == 0)
    assert 0 < int(p["flip"].sum()) < n


def test_brightness_factor_and_the_identity_where_jitter_is_off():
    grey = torch.full((200, 1, 4, 4), 0.4)
    view = View(ViewSpec(crop=False, flip_p=0.0, jitter=(0.5, 0.0, 0.0, 0.0), jitter_p=0.5))
    torch.manual_seed(2)
    out, p = view.forward_with_params(grey)
    assert set(p) == {"brightness"}
    assert torch.allclose(out[:, 0, 0, 0].double(), (0.4 * p["brightness"]).clamp(0, 1), atol=1e-6)
    assert (p["brightness"] == 1.0).sum() > 50  # jitter not applied: the identity factor
