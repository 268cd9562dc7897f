"""``edgecv report``: one self-contained HTML page over the device profiles, with PNG plots beside it.

Sections: latency per artifact per device (bars coloured and hatched by provenance), the provenance of
every entry, and, when given, predictor validation (predicted vs measured, ±10% lines) and plans.
matplotlib is imported only here (``pip install matplotlib``); everything is written temp file + rename.
"""
from __future__ import annotations

import html
import io
import json
import os
from pathlib import Path

from .schema import PROVENANCE_KINDS, ProfileError, known_devices, load_profile, provenance_counts

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


def _badge(kind: str) -> str:
    colour = STYLE.get(kind, ("#888", ""))[0]
    return f'<span class="badge" style="background:{colour}">{_esc(kind)}</span>'


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
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1200px;color:#222}
h1{font-size:1.6em} h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
th,td{border:1px solid #ddd;padding:3px 6px;vertical-align:top} th{background:#f4f4f4;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{color:#fff;border-radius:3px;padding:0 5px;font-size:.85em;white-space:nowrap}
.warn{color:#a33} .muted{color:#777} img{max-width:100%;border:1px solid #eee}
details{margin:.3em 0} code{font-size:.9em}
"""


def _fmt_ms(v) -> str:
    return "—" if v is None else f"{v:.3g}"


def _prov_detail(pv: dict) -> str:
    kind = pv.get("kind")
    if kind == "measured":
        tools = ", ".join(f"{k} {v}" for k, v in (pv.get("tools") or {}).items())
        return (f"host <code>{_esc(pv.get('host'))}</code>, {_esc(pv.get('date'))}<br>"
                f"<span class=muted>{_esc(tools)}</span><br><code>{_esc(pv.get('command'))}</code>")
    if kind == "predicted":
        inputs = ", ".join(f"{k}={v}" for k, v in (pv.get("inputs") or {}).items())
        cal = ", ".join(map(str, pv.get("calibrated_on") or [])) or "—"
        return (f"predictor <code>{_esc(pv.get('predictor'))}</code>; calibrated on {_esc(cal)}<br>"
                f"<span class=muted>inputs: {_esc(inputs)}</span>")
    if kind == "published":
        src = _esc(pv.get("source"))
        if pv.get("url"):
            src = f'<a href="{_esc(pv["url"])}">{src}</a>'
        extra = f" (statistic: {_esc(pv['statistic'])})" if pv.get("statistic") else ""
        setup = f"<br><span class=muted>{_esc(pv['setup'])}</span>" if pv.get("setup") else ""
        return src + extra + setup
    return _esc(pv)


def _device_spec(d: dict) -> str:
    rows = []
    for k in ("vendor", "model", "soc", "cpu", "cores", "cpu_clock_ghz", "memory_gib", "memory_type",
              "memory_bandwidth_gbps", "power_w", "arch", "os"):
        if d.get(k) is not None:
            rows.append((k, d[k]))
    if d.get("gpu"):
        g = d["gpu"]
        rows.append(("gpu", ", ".join(f"{k} {v}" for k, v in g.items() if v is not None)))
    if d.get("npu"):
        rows.append(("npu", "; ".join(", ".join(f"{k} {v}" for k, v in n.items() if v is not None)
                                      for n in d["npu"])))
    if d.get("peak_throughput"):
        rows.append(("peak", ", ".join(f"{k} {v}" for k, v in d["peak_throughput"].items() if v is not None)))
    if d.get("compute_units"):
        rows.append(("compute units", ", ".join(d["compute_units"])))
    cells = "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>" for k, v in rows)
    src = "".join(f'<li><a href="{_esc(s.get("url"))}">{_esc(s["name"])}</a>'
                  + (f' <span class=muted>({_esc(s["covers"])})</span>' if s.get("covers") else "") + "</li>"
                  for s in d.get("sources") or [])
    notes = f"<p class=muted>{_esc(d['notes'])}</p>" if d.get("notes") else ""
    return (f"<details><summary>device spec</summary><table>{cells}</table>"
            + (f"<p>spec sources:</p><ul>{src}</ul>" if src else "") + notes + "</details>")


def _calibration(p: dict) -> str:
    cal = p.get("calibration")
    if not cal:
        return ""
    if isinstance(cal, dict):
        text = cal.get("note") or json.dumps(cal)
        more = {k: v for k, v in cal.items() if k != "note"}
        extra = (" <span class=muted>(" + _esc(", ".join(f"{k}: {v}" for k, v in more.items())) + ")</span>"
                 if more else "")
    else:
        text, extra = cal, ""
    return f"<p><b>calibration:</b> {_esc(text)}{extra}</p>"


def _entries_table(p: dict) -> str:
    head = ("<tr><th>artifact</th><th>model</th><th>backend</th><th>unit</th><th>prec</th><th>threads</th>"
            "<th>median ms</th><th>p90 ms</th><th>peak MiB</th><th>provenance</th><th>where it came from</th></tr>")
    rows = []
    for e in p.get("entries", []):
        pv = e.get("provenance") or {}
        mem = e.get("peak_memory_mib") or e.get("process_peak_rss_mib")
        mem_s = _fmt_ms(mem) + (" <span class=muted>(process RSS)</span>"
                                if mem and not e.get("peak_memory_mib") else "")
        rows.append(
            f"<tr><td><code>{_esc(e['artifact'])}</code>"
            + (f"<br><span class=muted>sha256 {_esc(e['sha256'][:12])}…</span>" if e.get("sha256") else "")
            + f"</td><td>{_esc(e.get('model'))}</td><td>{_esc(e['backend'])}</td><td>{_esc(e.get('compute_unit'))}"
            f"</td><td>{_esc(e['precision'])}</td><td class=num>{_esc(e.get('threads') or '—')}</td>"
            f"<td class=num>{_fmt_ms(e['latency_ms']['median'])}</td>"
            f"<td class=num>{_fmt_ms(e['latency_ms'].get('p90'))}</td><td class=num>{mem_s}</td>"
            f"<td>{_badge(_kind(e))}</td><td>{_prov_detail(pv)}</td></tr>")
    if not rows:
        return "<p class=muted>no entries yet</p>"
    return f"<table>{head}{''.join(rows)}</table>"


def _matrix(profiles: list[dict]) -> str:
    best = {p["device"]["name"]: _best(p) for p in profiles}
    arts = sorted({a for b in best.values() for a in b})
    if not arts:
        return "<p class=muted>no entries in these profiles</p>"
    head = "<tr><th>artifact</th>" + "".join(f"<th>{_esc(n)}</th>" for n in best) + "</tr>"
    rows = []
    for a in arts:
        cells = []
        for n in best:
            e = best[n].get(a)
            if e is None:
                cells.append("<td class=muted>not in profile</td>")
            else:
                cfg = f"{e['backend']}/{e.get('compute_unit')} {e['precision']}" + (
                    f" ×{e['threads']}" if e.get("threads") else "")
                cells.append(f"<td class=num>{_fmt_ms(e['latency_ms']['median'])} {_badge(_kind(e))}"
                             f"<br><span class=muted>{_esc(cfg)}</span></td>")
        rows.append(f"<tr><td><code>{_esc(a)}</code></td>{''.join(cells)}</tr>")
    return (f"<table>{head}{''.join(rows)}</table><p class=muted>Fastest configuration per artifact and "
            "device, ms (median). 'not in profile': no entry for it on that device — nothing measured, "
            "published or predicted yet.</p>")


def _validation_html(recs: list[dict], png: str | None) -> str:
    groups: dict[str, list[dict]] = {}
    for r in recs:
        groups.setdefault(str(r.get("group", "")), []).append(r)
    summ = "".join(
        f"<tr><td>{_esc(g or '(no group)')}</td><td class=num>{len(rs)}</td>"
        f"<td class=num>{sum(abs(_err_pct(r)) for r in rs) / len(rs):.1f}%</td>"
        f"<td class=num>{sum(abs(_err_pct(r)) <= 10 for r in rs)}/{len(rs)}</td></tr>" for g, rs in groups.items())
    allrows = "".join(
        f"<tr><td>{_esc(r.get('name') or r.get('label'))}</td><td>{_esc(r.get('group'))}</td>"
        f"<td><code>{_esc(json.dumps(r.get('config'), sort_keys=True) if r.get('config') is not None else '')}"
        f"</code></td><td class=num>{r['measured_ms']:.3g}</td><td class=num>{r['predicted_ms']:.3g}</td>"
        f"<td class=num{' style=color:#a33' if abs(_err_pct(r)) > 10 else ''}>{_err_pct(r):+.1f}%</td></tr>"
        for r in recs)
    img = f'<p><img src="{_esc(png)}" alt="predicted vs measured"></p>' if png else ""
    return (img + "<table><tr><th>group</th><th>n</th><th>MAPE</th><th>within ±10%</th></tr>" + summ + "</table>"
            "<details><summary>all records</summary><table><tr><th>name</th><th>group</th><th>config</th>"
            "<th>measured ms</th><th>predicted ms</th><th>error</th></tr>" + allrows + "</table></details>")


def _plans_html(plans: list[tuple[str, dict]]) -> str:
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
        rows.append(f"<tr><td>{_esc(fname)}</td><td>{_esc(val(p.get('device')))}</td>"
                    f"<td>{_esc(val(p.get('pipeline')))}</td><td class=num>{_esc(val(tgt))}</td>"
                    f"<td class=num>{_esc(val(got))} {meets}</td><td>{_esc(val(p.get('settings')))}</td>"
                    f"<td>{_esc(val(p.get('why')))}</td><td>{_esc(val(p.get('latency_provenance')))}</td></tr>")
    return ("<table><tr><th>file</th><th>device</th><th>pipeline</th><th>fps target</th><th>predicted fps</th>"
            "<th>settings</th><th>why</th><th>latency figures</th></tr>" + "".join(rows) + "</table>")


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

    parts = [f"<h1>edgecv device latency report</h1><p>{len(profiles)} device profiles "
             "(schema <code>edgecv.device-profile/1</code>). Every figure says where it came from: "
             + " ".join(_badge(k) for k in PROVENANCE_KINDS) + " — measured on the device by "
             "<code>edgecv profile</code>, predicted by the latency predictor, or published by a cited source."
             "</p>"]
    ov = plot_overview(profiles, out.with_name(f"{stem}-overview.png"))
    parts.append("<h2>Latency per artifact per device</h2>")
    if ov:
        pngs.append(ov)
        parts.append(f'<p><img src="{_esc(rel(ov))}" alt="latency per artifact per device"></p>')
    parts.append(_matrix(profiles))

    parts.append("<h2>Devices</h2><table><tr><th>device</th><th>kind</th><th>SoC / GPU</th><th>entries</th>"
                 + "".join(f"<th>{k}</th>" for k in PROVENANCE_KINDS) + "</tr>")
    for p in profiles:
        d, c = p["device"], provenance_counts(p)
        hw = d.get("soc") or (d.get("gpu") or {}).get("name") or d.get("cpu")
        parts.append(f"<tr><td><a href='#dev-{_esc(d['name'])}'>{_esc(d['name'])}</a></td><td>{_esc(d['kind'])}"
                     f"</td><td>{_esc(hw)}</td><td class=num>{len(p['entries'])}</td>"
                     + "".join(f"<td class=num>{c.get(k, 0)}</td>" for k in PROVENANCE_KINDS) + "</tr>")
    parts.append("</table>")
    for p in profiles:
        d = p["device"]
        png = plot_device(p, out.with_name(f"{stem}-{d['name']}.png"))
        parts.append(f"<h2 id='dev-{_esc(d['name'])}'>{_esc(d['name'])} <span class=muted>({_esc(d['kind'])})"
                     "</span></h2>")
        parts.append(_device_spec(d) + _calibration(p))
        if png:
            pngs.append(png)
            parts.append(f'<p><img src="{_esc(rel(png))}" alt="latency on {_esc(d["name"])}"></p>')
        parts.append(_entries_table(p))

    if predictor_validation:
        recs, w = read_validation(predictor_validation)
        warnings += w
        png = plot_validation(recs, out.with_name(f"{stem}-predictor.png"))
        if png:
            pngs.append(png)
        parts.append(f"<h2>Predictor validation</h2><p class=muted>from <code>{_esc(predictor_validation)}"
                     f"</code>: {len(recs)} records</p>" + _validation_html(recs, rel(png)))
    if plans_dir:
        plans, w = read_plans(plans_dir)
        warnings += w
        parts.append(f"<h2>Plans</h2><p class=muted>from <code>{_esc(plans_dir)}</code></p>" + _plans_html(plans))
    if warnings:
        parts.append("<h2>Warnings</h2><ul>" + "".join(f"<li class=warn>{_esc(w)}</li>" for w in warnings)
                     + "</ul>")
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>edgecv device latency report</title>"
            f"<style>{_CSS}</style></head><body>" + "\n".join(parts) + "</body></html>\n")
    _atomic_bytes(out, page.encode())
    return {"html": out, "pngs": pngs, "warnings": warnings}
