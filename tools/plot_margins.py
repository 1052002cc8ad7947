#!/usr/bin/python3
"""Draws the margin lab's files (`mmgan margins --out DIR`) as PNGs:

    tools/plot_margins.py DIR [--out FOLDER]       # default FOLDER: DIR

- margins-segments.png, margins-norms.png: one panel per penalty norm (columns: L1, L2, L-inf) and
  form (rows: hinge, squared-diff). The critic F as a heat map with its gradient field (arrows), the
  boundary F = 0 (black) and the level sets F = +-1 (dashed), the expected maximum-margin boundary
  (green, dotted), real (red) and fake (blue) points, each point's margin as a segment to its nearest
  boundary point in the margin's norm (the dual of the penalised one), and the margin's ball (a
  diamond for L1, a circle for L2, a square for L-inf) around the closest point of each class.
- figure2.png: the paper's Figure 2, df/dx1 of three sigmoid critics along x1.
- ring8-PENALTY.png: the 8-Gaussian ring GAN's samples at several iterations, one picture per penalty.

Reads the safetensors files with tools/st_io.py; needs Debian's python3-matplotlib.
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_io  # noqa: E402

NORMS = ["l1", "l2", "linf"]
FORMS = ["hinge", "squared-diff"]
NAME = {"l1": "L1", "l2": "L2", "linf": "L\u221e", 1: "L1", 2: "L2", "inf": "L\u221e"}
DPI = 72
RING_VIEW = 1.3  # the ring's panels show [-1.3, 1.3]^2 (the data lie within radius 1)


class Error(Exception):
    pass


def load(path):
    if not os.path.isfile(path):
        raise Error(f"{path}: missing (run `mmgan margins --out {os.path.dirname(path)}` first)")
    tensors, meta = st_io.load(path)
    return tensors, json.loads(meta["lab"])


def ball(center, radius, p):
    """The outline of the L-p ball (p = 1, 2 or 'inf') of the radius around center, as [k, 2]."""
    t = np.linspace(0, 2 * np.pi, 97)
    c, s = np.cos(t), np.sin(t)
    if p == 1:
        pts = np.stack([c, s], 1) / (np.abs(c) + np.abs(s))[:, None]
    elif p == "inf":
        pts = np.stack([c, s], 1) / np.maximum(np.abs(c), np.abs(s))[:, None]
    else:
        pts = np.stack([c, s], 1)
    return center + radius * pts


def critic_panel(ax, t, c, box):
    from matplotlib.collections import LineCollection

    key = c["key"]
    axis = t["axis"]
    f, g = t[key + ".f"], t[key + ".grad"]
    levels = np.linspace(-3, 3, 13)
    ax.contourf(axis, axis, np.clip(f, -3, 3), levels=levels, cmap="RdBu_r", alpha=0.8)
    ax.contour(axis, axis, f, levels=[-1, 1], colors="k", linewidths=1.3, linestyles="--")
    ax.contour(axis, axis, f, levels=[0], colors="k", linewidths=1.6)
    step = max(1, len(axis) // 9)
    sl = slice(step // 2, None, step)
    ax.quiver(axis[sl], axis[sl], g[sl, sl, 0], g[sl, sl, 1], color="purple", width=0.006, headwidth=4, alpha=0.45,
              gid="gradient")
    # The expected maximum-margin boundary: through expected_point, normal to expected_normal.
    (nx, ny), (px, py) = c["expected_normal"], c["expected_point"]
    d = np.array([-ny, nx]) / np.hypot(nx, ny)
    ax.plot([px - 3 * box * d[0], px + 3 * box * d[0]], [py - 3 * box * d[1], py + 3 * box * d[1]], ":",
            color="limegreen", lw=2, gid="expected-boundary")
    p = c["margin_p"]
    for cls, color in (("real", "tab:red"), ("fake", "tab:blue")):
        pts, feet, margin = t[cls], t[f"{key}.{cls}.foot"], t[f"{key}.{cls}.margin"]
        ok = np.isfinite(margin)
        ax.add_collection(LineCollection(np.stack([pts[ok], feet[ok]], 1), colors="k", linewidths=1.0,
                                         gid=f"margins-{cls}"))
        if ok.any():
            i = int(np.argmin(np.where(ok, margin, np.inf)))
            if margin[i] > 0:
                b = ball(pts[i], margin[i], p)
                ax.plot(b[:, 0], b[:, 1], "-", color=color, lw=1.2, gid=f"ball-{cls}")
        ax.scatter(pts[:, 0], pts[:, 1], s=28, c=color, edgecolors="k", linewidths=0.6, zorder=3, gid=cls)
    ax.set_xlim(-box, box)
    ax.set_ylim(-box, box)
    ax.set_aspect("equal")
    ax.tick_params(labelsize=7)
    got = "none (no boundary)" if c["min_margin"] is None else f"{c['min_margin']:.3f}"  # JSON null: infinite
    ax.set_title(f"{NAME[c['norm']]} penalty ({NAME[p]} margin), {c['form']}\n"
                 f"min margin {got}, max-margin {c['expected_margin']:.3f}", fontsize=8)


def draw_critics(path):
    import matplotlib.pyplot as plt

    t, meta = load(path)
    critics = {c["key"]: c for c in meta["critics"]}
    fig, axes = plt.subplots(len(FORMS), len(NORMS), figsize=(3.3 * len(NORMS), 3.5 * len(FORMS)), squeeze=False)
    for r, form in enumerate(FORMS):
        for col, norm in enumerate(NORMS):
            critic_panel(axes[r, col], t, critics[f"{norm}-{form}"], meta["box"])
    o = meta["critic_options"]
    fig.suptitle(f"{meta['layout']}: HingeGAN critic + {o['lambda']:g} x penalty at interpolates; boundary F = 0 "
                 "(black), F = \u00b11 (dashed), expected max-margin boundary (green)", fontsize=8)
    fig.tight_layout()
    return fig


def draw_figure2(path):
    import matplotlib.pyplot as plt

    t, meta = load(path)
    fig, axes = plt.subplots(1, 2, figsize=(8.4, 3.3))
    for ax, log in zip(axes, (False, True)):
        for c, color in zip(meta["critics"], ("tab:blue", "tab:red", "tab:green")):
            ax.plot(t["x1"], t[c["key"] + ".grad"], color=color, lw=1.6, gid=c["key"] if not log else None,
                    label=f"{c['name']}: {c['grad_fake']:.3f} at fake")
            ax.plot([-1], [c["grad_fake"]], "o", color=color, ms=5)
        for x, what in ((-1, "fake"), (1, "real")):
            ax.axvline(x, color="0.5", lw=0.8, ls=":")
            ax.text(x, 0.97, f" {what}", fontsize=8, va="top", transform=ax.get_xaxis_transform())
        ax.set_xlabel("x1", fontsize=8)
        ax.tick_params(labelsize=7)
        if log:
            ax.set_yscale("log")
            ax.set_ylim(1e-4, 3)
            ax.set_title("the same, log scale", fontsize=9)
        else:
            ax.set_ylabel("df/dx1", fontsize=8)
            ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0.0, 0.88))
            ax.set_title("Figure 2: f(x) = sigmoid(w1 x1 + w0), gradient at the fake samples", fontsize=9)
    fig.tight_layout()
    return fig


def draw_ring8(path):
    """One figure per penalty: {penalty: figure}."""
    import matplotlib.pyplot as plt

    t, meta = load(path)
    figs = {}
    for run in meta["runs"]:
        snaps = run["snapshots"]
        fig, axes = plt.subplots(1, len(snaps), figsize=(2.1 * len(snaps), 2.4), squeeze=False)
        for ax, s in zip(axes[0], snaps):
            x = t[f"{run['penalty']}.iter_{s['iter']}"]
            ax.scatter(t["real"][:, 0], t["real"][:, 1], s=2, c="0.8", gid="real")
            ax.scatter(x[:, 0], x[:, 1], s=2, c="tab:blue", gid=f"iter_{s['iter']}")
            ax.set_xlim(-RING_VIEW, RING_VIEW)
            ax.set_ylim(-RING_VIEW, RING_VIEW)
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
            outside = np.mean(np.any(np.abs(x) > RING_VIEW, axis=1))
            ax.set_title(f"iter {s['iter']}\n{s['modes']}/8 modes, {100 * s['good']:.0f}% good"
                         + (f", {100 * outside:.0f}% out of view" if outside > 0 else ""), fontsize=7)
        pen = "no penalty" if run["penalty"] == "none" else f"{run['penalty']} penalty"
        fig.suptitle(f"8-Gaussian ring, HingeGAN, {pen}", fontsize=8)
        fig.tight_layout()
        figs[run["penalty"]] = fig
    return figs


def save_png(fig, path):
    """A palette PNG (64 colours): a third of the size of matplotlib's RGBA file, for the repository."""
    from PIL import Image

    fig.set_dpi(DPI)
    fig.canvas.draw()
    img = Image.fromarray(np.asarray(fig.canvas.buffer_rgba())[..., :3])
    img.quantize(64, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(path, optimize=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("dir", metavar="DIR", help="the folder `mmgan margins --out` wrote")
    p.add_argument("--out", help="folder for the PNGs (default: DIR)")
    a = p.parse_args(argv)
    import matplotlib
    matplotlib.use("Agg")
    try:
        if not os.path.isdir(a.dir):
            raise Error(f"{a.dir}: no such folder")
        out = a.out or a.dir
        figs = {}
        for layout in ("segments", "norms"):
            path = os.path.join(a.dir, f"critics-{layout}.safetensors")
            if os.path.exists(path):
                figs[f"margins-{layout}.png"] = draw_critics(path)
        if os.path.exists(os.path.join(a.dir, "figure2.safetensors")):
            figs["figure2.png"] = draw_figure2(os.path.join(a.dir, "figure2.safetensors"))
        if os.path.exists(os.path.join(a.dir, "ring8.safetensors")):
            for pen, fig in draw_ring8(os.path.join(a.dir, "ring8.safetensors")).items():
                figs[f"ring8-{pen}.png"] = fig
        if not figs:
            raise Error(f"{a.dir}: no margin-lab files (critics-*.safetensors, figure2.safetensors, ring8.safetensors)")
        os.makedirs(out, exist_ok=True)
        for name, fig in figs.items():
            save_png(fig, os.path.join(out, name))
            print(os.path.join(out, name))
    except (Error, OSError, KeyError) as e:
        print(f"plot_margins: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
