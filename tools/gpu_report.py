#!/usr/bin/env python3
"""What tools/gpu_check.sh concludes from the files its steps write, and the checks that
tools/gpu_bundle.sh and tests/test_gpu_check.py share with it. Python 3 standard library only (it
runs on the lent GPU machine, whose python3 is not Debian's).

  gpu_report.py cuda-tests TESTS_DIR           test executables (test_x) with a test named *Cuda*
  gpu_report.py check-names TESTS_DIR          tests that need CUDA but that '*Cuda*' would not select
  gpu_report.py gtest DIR [--allow-skip PAT]   classify DIR/gtest-NAME.{list,xml,rc}
  gpu_report.py train-exact REF RUN            exact-mode metrics.jsonl against the CPU's, tightly
  gpu_report.py train-stats REF RUN            float32 metrics.jsonl against the CPU's, statistically
  gpu_report.py bench DIR                      bench_train.json and torch-*.log: the side-by-side table
  gpu_report.py kernels FILE                   bench_kernels' JSON against the device's copy and cuBLAS rates

Each prints lines for summary.txt and exits 0 when its check passes, 1 when it fails, 2 on bad use.
"""
import argparse
import fnmatch
import glob
import json
import math
import os
import re
import statistics
import sys
import xml.etree.ElementTree as ET

# Tests that skip on a GPU machine by design. Any other skip of a '*Cuda*' test there fails the check.
ALLOWED_SKIPS = ["CudaBackend.WithoutAGpuTheErrorSaysSo"]

# ---------------------------------------------------------------------------------------------------
# The test sources: which tests need CUDA, and whether the gtest filter '*Cuda*' selects them.

TEST_RE = re.compile(r"^\s*(TEST|TEST_F|TEST_P)\s*\(\s*(\w+)\s*,\s*(\w+)\s*\)", re.M)


def _body(text, start):
    """The text of the brace-delimited block that starts at the first '{' at or after `start`,
    skipping string and character literals and comments."""
    i, n, depth, begin = start, len(text), 0, None
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            i = text.find("\n", i)
            i = n if i < 0 else i
            continue
        if text.startswith("/*", i):
            i = text.find("*/", i + 2)
            i = n if i < 0 else i + 2
            continue
        if c == 'R' and text.startswith('R"', i):  # raw string R"delim( ... )delim"
            m = re.match(r'R"([^(\s]*)\(', text[i:])
            if m:
                end = text.find(")" + m.group(1) + '"', i + m.end())
                i = n if end < 0 else end + len(m.group(1)) + 2
                continue
        if c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            i = j + 1
            continue
        if c == "{":
            depth += 1
            begin = i if begin is None else begin
        elif c == "}" and begin is not None:
            depth -= 1
            if depth == 0:
                return text[begin:i + 1]
        i += 1
    return text[begin:] if begin is not None else ""


def tests_in(path):
    """(macro, suite, name, body) of every TEST/TEST_F/TEST_P in a source file."""
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    return [(m.group(1), m.group(2), m.group(3), _body(text, m.end())) for m in TEST_RE.finditer(text)]


SKIPS_WITHOUT_CUDA = re.compile(r"MMGAN_REQUIRE_CUDA\s*\("
                                r"|!\s*(::)?(mmgan::)?cuda_available\s*\(\s*\)[^;{]*\)\s*GTEST_SKIP")


def needs_cuda(body):
    return bool(SKIPS_WITHOUT_CUDA.search(body))


def test_sources(tests_dir):
    return sorted(glob.glob(os.path.join(tests_dir, "test_*.cpp")))


def cmd_cuda_tests(a):
    names = []
    for src in test_sources(a.tests_dir):
        if any("Cuda" in suite or "Cuda" in name for _, suite, name, _ in tests_in(src)):
            names.append(os.path.splitext(os.path.basename(src))[0])
    print("\n".join(names))
    return 0


