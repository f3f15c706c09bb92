"""Training callbacks, and the registry that lets a config's ``callbacks`` section name them.

``callbacks: {name: {arg: value}}`` in a config adds ``CALLBACKS[name](**args)`` to the run.
"""

from __future__ import annotations

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn

from selfsup.train.info_tracking import InfoTracking


class OnlineLinearProbe(L.Callback):
    """A linear classifier trained beside SSL on the detached features of the first view.

    It never sends gradients into the backbone. Its test-split accuracy is logged every
    validation epoch as ``val/online_probe_top1``: a cheap running view of representation
    quality. Its weights and optimiser live in the checkpoint, so resumed runs continue it.
    """

    def __init__(self, num_classes: int, feature_dim: int, lr: float = 1e-3) -> None:
        self.probe = nn.Linear(feature_dim, num_classes)
        self.optimiser = torch.optim.AdamW(self.probe.parameters(), lr=lr, weight_decay=1e-6)
        self._correct = self._total = 0

    def setup(self, trainer, pl_module, stage=None) -> None:
        self.probe.to(pl_module.device)
        # the optimiser state follows the parameters' device lazily on the first step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        features, labels = outputs["features"].float(), outputs["labels"]
        known = labels >= 0  # unlabelled images (STL-10's unlabeled split: -1) teach it nothing
        if not bool(known.all()):
            if not bool(known.any()):
                return
            features, labels = features[known], labels[known]
        with torch.enable_grad():
            loss = F.cross_entropy(self.probe(features), labels)
            self.optimiser.zero_grad()
            loss.backward()
            self.optimiser.step()
        pl_module.log(
            "train/online_probe_loss", loss.detach(), on_step=False, on_epoch=True, sync_dist=True
        )

    def on_validation_epoch_start(self, trainer, pl_module) -> None:
        self._correct = self._total = 0

    def on_validation_batch_end(
        self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0
    ) -> None:
        with torch.no_grad():
            predicted = self.probe(outputs["features"].float()).argmax(1)
        self._correct += (predicted == outputs["labels"]).sum().item()
        self._total += outputs["labels"].numel()

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        # every rank joins the reduction, also one whose shard of the test set was empty
        counts = torch.tensor(
            [self._correct, self._total], dtype=torch.float64, device=pl_module.device
        )
        correct, total = trainer.strategy.reduce(counts, reduce_op="sum").tolist()
        if total:
            # the counts are already global: every rank logs the same value, and the mean
            # over ranks that sync_dist takes leaves it as it is
            pl_module.log("val/online_probe_top1", correct / total, sync_dist=True)

    def state_dict(self) -> dict:
        return {"probe": self.probe.state_dict(), "optimiser": self.optimiser.state_dict()}

    def load_state_dict(self, state_dict: dict) -> None:
        self.probe.load_state_dict(state_dict["probe"])
        self.optimiser.load_state_dict(state_dict["optimiser"])


class KNNMonitor(L.Callback):
    """kNN top-1 of the test split against the train split's frozen features, logged as
    ``val/knn_top1`` every ``every_n_epochs`` epochs (solo-learn's kNN evaluation during
    training; it appears in ``metrics.csv``, the trackers and ``training_curves.png``).

    Process 0 encodes both splits (the backbone in eval mode, outside DDP: no collective
    calls) while the others wait for its result; on one process it costs one pass over
    the train and test images.
    """

    def __init__(self, data, every_n_epochs: int, k: int = 20, temperature: float = 0.07) -> None:
        self.data, self.every = data, every_n_epochs
        self.k, self.temperature = k, temperature

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        from selfsup.evaluate import extract_features, knn_accuracy

        if self.every < 1 or (trainer.current_epoch + 1) % self.every:
            return
        top1 = None
        if trainer.is_global_zero:
            with torch.autocast(pl_module.device.type, enabled=False):
                backbone, normalise = pl_module.backbone, pl_module.normalise
                train_f, train_y = extract_features(backbone, self.data.train, normalise)
                test_f, test_y = extract_features(backbone, self.data.test, normalise)
            top1 = knn_accuracy(train_f, train_y, test_f, test_y, self.k, self.temperature)
        # every process logs process 0's value (the mean over equal values is that value), so
        # Lightning's epoch-level reduction holds and it has nothing to warn about
        top1 = trainer.strategy.broadcast(top1, src=0)
        pl_module.log("val/knn_top1", float(top1), on_epoch=True, sync_dist=True)


#: callbacks a config may name in its ``callbacks`` section; values are their constructors
CALLBACKS: dict[str, type[L.Callback]] = {"info_tracking": InfoTracking}


def build_callback(name: str, args: dict) -> L.Callback:
    """The callback registered as ``name`` with the config's arguments."""
    from selfsup.errors import InputError, SelfsupError
    from selfsup.nets import check_params
    from selfsup.param_rules import param_rule
    from selfsup.registry import signature_params

    if name not in CALLBACKS:
        raise SelfsupError(f"unknown callback '{name}'; valid: {', '.join(sorted(CALLBACKS))}")
    check_params("callback", name, CALLBACKS[name], args)
    rules = {p.name: param_rule(p) for p in signature_params("callback", CALLBACKS[name])[0]}
    for key, value in args.items():  # the values' types, from the signature's hints
        if rules.get(key) is not None:
            args = {**args, key: rules[key].check(f"callbacks.{name}.{key}", value)}
    try:
        return CALLBACKS[name](**args)
    except InputError as err:  # the class's own rules: say which config key it was
        raise InputError(f"callbacks.{name}: {err}") from None
