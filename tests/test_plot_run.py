#!/usr/bin/python3
"""tools/plot_run.py: the drawn curves are the metrics (read back from the Line2D objects), runs are
labelled by what differs in their configs, missing metrics are absent rather than fatal, and bad
input gives an error naming the folder or flag. With MMGAN_BINARY and the CIFAR-10 sample, also two
real `mmgan train` runs."""
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "tools", "plot_run.py")
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import plot_run  # noqa: E402


def write_run(d, config, records, tail=""):
    os.makedirs(d)
    if config is not None:
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(config, f)
    with open(os.path.join(d, "metrics.jsonl"), "w") as f:
        for m in records:
            f.write(json.dumps(m) + "\n")
        f.write(tail)


def lines_by_gid(fig):
    return {l.get_gid(): l for ax in fig.axes for l in ax.get_lines() if l.get_gid()}


def expected(records, key):
    return [(m["iter"], math.nan if m[key] is None else m[key]) for m in records if key in m]


class PlotRun(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="mmgan-test-plot-run-")

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def check_lines(self, fig, run_index, records):
        """Every metric key of every panel: drawn exactly when the run logged it, with its values."""
        lines = lines_by_gid(fig)
        for _, keys, _ in plot_run.PANELS:
            for key, _ in keys:
                gid = f"{run_index}:{key}"
                want = expected(records, key)
                if not want:
                    self.assertNotIn(gid, lines)
                    continue
                self.assertIn(gid, lines)
                got = list(zip(lines[gid].get_xdata(), lines[gid].get_ydata()))
                self.assertEqual(len(got), len(want), gid)
                for (gx, gy), (wx, wy) in zip(got, want):
                    self.assertEqual(gx, wx, gid)
                    if math.isnan(wy):
                        self.assertTrue(math.isnan(gy), gid)
                    else:
                        self.assertEqual(gy, wy, gid)

    def test_synthetic_runs(self):
        base = {"loss_name": "HingeGAN", "gp_norm": "linf", "penalty_type": "hinge", "penalty": 20.0,
                "penalty_on": True, "seed": 1, "output_folder": "/somewhere/a"}
        full = []
        for i in range(9, 100, 10):
            m = {"iter": i, "loss_D": 1.0 / (i + 1), "loss_G": 0.5 + i * 1e-3, "penalty": 0.01 * (i % 3),
                 "penalty_active": (i % 7) / 7, "grad_norm_mean": 0.4 + i * 1e-3, "grad_norm_max": 0.9 + i * 2e-3,
                 "sec_per_iter": 0.5}
            if (i + 1) % 50 == 0:
                m.update(margin_real=0.3, margin_fake=-0.1 * i, fid=100.0 - i, fid_best=90.0 - i)
            full.append(m)
        full[3]["loss_G"] = None  # a non-finite value is written as null
        # An older run without a penalty, penalty_active or FID, resumed (iteration 29 rewritten) and
        # cut short mid-line.
        old = [{"iter": i, "loss_D": 2.0 - i * 1e-2, "loss_G": 1.0, "sec_per_iter": 0.25} for i in (9, 19, 29)]
        old.append({"iter": 29, "loss_D": 7.0, "loss_G": 1.5, "sec_per_iter": 0.3})
        write_run(os.path.join(self.tmp, "a"), base, full)
        write_run(os.path.join(self.tmp, "b"),
                  dict(base, gp_norm="l2", penalty_on=False, output_folder="/x", device="auto"), old,
                  tail='{"iter": 39, "loss_D": 0.')
        fig = plot_run.draw([os.path.join(self.tmp, "a"), os.path.join(self.tmp, "b")])
        self.check_lines(fig, 0, full)
        self.check_lines(fig, 1, [old[0], old[1], old[3]])  # the rewritten iteration keeps its last record
        legend = [t.get_text() for t in fig.legends[0].get_texts()]
        # Labelled by the differing entries only (not the output folder or device, not the shared ones).
        self.assertEqual(legend, ["gp_norm=linf penalty_on=True", "gp_norm=l2 penalty_on=False"])
        # The ||g|| = 1 line, where a hinge penalty starts acting.
        refs = [l for ax in fig.axes for l in ax.get_lines() if l.get_gid() is None]
        self.assertEqual([list(l.get_ydata()) for l in refs], [[1.0, 1.0]])

        # More runs than the default colour cycle holds (a Table 1 grid has 20): still one colour each.
        many = []
        for k in range(20):
            write_run(os.path.join(self.tmp, f"m{k}"), dict(base, seed=k), full[:2])
            many.append(os.path.join(self.tmp, f"m{k}"))
        fig = plot_run.draw(many)
        colors = {lines_by_gid(fig)[f"{k}:loss_D"].get_color() for k in range(20)}
        self.assertEqual(len(colors), 20)

        # One run with nothing but losses: the other panels say the metric was not logged.
        write_run(os.path.join(self.tmp, "c"), None, old[:2])
        fig = plot_run.draw([os.path.join(self.tmp, "c")])
        self.check_lines(fig, 0, old[:2])
        empty = [t for ax in fig.axes for t in ax.texts if t.get_gid() == "not-logged"]
        self.assertEqual(len(empty), len(plot_run.PANELS) - 3)

    def run_script(self, *args):
        return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True)

    def test_files_and_errors(self):
        run = os.path.join(self.tmp, "r")
        write_run(run, {"loss_name": "WGAN"}, [{"iter": 0, "loss_D": 1.0, "loss_G": 2.0}])
        r = self.run_script(run)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(run, "curves.png"), "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
        with open(os.path.join(run, "curves.svg")) as f:
            self.assertIn("<svg", f.read())
        out = os.path.join(self.tmp, "out", "nested")
        r = self.run_script(run, run, "--out", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.isfile(os.path.join(out, "curves.svg")))

        def fails(args, needle):
            r = self.run_script(*args)
            self.assertNotEqual(r.returncode, 0, args)
            self.assertIn(needle, r.stderr, args)

        fails([os.path.join(self.tmp, "missing")], "missing: no such run folder")
        fails([self.tmp], "no metrics.jsonl")
        fails([run, run], "--out")
        os.makedirs(os.path.join(self.tmp, "fresh"))
        open(os.path.join(self.tmp, "fresh", "metrics.jsonl"), "w").close()
        fails([os.path.join(self.tmp, "fresh")], "no metrics lines yet")
        fails([run, "--bogus"], "--bogus")

    def test_real_runs(self):
        binary = os.environ.get("MMGAN_BINARY")
        cifar = "/work/shared/data/cifar10-sample/data_batch_1_first474.bin"
        if not binary or not os.path.exists(cifar):
            self.skipTest("needs MMGAN_BINARY and the CIFAR-10 sample")
        dirs = []
        for norm in ("linf", "l2"):
            cmd = [binary, "train", "--dataset", "cifar10", "--input_folder", cifar, "--image_size", "16",
                   "--z_size", "8", "--G_h_size", "4", "--D_h_size", "4", "--batch_size", "6", "--n_samples", "4",
                   "--n_iter", "4", "--log_every", "1", "--margin_every", "2", "--print_every", "4", "--gp-norm",
                   norm, "--output_folder", self.tmp, "--run_name", norm]
            r = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"))
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            dirs.append(os.path.join(self.tmp, f"{norm}-0"))
        fig = plot_run.draw(dirs)
        for i, d in enumerate(dirs):
            self.check_lines(fig, i, plot_run.read_metrics(d))
            self.assertIn(f"{i}:margin_fake", lines_by_gid(fig))
            self.assertIn(f"{i}:penalty_active", lines_by_gid(fig))  # the trainer logs what the panel shows
        self.assertEqual([t.get_text() for t in fig.legends[0].get_texts()],
                         ["gp_norm=linf run_name=linf", "gp_norm=l2 run_name=l2"])


if __name__ == "__main__":
    unittest.main()
