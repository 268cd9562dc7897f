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
