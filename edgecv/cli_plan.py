"""`edgecv plan` and `edgecv plan-check`: settings that meet a frame-rate budget on a device, and the check of a
plan on this machine (registered on `edgecv.cli.main` by import)."""
from __future__ import annotations

from pathlib import Path

import click

from edgecv.cli_base import THREADS, THREADS_HELP, _check_outputs, _csv, _csv_ints, _errors, main


def _predictor_for(device: str, art_dir: str):
    """A callable for the planner that predicts a missing artifact's latency, when the predictor and the
    artifact file are both there (None otherwise)."""
    try:
        from edgecv.runtime.predict import predict_for_profile
    except ImportError:
        return None
    return predict_for_profile(device, art_dir)


def print_plan(plan: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console()
    s = plan["settings"]
    t = Table(title=f"plan: {plan['pipeline']} on {plan['device']} at {plan['fps_target']:g} fps", show_header=False)
    t.add_column("field", style="bold")
    t.add_column("value")
    t.add_row("settings", ", ".join(f"{k}={v}" for k, v in s.items() if v not in (None, {}, "")))
    t.add_row("predicted", f"{plan['predicted_fps']:.1f} fps ({plan['predicted_mean_ms']:.2f} ms per frame), "
                           f"worst frame {plan['worst_frame_ms']:.1f} ms")
    acc = plan["expected_accuracy"]
    t.add_row("expected", f"{acc['metric']} {acc['value']:.3f}" + (f" ({acc['note']})" if acc.get("note") else ""))
    t.add_row("latency figures", ", ".join(plan["latency_provenance"]))
    for w in plan["why"]:
        t.add_row("why", w)
    con.print(t)
    alt = Table(title="alternatives (best accuracy first)")
    for c in ("settings", "fps", "worst ms", "accuracy", "meets"):
        alt.add_column(c)
    for a in plan["alternatives"]:
        alt.add_row(", ".join(f"{k}={v}" for k, v in a["settings"].items() if v not in (None, {}, "")),
                    f"{a['fps']:.1f}", f"{a['worst_frame_ms']:.1f}", f"{a['accuracy']:.3f}",
                    "yes" if a["meets_budget"] else "no")
    con.print(alt)


class PipelineChoice(click.Choice):
    """``--pipeline``'s choices: the planner's pipelines (``runtime/plan/pipelines.py: CANDIDATES``), read when
    click first needs them, so starting the CLI does not import the runtime."""

    def __init__(self):
        super().__init__(())

    @property
    def choices(self):
        from edgecv.runtime.plan.pipelines import CANDIDATES

        return tuple(CANDIDATES)

    @choices.setter
    def choices(self, value):  # click's __init__ sets it; CANDIDATES is the only source
        pass


@main.command("plan")
@click.option("--device", required=True, help="A device profile name (see `edgecv devices`) or a YAML path.")
@click.option("--pipeline", required=True, type=PipelineChoice())
@click.option("--fps", type=float, required=True, help="The frame rate to hold.")
@click.option("--latency-ms", type=float, default=None, help="Also keep every frame (key frames too) under this.")
@click.option("--margin", type=float, default=0.0, show_default=True,
              help="Keep this share of the frame budget free (0.1: plan for 10%% headroom).")
@click.option("--backends", default=None, help="Comma list to choose from (default: every backend in the profile).")
@click.option("--threads", default=None, help="Comma list of thread counts to choose from.")
@click.option("--artifacts", "art_dir", type=click.Path(file_okay=False), default="artifacts", show_default=True,
              help="Where artifacts missing from the profile are looked for, to predict their latency.")
@click.option("--trackers", default=None,
              help="track: comma list to choose from (default: edgecv's Siamese trackers); nanotrack (a model you "
                   "brought) needs --accuracy and its converted artifacts in --artifacts.")
@click.option("--variants", default=None,
              help="mot: comma list of association variants to choose from (default: sort, appearance, bytetrack).")
@click.option("--accuracy", "accuracy_file", type=click.Path(dir_okay=False), default=None,
              help="track: an `edgecv eval track` results.json whose AUCs replace the shipped ones for the same "
                   "settings (your model, your dev set).")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Plan file (JSON) to write.")
@_errors
def plan_cmd(device, pipeline, fps, latency_ms, margin, backends, threads, art_dir, trackers, variants,
             accuracy_file, out):
    """Choose precision, backend, threads, input size, (for propagation) the key-frame interval and (for mot) the
    association variant that meet FPS on DEVICE with the best expected accuracy; print why, and write the plan
    the loops take (--plan)."""
    _check_outputs({"--out": out}, [device])  # before the planning: an unwritable --out fails at once
    from edgecv.runtime.plan import make_plan, write_plan
    from edgecv.runtime.plan.core import MAX_PLAN_THREADS

    options = {}
    if backends:
        options["backends"] = _csv(backends)
    if threads:
        options["threads"] = _csv_ints(threads)
        if not options["threads"] or not all(1 <= t <= MAX_PLAN_THREADS for t in options["threads"]):
            raise click.BadParameter(f"{threads!r}: thread counts must be between 1 and {MAX_PLAN_THREADS}",
                                     param_hint="--threads")
    if variants:
        if pipeline != "mot":
            raise click.UsageError("--variants goes with --pipeline mot")
        from edgecv.runtime.mot import MotError, get_params

        try:
            options["variants"] = [get_params(v).name for v in _csv(variants)]   # aliases to their names
        except MotError as e:
            raise click.BadParameter(str(e), param_hint="--variants") from None
        if not options["variants"]:
            raise click.BadParameter("give at least one variant", param_hint="--variants")
    accuracy = None
    if trackers or accuracy_file:
        if pipeline != "track":
            raise click.UsageError("--trackers and --accuracy go with --pipeline track")
        from edgecv.runtime.track.registry import tracker_names

        if trackers:
            known = tracker_names(siamese=True, foreign=None)
            options["trackers"] = _csv(trackers)
            if bad := [t for t in options["trackers"] if t not in known]:
                raise click.BadParameter(f"{', '.join(bad)}: not a Siamese tracker; choose from {', '.join(known)}",
                                         param_hint="--trackers")
        if accuracy_file:
            from edgecv.runtime.plan.core import accuracy_table, with_eval_accuracy

            accuracy = with_eval_accuracy(accuracy_table(), accuracy_file)
    plan = make_plan(device, pipeline, fps, latency_ms, margin, predictor=_predictor_for(device, art_dir),
                     accuracy=accuracy, options=options)
    print_plan(plan)
    if out:
        write_plan(plan, out)
        click.echo(f"plan → {out}")


@main.command("plan-check")
@click.argument("plans", nargs=-1, required=True, type=click.Path())
@click.option("--video", type=click.Path(), default=None, help="Real video to run on (default: held-out vtest.avi).")
@click.option("--frames", type=click.IntRange(10, 100000), default=150, show_default=True)
@click.option("--artifacts", "art_dir", type=click.Path(file_okay=False), default="artifacts", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="JSON with predicted vs achieved fps.")
@_errors
def plan_check_cmd(plans, video, frames, art_dir, out):
    """Run each plan's loop on real frames here and compare the achieved fps with the plan's prediction."""
    _check_outputs({"--out": out}, [*plans, video])
    from edgecv.eval.plan_check import check_plans
    from edgecv.runtime.outputs import write_json_atomic
    from edgecv.runtime.plan import load_plan

    for p in plans:  # every plan valid (and its model inside --artifacts) before any runs
        if "model" in load_plan(p)["settings"]:
            from edgecv.runtime.plan.core import confined_model

            confined_model(load_plan(p)["settings"]["model"], art_dir, p)
    rows = check_plans([Path(p) for p in plans], video, frames, art_dir, echo=click.echo)
    if out:
        write_json_atomic(out, rows)
        click.echo(f"results → {out}")


@main.command("profile-loops")
@click.option("--device", "device", required=True, help="Device profile (name or YAML path) to write the figures into.")
@click.option("--pipelines", default="propagate,track,colorize,mot", show_default=True)
@click.option("--video", type=click.Path(), default=None, help="Real video (default: vtest.avi from the samples).")
@click.option("--artifacts", "art_dir", type=click.Path(file_okay=False), default="artifacts", show_default=True)
@click.option("--backend", default="ort", show_default=True)
@click.option("--threads", type=THREADS, default=1, show_default=True, help=f"Inference threads, {THREADS_HELP}.")
@click.option("--frames", type=click.IntRange(1, 100000), default=60, show_default=True)
@_errors
def profile_loops_cmd(device, pipelines, video, art_dir, backend, threads, frames):
    """Measure each loop's own per-frame work (outside its graphs) on real frames here, into the profile's
    `loops` block, which `edgecv plan` adds to the graphs' latencies."""
    from edgecv import data
    from edgecv.devices import load_profile
    from edgecv.devices.schema import profile_path, write_yaml_atomic
    from edgecv.runtime.plan.loops import loop_hooks, measure_loop_overhead

    prof = load_profile(device)
    path = Path(device) if Path(device).suffix in (".yaml", ".yml") else profile_path(device)
    _check_outputs({"--device": path}, [video])  # the profile is updated in place: writable before the runs
    video = video or str(data.ensure_samples(verbose=False) / "vtest.avi")
    loops = prof.setdefault("loops", {})
    chosen = {pipe: loop_hooks(pipe) for pipe in _csv(pipelines)}   # an unknown name fails before any run
    for pipe, hooks in chosen.items():
        if hooks.calibrate is not None:   # per backend × threads, beyond the graphs profiled alone
            recs = hooks.calibrate(prof, video, art_dir, frames)
            loops.setdefault(pipe, {}).update(recs)
            for k, r in recs.items():
                if r.get("key_frame_ms") is not None:
                    click.echo(f"{pipe} {k}: +{r['key_frame_ms']:.2f} ms per key frame, "
                               f"+{r['propagated_frame_ms']:.2f} ms per propagated frame beyond the profiled graphs")
                else:
                    parts = ", ".join(f"{n} {v:.2f}" for n, v in (r.get("parts_ms") or {}).items())
                    click.echo(f"{pipe} {k}: +{r['overhead_ms']:.2f} ms per frame beyond the profiled graph"
                               + (f" ({parts})" if parts else ""))
        for key in hooks.overhead_keys:
            rec = measure_loop_overhead(pipe, video, art_dir, backend, threads, frames, start=560, size=key)
            loops.setdefault(pipe, {})[key] = rec
            click.echo(f"{pipe} {key}: {rec['overhead_ms']:.2f} ms per {hooks.unit} outside the graphs ({rec['what']})")
    write_yaml_atomic(prof, path)
    click.echo(f"loops → {path}")
