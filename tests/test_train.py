"""Training recipes appear here only as few-step smoke tests; the shipped weights are checked for what
their card says."""
from __future__ import annotations

import json

import torch
from click.testing import CliRunner

from edgecv import data
from edgecv.cli import main
from edgecv.models import create_model, list_models
from edgecv.models.registry import weights_path


def test_recipe_smoke_writes_loadable_weights_and_card(tmp_path):
    res = CliRunner().invoke(main, ["train", "mnv2", "--steps", "2", "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    card = json.loads((tmp_path / "mnv2.json").read_text())
    assert card["steps"] == 2 and card["model"] == "mnv2" and 0.0 <= card["heldout_top1"] <= 1.0
    state = torch.load(tmp_path / "mnv2.pt", map_location="cpu", weights_only=True)
    m = create_model("mnv2", pretrained=False)
    m.load_state_dict(state)


def test_shipped_weights_match_their_card_and_beat_chance():
    card = json.loads(weights_path("mnv2-dcn").with_suffix(".json").read_text())
    assert card["classes"] == list(data.SCENES)
    assert card["heldout_top1"] > 5 * card["chance"]
    import hashlib
    assert hashlib.sha256(weights_path("mnv2-dcn").read_bytes()).hexdigest() == card["sha256"]
    # The shipped model recognises held-out frames of the real videos (never trained on).
    from edgecv.models.mobilenetv2 import frame_to_tensor
    m = create_model("mnv2-dcn")
    frames = data.check_frames(9, photos=False)
    with torch.no_grad():
        pred = torch.cat([m(frame_to_tensor(f, 128)) for f in frames]).argmax(1).tolist()
    truth = [list(data.SCENES).index(n) for n in ("vtest", "megamind", "tree") for _ in range(3)]
    assert sum(p == t for p, t in zip(pred, truth)) >= 7, (pred, truth)


def test_cli_lists_models_and_rejects_untrainable():
    r = CliRunner().invoke(main, ["models"])
    assert r.exit_code == 0 and set(list_models()) <= set(r.output.split())
    r = CliRunner().invoke(main, ["train", "warp-head", "--steps", "1"])
    assert r.exit_code == 2 and "mnv2-dcn's trained head" in r.output
