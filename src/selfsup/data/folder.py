"""Your own images: a folder of files, labelled by class subfolders or not labelled at all.

``data.path`` is the folder. It holds ``train/`` (torchvision's ImageFolder layout,
``train/<class>/<image>``; a ``train/`` of loose images is unlabelled) and optionally ``test/``
(or ``val/``) with the same class subfolders for evaluation; a folder with no ``train/`` is the
training split itself (``<class>/<image>``, or loose images). ``data.test_path`` names an
evaluation folder elsewhere (``<class>/<image>``), instead of ``test/`` or ``val/``. Any
size and format Pillow reads (PNG, JPEG, ...), grey or colour: images are resized (shorter
side) and centre-cropped to ``image_size`` pixels, with 1 channel when every image looked at
is grey and 3 otherwise (or as ``channels`` says). A folder that fits in ``max_memory_mb`` is
decoded once into memory; a larger one is decoded per batch. Every file is untrusted: an
unreadable image is a one-line error that names it.
"""

from __future__ import annotations

import functools
from pathlib import Path

import torch
from torch.utils.data import Dataset

from selfsup.data.images import BatchDataset, DataSplits, FileImages, TensorImages
from selfsup.errors import SelfsupError
from selfsup.registry import register_dataset

#: Pillow modes without colour (the rest are converted to RGB)
GREY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"})
#: the error for a folder run without its folder
MISSING_PATH = (
    "data.name=folder needs data.path=DIR, the folder of your images "
    "(DIR/train/<class>/<image>, DIR/<class>/<image> or loose images)"
)
#: how many files are opened (headers only) to decide between grey and colour
_MODE_SAMPLE = 512


def _open(path: str, mode: str):
    from PIL import Image

    try:
        with Image.open(path) as image:
            return image.convert(mode)
    except (OSError, ValueError, Image.DecompressionBombError) as err:
        raise SelfsupError(f"cannot read image '{path}' ({err}); remove or replace it") from None


def _image_mode(path: str) -> str:
    from PIL import Image

    try:
        with Image.open(path) as image:  # reads the header only
            return image.mode
    except (OSError, ValueError, Image.DecompressionBombError) as err:
        raise SelfsupError(f"cannot read image '{path}' ({err}); remove or replace it") from None


class _LooseImages(Dataset):
    """Image files without labels, as ``(PIL image, -1)`` (ImageFolder's item shape)."""

    def __init__(self, paths: list[str], loader) -> None:
        self.samples = [(p, -1) for p in paths]
        self.loader = loader

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int):
        return self.loader(self.samples[index][0]), -1


def _images_in(folder: Path) -> list[Path]:
    from torchvision.datasets.folder import IMG_EXTENSIONS

    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMG_EXTENSIONS)


def _split_folder(root: Path, name: str, loader) -> Dataset:
    """``root/name`` (or ``root`` itself for ``name=""``) as labelled or loose images."""
    import torchvision.datasets as tvd

    folder = root / name if name else root
    classes = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    loose = _images_in(folder)
    if classes and loose:
        raise SelfsupError(
            f"image folder '{folder.resolve()}' mixes class subfolders with loose images "
            f"(e.g. '{loose[0].name}'); put every image in a class subfolder, or none"
        )
    if loose:
        return _LooseImages([str(p) for p in loose], loader)
    if not classes:
        raise SelfsupError(
            f"image folder '{folder.resolve()}' holds no images (PNG, JPEG, ...) and no class "
            f"subfolders; expected {root}/train/<class>/<image> or {root}/train/<image>"
        )
    try:
        return tvd.ImageFolder(str(folder), loader=loader)
    except (FileNotFoundError, OSError) as err:
        raise SelfsupError(f"image folder '{folder.resolve()}': {err}") from None


