"""Predicted device profiles: the calibration reproduces each published reference figure, predictions move the
right way with the device's specs, and every predicted entry in the shipped profiles says what it came from."""
from __future__ import annotations

import pytest

from edgecv.devices import load_profile
from edgecv.runtime.predict import transfer as tr

PREDICTED = ("jetson-orin-nano", "jetson-agx-orin", "pixel-4", "nvidia-t4")


def _published(dev):
    return [e for e in load_profile(dev)["entries"] if e["provenance"]["kind"] == "published"]


@pytest.mark.parametrize("dev", ["jetson-orin-nano", "pixel-4", "nvidia-t4"])
def test_calibration_reproduces_published_figures(dev):
    refs = tr.reference_models()
    bw = load_profile(dev)["device"]["memory_bandwidth_gbps"]
    pubs = _published(dev)
    assert pubs
    for e in pubs:
        unit = e.get("compute_unit") or "cpu"
        terms = tr.graph_terms(refs[e["artifact"].removesuffix("_quant")]["summary"], unit, e["precision"])
        coef = tr.calibrate(e["latency_ms"]["median"], terms, unit, bw)
        assert tr.predict_terms(coef, terms) == pytest.approx(e["latency_ms"]["median"], rel=1e-9)
        assert min(coef["tau_ms"], coef["ms_per_gflop"], coef["ms_per_mb"]) >= 0


def test_reference_networks_have_their_known_size():
    """MobileNetV1 569 M MACs / 4.2 M params, MobileNetV2 300 M / 3.5 M, ResNet-50 4.1 G / 25.6 M."""
    refs = tr.reference_models()
    gflop = {k: sum(v["flops"] for v in m["summary"].values()) / 1e9 for k, m in refs.items()}
    assert gflop["mobilenet_v1_1.0_224"] == pytest.approx(1.14, rel=0.03)
    assert gflop["mobilenet_v2_1.0_224"] == pytest.approx(0.60, rel=0.05)
    assert gflop["resnet50"] == pytest.approx(8.2, rel=0.03)
    assert refs["resnet50"]["params"] == pytest.approx(25.56e6, rel=0.01)


def test_bigger_graphs_cost_more_and_faster_devices_less():
    coef = tr.calibrate(10.0, {"ops": 60, "gflop": 0.6, "mb": 40.0}, "cpu", 50.0)
    small, big = {"ops": 60, "gflop": 0.3, "mb": 20.0}, {"ops": 60, "gflop": 1.2, "mb": 80.0}
    assert tr.predict_terms(coef, small) < 10.0 < tr.predict_terms(coef, big)
    faster = tr.scale_calibration(coef, compute_ratio=2.0, bandwidth_ratio=2.0, dispatch_ratio=1.5)
    assert tr.predict_terms(faster, big) < tr.predict_terms(coef, big)
    # a figure below what dispatch and bandwidth alone cost: the unit is dispatch-bound, and says so
    tight = tr.calibrate(0.5, {"ops": 200, "gflop": 1.0, "mb": 100.0}, "cuda", 100.0)
    assert tight["ms_per_gflop"] == 0 and "dispatch-bound" in tight["note"]


@pytest.mark.parametrize("dev", PREDICTED)
def test_shipped_predicted_entries_say_what_they_came_from(dev):
    prof = load_profile(dev)
    pred = [e for e in prof["entries"] if e["provenance"]["kind"] == "predicted"]
    assert pred, f"{dev} has no predicted entries (run bench/predict_devices.py)"
    for e in pred:
        pv = e["provenance"]
        assert pv["predictor"] == tr.TRANSFER_VERSION and pv["calibrated_on"] and pv["inputs"]["gflop"] >= 0
        assert e["latency_ms"]["median"] > 0
    # the AGX Orin is faster than the Orin Nano on every graph they both predict (specs are 2–4× higher)
    if dev == "jetson-agx-orin":
        nano = {(e["artifact"], e["compute_unit"], e["precision"]): e["latency_ms"]["median"]
                for e in load_profile("jetson-orin-nano")["entries"] if e["provenance"]["kind"] == "predicted"}
        both = [(e["latency_ms"]["median"], nano[k]) for e in pred
                if (k := (e["artifact"], e["compute_unit"], e["precision"])) in nano]
        assert both and all(agx < n for agx, n in both)