def cmd_check_names(a):
    bad = []
    for src in test_sources(a.tests_dir):
        for macro, suite, name, body in tests_in(src):
            if needs_cuda(body) and "Cuda" not in suite and "Cuda" not in name:
                bad.append(f"{os.path.basename(src)}: {macro}({suite}, {name}) skips without CUDA but has no 'Cuda' "
                           "in its suite or test name, so gpu_check's --gtest_filter='*Cuda*' would never run it")
    for line in bad:
        print(line)
    if not bad:
        print("every test that needs CUDA has 'Cuda' in its name")
    return 1 if bad else 0


# ---------------------------------------------------------------------------------------------------
# gtest results: DIR/gtest-NAME.list (--gtest_list_tests output: what the filter selects),
# DIR/gtest-NAME.xml (--gtest_output=xml), DIR/gtest-NAME.rc (the executable's exit status).


def parse_list(path):
    """Full test names from --gtest_list_tests output (suite lines end in '.', tests are indented)."""
    names, suite = [], None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("Running main()"):
                continue
            if not line.startswith(" "):
                suite = line.split("#")[0].strip()
                suite = suite[:-1] if suite.endswith(".") else suite
            elif suite is not None:
                names.append(f"{suite}.{line.split('#')[0].strip()}")
    return names


def parse_xml(path):
    """{full name: (outcome, message)}, outcome one of passed, failed, skipped, disabled."""
    out = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        name = f"{case.get('classname')}.{case.get('name')}"
        failures = case.findall("failure") + case.findall("error")
        skipped = case.find("skipped")
        if failures:
            msg = (failures[0].get("message") or failures[0].text or "").strip()
            out[name] = ("failed", msg)
        elif case.get("result") == "skipped" or skipped is not None:
            out[name] = ("skipped", ((skipped.get("message") if skipped is not None else "") or "").strip())
        elif case.get("status") == "notrun" or case.get("result") == "suppressed":
            out[name] = ("disabled", "")
        else:
            out[name] = ("passed", "")
    return out


def allowed(name, patterns):
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def classify(directory, allow):
    """Per test: passed, failed, skipped-by-design, skipped-wrongly, ran-not-skipped (an allow-listed
    test that ran: its binary saw no GPU), not-run; and per executable, the problems that fail it."""
    results, problems, per_binary = [], [], {}
    found = glob.glob(os.path.join(directory, "gtest-*.list")) + glob.glob(os.path.join(directory, "gtest-*.rc"))
    binaries = sorted({os.path.basename(f)[len("gtest-"):].rsplit(".", 1)[0] for f in found})
    if not binaries:
        problems.append("no test executable was run (no gtest-*.list in " + directory + ")")
    for binary in binaries:
        lst = os.path.join(directory, f"gtest-{binary}.list")
        xml = os.path.join(directory, f"gtest-{binary}.xml")
        rc_file = os.path.join(directory, f"gtest-{binary}.rc")
        rc, text = None, ""
        if os.path.exists(rc_file):
            with open(rc_file) as f:
                text = f.read().strip()
            rc = int(text) if re.fullmatch(r"-?\d+", text) else None
        if text == "missing":
            problems.append(f"{binary}: executable missing (not in the bundle, or not built)")
            per_binary.setdefault(binary, {})
            continue
        expected = parse_list(lst) if os.path.exists(lst) else []
        got = {}
        if os.path.exists(xml):
            try:
                got = parse_xml(xml)
            except ET.ParseError as e:
                problems.append(f"{binary}: unreadable {os.path.basename(xml)} ({e})")
        if not expected:
            problems.append(f"{binary}: the filter selects no test (every executable carried has '*Cuda*' tests)")
        why_missing = ("timed out" if rc in (124, 137) else f"exit status {rc}" if rc not in (None, 0)
                       else "absent from the XML")
        counts = per_binary.setdefault(binary, {})
        for name in list(dict.fromkeys(expected + [n for n in got if n not in expected])):
            outcome, msg = got.get(name, ("not-run", why_missing))
            if outcome == "skipped":
                outcome = "skipped-by-design" if allowed(name, allow) else "skipped-wrongly"
            elif outcome == "passed" and allowed(name, allow):
                outcome, msg = "ran-not-skipped", "allow-listed as skipping on a GPU machine, but it ran: no GPU seen"
            elif outcome == "disabled":
                outcome = "not-run"
                msg = "disabled"
            results.append((binary, name, outcome, msg))
            counts[outcome] = counts.get(outcome, 0) + 1
        if rc is None:
            problems.append(f"{binary}: no exit status recorded (the step was cut short)")
        elif rc != 0 and all(o in ("passed", "skipped-by-design") for b, _, o, _ in results if b == binary):
            problems.append(f"{binary}: exit status {rc} although every selected test passed (a crash at exit?)")
    return results, problems, per_binary


