"""``edgecv report``: one self-contained HTML page over the device profiles, with PNG plots beside it.

Sections: latency per artifact per device (bars coloured and hatched by provenance), the provenance of
every entry, and, when given, predictor validation (predicted vs measured, ±10% lines) and plans.
matplotlib is imported only here (``pip install matplotlib``); everything is written temp file + rename.
The HTML is ``templates/report.html`` (package data): ``string.Template`` fragments, every value put in
HTML-escaped unless it is a fragment already built (``_Html``).
"""
from __future__ import annotations

import functools
import html
import io
import json
import os
import re
from importlib import resources
from pathlib import Path
from string import Template

from .schema import PROVENANCE_KINDS, SCHEMA, ProfileError, known_devices, load_profile, provenance_counts

STYLE = {  # provenance → (colour, hatch)
    "measured": ("#1b9e77", ""),
    "published": ("#d95f02", "xx"),
    "predicted": ("#7570b3", "//"),
}
PLAN_KEYS = ("device", "pipeline", "fps_target", "predicted_fps", "settings", "why")


def _atomic_bytes(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path


def _figure(w: float, h: float):
    try:
        from matplotlib.figure import Figure
    except ModuleNotFoundError:
        raise ProfileError("edgecv report draws its plots with matplotlib, which is not installed: "
                           "pip install matplotlib") from None
    return Figure(figsize=(w, h), dpi=110)


def _save(fig, path: Path) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return _atomic_bytes(path, buf.getvalue())


def _esc(v) -> str:
    return html.escape("" if v is None else str(v))


def _kind(e: dict) -> str:
    return (e.get("provenance") or {}).get("kind", "?")


def _label(e: dict) -> str:
    thr = f" ×{e['threads']}" if e.get("threads") else ""
    return f"{e['artifact']} · {e['backend']}/{e.get('compute_unit')} · {e['precision']}{thr}"


def _legend(ax, outside: bool = False):
    from matplotlib.patches import Patch

    handles = [Patch(facecolor=c, hatch=h, edgecolor="white", label=k) for k, (c, h) in STYLE.items()]
    if outside:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    else:
        ax.legend(handles=handles, loc="lower right", fontsize=8, framealpha=0.9)


def _log_scale_wanted(values) -> bool:
    values = [v for v in values if v and v > 0]
    return bool(values) and max(values) / min(values) > 30


# ---------------------------------------------------------------------------------------------- plots
def plot_device(profile: dict, path: Path) -> Path | None:
    entries = profile.get("entries", [])
    if not entries:
        return None
    entries = sorted(entries, key=lambda e: (e["artifact"], e["backend"], str(e.get("compute_unit")),
                                             e["precision"], e.get("threads") or 0))
    fig = _figure(8.5, 0.8 + 0.28 * len(entries))
    ax = fig.add_subplot(1, 1, 1)
    ys = list(range(len(entries)))[::-1]
    vals = [e["latency_ms"]["median"] for e in entries]
    for y, e, v in zip(ys, entries, vals):
        colour, hatch = STYLE.get(_kind(e), ("#888", ""))
        ax.barh(y, v, color=colour, hatch=hatch, edgecolor="white", linewidth=0.5)
        p90 = e["latency_ms"].get("p90")
        if p90:
            ax.plot([v, p90], [y, y], color="black", linewidth=1)
        ax.text(max(v, p90 or 0), y, f" {v:.3g}", va="center", fontsize=7)
    ax.set_yticks(ys)
    ax.set_yticklabels([_label(e) for e in entries], fontsize=7)
    if _log_scale_wanted(vals):
        ax.set_xscale("log")
    ax.set_xlabel("latency, ms (median; line to p90 where known)")
    d = profile["device"]
    ax.set_title(f"{d['name']} ({d['kind']})", fontsize=10)
    ax.margins(x=0.12)
    _legend(ax)
    return _save(fig, path)


def _best(profile: dict) -> dict[str, dict]:
    """artifact → its fastest entry on this device."""
    out: dict[str, dict] = {}
    for e in profile.get("entries", []):
        a = e["artifact"]
        if a not in out or e["latency_ms"]["median"] < out[a]["latency_ms"]["median"]:
            out[a] = e
    return out


def plot_overview(profiles: list[dict], path: Path) -> Path | None:
    """Fastest configuration of every artifact on each device, for artifacts on two or more devices."""
    best = {p["device"]["name"]: _best(p) for p in profiles}
    shared = sorted({a for b in best.values() for a in b if sum(a in bb for bb in best.values()) >= 2})
    if not shared:
        return None
    from matplotlib.transforms import blended_transform_factory

    names = [n for n in best if any(a in best[n] for a in shared)]
    fig = _figure(max(6.0, 1.2 * len(shared) * max(1, len(names)) / 2), 4.2)
    ax = fig.add_subplot(1, 1, 1)
    width = 0.8 / len(names)
    vals = []
    for j, n in enumerate(names):
        for i, a in enumerate(shared):
            e = best[n].get(a)
            if e is None:
                continue
            colour, hatch = STYLE.get(_kind(e), ("#888", ""))
            v = e["latency_ms"]["median"]
            vals.append(v)
            x = i - 0.4 + width * (j + 0.5)
            ax.bar(x, v, width * 0.95, color=colour, hatch=hatch, edgecolor="white", linewidth=0.5)
            ax.text(x, 0.01, n, transform=blended_transform_factory(ax.transData, ax.transAxes), rotation=90,
                    ha="center", va="bottom", fontsize=6, color="black",
                    bbox={"facecolor": "white", "alpha": 0.7, "pad": 1, "linewidth": 0})
            ax.text(x, v, f"{v:.3g}", ha="center", va="bottom", fontsize=6)
    ax.set_xticks(range(len(shared)))
    ax.set_xticklabels(shared, rotation=20, ha="right", fontsize=7)
    if _log_scale_wanted(vals):
        ax.set_yscale("log")
    ax.set_ylabel("fastest configuration, ms (median)")
    ax.set_title("latency per artifact per device", fontsize=10)
    ax.margins(y=0.15)
    _legend(ax, outside=True)
    return _save(fig, path)


def read_validation(path) -> tuple[list[dict], list[str]]:
    """Predictor-validation records ({name, group, config, measured_ms, predicted_ms}); (records, warnings)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ProfileError(f"{path}: no such predictor-validation file") from None
    except json.JSONDecodeError as e:
        raise ProfileError(f"{path}: not valid JSON ({e})") from None
    if isinstance(data, dict):
        data = data.get("records", data.get("results", data.get("rows")))   # rows: bench/bench_predictor.py
    if not isinstance(data, list):
        raise ProfileError(f"{path}: expected a list of records {{name, group, config, measured_ms, "
                           "predicted_ms}} (or {\"records\": [...]})")
    recs, warn = [], []
    for i, r in enumerate(data):
        ok = isinstance(r, dict) and all(isinstance(r.get(k), (int, float)) and not isinstance(r.get(k), bool)
                                         and r[k] > 0 for k in ("measured_ms", "predicted_ms"))
        if not ok:
            warn.append(f"{path}: [{i}]: skipped, needs positive numbers measured_ms and predicted_ms")
            continue
        recs.append(r)
    return recs, warn


def _err_pct(r: dict) -> float:
    return 100.0 * (r["predicted_ms"] - r["measured_ms"]) / r["measured_ms"]


def plot_validation(recs: list[dict], path: Path) -> Path | None:
    if not recs:
        return None
    fig = _figure(5.5, 5.0)
    ax = fig.add_subplot(1, 1, 1)
    groups = sorted({str(r.get("group", "")) for r in recs})
    colours = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666"]
    for k, g in enumerate(groups):
        rs = [r for r in recs if str(r.get("group", "")) == g]
        ax.scatter([r["measured_ms"] for r in rs], [r["predicted_ms"] for r in rs], s=18,
                   color=colours[k % len(colours)], label=g or "(no group)", zorder=3)
    lo = min(min(r["measured_ms"], r["predicted_ms"]) for r in recs) / 1.5
    hi = max(max(r["measured_ms"], r["predicted_ms"]) for r in recs) * 1.5
    xs = [lo, hi]
    ax.plot(xs, xs, color="black", linewidth=1, label="predicted = measured")
    ax.plot(xs, [x * 1.1 for x in xs], color="grey", linestyle="--", linewidth=0.8, label="±10%")
    ax.plot(xs, [x * 0.9 for x in xs], color="grey", linestyle="--", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    from matplotlib.ticker import FuncFormatter, LogLocator

    for axis in (ax.xaxis, ax.yaxis):  # plain numbers at 1, 2, 5 × 10^k
        axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        axis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
    ax.set_xlabel("measured, ms")
    ax.set_ylabel("predicted, ms")
    within = sum(abs(_err_pct(r)) <= 10 for r in recs)
    mape = sum(abs(_err_pct(r)) for r in recs) / len(recs)
    ax.set_title(f"predictor error: MAPE {mape:.1f}%, {within}/{len(recs)} within ±10%", fontsize=10)
    ax.legend(fontsize=7, loc="upper left")
    return _save(fig, path)


def read_plans(folder) -> tuple[list[tuple[str, dict]], list[str]]:
    folder = Path(folder)
    if not folder.is_dir():
        raise ProfileError(f"{folder}: no such plans folder")
    plans, warn = [], []
    for f in sorted(folder.glob("*.json")):
        try:
            data = json.loads(f.read_text())
        except (OSError, json.JSONDecodeError) as e:
            warn.append(f"{f}: skipped, not valid JSON ({e})")
            continue
        items = data if isinstance(data, list) else [data]
        for i, p in enumerate(items):
            if not isinstance(p, dict):
                warn.append(f"{f}: [{i}]: skipped, a plan is a mapping")
                continue
            missing = [k for k in PLAN_KEYS if k not in p]
            if missing:
                warn.append(f"{f}: missing {', '.join(missing)}")
            plans.append((f.name, p))
    if not plans and not warn:
        warn.append(f"{folder}: no *.json plans")
    return plans, warn


# ---------------------------------------------------------------------------------------------- HTML
class _Html(str):
    """A fragment already built from the template: put into another one as it is, not escaped again."""


@functools.cache
def _templates() -> dict[str, Template]:
    """The page's fragments (``templates/report.html``, package data), each from its ``<!-- @name -->`` line."""
    text = resources.files("edgecv.devices").joinpath("templates", "report.html").read_text(encoding="utf-8")
    parts = re.split(r"^<!-- @(\w+) -->\n", text, flags=re.M)
    return {name: Template(body.removesuffix("\n")) for name, body in zip(parts[1::2], parts[2::2])}


def _fill(fragment: str, /, **values) -> _Html:
    """The template's ``fragment`` with ``values`` put in: HTML-escaped, except fragments (``_Html``)."""
    return _Html(_templates()[fragment].substitute(
        {k: v if isinstance(v, _Html) else _esc(v) for k, v in values.items()}))


def _join(fragments, sep: str = "") -> _Html:
    return _Html(sep.join(fragments))


def _badge(kind: str) -> _Html:
    return _fill("badge", colour=STYLE.get(kind, ("#888", ""))[0], kind=kind)


def _muted(text) -> _Html:
    return _fill("muted", text=text)


def _fmt_ms(v) -> str:
    return "—" if v is None else f"{v:.3g}"


def _prov_detail(pv: dict) -> _Html:
    kind = pv.get("kind")
    if kind == "measured":
        tools = ", ".join(f"{k} {v}" for k, v in (pv.get("tools") or {}).items())
        return _fill("measured", host=pv.get("host"), date=pv.get("date"), tools=tools, command=pv.get("command"))
    if kind == "predicted":
        return _fill("predicted", predictor=pv.get("predictor"),
                     calibrated=", ".join(map(str, pv.get("calibrated_on") or [])) or "—",
                     inputs=", ".join(f"{k}={v}" for k, v in (pv.get("inputs") or {}).items()))
    if kind == "published":
        src = _fill("link", url=pv["url"], text=pv.get("source")) if pv.get("url") else _esc(pv.get("source"))
        extra = f" (statistic: {_esc(pv['statistic'])})" if pv.get("statistic") else ""
        setup = _fill("setup", setup=pv["setup"]) if pv.get("setup") else ""
        return _Html(src + extra + setup)
    return _Html(_esc(pv))


def _device_spec(d: dict) -> _Html:
    rows = []
    for k in ("vendor", "model", "soc", "cpu", "cores", "cpu_clock_ghz", "memory_gib", "memory_type",
              "memory_bandwidth_gbps", "power_w", "arch", "os"):
        if d.get(k) is not None:
            rows.append((k, d[k]))
    if d.get("gpu"):
        rows.append(("gpu", ", ".join(f"{k} {v}" for k, v in d["gpu"].items() if v is not None)))
    if d.get("npu"):
        rows.append(("npu", "; ".join(", ".join(f"{k} {v}" for k, v in n.items() if v is not None)
                                      for n in d["npu"])))
    if d.get("peak_throughput"):
        rows.append(("peak", ", ".join(f"{k} {v}" for k, v in d["peak_throughput"].items() if v is not None)))
    if d.get("compute_units"):
        rows.append(("compute units", ", ".join(d["compute_units"])))
    src = _join(_fill("source", url=s.get("url"), name=s["name"],
                      covers=_Html(f" {_muted('(' + s['covers'] + ')')}") if s.get("covers") else "")
                for s in d.get("sources") or [])
    return _fill("spec", rows=_join(_fill("spec_row", key=k, value=v) for k, v in rows),
                 sources=_fill("spec_sources", items=src) if src else "",
                 notes=_fill("note", text=d["notes"]) if d.get("notes") else "")


def _calibration(p: dict) -> str:
    cal = p.get("calibration")
    if not cal:
        return ""
    extra = ""
    if isinstance(cal, dict):
        text = cal.get("note") or json.dumps(cal)
        more = {k: v for k, v in cal.items() if k != "note"}
        if more:
            extra = _Html(" " + _muted("(" + ", ".join(f"{k}: {v}" for k, v in more.items()) + ")"))
    else:
        text = cal
    return _fill("calibration", text=text, extra=extra)


def _entries_table(p: dict) -> _Html:
    rows = []
    for e in p.get("entries", []):
        mem = e.get("peak_memory_mib") or e.get("process_peak_rss_mib")
        rows.append(_fill(
            "entry_row", artifact=e["artifact"], model=e.get("model"), backend=e["backend"],
            sha=_fill("sha", sha=e["sha256"][:12]) if e.get("sha256") else "",
            unit=e.get("compute_unit"), precision=e["precision"], threads=e.get("threads") or "—",
            median=_fmt_ms(e["latency_ms"]["median"]), p90=_fmt_ms(e["latency_ms"].get("p90")),
            mem=_Html(_esc(_fmt_ms(mem)) + (f" {_muted('(process RSS)')}" if mem and not e.get("peak_memory_mib")
                                            else "")),
            badge=_badge(_kind(e)), detail=_prov_detail(e.get("provenance") or {})))
    if not rows:
        return _fill("note", text="no entries yet")
    return _fill("entries", rows=_join(rows))


def _matrix(profiles: list[dict]) -> _Html:
    best = {p["device"]["name"]: _best(p) for p in profiles}
    arts = sorted({a for b in best.values() for a in b})
    if not arts:
        return _fill("note", text="no entries in these profiles")
    rows = []
    for a in arts:
        cells = []
        for n in best:
            e = best[n].get(a)
            if e is None:
                cells.append(_fill("matrix_missing"))
                continue
            cfg = f"{e['backend']}/{e.get('compute_unit')} {e['precision']}" + (
                f" ×{e['threads']}" if e.get("threads") else "")
            cells.append(_fill("matrix_cell", ms=_fmt_ms(e["latency_ms"]["median"]), badge=_badge(_kind(e)),
                               config=cfg))
        rows.append(_fill("matrix_row", artifact=a, cells=_join(cells)))
    return _fill("matrix", heads=_join(_fill("th", text=n) for n in best), rows=_join(rows))


def _validation_html(recs: list[dict], png: str | None) -> _Html:
    groups: dict[str, list[dict]] = {}
    for r in recs:
        groups.setdefault(str(r.get("group", "")), []).append(r)
    summary = _join(_fill("validation_group", group=g or "(no group)", n=len(rs),
                          mape=f"{sum(abs(_err_pct(r)) for r in rs) / len(rs):.1f}%",
                          within=f"{sum(abs(_err_pct(r)) <= 10 for r in rs)}/{len(rs)}") for g, rs in groups.items())
    rows = _join(_fill("validation_row", name=r.get("name") or r.get("label"), group=r.get("group"),
                       config=json.dumps(r.get("config"), sort_keys=True) if r.get("config") is not None else "",
                       measured=f"{r['measured_ms']:.3g}", predicted=f"{r['predicted_ms']:.3g}",
                       style=_Html(" style=color:#a33" if abs(_err_pct(r)) > 10 else ""),
                       error=f"{_err_pct(r):+.1f}%") for r in recs)
    img = _fill("img", src=png, alt="predicted vs measured") if png else ""
    return _fill("validation", img=img, summary=summary, rows=rows)


def _plans_html(plans: list[tuple[str, dict]]) -> _Html:
    def val(v):
        if isinstance(v, dict):
            return ", ".join(f"{k}={val(x)}" for k, x in v.items())
        if isinstance(v, list):
            return "; ".join(val(x) for x in v)
        if isinstance(v, float):
            return f"{v:.3g}"
        return "—" if v is None else str(v)

    rows = []
    for fname, p in plans:
        tgt, got = p.get("fps_target"), p.get("predicted_fps")
        meets = ""
        if isinstance(tgt, (int, float)) and isinstance(got, (int, float)):
            meets = "✓" if got >= tgt else "✗"
        rows.append(_fill("plan_row", file=fname, device=val(p.get("device")), pipeline=val(p.get("pipeline")),
                          target=val(tgt), got=val(got), meets=meets, settings=val(p.get("settings")),
                          why=val(p.get("why")), figures=val(p.get("latency_provenance"))))
    return _fill("plans", rows=_join(rows))


def build_report(out, devices: list[str] | None = None, plans_dir=None, predictor_validation=None) -> dict:
    """Write the HTML report ``out`` and its PNGs beside it; returns {html, pngs, warnings}."""
    out = Path(out)
    if out.suffix.lower() not in (".html", ".htm"):
        raise ProfileError(f"{out}: the report is an HTML file; give a path ending in .html")
    names = devices or known_devices()
    known = known_devices()
    for n in names:
        if n not in known and not Path(n).exists():
            load_profile(n)  # raises: unknown device, lists the known ones
    profiles = [load_profile(n) for n in names]
    stem = out.stem
    pngs: list[Path] = []
    warnings: list[str] = []

    def rel(p: Path | None) -> str | None:
        return None if p is None else os.path.relpath(p, out.parent)

    parts = [_fill("intro", n=len(profiles), schema=SCHEMA, badges=_join((_badge(k) for k in PROVENANCE_KINDS), " "))]
    ov = plot_overview(profiles, out.with_name(f"{stem}-overview.png"))
    parts.append(_fill("latency_section"))
    if ov:
        pngs.append(ov)
        parts.append(_fill("img", src=rel(ov), alt="latency per artifact per device"))
    parts.append(_matrix(profiles))

    rows = []
    for p in profiles:
        d, c = p["device"], provenance_counts(p)
        rows.append(_fill("device_row", name=d["name"], kind=d["kind"], n=len(p["entries"]),
                          hw=d.get("soc") or (d.get("gpu") or {}).get("name") or d.get("cpu"),
                          counts=_join(_fill("td_num", text=c.get(k, 0)) for k in PROVENANCE_KINDS)))
    parts.append(_fill("devices", kinds=_join(_fill("th", text=k) for k in PROVENANCE_KINDS), rows=_join(rows, "\n")))
    for p in profiles:
        d = p["device"]
        png = plot_device(p, out.with_name(f"{stem}-{d['name']}.png"))
        parts.append(_fill("device_head", name=d["name"], kind=d["kind"]))
        parts.append(_device_spec(d) + _calibration(p))
        if png:
            pngs.append(png)
            parts.append(_fill("img", src=rel(png), alt=f"latency on {d['name']}"))
        parts.append(_entries_table(p))

    if predictor_validation:
        recs, w = read_validation(predictor_validation)
        warnings += w
        png = plot_validation(recs, out.with_name(f"{stem}-predictor.png"))
        if png:
            pngs.append(png)
        parts.append(_fill("validation_section", source=predictor_validation, n=len(recs),
                           body=_validation_html(recs, rel(png))))
    if plans_dir:
        plans, w = read_plans(plans_dir)
        warnings += w
        parts.append(_fill("plans_section", source=plans_dir, body=_plans_html(plans)))
    if warnings:
        parts.append(_fill("warnings", items=_join(_fill("warning", text=w) for w in warnings)))
    page = _fill("page", body=_join(parts, "\n")) + "\n"
    _atomic_bytes(out, page.encode())
    return {"html": out, "pngs": pngs, "warnings": warnings}
