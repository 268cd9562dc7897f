"""Readable tables of manifests and profiles (rich)."""
from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from .errors import ArtifactError
from .manifest import manifest_path, read_manifest, verify_artifact


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


def print_manifest(artifact, console: Console | None = None) -> dict:
    """Show ``artifact``'s manifest, after checking it (types, binding) and the graph's size and sha256
    against it: what is shown is what will run."""
    console = console or Console()
    m = read_manifest(artifact)
    if m is None:
        raise ArtifactError(f"{artifact} has no manifest ({artifact}.json); it was not made by edgecv export")
    if not Path(artifact).is_file():
        raise ArtifactError(f"artifact {artifact} does not exist (its manifest {manifest_path(artifact)} does)")
    verify_artifact(artifact, m)
    t = Table(title=f"{m['file']}", show_header=False)
    t.add_column("field", style="bold")
    t.add_column("value")
    for k in ("model", "description", "format", "precision", "ops_mode", "opset", "bytes", "sha256", "created"):
        t.add_row(k, _fmt(m.get(k)))
    for io in ("inputs", "outputs"):
        for x in m.get(io, []):
            q = x.get("quantization")
            qs = f" q(scale={q['scale']:.4g}, zp={q['zero_point']})" if q else ""
            t.add_row(io[:-1], f"{x['name']} {x['dtype']} {x['shape']}{qs}")
    ops = m.get("op_counts", {})
    t.add_row("ops", ", ".join(f"{k}×{v}" for k, v in ops.items()))
    t.add_row("custom ops", ", ".join(m.get("custom_ops") or []) or "none")
    p = m.get("parity") or {}
    if p:
        status = "PASSED" if p.get("passed") else ("FAILED (kept)" if p.get("kept_despite_failure") else "FAILED")
        line = f"{status}: max rel err {_fmt(p.get('max_rel_err'))}, max abs err {_fmt(p.get('max_abs_err'))}"
        if "metric" in p:
            line += f", {p['metric']} {_fmt(p['value'])} (≥ {p.get('threshold')})"
        elif "tolerance" in p:
            line += f" (tolerance {p['tolerance']:.0e})"
        t.add_row("parity", line)
        t.add_row("parity inputs", f"{p.get('inputs')} on {p.get('backend')}")
    if m.get("calibration"):
        t.add_row("calibration", m["calibration"]["source"])
    t.add_row("tools", ", ".join(f"{k} {v}" for k, v in (m.get("tools") or {}).items()))
    t.add_row("verified", "graph sha256 and manifest_sha256 match (not modified since export)")
    console.print(t)
    return m


def provenance_summary(prov: dict | None) -> str:
    """One line saying where a figure came from (measured / predicted / published)."""
    prov = prov or {}
    kind = prov.get("kind", "?")
    if kind == "measured":
        return f"measured on {prov.get('host')} {str(prov.get('date') or '')[:10]}".strip()
    if kind == "predicted":
        cal = prov.get("calibrated_on") or []
        return f"predicted ({prov.get('predictor')})" + (f", calibrated on {', '.join(map(str, cal))}" if cal else "")
    if kind == "published":
        return f"published: {prov.get('source')}"
    return str(kind)


def print_profile(profile: dict, console: Console | None = None) -> None:
    console = console or Console()
    d = profile.get("device", {})
    what = d.get("soc") or d.get("cpu") or d.get("model") or d.get("kind")
    cores = f" ({d.get('cores')} cores)" if d.get("cores") else ""
    t = Table(title=f"{d.get('name')} — {what}{cores}", caption="latency in ms (median, p90)")
    for c in ("artifact", "backend", "unit", "thr", "prec", "ms", "p90", "provenance"):
        t.add_column(c, justify="right" if c in ("ms", "p90", "thr") else "left", no_wrap=True,
                     min_width=len(c) if c in ("ms", "p90", "thr") else None)
    notes: list[str] = []  # one footnote per distinct provenance (source, host/date, predictor)
    for e in profile.get("entries", []):
        lat = e.get("latency_ms", {})
        med, p90 = lat.get("median"), lat.get("p90")
        prov = e.get("provenance") or {}
        line = provenance_summary(prov)
        if line not in notes:
            notes.append(line)
        t.add_row(e.get("artifact"), e.get("backend"), e.get("compute_unit") or "", _fmt(e.get("threads") or "-"),
                  e.get("precision"), f"{med:.3f}" if med is not None else "-",
                  f"{p90:.3f}" if p90 is not None else "-", f"{prov.get('kind', '?')} [{notes.index(line) + 1}]")
    console.print(t)
    for i, line in enumerate(notes, 1):
        console.print(f"[{i}] {line}", highlight=False, markup=False)
