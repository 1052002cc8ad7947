#!/usr/bin/env python3
"""The paper's Table 1 experiment with mmgan: WGAN and HingeGAN, each with the L1, L2 and L-infinity
gradient-norm penalty in the least-squares form (||g|| - 1)^2 and the hinge form max(0, ||g|| - 1),
lambda 20, seed 1; the Fréchet distance of every run, in one table.

    tools/table1.py --out runs/table1                      # Fashion-MNIST, offline (fmnist features)
    tools/table1.py --out runs/table1-cifar --n_iter 100001 --device cuda \\
        --data "--CIFAR10 True --input_folder cifar-10-batches-bin" --features inception

The reference statistics are computed once (`mmgan fid-stats`, kept as OUT/ref_stats.safetensors).
Each run trains with `--fid_every` into OUT/<loss>-<norm>-<form>-0/; a run whose metrics already hold
its last Fréchet distance is not trained again, so an interrupted table continues where it stopped.
The table shows the distance at the end of training and, in brackets, the lowest one seen (the
paper's Table 5 reports both). Only the Python standard library is needed.
"""
import argparse
import json
import os
import shlex
import subprocess
import sys

LOSSES = {"wgan": "WGAN", "hinge": "HingeGAN"}
NORMS = {"l1": "1", "l2": "2", "linf": "inf"}
FORMS = {"squared-diff": "(||g||_{q} - 1)^2", "hinge": "max(0, ||g||_{q} - 1)"}


def fail(msg):
    print(f"table1: {msg}", file=sys.stderr)
    sys.exit(1)


def split_list(text, known, flag):
    items = [s for s in text.split(",") if s]
    for s in items:
        if s not in known:
            fail(f"{flag}: unknown value '{s}' (choose from {', '.join(known)})")
    return items


def run(cmd, log):
    """Runs an mmgan command, its output going to log; fails naming the command and the log."""
    with open(log, "w") as f:
        f.write("$ " + shlex.join(cmd) + "\n")
        f.flush()
        rc = subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT)
    if rc != 0:
        with open(log) as f:
            tail = f.read().strip().splitlines()[-3:]
        fail(f"{shlex.join(cmd[:2])} ... exited with {rc} (log {log}):\n  " + "\n  ".join(tail))


def fid_lines(run_dir):
    path = os.path.join(run_dir, "metrics.jsonl")
    if not os.path.exists(path):
        return []
    out = []
    with open(path) as f:
        for line in f:
            try:
                m = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by an interrupted run
            if "fid" in m:
                out.append(m)
    return out


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mmgan", default=os.path.join(here, "..", "build", "tools", "mmgan"), help="the mmgan binary")
    p.add_argument("--out", required=True, help="folder for the reference statistics, the runs and table.md")
    p.add_argument("--n_iter", type=int, default=2000, help="iterations per run (the paper: 100001)")
    p.add_argument("--fid_every", type=int, default=0, help="Fréchet distance every N iterations (0: n_iter / 10)")
    p.add_argument("--fid_n", type=int, default=5000, help="samples per Fréchet distance (the paper: 50000)")
    p.add_argument("--features", default="auto", help="inception, fmnist or auto (fmnist for 1x32x32 data)")
    p.add_argument("--seed", type=int, default=1, help="the paper ran seed 1")
    p.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    p.add_argument("--losses", default="wgan,hinge", help="table columns, from: " + ", ".join(LOSSES))
    p.add_argument("--norms", default="l1,l2,linf", help="norms, from: " + ", ".join(NORMS))
    p.add_argument("--forms", default="squared-diff,hinge", help="penalty forms, from: " + ", ".join(FORMS))
    p.add_argument("--data", default="", help="mmgan data flags, shared by fid-stats and train (default: Fashion-MNIST)")
    p.add_argument("--train_flags", default="", help="more `mmgan train` flags for every run")
    a = p.parse_args()
    losses = split_list(a.losses, LOSSES, "--losses")
    norms = split_list(a.norms, NORMS, "--norms")
    forms = split_list(a.forms, FORMS, "--forms")
    if not os.access(a.mmgan, os.X_OK):
        fail(f"--mmgan {a.mmgan}: not an executable (build first: tools/run.sh build)")
    if a.n_iter < 1 or a.fid_n < 2 or a.fid_every < 0:
        fail("--n_iter must be >= 1, --fid_n >= 2 and --fid_every >= 0")
    fid_every = a.fid_every or max(1, a.n_iter // 10)
    data = shlex.split(a.data)
    os.makedirs(a.out, exist_ok=True)

    stats = os.path.join(a.out, "ref_stats.safetensors")
    if not os.path.exists(stats):
        print(f"reference statistics -> {stats}", flush=True)
        run([a.mmgan, "fid-stats", *data, "--features", a.features, "--device", a.device, "--out", stats],
            os.path.join(a.out, "fid-stats.log"))

    results = {}
    for loss in losses:
        for norm in norms:
            for form in forms:
                name = f"{loss}-{norm}-{form}"
                run_dir = os.path.join(a.out, name + "-0")
                done = [m for m in fid_lines(run_dir) if m["iter"] + 1 == a.n_iter]
                if not done:
                    if os.path.exists(run_dir):
                        fail(f"{run_dir} exists but has no Fréchet distance at iteration {a.n_iter}: it was cut short "
                             f"or trained with another --n_iter; resume it with `mmgan train --resume {run_dir}` or "
                             "delete it")
                    print(f"training {name} ({a.n_iter} iterations)", flush=True)
                    run([a.mmgan, "train", *data, "--loss", loss, "--gp-norm", norm, "--penalty-type", form,
                         "--penalty", "20", "--seed", str(a.seed), "--n_iter", str(a.n_iter), "--device", a.device,
                         "--fid_every", str(fid_every), "--fid_n", str(a.fid_n), "--fid_stats", stats,
                         "--fid_features", a.features, "--output_folder", a.out, "--run_name", name,
                         *shlex.split(a.train_flags)], os.path.join(a.out, name + ".log"))
                lines = fid_lines(run_dir)
                if not lines:
                    fail(f"{run_dir}/metrics.jsonl holds no Fréchet distance")
                results[(loss, norm, form)] = (lines[-1]["fid"], min(m["fid"] for m in lines), lines[-1]["fid_features"])

    features = sorted({r[2] for r in results.values()})
    rows = [f"Fréchet distance ({', '.join(features)}, {a.fid_n} samples) after {a.n_iter} iterations; "
            f"lowest seen (every {fid_every}) in brackets.", "",
            "| g(norm) | " + " | ".join(LOSSES[l] for l in losses) + " |",
            "|---|" + "---:|" * len(losses)]
    for norm in norms:
        for form in forms:
            label = FORMS[form].replace("{q}", NORMS[norm])
            cells = [f"{results[(l, norm, form)][0]:.2f} ({results[(l, norm, form)][1]:.2f})" for l in losses]
            rows.append(f"| {label} | " + " | ".join(cells) + " |")
    table = "\n".join(rows) + "\n"
    with open(os.path.join(a.out, "table.md"), "w") as f:
        f.write(table)
    print(table, end="")


if __name__ == "__main__":
    main()
