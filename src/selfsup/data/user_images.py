"""Images from a user's own code -> the uint8 batch an encoder was trained on.

``encoder.preprocess(images)`` (``selfsup.encoder``) takes what people have at hand: a PIL
image, a numpy array or a torch tensor of uint8 pixels, one image or many, and makes them what
the training pipeline made of the run's images: the same channels (a colour image for a grey
encoder is converted as Pillow converts it, ``L = 0.299 R + 0.587 G + 0.114 B``, like
``data.name=folder``; a grey image for a colour encoder is repeated over three channels) and
the same size (shorter side resized with antialiasing, then centre-cropped, like
``data.name=folder`` and ``tensors``; images of the right size are left as they are).

Layouts, channels last as numpy and Pillow have them (and as ``data.name=tensors`` files):
``(H, W)`` and ``(H, W, C)`` are one image, ``(N, H, W)`` and ``(N, H, W, C)`` a batch, with
``C`` 1 or 3; a 4-d ``(N, C, H, W)`` batch (torch's layout) is read as such where ``C`` is 1 or
3 and the last axis is not. A 3-d array whose last axis is 1 or 3 is one image. A list may mix
images of different sizes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from selfsup.errors import InputError

LAYOUTS = "(H, W), (H, W, C), (N, H, W), (N, H, W, C) or (N, C, H, W) with C = 1 or 3"


def image_batch(images, shape: Sequence[int]) -> torch.Tensor:
    """``images`` (see the module doc) as a uint8 ``(N, C, H, W)`` batch of ``shape = (C, H, W)``.

    Raises:
        InputError: not images (a float array, an unknown layout, another channel count).
    """
    c, h, w = (int(s) for s in shape)
    singles = _singles(images)
    if not singles:
        raise InputError("preprocess: no images given")
    return torch.stack([_fit(image, c, h, w) for image in singles])


def _singles(images) -> list:
    """One image per entry: PIL images, or uint8 ``(C, H, W)`` tensors."""
    if _is_pil(images):
        return [images]
    if isinstance(images, list | tuple):
        out = []
        for item in images:
            out.extend(_singles(item))
        return out
    if isinstance(images, np.ndarray):
        images = torch.from_numpy(np.array(images))  # a writable, contiguous copy
    if not isinstance(images, torch.Tensor):
        raise InputError(
            f"preprocess: expected PIL images, or uint8 numpy arrays or torch tensors, got "
            f"{type(images).__name__}"
        )
    x = images.detach().cpu()
    if x.dtype != torch.uint8:
        raise InputError(
            f"preprocess: expected uint8 pixels (0-255), got {str(x.dtype).removeprefix('torch.')}"
            f"; float images in [0, 1] of shape (N, C, H, W) at the encoder's size go to the "
            f"encoder directly"
        )
    channel = (1, 3)
    if x.ndim == 2:
        return [x[None]]
    if x.ndim == 3:
        return [x.permute(2, 0, 1)] if x.shape[-1] in channel else list(x[:, None])
    if x.ndim == 4 and x.shape[-1] in channel:
        return list(x.permute(0, 3, 1, 2))
    if x.ndim == 4 and x.shape[1] in channel:
        return list(x)
    raise InputError(f"preprocess: images of shape {tuple(x.shape)}; expected {LAYOUTS}")


def _is_pil(value) -> bool:
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover (Pillow comes with torchvision)
        return False
    return isinstance(value, Image.Image)


def _fit(image, c: int, h: int, w: int) -> torch.Tensor:
    """One image as uint8 ``(c, h, w)``: channels as the folder pipeline converts them, then
    the shorter side resized and the centre cropped."""
    import torchvision.transforms.v2.functional as TF

    if _is_pil(image):
        image = TF.pil_to_tensor(image.convert("L" if c == 1 else "RGB"))
    elif image.shape[0] != c:
        if c == 3:  # grey -> colour: Pillow's "RGB" conversion repeats the channel
            image = image.expand(3, -1, -1)
        else:  # colour -> grey exactly as Pillow does it for image files
            from PIL import Image

            rgb = Image.fromarray(image.permute(1, 2, 0).contiguous().numpy())
            image = TF.pil_to_tensor(rgb.convert("L"))
    if tuple(image.shape[-2:]) != (h, w):
        if h == w:  # what every training pipeline does: the shorter side to the size
            image = TF.resize(image, h, antialias=True)
        else:  # the smallest size that covers (h, w), aspect kept
            ih, iw = image.shape[-2:]
            scale = max(h / ih, w / iw)
            cover = [max(h, round(ih * scale)), max(w, round(iw * scale))]
            image = TF.resize(image, cover, antialias=True)
        image = TF.center_crop(image, [h, w])
    return image.contiguous()
