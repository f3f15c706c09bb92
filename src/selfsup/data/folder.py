"""Your own images: a folder in torchvision's ImageFolder layout, one subfolder per class.

``data.root`` holds ``train/<class>/<image>`` and ``test/<class>/<image>`` (``val`` is taken when
there is no ``test``). Images are decoded per batch, converted to RGB, resized (shorter side)
and centre-cropped to ``image_size`` pixels; the random views are made later, on the device.
Every file is untrusted: an unreadable image is a one-line error that names it.
"""

from __future__ import annotations

from pathlib import Path

from selfsup.data.images import DataSplits, FileImages
from selfsup.errors import SelfsupError


def _open_rgb(path: str):
    from PIL import Image

    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError) as err:
        raise SelfsupError(f"cannot read image '{path}' ({err}); remove or replace it") from None


def load_image_folder(
    root: Path, download: bool, image_size: int = 64, test_split: str | None = None, **_
) -> DataSplits:
    """Train / test splits of ``root`` (see the module docstring) as per-batch decoded images.

    Args:
        image_size: side of the square images the views are made from.
        test_split: the evaluation subfolder; default ``test``, else ``val``.
    """
    import torchvision.datasets as tvd
    import torchvision.transforms.v2 as T

    if download:
        raise SelfsupError("data.name=image_folder reads local files; set data.download=false")
    if int(image_size) < 1:
        raise SelfsupError(f"data.params.image_size must be >= 1, got {image_size}")
    root = Path(root)
    test_split = test_split or next((s for s in ("test", "val") if (root / s).is_dir()), "test")
    for split in ("train", test_split):
        if not (root / split).is_dir():
            raise SelfsupError(
                f"image folder '{root.resolve()}' has no '{split}' subfolder; expected "
                f"{root}/train/<class>/<image> and {root}/test/<class>/<image> (data.root)"
            )
    try:
        train, test = (
            tvd.ImageFolder(str(root / s), loader=_open_rgb) for s in ("train", test_split)
        )
    except (FileNotFoundError, OSError) as err:
        raise SelfsupError(f"image folder '{root.resolve()}': {err}") from None
    if train.classes != test.classes:
        raise SelfsupError(
            f"image folder '{root.resolve()}': the class subfolders of train ({train.classes}) "
            f"and {test_split} ({test.classes}) differ"
        )
    size = int(image_size)
    transform = T.Compose([T.PILToTensor(), T.Resize(size, antialias=True), T.CenterCrop(size)])
    shape = (3, size, size)
    n = len(train.classes)
    splits = [FileImages(s, transform, int, n, shape) for s in (train, test)]
    return DataSplits("image_folder", *splits, extras={"classes": train.classes})