GOOD = ("passed", "skipped-by-design")
ORDER = ["passed", "failed", "skipped-by-design", "skipped-wrongly", "ran-not-skipped", "not-run"]


def cmd_gtest(a):
    allow = ALLOWED_SKIPS + (a.allow_skip or [])
    if a.no_default_allow:
        allow = a.allow_skip or []
    results, problems, per_binary = classify(a.dir, allow)
    total = {k: sum(1 for r in results if r[2] == k) for k in ORDER}
    print("tests: " + ", ".join(f"{total[k]} {k}" for k in ORDER) + f" ({len(per_binary)} executables)")
    for binary, counts in per_binary.items():
        print(f"  {binary}: " + ", ".join(f"{counts[k]} {k}" for k in ORDER if counts.get(k)))
    shown = 0
    for binary, name, outcome, msg in results:
        if outcome in GOOD:
            continue
        shown += 1
        if shown > a.max_lines:
            continue
        first = " ".join(msg.split())[:200]  # gtest's message: "file:line" then the text
        print(f"  {outcome.upper()}: {name} ({binary}){': ' + first if first else ''}")
    if shown > a.max_lines:
        print(f"  ... and {shown - a.max_lines} more (see the XML files)")
    for p in problems:
        print("  PROBLEM: " + p)
    ok = not problems and all(r[2] in GOOD for r in results) and total["passed"] > 0
    return 0 if ok else 1


# ---------------------------------------------------------------------------------------------------
# Training runs: metrics.jsonl of the GPU against the CPU reference made when the bundle was built.

KEYS = ["loss_D", "loss_G", "penalty", "grad_norm_mean", "grad_norm_max", "margin_real", "margin_fake"]


def load_metrics(path):
    rows = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                m = json.loads(line)
                rows[int(m["iter"])] = m
    return rows


def load_pair(ref, run, label):
    """Both metrics files, or None after a line saying which is missing or unreadable."""
    try:
        return load_metrics(ref), load_metrics(run)
    except (OSError, ValueError, KeyError) as e:
        print(f"train {label}: PROBLEM: {e} (no CPU reference in the bundle, or the run wrote no metrics)")
        return None


def finite(x):
    return isinstance(x, (int, float)) and math.isfinite(x)


def _common(ref, run, label):
    """Shared checks: the same iterations logged, every value of the run finite. Returns problems."""
    problems = []
    if not ref:
        problems.append(f"{label}: the reference holds no metrics")
    if not run:
        problems.append(f"{label}: the run logged no metrics")
    missing = sorted(set(ref) - set(run))
    if missing and run:
        problems.append(f"{label}: the run stopped early: iterations {missing[0]}..{missing[-1]} of the reference "
                        f"missing (last logged {max(run)})")
    for i, m in sorted(run.items()):
        bad = [k for k in KEYS if k in m and not finite(m[k])]
        if bad:
            problems.append(f"{label}: non-finite {', '.join(bad)} at iteration {i}")
            break
    return problems


