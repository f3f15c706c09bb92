"""selfsup.load_encoder from an export, a run or a checkpoint; encoder.preprocess against the
training pipeline's own images; inputs in the wrong range refused; bad files in one line."""

import numpy as np
import pytest
import torch
from PIL import Image

import selfsup
from selfsup.config import load_config
from selfsup.data import load_dataset, normaliser, to_unit_float
from selfsup.encoder import Encoder
from selfsup.errors import SelfsupError
from selfsup.evaluate import extract_features
from selfsup.export import export_encoder
from selfsup.load import load_encoder
from selfsup.train import load_method, train
from tests.conftest import TINY
from tests.data.fakes import stripes


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A one-epoch MLP run on digits, and its export."""
    folder = tmp_path_factory.mktemp("encoder-api")
    train(load_config(None, [*TINY, "trainer.max_epochs=1", "eval.linear_probe=false"]), folder)
    export_encoder(folder, folder / "encoder.safetensors")
    return folder


def test_load_encoder_is_listed_in_the_package():
    assert "load_encoder" in dir(selfsup) and "load_encoder" in selfsup.__all__
    assert selfsup.load_encoder is load_encoder
    assert callable(selfsup.load_encoder) and selfsup.__version__


def test_the_three_sources_give_the_same_encoder(run):
    sources = [run / "encoder.safetensors", run, run / "checkpoints" / "last.ckpt"]
    encoders = [selfsup.load_encoder(s) for s in sources]
    images = torch.randint(0, 256, (9, 1, 8, 8), dtype=torch.uint8)
    with torch.no_grad():
        features = [e(images) for e in encoders]
    assert all(not e.training and e.image_shape == (1, 8, 8) for e in encoders)
    assert all(torch.equal(features[0], f) for f in features[1:])
    # and they are the trained method's features
    method, _ = load_method(run)
    with torch.no_grad():
        assert torch.allclose(features[0], method.encode(images), atol=1e-6, rtol=0)


def test_preprocess_gives_what_training_evaluated(run):
    encoder = load_encoder(run / "encoder.safetensors")
    test = load_dataset("digits").test
    pixels = test.images[:, 0].numpy()  # (N, 8, 8) uint8, as a user holds them
    batch = encoder.preprocess(pixels)
    assert batch.dtype == torch.float32 and batch.shape == (len(test), 1, 8, 8)
    assert torch.equal(batch, to_unit_float(test.images))
    method, _ = load_method(run)
    assert torch.allclose(encoder.preprocess(pixels, normalised=True), method.normalise(batch))
    expected, _ = extract_features(method.backbone, test, method.normalise)
    with torch.no_grad():
        got = encoder(batch)
    assert torch.allclose(got, expected, atol=1e-5, rtol=0)


def _encoder(channels: int, size: int, dataset: str = "folder") -> Encoder:
    """An encoder of the given input shape (identity backbone: preprocess is what is tested)."""
    meta = {"image_shape": [channels, size, size], "out_dim": channels * size * size}
    return Encoder(torch.nn.Flatten(), normaliser(dataset, channels), meta)


def _files_in_pipeline_order(root, split):
    # ImageFolder's order: classes sorted, then file names sorted
    return [p for c in sorted((root / split).iterdir()) for p in sorted(c.iterdir())]


@pytest.mark.parametrize("channels", [1, 3])
def test_preprocess_of_image_files_matches_the_folder_pipeline(tmp_path, channels):
    # colour PNGs and JPEGs of assorted sizes, not square
    stripes(tmp_path, {"train": 4, "test": 5})
    data = load_dataset("folder", path=tmp_path, image_size=16, channels=channels)
    encoder = _encoder(channels, 16)
    files = _files_in_pipeline_order(tmp_path, "test")
    assert len(files) == len(data.test)
    pil = [Image.open(f) for f in files]
    batch = encoder.preprocess(pil)
    assert torch.equal(batch, to_unit_float(data.test.images))
    # one image at a time, and numpy arrays of the decoded files, give the same
    assert torch.equal(encoder.preprocess(pil[3]), batch[3:4])
    arrays = [np.asarray(p.convert("RGB")) for p in pil]  # (H, W, 3) uint8 each
    assert torch.equal(encoder.preprocess(arrays), batch)
    tensors = [torch.from_numpy(a) for a in arrays]
    assert torch.equal(encoder.preprocess(tensors), batch)


def test_preprocess_layouts_and_grey_to_colour():
    encoder = _encoder(3, 8, "cifar10")
    grey = torch.randint(0, 256, (4, 8, 8), dtype=torch.uint8)  # (N, H, W)
    batch = encoder.preprocess(grey)
    assert batch.shape == (4, 3, 8, 8)
    assert torch.equal(batch, grey[:, None].expand(-1, 3, -1, -1) / 255.0)
    assert torch.equal(encoder.preprocess(grey[0]), batch[:1])  # (H, W)
    assert torch.equal(encoder.preprocess(grey[..., None].numpy()), batch)  # (N, H, W, 1)
    nchw = torch.randint(0, 256, (2, 3, 8, 8), dtype=torch.uint8)
    assert torch.equal(encoder.preprocess(nchw), nchw / 255.0)
    assert torch.equal(encoder.preprocess(nchw.permute(0, 2, 3, 1).numpy()), nchw / 255.0)


@pytest.mark.parametrize(
    "images, message",
    [
        (np.zeros((4, 8, 8), dtype=np.float32), "expected uint8 pixels (0-255), got float32"),
        (torch.zeros(2, 5, 8, 8, dtype=torch.uint8), "images of shape (2, 5, 8, 8); expected"),
        ("picture.png", "expected PIL images, or uint8 numpy arrays or torch tensors, got str"),
        ([], "no images given"),
    ],
)
def test_preprocess_refuses_what_is_not_images(images, message):
    with pytest.raises(SelfsupError) as err:
        _encoder(1, 8).preprocess(images)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_floats_outside_0_1_are_refused_with_the_range(run):
    encoder = load_encoder(run / "encoder.safetensors")
    pixels = torch.randint(0, 256, (3, 1, 8, 8), dtype=torch.uint8)
    with torch.no_grad():
        reference = encoder(pixels)
        assert torch.allclose(encoder(pixels / 255.0), reference, atol=1e-6, rtol=0)
        with pytest.raises(SelfsupError, match=r"must lie in \[0, 1\], found \[\d+, 25\d\]"):
            encoder(pixels.float())  # 0-255 floats
        with pytest.raises(SelfsupError, match="normalises them itself"):
            encoder(encoder.preprocess(pixels, normalised=True))  # normalised twice


def test_bad_files_are_one_line_errors(tmp_path):
    text = tmp_path / "notes.ckpt"
    text.write_text("not a checkpoint")
    fake = tmp_path / "fake.safetensors"
    fake.write_bytes(b"\x00" * 64)
    for path, message in [
        (text, "is not a PyTorch checkpoint"),
        (fake, "cannot read encoder file"),
        (tmp_path / "missing", "not found; selfsup.load_encoder takes an exported .safetensors"),
        (tmp_path, "no checkpoint in"),
    ]:
        with pytest.raises(SelfsupError) as err:
            load_encoder(path)
        assert message in str(err.value) and "\n" not in str(err.value), str(err.value)


def test_a_checkpoint_that_runs_code_is_refused(tmp_path):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "selfsup_config": {}, "x": Payload()}, path)
    with pytest.raises(SelfsupError):
        load_encoder(path)
    assert not marker.exists()
