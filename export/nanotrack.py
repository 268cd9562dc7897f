"""A NanoTrack-format tracker that edgecv did not train, as an exportable edgecv tracker.

NanoTrack (HonglinChu/SiamTrackers; the model OpenCV's ``cv2.TrackerNano`` runs) ships as two ONNX files: a
*backbone* (RGB 0..255 crop → features; a 127² template crop gives 8×8, a 255² search crop 16×16) and a
*head* (template features ``input1`` + search features ``input2`` → ``output1`` class logits 1×2×n×n and
``output2`` box distances 1×4×n×n). :class:`NanoTrackImport` reads such a folder through
:class:`edgecv.export.onnx_import.OnnxModule` and regroups it into edgecv's tracker contract: a *template*
graph (crop → ``z``, run once) and a *search* graph (crop + ``z`` → ``cls``, ``loc``, run per frame, backbone
and head fused), each exported, checked and calibrated by ``edgecv export`` like edgecv's own trackers. The
runtime family that runs them is ``runtime/track/nanotrack.py``.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from edgecv.models.siamese import _Exportable
from edgecv.runtime.manifest import sha256_file

from .errors import ExportError

__all__ = ["NanoTrackImport", "nanotrack_sources"]

PARTS = ("backbone", "head")
TEMPLATE, SEARCH, STRIDE = 127, 255, 16


def nanotrack_sources(folder) -> dict[str, Path]:
    """The backbone and head ONNX files of a NanoTrack folder (the runtime's rule, ``runtime/track/foreign.py``:
    ``backbone.onnx``/``head.onnx``, else the one ``.onnx`` file whose name contains the part), as ExportErrors."""
    from edgecv.runtime.track import TrackError
    from edgecv.runtime.track.foreign import raw_pair

    folder = Path(folder)
    if not folder.is_dir():
        raise ExportError(f"NanoTrack folder {folder} does not exist (expected a folder with backbone.onnx "
                          "and head.onnx)")
    try:
        pair = raw_pair(folder)
    except TrackError as e:
        raise ExportError(str(e)) from None
    if pair is None:
        raise ExportError(f"NanoTrack folder {folder}: no backbone or head ONNX file (expected backbone.onnx and "
                          "head.onnx)")
    return pair


class NanoTrackImport(_Exportable, nn.Module):
    """The backbone/head pair of ``folder`` as template and search graphs (``name``: the artifacts' model
    name). The crop comes in as edgecv's trackers take it (RGB float in [0, 1]); the graphs scale it to the
    0..255 the NanoTrack backbone was trained on."""

    TEMPLATE_OUT, SEARCH_OUT = ["z"], ["cls", "loc"]
    INT8_FLOAT_CORRELATION = True   # ONNX int8: the head's MatMul correlation and its outputs stay float
    template_size, search_size = TEMPLATE, SEARCH

    def __init__(self, folder, name: str = "nanotrack"):
        from .onnx_import import OnnxModule

        super().__init__()
        self.sources = nanotrack_sources(folder)
        self.backbone = OnnxModule(self.sources["backbone"])
        self.head = OnnxModule(self.sources["head"])
        self.model_name = self.kind = name
        self._check_contract()

    def _check_contract(self):
        """The shapes OpenCV's TrackerNano relies on; a pair that breaks them is named here, not mid-export."""
        bb, hd = self.sources["backbone"], self.sources["head"]
        if len(self.backbone.input_names) != 1:
            raise ExportError(f"{bb}: a NanoTrack backbone takes one image input, this one takes "
                              f"{self.backbone.input_names}")
        if len(self.head.input_names) != 2 or len(self.head.output_names) != 2:
            raise ExportError(f"{hd}: a NanoTrack head takes (template, search) features and gives (cls, box); "
                              f"this one takes {self.head.input_names} and gives {self.head.output_names}")
        with torch.no_grad():
            try:
                z = self.backbone(torch.zeros(1, 3, TEMPLATE, TEMPLATE))
                x = self.backbone(torch.zeros(1, 3, SEARCH, SEARCH))
            except ExportError as e:
                raise ExportError(f"{bb}: does not run on a {TEMPLATE}² template and a {SEARCH}² search crop "
                                  f"({e})") from None
            want = dict(zip(self.head.input_names, (z, x)))
            shapes = self.head.input_shapes
            for n, t in want.items():
                s = shapes.get(n)
                if s and None not in s and tuple(s) != tuple(t.shape):
                    raise ExportError(f"{hd}: input {n!r} expects {tuple(s)}, the backbone {bb.name} gives "
                                      f"{tuple(t.shape)} (a backbone and head from different models?)")
            try:
                cls, loc = self.head(z, x)
            except ExportError as e:
                raise ExportError(f"{hd}: does not run on the backbone's features {tuple(z.shape)}, "
                                  f"{tuple(x.shape)} ({e})") from None
        n = cls.shape[-1]
        if tuple(cls.shape) != (1, 2, n, n) or tuple(loc.shape) != (1, 4, n, n):
            raise ExportError(f"{hd}: outputs {tuple(cls.shape)} and {tuple(loc.shape)}; a NanoTrack head gives "
                              "class logits 1×2×n×n and box distances 1×4×n×n")
        self.score_size = int(n)

    def source_parity(self, n_frames: int = 6) -> dict:
        """How closely this torch reading follows onnxruntime running the original files, on search crops of real
        held-out frames: max |error| / max |reference| per head output (the backbone's fixed 255² input lets
        onnxruntime run only the search path; the template features fed to both heads are this reading's)."""
        if getattr(self, "_source_parity", None) is None:
            import numpy as np
            import onnxruntime as ort

            from edgecv import data
            from edgecv.models.siamese import _crops_from_frames

            opts = ort.SessionOptions()
            opts.intra_op_num_threads = 1
            bb, hd = (ort.InferenceSession(str(self.sources[p]), opts, providers=["CPUExecutionProvider"])
                      for p in PARTS)
            worst = {"cls": 0.0, "loc": 0.0}
            with torch.no_grad():
                frames = data.check_frames(n_frames, photos=False)
                for z, x in _crops_from_frames(frames, x_size=SEARCH, z_size=TEMPLATE):
                    (zf,) = self.template(z)
                    got = self.search(x, zf)
                    xf = bb.run(None, {bb.get_inputs()[0].name: (x * 255.0).numpy()})[0]
                    ref = hd.run(None, dict(zip([i.name for i in hd.get_inputs()], (zf.numpy(), xf))))
                    for k, g, r in zip(worst, got, ref):
                        worst[k] = max(worst[k], float(np.abs(g.numpy() - r).max() / (np.abs(r).max() or 1.0)))
            self._source_parity = {"max_rel_err": worst, "reference": "onnxruntime on the original backbone + head",
                                   "inputs": f"search crops of {n_frames} held-out frames"}
        return self._source_parity

    def geometry_info(self) -> dict:
        return {"template_size": TEMPLATE, "search_size": SEARCH, "stride": STRIDE, "score_size": self.score_size,
                "score_centre": self.score_size // 2, "context": 0.5, "input": "RGB float [0,1] NCHW",
                "source": {part: {"file": p.name, "sha256": sha256_file(p)} for part, p in self.sources.items()},
                "origin": "NanoTrack-format backbone/head pair (not trained by edgecv), read by "
                          "edgecv.export.onnx_import", "source_parity": self.source_parity()}

    def template(self, image):
        return (self.backbone(image * 255.0),)

    def search(self, image, z):
        cls, loc = self.head(z, self.backbone(image * 255.0))
        return cls, loc

    def forward(self, z_img, x_img):
        return self.search(x_img, *self.template(z_img))