def _channels(splits: list[Dataset], channels: int | None) -> int:
    if channels is not None:
        if int(channels) not in (1, 3):
            raise SelfsupError(f"data.params.channels must be 1 or 3, got {channels}")
        return int(channels)
    paths = [path for split in splits for path, _ in split.samples]
    # evenly spread over the files: a folder whose first classes are grey is still seen whole
    step = max(1, len(paths) // _MODE_SAMPLE)
    grey = all(_image_mode(p) in GREY_MODES for p in paths[::step])
    return 1 if grey else 3


def _classes(split: Dataset) -> list[str]:
    return list(getattr(split, "classes", []))


@register_dataset("folder", views="simclr", aliases=("image_folder",))
def load_image_folder(
    root: Path,
    download: bool,
    path: str | Path | None = None,
    test_path: str | Path | None = None,
    image_size: int = 64,
    test_split: str | None = None,
    channels: int | None = None,
    max_memory_mb: float = 1024.0,
    **_,
) -> DataSplits:
    """Train / test splits of the folder ``path`` (see the module docstring); ``root``, where
    named datasets live, is not read.

    Args:
        path: the image folder.
        test_path: an evaluation folder elsewhere (default: ``path/test`` or ``path/val``).
        image_size: side of the square images the views are made from.
        test_split: the evaluation subfolder; default ``test``, else ``val``, else none
            (evaluation that needs labels is then skipped).
        channels: 1 (grey) or 3 (RGB); default: 1 if every image looked at is grey.
        max_memory_mb: decode the whole folder into memory (uint8) when it fits in this.
    """
    import torchvision.transforms.v2 as T

    if download:
        raise SelfsupError("data.name=folder reads local files; set data.download=false")
    if int(image_size) < 1:
        raise SelfsupError(f"data.params.image_size must be >= 1, got {image_size}")
    if not path:
        raise SelfsupError(MISSING_PATH)
    root = Path(path)
    for folder, key in ((root, "data.path"), (test_path and Path(test_path), "data.test_path")):
        if folder and not folder.is_dir():
            what = "is a file, not a folder" if folder.exists() else "does not exist"
            hint = " (an array file is data.name=tensors)" if folder.is_file() else ""
            raise SelfsupError(
                f"image folder '{folder.resolve()}' {what}{hint}; check {key} (a folder "
                f"holding train/<class>/<image>, <class>/<image> or loose images)"
            )
    if test_path and test_split is not None:
        raise SelfsupError("give data.test_path or data.params.test_split, not both")
    if test_split is not None and not (root / test_split).is_dir():
        raise SelfsupError(f"image folder '{root.resolve()}' has no '{test_split}' subfolder")
    if test_path is None:
        test_split = test_split or next((s for s in ("test", "val") if (root / s).is_dir()), None)
    if test_split and not (root / "train").is_dir():
        raise SelfsupError(
            f"image folder '{root.resolve()}' has a '{test_split}' but no 'train' subfolder; "
            f"expected {root}/train/<class>/<image> beside it"
        )
    probe = functools.partial(_open, mode="RGB")  # replaced below once channels are known
    train = _split_folder(root, "train" if (root / "train").is_dir() else "", probe)
    if test_path:
        test, test_name = _split_folder(Path(test_path), "", probe), str(test_path)
    else:
        test = _split_folder(root, test_split, probe) if test_split else None
        test_name = test_split
    if test is not None and _classes(test) != _classes(train):
        raise SelfsupError(
            f"image folder '{root.resolve()}': the class subfolders of train "
            f"({_classes(train) or 'none: unlabelled'}) and {test_name} "
            f"({_classes(test) or 'none: unlabelled'}) differ"
        )
    c = _channels([s for s in (train, test) if s is not None], channels)
    for split in (train, test):
        if split is not None:
            split.loader = functools.partial(_open, mode="L" if c == 1 else "RGB")
    size = int(image_size)
    transform = T.Compose([T.PILToTensor(), T.Resize(size, antialias=True), T.CenterCrop(size)])
    n_classes = len(_classes(train))
    budget = max_memory_mb * 2**20
    splits: list[BatchDataset | None] = []
    for split in (train, test):
        if split is None:
            splits.append(None)
            continue
        files = FileImages(split, transform, int, n_classes, (c, size, size))
        fits = len(files) * c * size * size <= budget
        splits.append(_into_memory(files) if fits else files)
    return DataSplits("folder", splits[0], splits[1], extras={"classes": _classes(train)})


def _into_memory(files: FileImages, chunk: int = 256) -> TensorImages:
    parts = [
        files.get_batch(torch.arange(i, min(i + chunk, len(files))))
        for i in range(0, len(files), chunk)
    ]
    images = torch.cat([p[0] for p in parts])
    labels = torch.cat([p[1] for p in parts])
    return TensorImages(images, labels, files.num_classes)
