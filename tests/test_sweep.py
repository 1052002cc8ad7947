#!/usr/bin/python3
"""tools/mmgan-sweep with the local executor: a 2 axes x 2 seeds sweep gives the runs and the table
that running each cell by hand with `mmgan train` gives (the reference is built here from plain
mmgan command lines and the statistics module, not from the tool); a cell killed with SIGKILL part
way and run again finishes with the numbers of an uninterrupted run; a finished cell is not trained
again; bad sweep files are refused naming the key. Needs MMGAN_BINARY and Fashion-MNIST."""
import csv
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TOOL = os.path.join(HERE, "..", "tools", "mmgan-sweep")
MMGAN = os.environ.get("MMGAN_BINARY", "")
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import st_io  # noqa: E402
FMNIST = "/usr/share/datasets/fashion-mnist"
SKIP = 77  # CTest SKIP_RETURN_CODE

TINY = ["--G_h_size", "8", "--D_h_size", "8", "--z_size", "16", "--batch_size", "4"]
# 2 axes x 2 seeds = 8 cells of 4 iterations, a Fréchet distance every 2.
SWEEP = """
[base]
G_h_size = 8
D_h_size = 8
z_size = 16
batch_size = 4
n_iter = 4
log_every = 1
fid_every = 2
fid_n = 16
[fid_stats]
n = 128
[axes]
loss = ["hinge", "wgan"]
gp-norm = ["l2", "linf"]
seed = [1, 2]
[table]
rows = ["gp-norm"]
cols = ["loss"]
value = "fid"
stat = "final"
"""
CELLS = [(loss, norm, seed) for loss in ("hinge", "wgan") for norm in ("l2", "linf") for seed in (1, 2)]


def cell_name(loss, norm, seed, *rest):
    return "_".join([loss, norm, f"seed{seed}", *rest])


