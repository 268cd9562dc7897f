import numpy as np
import onnx
import pytest
import torch

from edgecv import runtime
from edgecv.export import onnx_backend
from edgecv.ops import ops_mode, xcorr, xcorr_depthwise


def _loop_xcorr(s, t, depthwise):
    n, c, hs, ws = s.shape
    _, _, ht, wt = t.shape
    out = torch.zeros(n, c if depthwise else 1, hs - ht + 1, ws - wt + 1, dtype=s.dtype)
    for b in range(n):
        for i in range(hs - ht + 1):
            for j in range(ws - wt + 1):
                prod = (s[b, :, i:i + ht, j:j + wt] * t[b]).sum((1, 2))
                out[b, :, i, j] = prod if depthwise else prod.sum()
    return out


@pytest.mark.parametrize("mode", ["eager", "portable"])
@pytest.mark.parametrize("depthwise", [False, True])
def test_xcorr_matches_loop_reference(mode, depthwise):
    gen = torch.Generator().manual_seed(0)
    s = torch.randn(2, 3, 9, 8, generator=gen, dtype=torch.float64)
    t = torch.randn(2, 3, 4, 3, generator=gen, dtype=torch.float64)
    fn = xcorr_depthwise if depthwise else xcorr
    with ops_mode(mode):
        got = fn(s, t)
    torch.testing.assert_close(got, _loop_xcorr(s, t, depthwise))


def test_xcorr_rejects_mismatch():
    with pytest.raises(ValueError, match="does not fit search"):
        xcorr(torch.zeros(1, 4, 8, 8), torch.zeros(1, 3, 4, 4))
    with pytest.raises(ValueError, match="does not fit search"):
        xcorr(torch.zeros(1, 4, 3, 3), torch.zeros(1, 4, 4, 4))


class _Head(torch.nn.Module):
    def forward(self, search, template):
        return xcorr(search, template)


def test_portable_xcorr_takes_no_conv_weights_from_inputs(tmp_path):
    """TensorRT refuses Conv weights that are graph inputs: the portable graph has no Conv at all."""
    s, t = torch.randn(1, 16, 22, 22), torch.randn(1, 16, 6, 6)
    ref = xcorr(s, t).numpy()
    for mode in ("standard", "portable"):
        p = tmp_path / f"xcorr-{mode}.onnx"
        onnx_backend.torch_to_onnx(_Head().eval(), (s, t), ["search", "template"], ["score"], mode, p)
        ops = {n.op_type for n in onnx.load(str(p)).graph.node}
        assert ("Conv" in ops) == (mode == "standard")
        sess = runtime.load(p)
        out = sess.run({"search": s.numpy(), "template": t.numpy()})["score"]
        assert np.abs(out - ref).max() <= 1e-4 * np.abs(ref).max()
