"""The own-loop example of docs/losses.md runs as printed, and its state round-trips."""

from __future__ import annotations

import re
from pathlib import Path

import torch

from selfsup import losses

DOC = Path(__file__).resolve().parents[2] / "docs" / "losses.md"


def test_the_loss_modules_example_runs_as_printed(tmp_path, monkeypatch, capsys):
    text = DOC.read_text()
    block = re.search(r"## Loss modules.*?```python\n(.*?)```", text, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    exec(compile(block, str(DOC), "exec"), {"__name__": "docs_example"})
    printed = capsys.readouterr().out
    assert "VICRegTerms(loss=" in printed and "MoCo loss" in printed and "DINO loss" in printed
    state = torch.load(tmp_path / "runs" / "loss-state.pt", weights_only=True)
    moco = losses.MoCoLoss(dim=16, queue_size=1024)
    moco.load_state_dict(state["moco"])
    assert int(moco.queue_pointer) == 128
    dino = losses.DINOLoss(out_dim=16)
    dino.load_state_dict(state["dino"])
    assert dino.center.abs().sum() > 0
