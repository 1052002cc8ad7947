#!/usr/bin/python3
"""The rehearsal of tools/gpu_check.sh and tools/gpu_report.py on a machine without a GPU (issue 18):
a stub nvidia-smi, compute-sanitizer and PyTorch, and stub binaries (a gtest executable that writes
the XML of chosen outcomes, an mmgan that writes chosen metrics) run the real script and the real
report. Proves the step selection, the classification of skipped CUDA tests by name (one skip by
design allowed, every other one fails), that summary.txt and the logs archive are written after each
step and survive a step killed by its timeout, the budget arithmetic (a step gets min(its cap, what
is left), the stage ends within its budget whatever hangs), the no-GPU path, the train comparisons
on synthetic and on real CPU metrics, and the bench table. Also the static check that every test
needing CUDA has 'Cuda' in its name, so the filter '*Cuda*' runs it; and, where MMGAN_BINARY names a
CPU build, the tests step against its real test executables (every CUDA test skips: the step fails)."""
import json
import math
import os
import random
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SCRIPT = os.path.join(ROOT, "tools", "gpu_check.sh")
sys.path.insert(0, os.path.join(ROOT, "tools"))
import gpu_report  # noqa: E402

ALLOWED = "CudaBackend.WithoutAGpuTheErrorSaysSo"


