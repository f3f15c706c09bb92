"""A dataset plug-in: 8x8 grey images of a bright square in one of four corners, on noise
(``data.name=corners``); the corner is the label. Made in code, so it needs no files."""

import torch

import selfsup
from selfsup.data import DataSplits, TensorImages


def _images(n: int, generator: torch.Generator) -> TensorImages:
    labels = torch.randint(0, 4, (n,), generator=generator)
    images = torch.randint(0, 60, (n, 1, 8, 8), generator=generator).to(torch.uint8)
    for corner, (row, col) in enumerate([(0, 0), (0, 5), (5, 0), (5, 5)]):
        images[labels == corner, :, row : row + 3, col : col + 3] = 255
    return TensorImages(images, labels, num_classes=4)


@selfsup.register_dataset("corners", views="digits", shape=(1, 8, 8), in_code=True)
def corners(root, download, n_train: int = 1024, n_test: int = 256, seed: int = 0) -> DataSplits:
    """Squares in the corners of 8x8 noise; label: the corner."""
    generator = torch.Generator().manual_seed(seed)
    return DataSplits("corners", _images(n_train, generator), _images(n_test, generator))
