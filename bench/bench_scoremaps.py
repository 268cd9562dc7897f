"""How faithful are int8 tracker graphs to fp32 where it matters: the score map's peak.

For every dev sequence, the template is taken from frame 0's groundtruth box and search crops are cut
around the groundtruth box of every ``--step``-th frame, shifted by a fixed pseudo-random offset (up to
half the target size), as a tracker would see them. Each artifact set's search graph runs on the *same*
crops and template crops; its score map (SiamFC family: ``score``; SPM: ``cls``) is compared with fp32's:

- ``peak``: the global arg-max falls on the same cell as fp32's;
- ``|Δ|/range``: mean absolute difference over the map, relative to fp32's max − min;
- ``flips``: of the crops where fp32's best two separated peaks (≥ 2 cells apart) are within 10% of
  its range (near-ties, where a tracker decides between the target and a look-alike), the share where
  the other set ranks them the other way round.

    python bench/bench_scoremaps.py --sets artifacts:int8-old artifacts-fc:int8 --backend ort
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from edgecv.runtime.bundle import backend_format
from edgecv.runtime.track.crop import affine_crop, crop_side
from edgecv.runtime.track.sequences import list_sequences
from edgecv.runtime.track.siamese_base import SiameseNet, find_artifacts


def _net(d, trk, fmt, prec, backend):
    t, s = find_artifacts(d, trk, fmt, prec)
    kind = json.loads(Path(str(t) + ".json").read_text())["model_info"]["tracker"]
    return SiameseNet(t, s, kind, backend=backend, threads=1)


def _map(out: dict) -> np.ndarray:
    return (out["score"] if "score" in out else out["cls"])[0, 0].astype(np.float64)


def _two_peaks(m: np.ndarray):
    """(value, (i, j)) of the best two local maxima at least 2 cells apart."""
    dil = cv2.dilate(m.astype(np.float32), np.ones((3, 3), np.uint8))
    ii, jj = np.nonzero(m >= dil - 1e-12)
    order = np.argsort(-m[ii, jj])
    first = (ii[order[0]], jj[order[0]])
    for k in order[1:]:
        if max(abs(ii[k] - first[0]), abs(jj[k] - first[1])) >= 2:
            return first, (ii[k], jj[k])
    return first, None


def crops(step: int, dataset: str, net: SiameseNet):
    """(template crop, search crop) pairs for every sequence, the same for every artifact set."""
    rng = np.random.default_rng(0)
    out = []
    for seq in list_sequences(dataset):
        frames = seq.frames()
        gt = seq.groundtruth
        z = None
        for k, f in enumerate(frames):
            x, y, w, h = gt[k]
            if k == 0:
                z = affine_crop(f, x + w / 2, y + h / 2, crop_side(w, h, net.context), net.z_size)[0]
            if k % step:
                continue
            dx, dy = rng.uniform(-0.5, 0.5, 2) * (w, h)
            side = crop_side(w, h, net.context) * net.x_size / net.z_size
            out.append((seq.name, z, affine_crop(f, x + w / 2 + dx, y + h / 2 + dy, side, net.x_size)[0]))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trackers", default="siamfc,spm-nano")  # graph names: sasiam, spm, spm-lite and spm-nano are
    # retired trackers, but their graphs can still be named: a retired variant's graphs run under their family's class
    ap.add_argument("--sets", nargs="+", default=["artifacts:int8"], metavar="DIR:PRECISION",
                    help="artifact sets compared with DIR-of-the-first-set fp32 (a label after the precision "
                         "is allowed: artifacts:int8-old)")
    ap.add_argument("--backend", default="ort")
    ap.add_argument("--dataset", default="datasets/otb-dev")
    ap.add_argument("--step", type=int, default=5)
    ap.add_argument("--area", default=None,
                    help="also write the table to bench/results/AREA.json (e.g. scoremaps), for BENCHMARKS.md")
    args = ap.parse_args(argv)
    table = []
    fmt = backend_format(args.backend)
    print(f"# score-map fidelity vs fp32, {args.backend}, {platform.processor() or platform.machine()}, "
          f"{time.strftime('%Y-%m-%d')}\n")
    print("| tracker | set | crops | peak same cell | mean |Δ| / range | near-tie flips |")
    print("|---|---|---|---|---|---|")
    for trk in args.trackers.split(","):
        ref = _net(args.sets[0].split(":")[0], trk, fmt, "fp32", args.backend)
        pairs = crops(args.step, args.dataset, ref)
        zf = {}
        ref_maps = []
        for name, z, x in pairs:
            if name not in zf:
                zf[name] = ref.template(z)
            ref_maps.append(_map(ref.search(x, zf[name])))
        for spec in args.sets:
            d, label = spec.split(":")
            prec = label.split("-")[0]
            net = _net(d, trk, fmt, prec, args.backend)
            zq, same, err, ties, flips = {}, 0, [], 0, 0
            for (name, z, x), r in zip(pairs, ref_maps):
                if name not in zq:
                    zq[name] = net.template(z)
                q = _map(net.search(x, zq[name]))
                same += np.unravel_index(r.argmax(), r.shape) == np.unravel_index(q.argmax(), q.shape)
                rng_ = r.max() - r.min() + 1e-12
                err.append(np.abs(q - r).mean() / rng_)
                a, b = _two_peaks(r)
                if b is not None and r[a] - r[b] <= 0.1 * rng_:
                    ties += 1
                    flips += q[b] > q[a]
            table.append([trk, f"{d} {label}", len(pairs), f"{same / len(pairs):.1%}", f"{np.mean(err):.4f}",
                          f"{flips}/{ties}"])
            print("| " + " | ".join(str(c) for c in table[-1]) + " |")
    if args.area:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from common import command, machine, write_result

        write_result(args.area, machine(), command(),
                     ["tracker", "set", "crops", "peak same cell", "mean |Δ| / range", "near-tie flips"], table,
                     [f"{args.backend}; template from frame 0 of each sequence of {args.dataset}, search crops around "
                      f"the groundtruth of every {args.step}th frame with a fixed random shift; compared with the "
                      "fp32 graphs of the first set's folder. near-tie flips: crops where fp32's two best separated "
                      "peaks are within 10% of its range and the other set ranks them the other way."])


if __name__ == "__main__":
    main()