def write(path, text, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def exe(path, text):
    write(path, textwrap.dedent(text).lstrip(), 0o755)


GTEST_STUB = r'''
#!/usr/bin/env python3
# A gtest executable: the outcomes come from SPEC (JSON): {"tests": [[full name, outcome]], "sleep": s, "rc": n}.
import json, sys, time, os
spec = json.load(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "specs",
                                   os.path.basename(sys.argv[0]) + ".json")))
args = sys.argv[1:]
if "--gtest_list_tests" in args:
    suites = {}
    for name, _ in spec["tests"]:
        s, t = name.split(".", 1)
        suites.setdefault(s, []).append(t)
    print("Running main() from gtest_main.cc")
    for s, ts in suites.items():
        print(s + ".")
        for t in ts:
            print("  " + t)
    sys.exit(0)
time.sleep(spec.get("sleep", 0))
xml = next(a.split("xml:", 1)[1] for a in args if a.startswith("--gtest_output=xml:"))
cases = []
for name, outcome in spec["tests"]:
    s, t = name.split(".", 1)
    print(f"[ RUN      ] {name}")
    body = {"failed": '<failure message="boom&#x0A;at x.cpp:1" type=""/>',
            "skipped": '<skipped message="no CUDA device"/>'}.get(outcome, "")
    result = "skipped" if outcome == "skipped" else "completed"
    cases.append(f'<testcase name="{t}" status="run" result="{result}" time="0" classname="{s}">{body}</testcase>')
open(xml, "w").write('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites><testsuite name="x">' + "".join(cases) +
                     "</testsuite></testsuites>\n")
sys.exit(spec.get("rc", 1 if any(o == "failed" for _, o in spec["tests"]) else 0))
'''

MMGAN_STUB = r'''
#!/usr/bin/env python3
# mmgan train: writes the metrics of ../specs/metrics-RUN_NAME.jsonl into OUTPUT/RUN_NAME-0/.
import os, sys, shutil, time
a = sys.argv[1:]
opt = lambda k: a[a.index(k) + 1]
here = os.path.dirname(os.path.abspath(__file__))
time.sleep(float(os.environ.get("STUB_MMGAN_SLEEP", "0")))
d = os.path.join(opt("--output_folder"), opt("--run_name") + "-0")
os.makedirs(d, exist_ok=True)
src = os.path.join(here, "..", "specs", "metrics-" + opt("--run_name") + ".jsonl")
if os.path.exists(src):
    shutil.copy(src, os.path.join(d, "metrics.jsonl"))
print("train", " ".join(a))
'''

BENCH_STUB = r'''
#!/usr/bin/env python3
# bench_train / bench_kernels: a Google Benchmark JSON of chosen rows.
import json, os, sys
name = os.path.basename(sys.argv[0])
out = next(x.split("=", 1)[1] for x in sys.argv[1:] if x.startswith("--benchmark_out="))
row = lambda n, t, unit, **c: dict(name=n, run_type="iteration", real_time=t, time_unit=unit, **c)
rows = {"bench_train": [row(f"TrainIteration_{k}/{b}/min_time:2.000/real_time", t, "ms")
                        for k, b, t in (("cuda", 32, 2.0), ("cuda", 64, 3.0), ("cuda_graph", 32, 0.8),
                                        ("cuda_graph", 64, 1.5))],
        "bench_kernels": [row("BM_CopyCeiling/manual_time", 100, "ns", **{"GB/s": 4300.0}),
                          row("BM_GemmCeiling/manual_time", 100, "ns", **{"TFLOP/s": 400.0}),
                          row("BM_UnaryLeakyRelu/1048576/manual_time", 5000, "ns",
                              **{"GB/s": 1700.0, "of_copy": 0.4})]}[name]
json.dump({"context": {}, "benchmarks": rows}, open(out, "w"))
'''

TORCH_STUB = r'''
#!/bin/bash
# python3 with PyTorch: the env step's snippet, site-packages, tools/bench_iteration_torch.py.
case "$1" in
  -) cat >/dev/null; echo "PyTorch 2.11.0+stub (CUDA 13.0, cuDNN 91300), device NVIDIA H200"; exit 0 ;;
  -c) exit 0 ;;
esac
shift
batch=32 mode=eager flops=""
while [ $# -gt 0 ]; do
  case $1 in --batch) batch=$2; shift ;; --graph) mode=cuda-graph ;; --flops) flops=1 ;; esac
  shift
done
sleep "${STUB_TORCH_SLEEP:-0}"
sec=$([ $mode = eager ] && echo 0.010000 || echo 0.002000)
line="pytorch 2.11.0 NVIDIA H200 batch $batch $mode: $sec s/iteration (mean of 200)"
[ -n "$flops" ] && line="$line; 10.00 GFLOP/iteration; TF32 matmul 400 TFLOP/s; this iteration reaches 0.3 % of it"
echo "$line"
'''

SANITIZER_STUB = r'''
#!/bin/bash
# compute-sanitizer: runs the program (the first argument with a /), then its summary.
while [ $# -gt 0 ] && [[ $1 != */* ]]; do shift; done
"$@"
rc=$?
echo "========= ERROR SUMMARY: 0 errors"
exit $rc
'''


def metrics(n_iter, every, seed, scale=1.0, shift=0.0, nan_at=None):
    """Synthetic metrics.jsonl rows: noisy losses around fixed means (a GAN's second half)."""
    r = random.Random(seed)
    rows = []
    for i in range(every - 1, n_iter, every):
        m = {"iter": i, "loss_D": (1.2 + shift + 0.3 * r.gauss(0, 1)) * scale, "loss_G": 2.5 + 0.8 * r.gauss(0, 1),
             "penalty": abs(0.01 * r.gauss(0, 1)), "grad_norm_mean": 0.9 + 0.05 * r.gauss(0, 1),
             "grad_norm_max": 1.1 + 0.1 * r.gauss(0, 1), "sec_per_iter": 0.001}
        if nan_at is not None and i >= nan_at:
            m["loss_D"] = math.nan
        rows.append(m)
    return rows


def dump(path, rows):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        for m in rows:
            f.write(json.dumps(m) + "\n")


class Rig:
    """A stub bundle, stub tools on PATH, and the files the train step compares."""

    def __init__(self, tmp, tests=None, nvidia_smi=True):
        self.tmp = tmp
        self.bundle = os.path.join(tmp, "bundle")
        self.stubs = os.path.join(tmp, "stubs")
        b = os.path.join(self.bundle, "bin")
        exe(os.path.join(b, "mmgan"), MMGAN_STUB)
        exe(os.path.join(b, "bench_train"), BENCH_STUB)
        exe(os.path.join(b, "bench_kernels"), BENCH_STUB)
        os.makedirs(os.path.join(self.bundle, "lib"))
        self.tests = tests if tests is not None else {
            "test_a": {"tests": [["Capture.OneCuda", "passed"], ["All/OpTest.CudaMatchesCpu/0", "passed"]]},
            "test_b": {"tests": [["CudaBackend.HostCopiesCuda", "passed"], [ALLOWED, "skipped"]]}}
        for name, spec in self.tests.items():
            exe(os.path.join(b, name), GTEST_STUB)
            write(os.path.join(self.bundle, "specs", name + ".json"), json.dumps(spec))
        exact = metrics(20, 1, 1)
        stats = metrics(300, 10, 2)
        for name, rows in (("exact", exact), ("stats", stats)):
            dump(os.path.join(self.bundle, "ref", name, "metrics.jsonl"), rows)
            dump(os.path.join(self.bundle, "specs", f"metrics-{name}.jsonl"), rows)
        os.makedirs(os.path.join(self.bundle, "data", "fashion-mnist"))
        if nvidia_smi:
            exe(os.path.join(self.stubs, "nvidia-smi"), """
                #!/bin/bash
                echo "NVIDIA H200, 580.159.04, 143771 MiB, 9.0"
                """)
        else:  # present but finding no device, as on a machine whose driver sees none
            exe(os.path.join(self.stubs, "nvidia-smi"), """
                #!/bin/bash
                echo "No devices were found"; exit 6
                """)
        exe(os.path.join(self.stubs, "compute-sanitizer"), SANITIZER_STUB)
        exe(os.path.join(self.stubs, "torch-python"), TORCH_STUB)

    def run(self, stage, steps=None, budget=None, env=None, timeout=60):
        e = dict(os.environ)
        e.pop("OUT", None)
        e.update({"PATH": self.stubs + os.pathsep + e["PATH"], "GPU_CHECK_BUNDLE": self.bundle,
                  "GPU_CHECK_PYTHON": os.path.join(self.stubs, "torch-python"), "OUT": os.path.join(self.tmp, "out"),
                  "GPU_CHECK_WORK": os.path.join(self.tmp, "work"), "GPU_CHECK_TESTS": " ".join(self.tests)})
        if steps is not None:
            e["GPU_CHECK_STEPS"] = steps
        if budget is not None:
            e["GPU_CHECK_BUDGET_S"] = str(budget)
        e.update(env or {})
        t0 = time.monotonic()
        r = subprocess.run(["bash", SCRIPT, str(stage)], env=e, capture_output=True, text=True, timeout=timeout)
        r.elapsed = time.monotonic() - t0
        return r

    def summary(self):
        with open(os.path.join(self.tmp, "out", "summary.txt")) as f:
            return f.read()

    def verdicts(self):
        """{step: verdict} from the result block at the end of summary.txt."""
        text = self.summary()
        block = text.split("== result of stage", 1)[1].splitlines()[1:]
        return {line.split()[0]: line.split(None, 1)[1] for line in block if line and not line.startswith("OVERALL")}

    def archived(self, stage):
        with tarfile.open(os.path.join(self.tmp, "out", f"logs-stage{stage}.tar.gz")) as t:
            return {os.path.normpath(n) for n in t.getnames()}


class GpuCheck(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="gpu-check-test-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_stage1_passes_with_only_the_allowed_skip(self):
        rig = Rig(self.tmp)
        compiled = os.path.join(self.tmp, "elsewhere", "build", "tools", "mmgan")  # a path compiled into a test
        write(os.path.join(rig.bundle, "paths.tsv"), f"{compiled}\tbin/mmgan\n")
        r = rig.run(1)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(rig.verdicts(), {"env": "PASS", "tests": "PASS", "train": "PASS", "bench": "PASS"})
        s = rig.summary()
        self.assertIn("OVERALL PASS", s)
        self.assertIn("3 passed, 0 failed, 1 skipped-by-design, 0 skipped-wrongly", s)
        self.assertIn("gpu: NVIDIA H200, 580.159.04", s)
        # The bench table: 10 ms eager and 2 ms graph in PyTorch against 0.8 ms replayed.
        self.assertIn("12.5x", s)
        self.assertIn("2.5x", s)
        self.assertIn(">= 8x PyTorch eager: MET", s)
        self.assertEqual(os.path.realpath(compiled), os.path.realpath(os.path.join(rig.bundle, "bin", "mmgan")))
        files = rig.archived(1)
        for f in ("env.log", "tests.log", "gtest-test_a.xml", "gtest-test_b.xml", "bench_train.json",
                  "torch-eager-32.log", "runs/stats-0/metrics.jsonl"):
            self.assertIn(f, files)

    def test_a_skipped_cuda_test_fails_the_step_by_name(self):
        rig = Rig(self.tmp, tests={"test_a": {"tests": [["Capture.OneCuda", "skipped"], [ALLOWED, "skipped"],
                                                        ["Ops.OtherCuda", "passed"]]}})
        r = rig.run(1, steps="tests")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(rig.verdicts(), {"tests": "FAIL (report)"})
        s = rig.summary()
        self.assertIn("SKIPPED-WRONGLY: Capture.OneCuda (test_a): no CUDA device", s)
        self.assertNotIn("SKIPPED-WRONGLY: " + ALLOWED, s)
        self.assertIn("1 skipped-by-design", s)

    def test_failures_crashes_and_missing_executables_fail(self):
        rig = Rig(self.tmp, tests={"test_a": {"tests": [["A.OneCuda", "failed"], ["A.TwoCuda", "passed"]]},
                                   "test_b": {"tests": [["B.OneCuda", "passed"]], "rc": 139}})
        r = rig.run(1, steps="tests", env={"GPU_CHECK_TESTS": "test_a test_b test_gone"})
        self.assertEqual(r.returncode, 1)
        s = rig.summary()
        self.assertIn("FAILED: A.OneCuda (test_a): boom", s)
        self.assertIn("test_b: exit status 139 although every selected test passed", s)
        self.assertIn("test_gone: executable missing", s)

    def test_step_selection(self):
        rig = Rig(self.tmp)
        r = rig.run(2, steps="memcheck kernels")
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertEqual(list(rig.verdicts()), ["memcheck", "kernels"])
        self.assertIn("ERROR SUMMARY: 0 errors", rig.summary())
        self.assertIn("BM_UnaryLeakyRelu/1048576", rig.summary())
        self.assertNotIn("env.log", rig.archived(2))
        r = rig.run(1, steps="env memcheck")
        self.assertEqual(r.returncode, 2)
        self.assertIn("stage 1 has no step 'memcheck'", r.stderr)
        self.assertEqual(rig.run(3).returncode, 2)

    def test_a_step_killed_by_its_timeout_leaves_the_earlier_results(self):
        rig = Rig(self.tmp, tests={"test_a": {"tests": [["A.OneCuda", "passed"]]},
                                   "test_b": {"tests": [["B.OneCuda", "passed"]], "sleep": 1000}})
        r = rig.run(1, steps="env tests train", env={"GPU_CHECK_CAP_TESTS": "12"})
        self.assertEqual(r.returncode, 1)
        v = rig.verdicts()
        self.assertEqual(v["env"], "PASS")
        self.assertTrue(v["tests"].startswith("FAIL"), v)
        self.assertEqual(v["train"], "PASS")  # the stage went on after the hung step
        s = rig.summary()
        self.assertIn("B.OneCuda", s)
        self.assertIn("NOT-RUN", s)
        files = rig.archived(1)
        self.assertIn("env.log", files)
        self.assertIn("gtest-test_a.xml", files)  # the executable that finished before the hang

    def test_the_stage_ends_within_its_budget(self):
        rig = Rig(self.tmp, tests={"test_a": {"tests": [["A.OneCuda", "passed"]], "sleep": 1000}})
        r = rig.run(1, budget=20, env={"STUB_MMGAN_SLEEP": "1000", "STUB_TORCH_SLEEP": "1000"})
        self.assertLessEqual(r.elapsed, 20 + 1.5, r.stdout)
        self.assertEqual(r.returncode, 1)
        v = rig.verdicts()
        self.assertEqual(v["env"], "PASS")
        self.assertIn("not run: the stage's budget is spent", v["bench"])
        self.assertIn("OVERALL FAIL", rig.summary())

    def test_budget_arithmetic(self):
        def bt(*args):
            r = subprocess.run(["bash", "-c", f'GPU_CHECK_LIB=1 source "{SCRIPT}"; budget_timeout {" ".join(args)}'],
                               capture_output=True, text=True, check=True)
            return int(r.stdout)

        self.assertEqual(bt("100", "50"), 50)    # what is left, when less than the cap
        self.assertEqual(bt("30", "50"), 30)     # the cap
        self.assertEqual(bt("100", "1"), 0)      # under the minimum: not started
        self.assertEqual(bt("100", "-7"), 0)     # over budget already
        self.assertEqual(bt("100", "4", "5"), 0)
        self.assertEqual(bt("100", "5", "5"), 5)

    def test_without_a_gpu_the_stage_stops_at_once(self):
        rig = Rig(self.tmp, nvidia_smi=False)
        r = rig.run(1)
        self.assertEqual(r.returncode, 1)
        self.assertLess(r.elapsed, 15)
        self.assertEqual(rig.verdicts(), {"env": "FAIL (exit status 1)", "tests": "FAIL (not run: no GPU)",
                                          "train": "FAIL (not run: no GPU)", "bench": "FAIL (not run: no GPU)"})
        self.assertIn("no GPU", rig.summary())

    def test_train_step_fails_on_a_diverged_gpu_run(self):
        rig = Rig(self.tmp)
        dump(os.path.join(rig.bundle, "specs", "metrics-stats.jsonl"), metrics(300, 10, 2, nan_at=200))
        r = rig.run(1, steps="train")
        self.assertEqual(r.returncode, 1)
        self.assertIn("non-finite loss_D at iteration 209", rig.summary())

    @unittest.skipUnless(os.environ.get("MMGAN_BINARY"), "MMGAN_BINARY (a CPU build) is not set")
    def test_tests_step_against_the_cpu_build_fails_every_skip(self):
        tests_dir = os.path.join(os.path.dirname(os.path.dirname(os.environ["MMGAN_BINARY"])), "tests")
        present = [t for t in ("test_cuda_backend", "test_capture") if os.path.exists(os.path.join(tests_dir, t))]
        if not present:
            self.skipTest("no test executables next to MMGAN_BINARY")
        rig = Rig(self.tmp)
        r = rig.run(1, steps="tests", env={"GPU_CHECK_TEST_BIN": tests_dir, "GPU_CHECK_TESTS": " ".join(present)})
        self.assertEqual(r.returncode, 1)
        s = rig.summary()
        self.assertIn("SKIPPED-WRONGLY", s)
        if "test_cuda_backend" in present:  # the allow-listed test ran: no GPU seen
            self.assertIn("RAN-NOT-SKIPPED: " + ALLOWED, s)


class Report(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="gpu-report-test-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def compare(self, cmd, ref, run, *extra):
        a, b = os.path.join(self.tmp, "ref.jsonl"), os.path.join(self.tmp, "run.jsonl")
        dump(a, ref)
        dump(b, run)
        return gpu_report.main([cmd, a, b, *extra])

    def test_exact_comparison(self):
        ref = metrics(20, 1, 1)
        self.assertEqual(self.compare("train-exact", ref, ref), 0)
        close = [dict(m, loss_D=m["loss_D"] * (1 + 1e-9)) for m in ref]
        self.assertEqual(self.compare("train-exact", ref, close), 0)
        off = [dict(m, loss_G=m["loss_G"] * (1 + 1e-4) if m["iter"] == 7 else m["loss_G"]) for m in ref]
        self.assertEqual(self.compare("train-exact", ref, off), 1)  # a 1e-4 change at one iteration
        self.assertEqual(self.compare("train-exact", ref, ref[:10]), 1)  # stopped early
        self.assertEqual(self.compare("train-exact", ref, metrics(20, 1, 1, nan_at=5)), 1)
        # A penalty of exactly 0 in the reference: held to floor x the series' scale, not divided by 0.
        z = [dict(m, penalty=0.0) for m in ref]
        self.assertEqual(self.compare("train-exact", z, [dict(m, penalty=1e-12) for m in z]), 0)

    def test_stats_comparison_synthetic(self):
        ref = metrics(300, 10, 1)
        self.assertEqual(self.compare("train-stats", ref, ref), 0)
        self.assertEqual(self.compare("train-stats", ref, metrics(300, 10, 7)), 0)  # another draw, same process
        self.assertEqual(self.compare("train-stats", ref, metrics(300, 10, 7, shift=-1.2)), 1)  # D wins outright
        self.assertEqual(self.compare("train-stats", ref, metrics(300, 10, 7, scale=10)), 1)  # a blow-up
        self.assertEqual(self.compare("train-stats", ref, metrics(300, 10, 7, nan_at=250)), 1)
        self.assertEqual(self.compare("train-stats", ref, metrics(200, 10, 7)), 1)  # stopped early

    def test_stats_comparison_accepts_two_real_cpu_runs_of_different_seeds(self):
        # mmgan train --device cpu --n_iter 300 --log_every 10 on 2048 Fashion-MNIST images (the
        # bundle's subset), seeds 1 and 2: two trajectories of the same training, as chaotic
        # divergence makes a GPU run and the CPU's. The criterion must accept them.
        runs = {}
        for seed, table in REAL_RUNS.items():
            runs[seed] = [dict(zip(REAL_KEYS, row)) for row in table]
        self.assertEqual(self.compare("train-stats", runs[1], runs[2]), 0)
        self.assertEqual(self.compare("train-stats", runs[2], runs[1]), 0)
        collapsed = [dict(m, loss_D=0.0, grad_norm_mean=0.05, grad_norm_max=0.1) for m in runs[2]]
        self.assertEqual(self.compare("train-stats", runs[1], collapsed), 1)

    def test_gtest_classification(self):
        d = os.path.join(self.tmp, "g")
        write(os.path.join(d, "gtest-t.list"), "Running main()\nS.\n  ACuda\n  BCuda  # GetParam() = x\n" +
              "CudaBackend.\n  WithoutAGpuTheErrorSaysSo\n")
        write(os.path.join(d, "gtest-t.xml"), textwrap.dedent("""\
            <testsuites><testsuite name="S">
            <testcase name="ACuda" status="run" result="completed" classname="S"/>
            <testcase name="WithoutAGpuTheErrorSaysSo" status="run" result="skipped" classname="CudaBackend">
              <skipped message="gpu"/></testcase>
            </testsuite></testsuites>"""))
        write(os.path.join(d, "gtest-t.rc"), "124\n")
        results, problems, per = gpu_report.classify(d, gpu_report.ALLOWED_SKIPS)
        self.assertEqual({n: o for _, n, o, _ in results},
                         {"S.ACuda": "passed", "S.BCuda": "not-run", ALLOWED: "skipped-by-design"})
        self.assertEqual([m for _, n, _, m in results if n == "S.BCuda"], ["timed out"])
        self.assertEqual(gpu_report.main(["gtest", d]), 1)

    def test_every_test_that_needs_cuda_is_named_so(self):
        self.assertEqual(gpu_report.main(["check-names", HERE]), 0)
        d = os.path.join(self.tmp, "src")
        write(os.path.join(d, "test_x.cpp"), textwrap.dedent("""\
            TEST(Ops, GoodCuda) { MMGAN_REQUIRE_CUDA(); }
            TEST(Ops, Hidden) {
              const char* s = "}";  // a brace in a string
              if (x) { y(); }
              MMGAN_REQUIRE_CUDA();
            }
            TEST_P(OpTest, AlsoHidden) { if (!cuda_available()) GTEST_SKIP() << "no"; }
            TEST(Ops, Cpu) { EXPECT_TRUE(true); }
            """))
        out = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "gpu_report.py"), "check-names", d],
                             capture_output=True, text=True)
        self.assertEqual(out.returncode, 1)
        self.assertIn("TEST(Ops, Hidden)", out.stdout)
        self.assertIn("TEST_P(OpTest, AlsoHidden)", out.stdout)
        self.assertNotIn("GoodCuda", out.stdout)
        self.assertNotIn("Cpu", out.stdout)
        self.assertEqual(gpu_report.main(["cuda-tests", d]), 0)

    def test_bench_table_needs_every_number(self):
        d = os.path.join(self.tmp, "b")
        os.makedirs(d)
        json.dump({"benchmarks": [{"name": "TrainIteration_cuda_graph/32/real_time", "real_time": 0.5,
                                   "time_unit": "ms"}]}, open(os.path.join(d, "bench_train.json"), "w"))
        write(os.path.join(d, "torch-eager-32.log"), "pytorch 2.11 NVIDIA H200 batch 32 eager: 0.005000 s/iteration "
              "(mean of 200); 8.00 GFLOP/iteration; TF32 matmul 400 TFLOP/s; this iteration reaches 0.4 % of it\n")
        write(os.path.join(d, "torch-graph-32.log"), "pytorch 2.11 NVIDIA H200 batch 32 cuda-graph: capture failed: "
              "RuntimeError: nope\n")
        self.assertEqual(gpu_report.main(["bench", d, "--batches", "32"]), 1)  # no eager mmgan, no torch graph


