#!/usr/bin/python3
"""Curves of mmgan runs: every metric of metrics.jsonl against the iteration, one panel per metric,
several runs overlaid and labelled by what differs in their config.json.

    tools/plot_run.py runs/HingeGAN-linf-hinge-seed1-0                 # -> that folder/curves.{png,svg}
    tools/plot_run.py runs/table1/*-0 --out runs/table1                # overlaid -> runs/table1/curves.{png,svg}

Panels: loss_D, loss_G, penalty, penalty_active (the fraction of penalty points whose gradient norm
exceeds 1, the only ones a hinge penalty acts on), grad_norm_mean / grad_norm_max at the penalty
points (with the line ||g|| = 1), margin_real / margin_fake (pseudo-margins), fid / fid_best,
sec_per_iter. A metric a run did not log (an older run, a run without a penalty or without
--fid_every) is simply absent from its panel; a panel no run logged says so. Reads only
metrics.jsonl and config.json; needs Debian's python3-matplotlib.
"""
import argparse
import json
import math
import os
import sys

# (title, [(metric key, line style)], y value drawn as a reference line or None)
PANELS = [
    ("loss_D", [("loss_D", "-")], None),
    ("loss_G", [("loss_G", "-")], None),
    ("penalty", [("penalty", "-")], None),
    ("penalty_active: fraction with ||g|| > 1", [("penalty_active", "-")], None),
    ("||g|| at the penalty points: mean, max (dashed)", [("grad_norm_mean", "-"), ("grad_norm_max", "--")], 1.0),
    ("pseudo-margin: real, fake (dashed)", [("margin_real", "-"), ("margin_fake", "--")], None),
    ("Fréchet distance: last, best (dashed)", [("fid", "-"), ("fid_best", "--")], None),
    ("sec_per_iter", [("sec_per_iter", "-")], None),
]
# Config entries that name where a run lives or runs, not what it trains: never used as labels
# (a --device auto run and a --device cpu run on the same machine train the same numbers).
BOOKKEEPING = {"output_folder", "fid_stats", "fid_weights", "device"}
OUTPUTS = ("curves.png", "curves.svg")


class Error(Exception):
    pass


def read_metrics(run_dir):
    """The records of RUN/metrics.jsonl by iteration (a resumed run's rewritten iterations keep their
    last record); a line cut short by an interrupted run is skipped, null (a non-finite value) is NaN."""
    path = os.path.join(run_dir, "metrics.jsonl")
    if not os.path.isfile(path):
        raise Error(f"{run_dir}: no metrics.jsonl (not an mmgan run folder?)")
    by_iter = {}
    with open(path) as f:
        for line in f:
            try:
                m = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(m, dict) and isinstance(m.get("iter"), int):
                by_iter[m["iter"]] = m
    if not by_iter:
        raise Error(f"{path}: no metrics lines yet")
    return [by_iter[i] for i in sorted(by_iter)]


def read_config(run_dir):
    path = os.path.join(run_dir, "config.json")
    if not os.path.isfile(path):
        return {}
    try:
        with open(path) as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise Error(f"{path}: not JSON ({e})")


def series(records, key):
    """(iterations, values) of the records that hold key."""
    xs, ys = [], []
    for m in records:
        if key in m:
            v = m[key]
            xs.append(m["iter"])
            ys.append(math.nan if v is None else float(v))
    return xs, ys


def labels(runs):
    """One label per run: the config entries whose values differ between the runs, else the folder name."""
    names = [os.path.basename(os.path.normpath(r["dir"])) for r in runs]
    if len(runs) == 1:
        c = runs[0]["config"]
        what = ", ".join(str(c[k]) for k in ("loss_name", "gp_norm", "penalty_type") if k in c)
        if c.get("penalty_on") is False:
            what = f"{c.get('loss_name', '')}, no penalty"
        elif "penalty" in c:
            what += f", lambda {c['penalty']:g}"
        return [f"{names[0]} ({what})" if what else names[0]]
    keys = sorted({k for r in runs for k in r["config"]} - BOOKKEEPING)
    differ = [k for k in keys if len({json.dumps(r["config"].get(k), sort_keys=True) for r in runs}) > 1]
    out = []
    for r, name in zip(runs, names):
        parts = [f"{k}={r['config'].get(k, '?')}" for k in differ]
        out.append(" ".join(parts) if parts else name)
    if len(set(out)) < len(out):  # same configs: the folder tells them apart
        out = [f"{name}: {lab}" if lab != name else name for lab, name in zip(out, names)]
    return out


def draw(run_dirs):
    """The figure of the runs' curves. Every curve is a Line2D whose gid is 'RUN_INDEX:KEY', so its
    drawn data can be checked against the metrics."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [{"dir": d, "records": read_metrics(d), "config": read_config(d)} for d in run_dirs]
    names = labels(runs)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    if len(runs) > len(colors):  # one colour per run as long as a qualitative map has enough
        colors = [matplotlib.colors.to_hex(c) for c in plt.get_cmap("tab20").colors]
    cols = 4
    rows = (len(PANELS) + cols - 1) // cols
    legend_rows = len(runs) if len(runs) > 3 else 1
    height = 3.0 * rows + 0.25 * legend_rows + 0.2
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, height), squeeze=False)
    for ax, (title, keys, ref) in zip(axes.flat, PANELS):
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("iteration", fontsize=8)
        ax.tick_params(labelsize=7)
        drawn = False
        for i, r in enumerate(runs):
            for key, style in keys:
                xs, ys = series(r["records"], key)
                if xs:
                    ax.plot(xs, ys, style, color=colors[i % len(colors)], lw=1.2, gid=f"{i}:{key}",
                            marker="." if len(xs) < 30 else None)
                    drawn = True
        if not drawn:
            ax.text(0.5, 0.5, "not in metrics.jsonl", ha="center", va="center", transform=ax.transAxes,
                    color="0.5", gid="not-logged")
        elif ref is not None:
            ax.axhline(ref, color="0.4", lw=0.8, ls=":")
    for ax in list(axes.flat)[len(PANELS):]:
        ax.axis("off")
    handles = [plt.Line2D([], [], color=colors[i % len(colors)], lw=2) for i in range(len(runs))]
    fig.legend(handles, names, loc="lower center", ncol=1 if legend_rows > 1 else len(runs), fontsize=8,
               frameon=False)
    fig.tight_layout(rect=(0, (0.25 * legend_rows + 0.2) / height, 1, 1))
    return fig


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", metavar="RUN", help="run folders (with metrics.jsonl, config.json)")
    p.add_argument("--out", help="folder for curves.png and curves.svg (default: the run folder; needed for "
                                 "several runs)")
    a = p.parse_args(argv)
    try:
        for d in a.runs:
            if not os.path.isdir(d):
                raise Error(f"{d}: no such run folder")
        if a.out is None and len(a.runs) > 1:
            raise Error("--out: several runs need a folder for their overlaid curves")
        out = a.out if a.out is not None else a.runs[0]
        fig = draw(a.runs)
        os.makedirs(out, exist_ok=True)
        for name in OUTPUTS:
            fig.savefig(os.path.join(out, name), dpi=90)
            print(os.path.join(out, name))
    except (Error, OSError) as e:
        print(f"plot_run: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
