#!/usr/bin/python3
"""tools/mmgan-sweep on a real Slurm cluster: the test starts a one-node cluster on this machine from
Debian's slurm-wlm and munge (its own munge key and socket, slurm.conf, state and spool in a temp
folder; slurmctld and slurmd as root on 127.0.0.1, on free ports), runs test_sweep's 2 axes x 2 seeds
sweep as one job array and compares its runs and table with the cells run one by one; then cancels
one array task part way (`scancel`), requeues it (`scontrol requeue`) and checks that it finishes
with the numbers of an uninterrupted run. Every daemon is stopped and the folder removed, also when
a check fails. Exits 77 (CTest's skip) without Slurm, munge or root."""
import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import test_sweep as ts  # noqa: E402

DAEMONS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "scancel", "sinfo")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, pred, timeout=120, every=0.2):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Cluster:
    """A one-node Slurm cluster in a temp folder; stop() ends every daemon it started."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="mmgan-slurm-")
        self.pids = []
        d = self.dir
        for sub in ("munge", "state", "spool", "log"):
            os.makedirs(os.path.join(d, sub))
        os.chmod(d, 0o755)
        os.chmod(os.path.join(d, "munge"), 0o711)
        key = os.path.join(d, "munge", "munge.key")
        with open(key, "wb") as f:
            f.write(os.urandom(1024))
        os.chmod(key, 0o600)
        self.sock = os.path.join(d, "munge", "munge.sock")
        host = socket.gethostname().split(".")[0]
        self.conf = os.path.join(d, "slurm.conf")
        with open(self.conf, "w") as f:
            f.write(f"""ClusterName=mmgantest
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={self.sock}
CredType=cred/munge
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd.pid
SlurmctldLogFile={d}/log/slurmctld.log
SlurmdLogFile={d}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
ReturnToService=2
MpiDefault=none
JobRequeue=1
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
SchedulerParameters=sched_interval=1
MinJobAge=600
NodeName=mmgannode NodeHostname={host} NodeAddr=127.0.0.1 CPUs=2 RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=mmgannode Default=YES MaxTime=INFINITE State=UP
""")
        os.environ["SLURM_CONF"] = self.conf  # for the client commands, the tool's included
        self.env = dict(os.environ)
        # Stopped also when the test is interrupted (CTest's timeout sends SIGTERM).
        atexit.register(self.stop)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    def start(self):
        d = self.dir
        subprocess.run(["munged", "--force", f"--socket={self.sock}", f"--key-file={d}/munge/munge.key",
                        f"--log-file={d}/log/munged.log", f"--pid-file={d}/munge/munged.pid",
                        f"--seed-file={d}/munge/seed"], check=True, capture_output=True)
        self.pids.append(self.read_pid("munge/munged.pid"))
        subprocess.run(["slurmctld", "-c"], check=True, capture_output=True, env=self.env)
        self.pids.append(wait_for("slurmctld.pid", lambda: self.read_pid("slurmctld.pid"), 30))
        subprocess.run(["slurmd", "-N", "mmgannode"], check=True, capture_output=True, env=self.env)
        self.pids.append(wait_for("slurmd.pid", lambda: self.read_pid("slurmd.pid"), 30))
        wait_for("the node to be idle", lambda: self.run("sinfo", "-h", "-o", "%t", check=False).strip() == "idle",
                 60, 0.5)

    def read_pid(self, name):
        try:
            with open(os.path.join(self.dir, name)) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def run(self, *cmd, check=True):
        r = subprocess.run(cmd, capture_output=True, text=True, env=self.env, timeout=60)
        if check and r.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} exited {r.returncode}: {r.stderr}")
        return r.stdout

    def tasks(self, job):
        """{array index: state} of a job's tasks still known to slurmctld."""
        out = {}
        for line in self.run("squeue", "-h", "-r", "-j", job, "-o", "%K|%T", check=False).splitlines():
            k, _, st = line.partition("|")
            if k.strip().isdigit():
                out[int(k)] = st.strip()
        return out

    def stop(self):
        if not os.path.isdir(self.dir):
            return
        # Jobs first (slurmd leaves running job steps alone when it stops): this cluster's only.
        jobs = self.run("squeue", "-h", "-o", "%A", check=False).split()
        if jobs:
            subprocess.run(["scancel", "--full", *sorted(set(jobs))], capture_output=True, env=self.env, timeout=30)
            try:
                wait_for("the jobs to end", lambda: not self.run("squeue", "-h", check=False).strip(), 30, 0.2)
            except AssertionError:
                pass  # the daemons go below all the same
        subprocess.run(["scontrol", "shutdown"], capture_output=True, env=self.env, timeout=30)
        # The daemons this cluster started, by their own PIDs: SIGTERM, then SIGKILL.
        for sig in (signal.SIGTERM, signal.SIGKILL):
            alive = []
            for pid in [p for p in self.pids if p]:
                try:
                    os.kill(pid, sig)
                    alive.append(pid)
                except ProcessLookupError:
                    pass
            if not alive:
                break
            deadline = time.time() + 10
            while time.time() < deadline and any(os.path.exists(f"/proc/{p}") for p in alive):
                time.sleep(0.1)
        shutil.rmtree(self.dir, ignore_errors=True)


