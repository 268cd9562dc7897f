"""`edgecv` commands of the device-profile side (registered on `edgecv.cli.main` by import).

``edgecv devices`` lists the shipped device profiles; ``edgecv report`` writes the HTML report.
(``edgecv profile --import`` lives with ``profile`` in edgecv/cli.py.)
"""
from __future__ import annotations

import click

from edgecv.cli_base import _check_outputs, _errors, main


def _csv(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


@main.command("devices")
@click.option("--verbose", "-v", is_flag=True, help="Also print every device's entries.")
@_errors
def devices_cmd(verbose):
    """List the known devices: kind, hardware, compute units and entries by provenance."""
    from rich.console import Console
    from rich.table import Table

    from edgecv.devices import PROVENANCE_KINDS, known_devices, load_profile, provenance_counts
    from edgecv.runtime.report import print_profile

    console = Console()
    profiles = [load_profile(n) for n in known_devices()]
    rows = []
    for p in profiles:
        d, n = p["device"], provenance_counts(p)
        hw = d.get("soc") or (d.get("gpu") or {}).get("name") or d.get("cpu") or ""
        rows.append((d["name"], d["kind"], hw, ",".join(d.get("compute_units") or []),
                     *(str(n.get(k, 0)) for k in PROVENANCE_KINDS)))
    t = Table(title="device profiles (devices/NAME.yaml)", caption="entries by provenance: measured, "
              "predicted, published")
    for c in ("device", "kind", "hardware", "compute units", "meas", "pred", "pub"):
        t.add_column(c, justify="right" if c in ("meas", "pred", "pub") else "left",
                     no_wrap=c in ("device", "kind"))
    for r in rows:
        t.add_row(*r)
    console.print(t)
    if verbose:
        for p in profiles:
            print_profile(p, console)


@main.command("report")
@click.option("--out", type=click.Path(dir_okay=False), default="report.html", show_default=True,
              help="HTML file to write; its PNG plots go beside it (OUT-STEM-*.png).")
@click.option("--devices", default=None, help="Comma-separated device names or profile paths (default: all known).")
@click.option("--plans", "plans_dir", type=click.Path(), default=None,
              help="Folder of plan JSON files to show as a table.")
@click.option("--predictor-validation", "validation", type=click.Path(), default=None,
              help="JSON list of {name, group, config, measured_ms, predicted_ms}: predicted-vs-measured plot.")
@_errors
def report_cmd(out, devices, plans_dir, validation):
    """Latency per artifact per device with provenance (measured / predicted / published), as HTML + PNGs."""
    _check_outputs({"--out": out}, [plans_dir, validation, *_csv(devices)])
    from edgecv.devices.report import build_report

    res = build_report(out, _csv(devices) or None, plans_dir, validation)
    for w in res["warnings"]:
        click.echo(f"warning: {w}", err=True)
    click.echo(f"wrote {res['html']} and {len(res['pngs'])} plots: {', '.join(p.name for p in res['pngs'])}")
