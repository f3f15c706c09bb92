"""The label-free measures read images only: the same with the dataset's labels gone."""

import math

import torch

from selfsup.compare.measures import label_free_measures, selection_scores
from selfsup.config import load_config
from selfsup.data.from_config import load_data
from selfsup.data.images import DataSplits, TensorImages
from selfsup.methods import build_method
from selfsup.tune.objective import objective_value


def test_objective_without_labels_equals_with_labels():
    config = load_config(
        "vicreg_digits", ["backbone.params.hidden=[64]", "method.projector=[32,32]"]
    )
    data = load_data(config)
    torch.manual_seed(0)
    method = build_method(config, data)
    train = data.train
    unlabelled = DataSplits(
        "digits", TensorImages(train.images, torch.full_like(train.labels, -1), 0), None
    )
    shuffled = DataSplits(
        "digits",
        TensorImages(train.images, train.labels[torch.randperm(len(train.labels))], 10),
        data.test,
    )
    assert not unlabelled.labelled
    runs = [
        label_free_measures(method, d, n_samples=128, lidar_samples=16)
        for d in (data, unlabelled, shuffled)
    ]
    assert runs[0].keys() == runs[1].keys()
    for key in ("rep_rankme", "rep_lidar", "rep_alpha_req", "rep_erank", "emb_rankme"):
        assert math.isfinite(runs[0][key])
        assert runs[0][key] == runs[1][key] == runs[2][key], key
    for objective in ("rankme", "lidar", "alpha_req"):
        values = {objective_value(objective, {}, selection_scores(r)) for r in runs}
        assert len(values) == 1


def test_measures_are_those_of_the_estimators_on_the_probe_batch():
    """The reference: selfsup.info's own rankme / alpha_req on the backbone output of the
    same training images (the lens's one-Gram way agrees to 1e-6 relative)."""
    from selfsup.compare.measures import probe_images
    from selfsup.data.views import to_unit_float
    from selfsup.info import alpha_req, rankme

    config = load_config(
        "vicreg_digits", ["backbone.params.hidden=[64]", "method.projector=[32,32]"]
    )
    data = load_data(config)
    torch.manual_seed(1)
    method = build_method(config, data).eval()
    got = label_free_measures(method, data, n_samples=200, lidar_samples=0)
    with torch.no_grad():
        z = method.backbone(method.normalise(to_unit_float(probe_images(data, 200)))).double()
    assert math.isclose(got["rep_rankme"], rankme(z), rel_tol=1e-6)
    assert math.isclose(got["rep_alpha_req"], alpha_req(z), rel_tol=1e-6)
