#!/usr/bin/python3
"""tools/plot_margins.py draws what `mmgan margins` wrote: the drawn points, margin segments, expected
boundaries, Figure 2 curves and ring samples are read back from the matplotlib artists and compared
with the files (read independently with tools/st_io.py). Needs MMGAN_BINARY (set by CTest)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "tools", "plot_margins.py")
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import plot_margins  # noqa: E402
import st_io  # noqa: E402


def artists(fig, gid):
    return [a for ax in fig.axes for a in ax.get_children() if a.get_gid() == gid]


class PlotMargins(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mmgan-test-plot-margins-")
        binary = os.environ.get("MMGAN_BINARY")
        if not binary:
            raise unittest.SkipTest("needs MMGAN_BINARY (run through CTest)")
        # Few steps: this checks the drawing, not the training (tests/test_margin_lab.cpp does).
        r = subprocess.run([binary, "margins", "--out", cls.tmp, "--steps", "150", "--gan_iters", "4", "--grid", "31"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(r.stdout + r.stderr)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def test_critic_panels(self):
        for layout in ("segments", "norms"):
            path = os.path.join(self.tmp, f"critics-{layout}.safetensors")
            t, meta = st_io.load(path)
            meta = json.loads(meta["lab"])
            fig = plot_margins.draw_critics(path)
            axes = [ax for ax in fig.axes if ax.get_title()]
            self.assertEqual(len(axes), 6)
            by_title = {}
            for c in meta["critics"]:
                title = [ax for ax in axes if ax.get_title().startswith(plot_margins.NAME[c["norm"]] + " penalty")
                         and f", {c['form']}\n" in ax.get_title()]
                self.assertEqual(len(title), 1, c["key"])
                by_title[c["key"]] = title[0]
            for key, ax in by_title.items():
                c = next(c for c in meta["critics"] if c["key"] == key)
                kids = {a.get_gid(): a for a in ax.get_children() if a.get_gid()}
                for cls in ("real", "fake"):
                    np.testing.assert_array_equal(kids[cls].get_offsets(), t[cls])
                    segs = np.array(kids[f"margins-{cls}"].get_segments())
                    np.testing.assert_array_equal(segs[:, 0], t[cls])
                    np.testing.assert_array_equal(segs[:, 1], t[f"{key}.{cls}.foot"])
                    # The segment's L-p length is the margin written (the foot is the projection).
                    p = np.inf if c["margin_p"] == "inf" else c["margin_p"]
                    lengths = np.linalg.norm(segs[:, 1] - segs[:, 0], ord=p, axis=1)
                    np.testing.assert_allclose(lengths, np.abs(t[f"{key}.{cls}.margin"]), rtol=1e-9)
                # The expected boundary: through expected_point, perpendicular to expected_normal.
                line = kids["expected-boundary"]
                xy = np.stack([line.get_xdata(), line.get_ydata()], 1)
                n = np.array(c["expected_normal"])
                np.testing.assert_allclose((xy - np.array(c["expected_point"])) @ n, 0, atol=1e-12)
                self.assertIn("gradient", kids)
                self.assertIn(f"min margin {c['min_margin']:.3f}", ax.get_title())

    def test_figure2(self):
        path = os.path.join(self.tmp, "figure2.safetensors")
        t, meta = st_io.load(path)
        meta = json.loads(meta["lab"])
        fig = plot_margins.draw_figure2(path)
        self.assertEqual(len(meta["critics"]), 3)
        for c in meta["critics"]:
            (line,) = artists(fig, c["key"])
            np.testing.assert_array_equal(line.get_xdata(), t["x1"])
            np.testing.assert_array_equal(line.get_ydata(), t[c["key"] + ".grad"])
            i = int(np.argmin(np.abs(t["x1"] + 1)))  # x1 = -1: the fake samples
            self.assertAlmostEqual(float(t[c["key"] + ".grad"][i]), c["grad_fake"], places=12)

    def test_ring8(self):
        path = os.path.join(self.tmp, "ring8.safetensors")
        t, meta = st_io.load(path)
        meta = json.loads(meta["lab"])
        figs = plot_margins.draw_ring8(path)
        self.assertEqual(sorted(figs), sorted(r["penalty"] for r in meta["runs"]))
        for run in meta["runs"]:
            fig = figs[run["penalty"]]
            self.assertEqual([s["iter"] for s in run["snapshots"]], [0, 1, 2, 4])
            for s in run["snapshots"]:
                (sc,) = artists(fig, f"iter_{s['iter']}")
                np.testing.assert_array_equal(sc.get_offsets(), t[f"{run['penalty']}.iter_{s['iter']}"])
            np.testing.assert_array_equal(artists(fig, "real")[0].get_offsets(), t["real"])

    def test_command(self):
        out = os.path.join(self.tmp, "png")
        r = subprocess.run([sys.executable, SCRIPT, self.tmp, "--out", out], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        names = sorted(os.listdir(out))
        self.assertIn("margins-norms.png", names)
        self.assertIn("figure2.png", names)
        self.assertIn("ring8-linf-hinge.png", names)
        for n in names:
            with open(os.path.join(out, n), "rb") as f:
                self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
        r = subprocess.run([sys.executable, SCRIPT, os.path.join(self.tmp, "nope")], capture_output=True, text=True)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("nope: no such folder", r.stderr)
        r = subprocess.run([sys.executable, SCRIPT, out], capture_output=True, text=True)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("no margin-lab files", r.stderr)


if __name__ == "__main__":
    unittest.main()