def exact_errors(ref, run, floor):
    """Per key: (max error, iteration), the error of value v against reference r being
    |v - r| / (|r| + floor * scale), scale the key's largest |r| in the run (values near 0 of a
    series of order 1, such as a hinge penalty, are held to floor * scale absolutely)."""
    out = {}
    for k in KEYS:
        its = [i for i in sorted(ref) if i in run and k in ref[i] and k in run[i] and finite(ref[i][k])]
        if not its:
            continue
        scale = max(abs(ref[i][k]) for i in its) or 1.0
        worst = (0.0, its[0])
        for i in its:
            v = run[i][k]
            e = abs(v - ref[i][k]) / (abs(ref[i][k]) + floor * scale) if finite(v) else math.inf
            if e > worst[0]:
                worst = (e, i)
        out[k] = worst
    return out


def cmd_train_exact(a):
    """Exact mode (float64 on both devices, same seed, same batches, same random draws): the GPU does
    the CPU's arithmetic up to summation order (cuDNN/cuBLAS against OpenBLAS and the CPU loops),
    rounding differences of about 1e-16 relative per operation. The first iteration's losses come
    before any update, so they must agree to --rtol-first (1e-9, the per-step tolerance of
    TrainerCuda.StepEqualsTheCpuStep). Training then amplifies differences, slowly over 20
    iterations: measured here (2026-12-02), a 1e-12 relative change of lr_D grew to at most 5e-11
    in the losses over 30 float64 iterations, so GPU rounding should stay near 1e-12, and --rtol
    (1e-7) keeps orders of margin. A wrong kernel (an index, a race, a missed synchronisation, a
    float32 accumulation in a float64 path) moves a loss by 1e-7 to 1e-2 at the iteration it
    touches; the report names the worst iteration of each metric."""
    pair = load_pair(a.ref, a.run, "exact")
    if pair is None:
        return 1
    ref, run = pair
    problems = _common(ref, run, "exact")
    errs = exact_errors(ref, run, a.floor)
    worst = max((e for e, _ in errs.values()), default=math.inf)
    print(f"train exact: {len(run)} iterations logged against the CPU's {len(ref)}; worst relative error "
          f"{worst:.2e} (tolerance {a.rtol:g})")
    print("  " + ", ".join(f"{k} {e:.1e} (iter {i})" for k, (e, i) in errs.items()))
    over = [k for k, (e, _) in errs.items() if not e <= a.rtol]
    if over:
        problems.append("exact: " + ", ".join(f"{k} differs by {errs[k][0]:.2e} at iteration {errs[k][1]}"
                                              for k in over))
    first = {i: m for i, m in ref.items() if i < a.first}
    ferrs = exact_errors(first, run, a.floor)
    fworst = max((e for e, _ in ferrs.values()), default=0.0)
    print(f"  the first {a.first} iteration(s), before training can amplify anything: worst {fworst:.2e} "
          f"(tolerance {a.rtol_first:g})")
    if not fworst <= a.rtol_first:
        problems.append(f"exact: the first iteration(s) differ by {fworst:.2e}, over {a.rtol_first:g}")
    if not errs:
        problems.append("exact: no metric in common")
    for p in problems:
        print("  PROBLEM: " + p)
    return 1 if problems else 0


def window_stats(rows, key, start):
    v = [rows[i][key] for i in sorted(rows) if i >= start and key in rows[i] and finite(rows[i][key])]
    if not v:
        return None
    return statistics.fmean(v), (statistics.pstdev(v) if len(v) > 1 else 0.0), len(v)


