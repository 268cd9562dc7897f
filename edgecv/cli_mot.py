"""`edgecv eval mot`: the multi-object tracking variants on a MOTChallenge-layout dataset (registered on the
`eval` group of `edgecv.cli`, which imports this module after defining the group)."""
from __future__ import annotations

from pathlib import Path

import click

from edgecv.cli_base import _check_outputs, _csv, _errors, main

# The `eval` group lives in edgecv.cli, which imports this module at its end; looking the group up on `main`
# (instead of importing edgecv.cli) keeps the CLI free of import cycles.
eval_group = main.commands.get("eval")
if eval_group is None:  # imported on its own: import edgecv.cli, which defines the group and then imports us
    raise ImportError("edgecv.cli_mot registers on the `eval` group: import edgecv.cli instead")


@eval_group.command("mot")
@click.option("--dataset", required=True, type=click.Path(),
              help="MOTChallenge-layout folder: SEQ/det/det.txt, SEQ/gt/gt.txt, optional SEQ/seqinfo.ini.")
@click.option("--variants", default="sort,appearance,bytetrack", show_default=True,
              help="Comma-separated tracker variants (runtime/mot/params.py).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="out/eval-mot", show_default=True,
              help="Folder for results.json, results.md and VARIANT/SEQ.txt tracker outputs.")
@_errors
def eval_mot_cmd(dataset, variants, out_dir):
    """Multi-object tracking from the dataset's detections: MOTA, IDF1, ID switches, FP, FN, MOTP per sequence
    and overall (py-motmetrics), and the detection AP@0.5 of det.txt."""
    from edgecv.runtime.mot import MotError, get_params

    names = _csv(variants)
    if not names:
        raise MotError("--variants: give at least one variant")
    for n in names:                   # an unknown variant fails before anything is read or written
        get_params(n)
    _check_outputs({"--out": out_dir}, [dataset], into=["--out"])
    from edgecv.eval.mot import evaluate

    res = evaluate(dataset, names, out_dir=out_dir)
    click.echo(res["markdown"], nl=False)
    for name, v in res["variants"].items():
        o = v["overall"]
        mota = "–" if o["mota"] is None else f"{100 * o['mota']:.1f}%"
        idf1 = "–" if o["idf1"] is None else f"{100 * o['idf1']:.1f}%"
        click.echo(f"{name}: MOTA {mota}  IDF1 {idf1}  ID switches {o['id_switches']}")
    click.echo(f"results → {Path(out_dir) / 'results.json'}")
