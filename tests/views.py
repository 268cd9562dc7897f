"""Real frames seen through a moving window: the test material for "the target leaves the view"."""
import numpy as np


def panned(frames, box, start, n, step_px, size=(360, 288)):
    """Real static-camera frames ``start..start+n`` seen through a window that pans right by ``step_px`` per
    frame: the scene (and the target) moves left in the view and leaves it. Returns the views and the target's
    true box in view coordinates (exact for the static parts of the scene)."""
    W, H = size
    x, y, w, h = box
    x0 = int(max(0, x + w / 2 - W / 2))
    y0 = int(np.clip(y + h / 2 - H / 2, 0, frames[0].shape[0] - H))
    views, truth = [], []
    for t in range(n):
        ox = x0 + t * step_px
        f = frames[start + t]
        if ox + W > f.shape[1]:
            break
        views.append(np.ascontiguousarray(f[y0:y0 + H, ox:ox + W]))
        truth.append((x - ox, y - y0, w, h))
    return views, truth


def woman_leaving_view(n: int = 40, step_px: int = 14):
    """The must-show material for the lost state: the held-out ``vtest_woman`` frames through a window panning right
    until she leaves it. Returns the views, her true boxes in view coordinates and the index (into ``truth[1:]``,
    the frames after init) of the first view without her."""
    import json
    from pathlib import Path

    from edgecv import data

    root = Path(__file__).resolve().parents[1] / "datasets" / "otb-dev" / "vtest_woman"
    src = json.loads((root / "source.json").read_text())
    gt = np.loadtxt(root / "groundtruth_rect.txt", delimiter=",")
    frames = data.video_part("vtest.avi", "heldout", step=1)
    start = src["start"] - (795 - len(frames))  # vtest.avi decodes 795 frames; the held-out part is its tail
    views, truth = panned(frames, tuple(gt[0]), start, n, step_px)
    gone = next(k for k, b in enumerate(truth[1:]) if b[0] + b[2] < 0)  # first frame without the target
    return views, truth, gone


def assert_follows_then_lost(trk, max_frames: int = 10):
    """The must-show for the lost state, on :func:`woman_leaving_view`: ``trk`` (a built tracker) follows her while
    she is in view (lost on at most a quarter of those frames, mean IoU > 0.4) and says lost within ``max_frames``
    frames of her last pixel leaving. Returns the results, the first frame without her and the first lost frame."""
    from edgecv.runtime.track import iou

    views, truth, gone = woman_leaving_view()
    trk.init(views[0], truth[0])
    res = [trk.update(v) for v in views[1:]]
    inside = [(r, b) for r, b in zip(res, truth[1:]) if b[0] > 10]
    assert inside and sum(r.lost for r, _ in inside) <= len(inside) // 4, [round(r.score, 2) for r, _ in inside]
    assert np.mean([iou(r.box, b) for r, b in inside]) > 0.4
    first_lost = next((k for k in range(gone, len(res)) if res[k].lost), None)
    assert first_lost is not None and first_lost - gone <= max_frames, [round(r.score, 2) for r in res[gone:]]
    return res, gone, first_lost