def sweep_cmd(*args, check=True, timeout=300):
    r = subprocess.run(["/usr/bin/python3", TOOL, *args], capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError(f"mmgan-sweep {' '.join(args)} exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
    return r


def metrics(run_dir):
    """metrics.jsonl without the timings (which differ between any two runs)."""
    out = []
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        for line in f:
            m = json.loads(line)
            m.pop("sec_per_iter", None)
            out.append(m)
    return out


def reference_runs(ref):
    """Each cell of SWEEP trained one by one with plain mmgan command lines, into REF/NAME-0."""
    stats = os.path.join(ref, "stats.safetensors")
    os.makedirs(ref)
    subprocess.run([MMGAN, "fid-stats", "--n", "128", "--out", stats], check=True, capture_output=True)
    for loss, norm, seed in CELLS:
        subprocess.run([MMGAN, "train", *TINY, "--n_iter", "4", "--log_every", "1", "--fid_every", "2", "--fid_n", "16",
                        "--loss", loss, "--gp-norm", norm, "--seed", str(seed), "--fid_stats", stats,
                        "--output_folder", ref, "--run_name", cell_name(loss, norm, seed)],
                       check=True, capture_output=True)


def reference_table(ref, key="fid", stat=lambda vs: vs[-1]):
    """{(norm, loss): (mean, std, n)} over seeds of stat(each run's logged values of key); by default
    the final Fréchet distances."""
    out = {}
    for loss in ("hinge", "wgan"):
        for norm in ("l2", "linf"):
            vs = [stat([m[key] for m in metrics(os.path.join(ref, cell_name(loss, norm, s) + "-0")) if key in m])
                  for s in (1, 2)]
            out[(norm, loss)] = (statistics.mean(vs), statistics.stdev(vs), len(vs))
    return out


def read_table_csv(out, name="table.csv"):
    with open(os.path.join(out, name)) as f:
        return {(r["gp-norm"], r["loss"]): (float(r["mean"]), float(r["std"]), int(r["n"])) for r in csv.DictReader(f)}


class SweepTestCase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="mmgan-test-sweep-")
        self.sweep = os.path.join(self.tmp, "sweep.toml")
        with open(self.sweep, "w") as f:
            f.write(SWEEP)
        self.env_threads = os.environ.get("OMP_NUM_THREADS")
        os.environ["OMP_NUM_THREADS"] = "1"  # the reference runs and the cells alike

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def assert_same_runs(self, out, ref):
        for c in CELLS:
            name = cell_name(*c) + "-0"
            self.assertEqual(metrics(os.path.join(out, name)), metrics(os.path.join(ref, name)), name)
            self.assertTrue(os.path.exists(os.path.join(out, name, "finished.json")), name)

    def assert_table(self, out, stem, want, digits, shown):
        """OUT/STEM.csv holds want's (mean, std, n) per cell; STEM.md shows cell `shown` with digits
        decimals. Returns STEM.md."""
        got = read_table_csv(out, stem + ".csv")
        self.assertEqual(set(got), set(want))
        for k in want:
            for g, w in zip(got[k], want[k]):
                self.assertAlmostEqual(g, w, delta=1e-9 * abs(w), msg=str(k))
        with open(os.path.join(out, stem + ".md")) as f:
            md = f.read()
        m, s, n = want[shown]
        self.assertIn(f"{m:.{digits}f} ± {s:.{digits}f} ({n})", md)
        return md

    def assert_same_table(self, out, ref):
        md = self.assert_table(out, "table", reference_table(ref), 2, ("linf", "wgan"))
        self.assertIn("| gp-norm | hinge | wgan |", md)


class LocalSweep(SweepTestCase):
    def test_local_executor_equals_cells_run_one_by_one(self):
        out, ref = os.path.join(self.tmp, "out"), os.path.join(self.tmp, "ref")
        r = sweep_cmd("run", self.sweep, "--out", out, "--executor", "local", "-j", "2", "--threads", "1")
        self.assertIn("8 cells to run, 2 at a time", r.stdout)
        sweep_cmd("table", self.sweep, "--out", out)
        reference_runs(ref)
        self.assert_same_runs(out, ref)
        self.assert_same_table(out, ref)
        # A second view, another metric and statistic, lands beside table.md and leaves it as it was.
        with open(os.path.join(out, "table.md")) as f:
            table_md = f.read()
        sweep_cmd("table", self.sweep, "--out", out, "--value", "penalty_active", "--stat", "mean", "--digits", "3",
                  "--no-curves")
        want = reference_table(ref, "penalty_active", statistics.mean)
        view = self.assert_table(out, "table-penalty_active-mean", want, 3, ("l2", "hinge"))
        self.assertIn("`penalty_active`, mean of the logged values", view)
        with open(os.path.join(out, "table.md")) as f:
            self.assertEqual(f.read(), table_md)
        r = sweep_cmd("table", self.sweep, "--out", out, "--value", "penalty_activ", check=False)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--value penalty_activ: no finished cell logged it", r.stderr)
        self.assertIn("penalty_active", r.stderr)
        # The curves of all 8 runs in one figure (tools/plot_run.py, which test_plot_run.py checks line by line).
        with open(os.path.join(out, "curves.svg")) as f:
            svg = f.read()
        for i in range(8):
            self.assertIn(f'id="{i}:fid"', svg)
        st = sweep_cmd("status", self.sweep, "--out", out).stdout
        self.assertIn("8 done (of 8)", st)

        # An export (for a repository: no checkpoints) continues the sweep elsewhere: nothing to train.
        light = os.path.join(self.tmp, "light")
        sweep_cmd("export", self.sweep, "--out", out, "--to", light)
        self.assertFalse([f for _, _, fs in os.walk(light) for f in fs if f.endswith("checkpoint.safetensors")])
        self.assertTrue(os.path.exists(os.path.join(light, cell_name("wgan", "l2", 2) + "-0", "samples",
                                                    "iter_000004.png")))
        self.assertIn("8 finished, 0 to run", sweep_cmd("run", self.sweep, "--out", light).stdout)
        sweep_cmd("table", self.sweep, "--out", light, "--no-curves")
        self.assertEqual(read_table_csv(light), read_table_csv(out))
        # A cell that has started but logged nothing yet leaves the other cells' curves drawn.
        open(os.path.join(light, cell_name("wgan", "l2", 2) + "-0", "metrics.jsonl"), "w").close()
        r = sweep_cmd("table", self.sweep, "--out", light)
        self.assertNotIn("curves not drawn", r.stdout + r.stderr)
        with open(os.path.join(light, "curves.svg")) as f:
            svg = f.read()
        self.assertIn('id="6:fid"', svg)
        self.assertNotIn('id="7:fid"', svg)

        # Finished cells are never trained again, by `run` or by `run-cell`.
        ckpt = os.path.join(out, cell_name("hinge", "l2", 1) + "-0", "checkpoint.safetensors")
        before = os.stat(ckpt).st_mtime_ns
        r = sweep_cmd("run", self.sweep, "--out", out, "-j", "2")
        self.assertIn("8 finished, 0 to run", r.stdout)
        r = sweep_cmd("run-cell", self.sweep, "--out", out, "--index", "0")
        self.assertIn("finished already", r.stdout)
        self.assertEqual(os.stat(ckpt).st_mtime_ns, before)
        with open(os.path.join(out, "cells", cell_name("hinge", "l2", 1) + ".json")) as f:
            self.assertEqual(len(json.load(f)["attempts"]), 1)

        # A sweep whose base changed does not silently reuse the old runs.
        changed = os.path.join(self.tmp, "changed.toml")
        with open(changed, "w") as f:
            f.write(SWEEP.replace("n_iter = 4", "n_iter = 6").replace("fid_n = 16", "fid_n = 20"))
        r = sweep_cmd("run", changed, "--out", out, check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("fid_n", r.stdout + r.stderr)

    def test_killed_cell_resumes_to_the_same_numbers(self):
        long_sweep = os.path.join(self.tmp, "long.toml")
        with open(long_sweep, "w") as f:
            f.write(SWEEP.replace("n_iter = 4", "n_iter = 400\nsave_every = 20")
                    .replace("log_every = 1", "log_every = 10").replace("fid_every = 2", "fid_every = 100")
                    .replace('seed = [1, 2]', 'seed = [1]').replace('loss = ["hinge", "wgan"]', 'loss = ["hinge"]')
                    .replace('gp-norm = ["l2", "linf"]', 'gp-norm = ["linf"]'))
        whole, cut = os.path.join(self.tmp, "whole"), os.path.join(self.tmp, "cut")
        sweep_cmd("run-cell", long_sweep, "--out", whole, "--index", "0")
        name = cell_name("hinge", "linf", 1) + "-0"
        p = subprocess.Popen(["/usr/bin/python3", TOOL, "run-cell", long_sweep, "--out", cut, "--index", "0"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        rd = os.path.join(cut, name)
        deadline = time.time() + 120
        while time.time() < deadline:
            if os.path.exists(os.path.join(rd, "checkpoint.safetensors")) and len(metrics(rd)) >= 8:
                break
            time.sleep(0.005)
        os.killpg(p.pid, signal.SIGKILL)  # run-cell and mmgan: as a pre-empted node would
        p.wait()
        done = len(metrics(rd))
        self.assertFalse(os.path.exists(os.path.join(rd, "finished.json")), "the run ended before it was killed")
        self.assertLess(done, 40)
        self.assertIn("stopped", sweep_cmd("status", long_sweep, "--out", cut).stdout)
        r = sweep_cmd("run", long_sweep, "--out", cut, "--threads", "1")
        self.assertIn("resume", r.stdout)
        self.assertEqual(metrics(rd), metrics(os.path.join(whole, name)))
        for f in ("checkpoint.safetensors", "best.safetensors"):
            (ta, ma), (tb, mb) = (st_io.load(os.path.join(d, f)) for d in (rd, os.path.join(whole, name)))
            self.assertEqual(sorted(ta), sorted(tb))
            for k in ta:
                self.assertTrue((ta[k] == tb[k]).all(), f"{f}: {k}")
            ma.pop("config"), mb.pop("config")  # names the output folder
            self.assertEqual(ma, mb, f)
        with open(os.path.join(cut, "cells", cell_name("hinge", "linf", 1) + ".json")) as f:
            kinds = [a["kind"] for a in json.load(f)["attempts"]]
        self.assertEqual(kinds, ["fresh", "resume"])

    def test_dry_run_lists_the_cells_and_their_commands(self):
        out = os.path.join(self.tmp, "out")
        r = sweep_cmd("run", self.sweep, "--out", out, "--dry-run")
        lines = [l for l in r.stdout.splitlines() if l.startswith("[")]
        self.assertEqual(len(lines), 8)
        self.assertIn("[7] wgan_linf_seed2 (fresh)", lines[7])
        self.assertIn("--loss wgan --gp-norm linf --seed 2", lines[7])
        self.assertIn(f"--output_folder {out} --run_name wgan_linf_seed2", lines[7])
        self.assertFalse(os.path.exists(os.path.join(out, "wgan_linf_seed2-0")))

    def test_one_run_per_gpu(self):
        # CPU cells, so this runs anywhere: each run is given one of the GPUs through CUDA_VISIBLE_DEVICES.
        out = os.path.join(self.tmp, "out")
        r = sweep_cmd("run", self.sweep, "--out", out, "--gpus", "0,1", "--threads", "1")
        self.assertIn("8 cells to run, 2 at a time on GPUs 0,1, 1 thread(s) each", r.stdout)
        seen = []
        for c in CELLS:
            with open(os.path.join(out, "cells", cell_name(*c) + ".json")) as f:
                (a,) = json.load(f)["attempts"]
            self.assertEqual(a["omp_num_threads"], "1")
            seen.append(a["cuda_visible_devices"])
        self.assertEqual(set(seen), {"0", "1"})
        r = sweep_cmd("run", self.sweep, "--out", os.path.join(self.tmp, "o2"), "--gpus", "0,1", "-j", "3", check=False)
        self.assertIn("-j 3: more runs at a time than --gpus (2)", r.stderr)

    def test_include_and_exclude(self):
        grouped = os.path.join(self.tmp, "grouped.toml")
        with open(grouped, "w") as f:
            f.write(SWEEP.replace("seed = [1, 2]", "seed = [1]") +
                    '[[exclude]]\nloss = "wgan"\ngp-norm = "l2"\n[[include]]\nloss = "hinge"\nseed = [2, 3]\n')
        names = [l.split()[1] for l in sweep_cmd("list", grouped).stdout.splitlines()]
        self.assertEqual(names, ["hinge_l2_seed1", "hinge_linf_seed1", "wgan_linf_seed1", "hinge_l2_seed2",
                                 "hinge_l2_seed3", "hinge_linf_seed2", "hinge_linf_seed3"])

    def test_bad_sweep_files_name_the_key(self):
        cases = [
            ("[base]\ngp_nrom = 'l2'\n[axes]\nseed = [1]\n", "gp_nrom: not an `mmgan train` flag"),
            ("[base]\nn_iter = 4\n[axes]\nseed = 1\n", "[axes] seed: a non-empty list"),
            ("[base]\nrun_name = 'x'\n[axes]\nseed = [1]\n", "run_name: set by mmgan-sweep"),
            ("[axes]\nseed = [1]\n[table]\nrows = ['loss']\n", "[table] rows"),
            ("[axes]\nseed = [1]\n[table]\nstat = 'median'\n", "[table] stat"),
            ("[axes]\nseed = [1]\n[tabel]\n", "unknown section [tabel]"),
            ("[axes]\nseed = [1]\n[[exclude]]\nlos = 'wgan'\n", "los is not an axis"),
            ("[base]\nloss = 'wgan'\n[axes]\nloss_D = ['hinge']\n", "loss and loss_D are the same"),
            ("[axes]\nseed = [1, 1]\n", "[axes] seed: a value appears twice"),
            ("[axes\nseed = [1]\n", "not a valid TOML file"),
            ("[base]\nseed = [1]\n[axes]\nloss = ['wgan']\n", "[base] seed: a single"),
        ]
        for i, (text, want) in enumerate(cases):
            path = os.path.join(self.tmp, f"bad{i}.toml")
            with open(path, "w") as f:
                f.write(text)
            r = sweep_cmd("run", path, "--out", os.path.join(self.tmp, "o"), "--dry-run", check=False)
            self.assertEqual(r.returncode, 2, text)
            self.assertIn(want, r.stderr, text)
            self.assertIn(f"bad{i}.toml", r.stderr, text)
        r = sweep_cmd("run-cell", self.sweep, "--out", os.path.join(self.tmp, "o"), "--index", "8", check=False)
        self.assertIn("--index 8: the sweep has cells 0-7", r.stderr)


if __name__ == "__main__":
    if not MMGAN or not os.access(MMGAN, os.X_OK):
        print("test_sweep: set MMGAN_BINARY to the mmgan binary")
        sys.exit(SKIP)
    if not os.path.isdir(FMNIST):
        print(f"test_sweep: {FMNIST} (dataset-fashion-mnist) is not installed")
        sys.exit(SKIP)
    unittest.main()
