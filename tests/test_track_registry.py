"""The tracker registry (runtime/track/registry.py): one definition per variant, read by the factory, the CLI,
the planner and the eval."""
from __future__ import annotations

import dataclasses
import inspect

import pytest

from edgecv.runtime.track import TrackError, make_tracker
from edgecv.runtime.track.registry import RETIRED, VARIANTS, default_params, get_variant, tracker_names

ALL = ("boxtrack", "boxtrack-fast", "boxtrack-fc", "siamfc-lite0", "sasiam-lite0", "siambm-lite0", "siamfc",
       "spm-lite0", "mosse", "klt", "mil")


def test_registry_names_every_variant_with_its_artifacts():
    assert tracker_names() == ALL
    assert tracker_names(siamese=False) == ("mosse", "klt", "mil")
    assert tracker_names(foreign=True) == ("nanotrack",) and tracker_names(foreign=None) == ALL + ("nanotrack",)
    assert get_variant("nanotrack").model == "nanotrack" and get_variant("nanotrack").siamese
    models = {n: get_variant(n).model for n in ALL}
    assert models == {"boxtrack": "boxtrack", "boxtrack-fast": "boxtrack-fast", "boxtrack-fc": "boxtrack-fc",
                      "siamfc-lite0": "siamfc-lite0",
                      "sasiam-lite0": "sasiam-lite0", "siambm-lite0": "siamfc-lite0", "siamfc": "siamfc",
                      "spm-lite0": "boxtrack-fc", "mosse": None, "klt": None, "mil": None}
    with pytest.raises(TrackError, match="unknown tracker 'bogus'; choose from boxtrack, boxtrack-fast, boxtrack-fc, "):
        get_variant("bogus")


@pytest.mark.parametrize("name", sorted(RETIRED))
def test_a_retired_tracker_names_its_replacement(name):
    """sasiam, siambm, spm and spm-lite were retired (below KLT on the dev set), spm-nano too (tied with it): asking
    for one, through the registry or the factory, is a clear error that names the variant to use instead, which
    exists."""
    new = RETIRED[name][0]
    assert new in VARIANTS
    for call in (lambda: get_variant(name), lambda: make_tracker(name), lambda: default_params(name)):
        with pytest.raises(TrackError, match=rf"tracker '{name}' was retired .*use '{new}'"):
            call()
    assert name not in tracker_names(foreign=None)


def test_the_cli_names_a_retired_trackers_replacement(tmp_path):
    """`edgecv track --tracker spm` and `edgecv eval track --trackers sasiam` fail before reading anything, with
    the registry's message."""
    from click.testing import CliRunner

    from edgecv.cli import main

    r = CliRunner().invoke(main, ["track", str(tmp_path / "none.avi"), "--init", "1,1,20,20", "--tracker", "spm"])
    assert r.exit_code == 2 and "'spm' was retired" in r.output and "'spm-lite0'" in r.output, r.output
    r = CliRunner().invoke(main, ["eval", "track", "--dataset", str(tmp_path), "--trackers", "klt,sasiam",
                                  "--out", str(tmp_path / "out")])
    assert r.exit_code != 0 and "'sasiam' was retired" in r.output and "'sasiam-lite0'" in r.output, r.output


@pytest.mark.parametrize("name", ALL + ("nanotrack",))
def test_each_variant_defines_every_value_once(name):
    """The parameter classes hold no default values (the variant's module is the one place a value lives);
    each value in ``parameters()`` sits on its own commented line; every call gives a fresh object."""
    v = VARIANTS[name]
    p = v.params()
    assert dataclasses.is_dataclass(p)
    for f in dataclasses.fields(p):
        assert f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING, (name, f.name)
    src = inspect.getsource(v.parameters)
    body = src[src.index("(\n", src.index("return")):]
    for line in body.splitlines()[1:-1]:
        assert "=" in line and "#" in line, (name, line)
    assert v.params() is not p and v.params() == p
    assert default_params(name, **{dataclasses.fields(p)[0].name: "changed"}) != p
    assert v.tracker_class().__name__ == v.tracker


def test_trackers_default_to_their_variant_and_overrides_apply():
    assert make_tracker("mosse").params == default_params("mosse")
    assert make_tracker("klt", params=default_params("klt", min_points=9)).params.min_points == 9
    assert (default_params("spm-lite0").fine_k, default_params("boxtrack-fc").fine_k) == (5, 0)
    assert [get_variant(n).search_passes() for n in ALL][3:7] == [3, 3, 5, 3]
    assert get_variant("spm-lite0").search_passes() == get_variant("boxtrack-fc").search_passes()
    assert [get_variant(n).search_passes() for n in ALL][8:] == [0, 0, 0]
    bt = get_variant("boxtrack")  # one pass, plus a quarter pass (the template graph) per update when adapting
    assert bt.search_passes(bt.params(template_lr=0.0)) == 1.0
    assert bt.search_passes(bt.params(template_lr=0.2, update_every=5)) == 1.05


def test_cli_reads_the_registry():
    from click.testing import CliRunner

    from edgecv.cli import main

    track = main.commands["track"]
    opt = next(p for p in track.params if p.name == "tracker")
    assert tuple(opt.type.choices) == tracker_names(foreign=None)  # nanotrack too (with --model)
    ev = main.commands["eval"].commands["track"]
    trackers = next(p for p in ev.params if p.name == "trackers")
    assert trackers.default() == ",".join(tracker_names())
    res = CliRunner().invoke(main, ["track", "x.mp4", "--init", "1,2,30,30", "--tracker", "bogus"])
    assert res.exit_code == 2 and "'bogus' is not one of 'boxtrack', 'boxtrack-fast', 'boxtrack-fc'" in res.output