def cmd_train_stats(a):
    """float32 with TF32 convolutions on the GPU, plain float32 on the CPU: the trajectories part
    after a few iterations (rounding differences of 1e-3 relative, amplified by the chaotic dynamics
    of two networks trained against each other), so values are not compared iteration by
    iteration. The claim is that the GPU trains the same way: the run reaches the end with finite
    numbers, and over the second half of the run each statistic's mean lies within
    max(k * the spread of the two windows, rel * |CPU mean|, atol) of the CPU's mean. Two CPU runs with
    different seeds pass this (tests/test_gpu_check.py); a broken kernel shows as a NaN, a blow-up, or
    a regime change (the discriminator winning outright, the gradient norm leaving the penalty's
    target), each far outside that band."""
    pair = load_pair(a.ref, a.run, "stats")
    if pair is None:
        return 1
    ref, run = pair
    problems = _common(ref, run, "stats")
    last = max(ref) if ref else 0
    start = int(last * a.window_from)
    print(f"train stats: {len(run)} lines logged against the CPU's {len(ref)}; second-half window: iterations "
          f">= {start}")
    for k in ["loss_D", "loss_G", "penalty", "grad_norm_mean", "grad_norm_max"]:
        r, g = window_stats(ref, k, start), window_stats(run, k, start)
        if r is None:
            continue
        if g is None:
            problems.append(f"stats: the run has no {k} in its window")
            continue
        tol = max(a.k * max(r[1], g[1]), a.rel * abs(r[0]), a.atol)
        d = abs(g[0] - r[0])
        verdict = "ok" if d <= tol else "OUTSIDE"
        print(f"  {k}: GPU mean {g[0]:.4g} (sd {g[1]:.3g}), CPU {r[0]:.4g} (sd {r[1]:.3g}); |diff| {d:.3g} vs "
              f"tolerance {tol:.3g}: {verdict}")
        if d > tol:
            problems.append(f"stats: {k} mean {g[0]:.4g} against the CPU's {r[0]:.4g}, outside {tol:.3g}")
    for label, rows in (("GPU", run), ("CPU", ref)):
        s = [rows[i]["sec_per_iter"] for i in sorted(rows) if finite(rows[i].get("sec_per_iter"))]
        if len(s) > 1:
            print(f"  {label}: {statistics.median(s[1:]) * 1e3:.3f} ms per iteration (median of the logged windows "
                  "after the first)")
    for p in problems:
        print("  PROBLEM: " + p)
    return 1 if problems else 0


# ---------------------------------------------------------------------------------------------------
# Benchmarks.


def load_benchmarks(path):
    """{(name, args...): row} of a Google Benchmark JSON file; real_time in seconds as 'seconds'."""
    scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
    with open(path) as f:
        rows = json.load(f).get("benchmarks", [])
    out = {}
    for r in rows:
        if r.get("run_type", "iteration") != "iteration":
            continue
        parts = [p for p in r["name"].split("/") if ":" not in p and p not in ("manual_time", "real_time")]
        r = dict(r)
        r["seconds"] = r.get("real_time", math.nan) * scale.get(r.get("time_unit", "ns"), 1e-9)
        out[tuple(parts)] = r
    return out


TORCH_LINE = re.compile(r"batch (\d+) (eager|cuda-graph): ([0-9.]+) s/iteration")
TORCH_FLOPS = re.compile(r"([0-9.]+) GFLOP/iteration; TF32 matmul ([0-9.]+) TFLOP/s")
TORCH_FAIL = re.compile(r"batch (\d+) (cuda-graph): capture failed: (.*)")