# Two real CPU runs (see test_stats_comparison_accepts_two_real_cpu_runs_of_different_seeds):
# iter, loss_D, loss_G, penalty, grad_norm_mean, grad_norm_max, rounded to 4 significant digits.
REAL_KEYS = ["iter", "loss_D", "loss_G", "penalty", "grad_norm_mean", "grad_norm_max"]
REAL_RUNS = {
    1: [
        [9, 0.02543, 5.378, 0.0, 0.4871, 0.6281], [19, 0.7084, 10.82, 0.0, 0.4587, 0.5647],
        [29, 0.3154, 2.731, 0.0, 0.5005, 0.6305], [39, 0.1332, 3.997, 0.0, 0.5438, 0.7741],
        [49, 1.283, 13.79, 0.0, 0.5179, 0.7128], [59, 1.56, 6.56, 0.0, 0.5207, 0.6364],
        [69, 0.5909, 2.821, 0.0, 0.4564, 0.5864], [79, 1.117, 5.217, 0.0, 0.4518, 0.6012],
        [89, 0.9186, 5.057, 0.0, 0.4083, 0.5562], [99, 0.4432, 5.149, 0.0, 0.3651, 0.4548],
        [109, 0.7202, 4.36, 0.0, 0.3434, 0.4152], [119, 0.5598, 1.397, 0.0, 0.3635, 0.4383],
        [129, 0.5565, 3.084, 0.0, 0.374, 0.482], [139, 1.119, 6.116, 0.0, 0.3391, 0.4757],
        [149, 0.4018, 2.543, 0.0, 0.371, 0.486], [159, 0.4865, 4.117, 0.0, 0.3582, 0.527],
        [169, 0.1043, 4.001, 0.0, 0.3807, 0.5422], [179, 0.961, 1.629, 0.0, 0.365, 0.5523],
        [189, 0.1858, 2.003, 0.0, 0.3556, 0.4326], [199, 0.2155, 2.291, 0.0, 0.3493, 0.6016],
        [209, 0.2652, 0.5114, 0.0, 0.3776, 0.5887], [219, 0.3023, 3.763, 0.0, 0.3588, 0.4468],
        [229, 0.618, 0.8669, 0.0, 0.3696, 0.5875], [239, 0.6651, -0.6205, 0.0, 0.3898, 0.6599],
        [249, 0.1595, 1.884, 0.0, 0.3571, 0.4857], [259, 1.335, 5.527, 0.0, 0.3321, 0.4077],
        [269, 0.1091, 1.837, 0.0, 0.3541, 0.5054], [279, 0.1741, 2.707, 0.0, 0.3556, 0.4444],
        [289, 0.1118, 1.274, 0.0, 0.3597, 0.5114], [299, 0.2219, 3.741, 0.0, 0.3368, 0.4234],
    ],
    2: [
        [9, 0.1366, 5.148, 0.0, 0.4205, 0.5714], [19, 3.862, 14.25, 0.0, 0.4403, 0.542],
        [29, 1.929, 16.33, 0.0, 0.4906, 0.6061], [39, 0.3227, 7.399, 0.0, 0.5241, 0.6626],
        [49, 1.152, 11.32, 0.0, 0.4843, 0.642], [59, 3.092, 2.418, 0.0, 0.472, 0.6303],
        [69, 2.047, 5.598, 0.0, 0.4098, 0.5433], [79, 0.5546, 1.321, 0.0, 0.3462, 0.4972],
        [89, 0.707, 1.993, 0.0, 0.3345, 0.45], [99, 0.7831, 4.787, 0.0, 0.3352, 0.4252],
        [109, 1.555, 4.733, 0.0, 0.3194, 0.3901], [119, 0.6109, 3.245, 0.0, 0.3208, 0.4307],
        [129, 0.5013, 3.981, 0.0, 0.31, 0.3802], [139, 0.6958, 4.759, 0.0, 0.3036, 0.4537],
        [149, 0.377, 2.693, 0.0, 0.3383, 0.4369], [159, 0.2205, 2.924, 0.0, 0.3296, 0.4516],
        [169, 0.04964, 2.469, 0.0, 0.3214, 0.4393], [179, 1.674, 4.473, 0.0, 0.3288, 0.4378],
        [189, 0.4043, 0.9484, 0.0, 0.3423, 0.4469], [199, 0.7537, 1.787, 0.0, 0.3191, 0.3981],
        [209, 0.1161, 3.001, 0.0, 0.3265, 0.4139], [219, 0.1978, 1.842, 0.0, 0.3168, 0.4315],
        [229, 0.118, 3.073, 0.0, 0.33, 0.4343], [239, 1.753, 0.943, 0.0, 0.3252, 0.3895],
        [249, 0.3867, 2.239, 0.0, 0.3097, 0.4223], [259, 0.03064, 2.185, 0.0, 0.3342, 0.4271],
        [269, 0.4081, 2.167, 0.0, 0.331, 0.4736], [279, 0.1964, 1.991, 0.0, 0.3073, 0.3784],
        [289, 0.2497, 3.951, 0.0, 0.3175, 0.4433], [299, 0.6675, 3.898, 0.0, 0.3635, 0.4962],
    ],
}

if __name__ == "__main__":
    unittest.main()