class SlurmSweep(ts.SweepTestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster()
        try:
            cls.cluster.start()
        except BaseException:
            cls.cluster.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()

    def wait_job(self, job, timeout=240):
        wait_for(f"job {job}", lambda: not self.cluster.tasks(job), timeout, 0.5)

    def submit(self, sweep, out, *more):
        r = ts.sweep_cmd("run", sweep, "--out", out, "--executor", "slurm", *more)
        return r.stdout.strip().splitlines()[-1]

    def test_job_array_equals_cells_run_one_by_one(self):
        out, ref = os.path.join(self.tmp, "out"), os.path.join(self.tmp, "ref")
        t0 = time.time()
        job = self.submit(self.sweep, out, "-j", "2")
        self.assertTrue(job.isdigit(), job)
        st = ts.sweep_cmd("status", self.sweep, "--out", out).stdout
        self.assertIn("slurm", st)
        # Run again while the array runs: its cells are not submitted twice.
        r = ts.sweep_cmd("run", self.sweep, "--out", out, "--executor", "slurm")
        self.assertRegex(r.stdout, r" 0 to run")
        self.wait_job(job)
        print(f"\n8 cells as a job array (-j 2): {time.time() - t0:.1f} s", file=sys.stderr)
        st = ts.sweep_cmd("status", self.sweep, "--out", out).stdout
        self.assertIn("8 done (of 8)", st, st + self.logs(out))
        ts.sweep_cmd("table", self.sweep, "--out", out, "--no-curves")
        ts.reference_runs(ref)
        self.assert_same_runs(out, ref)
        self.assert_same_table(out, ref)
        # Nothing left to run: no second job.
        r = ts.sweep_cmd("run", self.sweep, "--out", out, "--executor", "slurm")
        self.assertIn("0 to run", r.stdout)
        with open(os.path.join(out, "slurm", "jobs.json")) as f:
            self.assertEqual(len(json.load(f)), 1)

    def test_cancelled_task_requeued_finishes_with_the_same_numbers(self):
        long_sweep = os.path.join(self.tmp, "long.toml")
        with open(long_sweep, "w") as f:
            f.write(ts.SWEEP.replace("n_iter = 4", "n_iter = 400\nsave_every = 20")
                    .replace("log_every = 1", "log_every = 10").replace("fid_every = 2", "fid_every = 100")
                    .replace("seed = [1, 2]", "seed = [1]").replace('gp-norm = ["l2", "linf"]', 'gp-norm = ["linf"]'))
        whole, out = os.path.join(self.tmp, "whole"), os.path.join(self.tmp, "out")
        for i in (0, 1):
            ts.sweep_cmd("run-cell", long_sweep, "--out", whole, "--index", str(i))
        job = self.submit(long_sweep, out, "-j", "2")
        victim = ts.cell_name("wgan", "linf", 1) + "-0"
        rd = os.path.join(out, victim)
        wait_for("a checkpoint of task 1", lambda: os.path.exists(os.path.join(rd, "checkpoint.safetensors")) and
                 len(ts.metrics(rd)) >= 8, 120, 0.005)
        self.cluster.run("scancel", f"{job}_1")
        wait_for("task 1 to end", lambda: self.cluster.tasks(job).get(1) not in ("RUNNING", "COMPLETING"), 60, 0.1)
        self.assertFalse(os.path.exists(os.path.join(rd, "finished.json")), "task 1 ended before it was cancelled")
        cut_at = len(ts.metrics(rd))
        self.assertLess(cut_at, 40)
        st = ts.sweep_cmd("status", long_sweep, "--out", out).stdout
        self.assertRegex(st, r"wgan_linf_seed1 +(failed|stopped) .*CANCELLED", st)
        # slurmd refuses to launch a job whose credential dates from the second (its resolution) it
        # revoked that job's credentials in; a requeue's own 2-minute delay hides that, which the
        # StartTime below removes.
        time.sleep(2)
        self.cluster.run("scontrol", "requeue", f"{job}_1")
        self.cluster.run("scontrol", "update", f"JobId={job}_1", "StartTime=now")
        self.wait_job(job)
        st = ts.sweep_cmd("status", long_sweep, "--out", out).stdout
        self.assertIn("2 done (of 2)", st, st + self.logs(out))
        for name in (ts.cell_name("hinge", "linf", 1) + "-0", victim):
            self.assertEqual(ts.metrics(os.path.join(out, name)), ts.metrics(os.path.join(whole, name)), name)
        with open(os.path.join(out, "cells", ts.cell_name("wgan", "linf", 1) + ".json")) as f:
            attempts = json.load(f)["attempts"]
        self.assertEqual([a["kind"] for a in attempts], ["fresh", "resume"])
        self.assertEqual([a.get("slurm_array_task_id") for a in attempts], ["1", "1"])

    def logs(self, out):
        text = ""
        for d in (os.path.join(out, "slurm"), os.path.join(self.cluster.dir, "log")):
            for f in sorted(os.listdir(d)) if os.path.isdir(d) else []:
                if f.endswith((".out", ".log")):
                    with open(os.path.join(d, f), errors="replace") as h:
                        text += f"\n--- {f}\n" + h.read()[-int(os.environ.get("LOGTAIL", "2000")):]
        return text


if __name__ == "__main__":
    missing = [d for d in DAEMONS if not shutil.which(d)]
    if missing:
        print(f"test_sweep_slurm: {', '.join(missing)} not installed (tools/install-deps.sh: slurm-wlm, munge)")
        sys.exit(ts.SKIP)
    if os.geteuid() != 0:
        print("test_sweep_slurm: slurmd must run as root")
        sys.exit(ts.SKIP)
    if not ts.MMGAN or not os.path.isdir(ts.FMNIST):
        print("test_sweep_slurm: needs MMGAN_BINARY and dataset-fashion-mnist")
        sys.exit(ts.SKIP)
    unittest.main()
