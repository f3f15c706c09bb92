"""data.name=folder: labelled, unlabelled and flat folders; grey or colour; PNG and JPEG."""

import numpy as np
import pytest
import torch
from PIL import Image

from selfsup.data import load_dataset
from selfsup.errors import SelfsupError
from tests.data import fakes


def _labels_of(dataset):
    return dataset.get_batch(torch.arange(len(dataset)))[1].tolist()


def test_labelled_folder_with_test_split(tmp_path):
    fakes.stripes(tmp_path, {"train": 4, "test": 2})
    data = load_dataset("folder", path=tmp_path, image_size=16)
    assert data.labelled and data.num_classes == 2 and data.image_shape == (3, 16, 16)
    assert data.extras["classes"] == ["horizontal", "vertical"]
    assert _labels_of(data.train) == [0] * 4 + [1] * 4 and _labels_of(data.test) == [0, 0, 1, 1]


def test_stripes_survive_resizing_in_their_direction(tmp_path):
    # an independent check of the decoding and resize: horizontal stripes vary along rows
    fakes.stripes(tmp_path, {"train": 3})
    data = load_dataset("folder", path=tmp_path, image_size=16)
    x, y = data.train.get_batch(torch.arange(len(data.train)))
    x = x.float()
    along_rows = x.diff(dim=2).abs().mean((1, 2, 3))  # changes from one row to the next
    along_cols = x.diff(dim=3).abs().mean((1, 2, 3))
    assert ((along_rows > along_cols) == (y == 0)).all()


def test_val_is_the_test_split_when_there_is_no_test(tmp_path):
    fakes.stripes(tmp_path, {"train": 2, "val": 1})
    data = load_dataset("folder", path=tmp_path, image_size=8)
    assert data.labelled and len(data.test) == 2


def test_no_test_split_trains_but_is_not_labelled_for_evaluation(tmp_path):
    fakes.stripes(tmp_path, {"train": 2})
    data = load_dataset("folder", path=tmp_path, image_size=8)
    assert data.test is None and not data.labelled
    assert data.unlabelled_reason() == "'folder' has no test split"


@pytest.mark.parametrize("layout", ["train/", ""])
def test_loose_images_are_unlabelled(tmp_path, layout):
    fakes.stripes(tmp_path / "src", {"x": 3})
    (tmp_path / "data" / layout).mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(sorted((tmp_path / "src").rglob("*.*"))):
        f.rename(tmp_path / "data" / layout / f"{i}{f.suffix}")
    data = load_dataset("folder", path=tmp_path / "data", image_size=8)
    assert data.num_classes == 0 and not data.labelled and len(data.ssl_train) == 6
    assert _labels_of(data.train) == [-1] * 6
    assert data.unlabelled_reason() == "'folder' has no training labels"


def test_grey_folder_has_one_channel_and_colour_three(tmp_path):
    fakes.stripes(tmp_path / "grey", {"train": 2}, grey=True)
    assert load_dataset("folder", path=tmp_path / "grey", image_size=8).image_shape == (1, 8, 8)
    assert load_dataset("folder", path=tmp_path / "grey", image_size=8, channels=3).image_shape == (
        3,
        8,
        8,
    )
    # one colour image among grey ones: the folder is colour
    fakes.stripes(tmp_path / "mixed", {"train": 2}, grey=True)
    Image.new("RGB", (9, 9), (200, 10, 10)).save(tmp_path / "mixed/train/vertical/red.png")
    data = load_dataset("folder", path=tmp_path / "mixed", image_size=8)
    assert data.image_shape == (3, 8, 8)
    x = data.train.get_batch(torch.arange(len(data.train)))[0]
    red = x[-1].float().mean((1, 2))  # vertical/ sorts as 000.png, 001.png, red.png
    assert red[0] > 150 and red[1] < 50


def test_in_memory_and_per_batch_decoding_agree(tmp_path):
    fakes.stripes(tmp_path, {"train": 3, "test": 1})
    memory = load_dataset("folder", path=tmp_path, image_size=12)
    files = load_dataset("folder", path=tmp_path, image_size=12, max_memory_mb=0)
    assert type(memory.train).__name__ == "TensorImages"
    assert type(files.train).__name__ == "FileImages"
    idx = torch.tensor([5, 0, 3])
    for a, b in zip(memory.train.get_batch(idx), files.train.get_batch(idx), strict=True):
        assert torch.equal(a, b)


def test_resize_then_centre_crop_matches_pil(tmp_path):
    # reference written differently: PIL's own resize and crop of the same file
    (tmp_path / "train" / "a").mkdir(parents=True)
    yy, xx = np.mgrid[0:30, 0:50]
    smooth = np.stack([xx * 5, yy * 8, (xx + yy) * 3], -1).astype(np.uint8)  # 30 x 50 ramps
    Image.fromarray(smooth).save(tmp_path / "train/a/0.png")
    x = load_dataset("folder", path=tmp_path, image_size=10).train.get_batch(torch.tensor([0]))[0]
    # shorter side 30 -> 10, longer 50 -> int(10 * 50 / 30) = 16; centre 10 columns from 3
    image = Image.open(tmp_path / "train/a/0.png").resize((16, 10), Image.BILINEAR)
    reference = torch.from_numpy(np.asarray(image.crop((3, 0, 13, 10)))).permute(2, 0, 1)
    # antialiased bilinear: torchvision and PIL agree up to rounding
    assert (x[0].int() - reference.int()).abs().max() <= 1


@pytest.mark.parametrize(
    "setup, params, message",
    [
        (lambda r: None, {"download": True}, "set data.download=false"),
        (lambda r: (r / "train/horizontal/x.png").write_bytes(b"not a png"), {}, "cannot read"),
        (lambda r: (r / "test/vertical").rename(r / "test/diagonal"), {}, "differ"),
        (lambda r: (r / "train/loose.png").write_bytes(b""), {}, "mixes class subfolders"),
        (lambda r: None, {"test_split": "holdout"}, "no 'holdout' subfolder"),
        (lambda r: (r / "train").rename(r / "other"), {}, "no 'train' subfolder"),
        (lambda r: None, {"channels": 2}, "must be 1 or 3"),
        (lambda r: None, {"image_size": 0}, "must be >= 1"),
    ],
)
def test_folder_problems_are_one_line_errors(tmp_path, setup, params, message):
    fakes.stripes(tmp_path, {"train": 1, "test": 1})
    setup(tmp_path)
    with pytest.raises(SelfsupError, match=message) as caught:
        load_dataset("folder", path=tmp_path, **params)
    assert "\n" not in str(caught.value)


def test_a_missing_or_empty_folder_is_named(tmp_path):
    with pytest.raises(SelfsupError, match="does not exist; check data.path"):
        load_dataset("folder", path=tmp_path / "nowhere")
    (tmp_path / "arrays.npz").write_bytes(b"not a folder")
    with pytest.raises(SelfsupError, match="is a file, not a folder .an array file is data.name"):
        load_dataset("folder", path=tmp_path / "arrays.npz")
    (tmp_path / "empty" / "train").mkdir(parents=True)
    with pytest.raises(SelfsupError, match="holds no images"):
        load_dataset("folder", path=tmp_path / "empty")