def cmd_bench(a):
    """mmgan's iteration (bench_train, replayed from a CUDA graph and eager) next to PyTorch's
    (tools/bench_iteration_torch.py, eager and captured by hand in a CUDA graph), at each batch:
    times, ratios, the FLOP count of the iteration (PyTorch's counter) and the fraction of the
    device's measured TF32 matrix rate that mmgan's replayed iteration reaches. Issue 6's targets at
    batch 32 are reported as met or missed; they do not fail the step (measurements, not
    correctness). The step fails when a number is missing."""
    problems, torch, flops, fails = [], {}, {}, {}
    path = os.path.join(a.dir, "bench_train.json")
    mm = {}
    try:
        mm = load_benchmarks(path)
    except (OSError, ValueError) as e:
        problems.append(f"no usable bench_train.json ({e})")
    for key, r in mm.items():
        if r.get("error_occurred"):
            problems.append(f"{'/'.join(key)}: {r.get('error_message', 'error')}")
    for f in sorted(glob.glob(os.path.join(a.dir, "torch-*.log"))):
        with open(f, errors="replace") as fh:
            for line in fh:
                m = TORCH_LINE.search(line)
                if m:
                    torch[(int(m.group(1)), m.group(2))] = float(m.group(3))
                    fm = TORCH_FLOPS.search(line)
                    if fm:
                        flops[int(m.group(1))] = (float(fm.group(1)) * 1e9, float(fm.group(2)) * 1e12)
                m = TORCH_FAIL.search(line)
                if m:
                    fails[(int(m.group(1)), m.group(2))] = m.group(3).strip()
    print("bench: one DCGAN32 penalty training iteration (3 colours, h 128), ms")
    print(f"  {'batch':>5} {'mmgan graph':>12} {'mmgan eager':>12} {'torch eager':>12} {'torch graph':>12} "
          f"{'eager/mmgan':>12} {'tgraph/mmgan':>13} {'GFLOP':>7} {'TFLOP/s':>8} {'% TF32':>7}")

    def ms(x):
        return f"{x * 1e3:.3f}" if x else "?"

    rows = {}
    for b in a.batches:
        g = mm.get(("TrainIteration_cuda_graph", str(b)), {}).get("seconds")
        e = mm.get(("TrainIteration_cuda", str(b)), {}).get("seconds")
        te, tg = torch.get((b, "eager")), torch.get((b, "cuda-graph"))
        fl, rate = flops.get(b, (None, None))
        r1 = f"{te / g:.1f}x" if te and g else "?"
        r2 = f"{tg / g:.1f}x" if tg and g else "?"
        tfs = fl / g / 1e12 if fl and g else None
        pct = f"{fl / g / rate * 100:.1f}" if fl and g and rate else "?"
        print(f"  {b:>5} {ms(g):>12} {ms(e):>12} {ms(te):>12} {ms(tg):>12} {r1:>12} {r2:>13} "
              f"{(f'{fl / 1e9:.2f}' if fl else '?'):>7} {(f'{tfs:.1f}' if tfs else '?'):>8} {pct:>7}")
        rows[b] = (g, e, te, tg)
        for name, v in (("mmgan graph", g), ("mmgan eager", e), ("torch eager", te), ("torch graph", tg)):
            if not v:
                why = fails.get((b, "cuda-graph")) if name == "torch graph" else None
                problems.append(f"batch {b}: no {name} time" + (f" (capture failed: {why})" if why else ""))
    rates = {r for _, r in flops.values() if r}
    if rates:
        print(f"  device TF32 matrix rate (8192^3, PyTorch): {max(rates) / 1e12:.0f} TFLOP/s")
    g, _, te, tg = rows.get(32, (None,) * 4)
    if g:
        t = []
        if te:
            t.append(f">= 8x PyTorch eager: {'MET' if te / g >= 8 else 'MISSED'} ({te / g:.1f}x)")
        if tg:
            t.append(f">= 2x PyTorch CUDA graph: {'MET' if tg / g >= 2 else 'MISSED'} ({tg / g:.1f}x)")
        t.append(f"< 1 ms per iteration: {'MET' if g < 1e-3 else 'MISSED'} ({g * 1e3:.3f} ms)")
        print("  targets at batch 32 (issue 6): " + "; ".join(t))
    for p in problems:
        print("  PROBLEM: " + p)
    return 1 if problems else 0


