"""The second pretrained trunk: MobileNetV2 with the weights of MediaPipe Objectron's SSD (Open Images, npm
``@mediapipe/objectron``, fetched pinned and sha256-checked). Our definition must reproduce the detector's own
TFLite graph on a real photo, and the detector's own class predictor, reading our features, must see what is in
the photo."""
from __future__ import annotations

import warnings

import cv2
import numpy as np
import pytest
import torch

from edgecv.data import OBJECTRON_SSD_SHA256, _sha256, ensure_objectron_ssd
from edgecv.models.backbones import BACKBONES, ssd_mobilenet_v2
from edgecv.models.backbones.mobilenet_v2 import TAPS
from edgecv.runtime.samples import samples_dir

# the detector's label list (the asset file's first bytes): index 0 is the background
PERSON, FOOTWEAR = 4, 19


def _fetched():
    """The detector's file, fetched by ``edgecv fetch-data`` (``make test`` runs it); a skip naming why otherwise."""
    from edgecv.data import DataError

    try:
        return ensure_objectron_ssd(verbose=False)
    except DataError as e:
        pytest.skip(f"the Objectron SSD could not be fetched: {e}")


@pytest.fixture(scope="module")
def ssd():
    """The fetched .tflite and a LiteRT interpreter over it that keeps every intermediate tensor."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    path = _fetched()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        it = Interpreter(model_path=str(path), experimental_preserve_all_tensors=True,
                         experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it.allocate_tensors()
    return path, it


def _photo_300(name):
    im = cv2.imread(str(samples_dir() / name))
    assert im is not None, name
    return cv2.resize(im[:, :, ::-1], (300, 300), interpolation=cv2.INTER_AREA).astype(np.float32) / 255


def _tensor(it, name):
    idx = {t["name"].split(";")[0]: t["index"] for t in it.get_tensor_details()}
    return it.get_tensor(idx[name])[0].transpose(2, 0, 1)


def test_the_file_is_the_published_detector(ssd):
    path, it = ssd
    assert _sha256(path) == OBJECTRON_SSD_SHA256
    assert list(it.get_input_details()[0]["shape"]) == [1, 300, 300, 3]
    assert "ssd_mobilenet_v2" in BACKBONES


@pytest.mark.parametrize("tap,tensor", [
    ("block12", "FeatureExtractor/MobilenetV2/expanded_conv_12/add"),
    ("expand16", "FeatureExtractor/MobilenetV2/expanded_conv_13/expand/Relu6"),  # the first box predictor's input
])
def test_trunk_reproduces_the_detectors_graph_on_a_real_photo(ssd, tap, tensor):
    """At the detector's 300² input (even: TF pads one more pixel bottom/right) our features are the TFLite
    graph's own, to float rounding, at both stride-16 taps."""
    _, it = ssd
    x = _photo_300("messi5.jpg")
    it.set_tensor(it.get_input_details()[0]["index"], (x * 2 - 1)[None])
    it.invoke()
    ref = _tensor(it, tensor)
    model = ssd_mobilenet_v2(tap=tap).eval()
    with torch.no_grad():
        out = model(torch.from_numpy(x.transpose(2, 0, 1).copy())[None])[0].numpy()
    assert out.shape == ref.shape == (TAPS[tap][1], 19, 19)
    assert np.abs(out - ref).max() < 1e-3 * max(np.abs(ref).max(), 1.0)


def test_the_detectors_class_predictor_reads_our_features(ssd):
    """The SSD's own stride-16 class predictor (3 anchors × 24 classes per cell), applied to our trunk's features:
    on a photo of football players its two best classes of the 23 are Footwear and Person; on a baboon's face
    Person stays low."""
    _, it = ssd
    names = {t["index"]: t["name"].split(";")[0] for t in it.get_tensor_details()}
    op = next(o for o in it._get_ops_details()
              if o["op_name"] == "CONV_2D" and names[o["outputs"][0]].startswith("BoxPredictor_0/ClassPredictor"))
    w = it.get_tensor(op["inputs"][1]).astype(np.float32)[:, 0, 0, :]
    b = it.get_tensor(op["inputs"][2]).astype(np.float32)
    model = ssd_mobilenet_v2().eval()

    def best_per_class(name):
        x = _photo_300(name)
        with torch.no_grad():
            f = model(torch.from_numpy(x.transpose(2, 0, 1).copy())[None])[0].numpy()
        logit = (np.einsum("oc,chw->ohw", w, f) + b[:, None, None]).reshape(3, 24, *f.shape[1:])
        return 1 / (1 + np.exp(-logit.max(axis=(0, 2, 3))))

    players, baboon = best_per_class("messi5.jpg"), best_per_class("baboon.jpg")
    assert set(np.argsort(-players[1:])[:2] + 1) == {PERSON, FOOTWEAR}, players
    assert baboon[PERSON] < 0.5 * players[PERSON]


def test_odd_crops_pad_symmetrically():
    """The trackers' 16 m + 1 crops: TF's SAME padding is symmetric there (a crop's centre pixel stays on the centre
    feature cell, 129² → 9×9, 257² → 17×17); at even sizes it pads one more pixel at the end, as TF does."""
    import torch.nn.functional as F

    from edgecv.models.backbones.mobilenet_v2 import _same_pad

    for n in (129, 65, 33, 17, 9):
        x = torch.rand(1, 2, n, n)
        for stride in (1, 2):
            assert torch.equal(_same_pad(x, 3, stride), F.pad(x, (1, 1, 1, 1)))
    even = _same_pad(torch.rand(1, 2, 300, 300), 3, 2)
    assert even.shape[-2:] == (301, 301)
    model = ssd_mobilenet_v2(pretrained=False).eval()
    with torch.no_grad():
        assert [model(torch.rand(1, 3, n, n)).shape[-1] for n in (129, 193, 257)] == [9, 13, 17]


def test_boxtrack_trains_on_the_ssd_trunk(tmp_path):
    """BoxTrack's recipe on the second trunk (``trunk="ssd_mnv2"``): two steps run, the card and the geometry name
    where the trunk came from, and as on Lite0 only the last two stages of the trunk learn."""
    from edgecv.train.boxtrack import train

    _fetched()
    model, info = train("boxtrack", steps=2, batch=2, out_dir=tmp_path, progress=False, val_pairs=4, trunk="ssd_mnv2")
    assert "@mediapipe/objectron" in info["trunk"] and "objectron" in model.geometry_info()["trunk"]
    assert model.trunk.out_channels == 576 and model.trunk.stage_ends[-3] == model.trainable_from == 10
    assert not any(p.requires_grad for b in model.trunk.blocks[:10] for p in b.parameters())
    assert all(p.requires_grad for b in model.trunk.blocks[10:] for p in b.parameters())
    assert 0.0 <= info["heldout"]["box_miou"] <= 1.0


def test_fetch_without_npm_says_so_and_writes_nothing(monkeypatch, tmp_path):
    """No npm on the machine: a DataError that names npm and the package, and no file left behind."""
    from edgecv import data

    monkeypatch.setenv("EDGECV_DATA", str(tmp_path))
    monkeypatch.setattr(data.shutil, "which", lambda name: None)
    with pytest.raises(data.DataError, match="npm.*@mediapipe/objectron|@mediapipe/objectron.*npm"):
        data.ensure_objectron_ssd(verbose=False)
    assert not list(tmp_path.rglob("*.tflite"))