def cmd_kernels(a):
    """bench_kernels: each kernel's time with its bandwidth as a fraction of the device's measured
    copy bandwidth (BM_CopyCeiling: a device-to-device copy, bytes read plus written) or its
    arithmetic rate as a fraction of cuBLAS's (BM_GemmCeiling: 8192^3 with TF32)."""
    problems = []
    try:
        rows = load_benchmarks(a.file)
    except (OSError, ValueError) as e:
        print(f"kernels: no usable JSON ({e})")
        return 1
    copy = rows.get(("BM_CopyCeiling",), {}).get("GB/s")
    gemm = rows.get(("BM_GemmCeiling",), {}).get("TFLOP/s")
    print(f"kernels: {len(rows)} benchmarks; ceilings: copy {copy:.0f} GB/s, cuBLAS TF32 {gemm:.1f} TFLOP/s"
          if copy and gemm else f"kernels: {len(rows)} benchmarks; ceilings missing (copy {copy}, cuBLAS {gemm})")
    print(f"  {'benchmark':<40} {'us':>10} {'GB/s':>8} {'% copy':>7} {'TFLOP/s':>8} {'% cuBLAS':>9}")
    for key, r in rows.items():
        name = "/".join(key)
        if r.get("error_occurred"):
            problems.append(f"{name}: {r.get('error_message', 'error')}")
            continue
        if name in ("BM_CopyCeiling", "BM_GemmCeiling"):
            continue
        gbs, tfs = r.get("GB/s"), r.get("TFLOP/s")
        oc, og = r.get("of_copy"), r.get("of_gemm")
        print(f"  {name:<40} {r['seconds'] * 1e6:>10.2f} {(f'{gbs:.0f}' if gbs else ''):>8} "
              f"{(f'{oc * 100:.1f}' if oc else ''):>7} {(f'{tfs:.2f}' if tfs else ''):>8} "
              f"{(f'{og * 100:.1f}' if og else ''):>9}")
    if not copy or not gemm:
        problems.append("the copy or cuBLAS ceiling is missing")
    for p in problems:
        print("  PROBLEM: " + p)
    return 1 if problems else 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("cuda-tests")
    p.add_argument("tests_dir")
    p.set_defaults(fn=cmd_cuda_tests)
    p = sub.add_parser("check-names")
    p.add_argument("tests_dir")
    p.set_defaults(fn=cmd_check_names)
    p = sub.add_parser("gtest")
    p.add_argument("dir")
    p.add_argument("--allow-skip", action="append", help="another test (fnmatch pattern) that may skip")
    p.add_argument("--no-default-allow", action="store_true", help="forget the built-in allow-list")
    p.add_argument("--max-lines", type=int, default=40)
    p.set_defaults(fn=cmd_gtest)
    p = sub.add_parser("train-exact")
    p.add_argument("ref")
    p.add_argument("run")
    p.add_argument("--rtol", type=float, default=1e-7)
    p.add_argument("--first", type=int, default=1, help="iterations held to --rtol-first")
    p.add_argument("--rtol-first", type=float, default=1e-9)
    p.add_argument("--floor", type=float, default=1e-2)
    p.set_defaults(fn=cmd_train_exact)
    p = sub.add_parser("train-stats")
    p.add_argument("ref")
    p.add_argument("run")
    p.add_argument("--window-from", type=float, default=0.5, help="the window starts at this fraction of the run")
    p.add_argument("--k", type=float, default=2.0)
    p.add_argument("--rel", type=float, default=0.25)
    p.add_argument("--atol", type=float, default=0.05)
    p.set_defaults(fn=cmd_train_stats)
    p = sub.add_parser("bench")
    p.add_argument("dir")
    p.add_argument("--batches", type=int, nargs="+", default=[32, 64])
    p.set_defaults(fn=cmd_bench)
    p = sub.add_parser("kernels")
    p.add_argument("file")
    p.set_defaults(fn=cmd_kernels)
    a = ap.parse_args(argv)
    return a.fn(a)


if __name__ == "__main__":
    sys.exit(main())
