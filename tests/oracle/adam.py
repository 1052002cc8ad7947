"""PyTorch oracle for mmgan::Adam (tests/test_parity_torch.cpp): replays the engine's run with
torch.optim.Adam(foreach=False) on CPU and compares, after every step, each parameter, exp_avg,
exp_avg_sq and the step count.

File contents: init.p{i} (initial parameters), grad{k}.p{i} (the gradient set before step k),
step{k}.{param,exp_avg,exp_avg_sq,step}.p{i} (the engine's state after step k); metadata lr, beta1,
beta2, eps, weight_decay (exact decimal), dtype (F64/F32), num_params, steps.

Tolerance, relative (max abs diff / max abs value per tensor): float64 1e-13, float32 1e-6. The engine's
kernel does the same operations in the same order and precision as torch's single-tensor Adam; what may
differ is libm (pow, sqrt of the bias corrections) and fused multiply-adds in torch's vectorised
kernels, an ulp or so per step. Exits non-zero listing every mismatch; prints the errors either way.
"""
import sys

import torch

from compare import rel
from st_io import load

TOL = {"F64": 1e-13, "F32": 1e-6}
DTYPE = {"F64": torch.float64, "F32": torch.float32}



def main(path):
    data, meta = load(path)
    dt = meta["dtype"]
    tol, dtype = TOL[dt], DTYPE[dt]
    n, steps = int(meta["num_params"]), int(meta["steps"])
    lr, b1, b2 = float(meta["lr"]), float(meta["beta1"]), float(meta["beta2"])
    eps, wd = float(meta["eps"]), float(meta["weight_decay"])

    def get(name, want=dtype):
        t = torch.tensor(data[name])
        if t.dtype != want:
            raise SystemExit(f"{path}: {name} has dtype {t.dtype}, expected {want}")
        return t

    params = [get(f"init.p{i}").requires_grad_(True) for i in range(n)]
    opt = torch.optim.Adam(params, lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd, foreach=False)
    bad, worst = [], {"param": 0.0, "exp_avg": 0.0, "exp_avg_sq": 0.0}
    for k in range(steps):
        for i, p in enumerate(params):
            p.grad = get(f"grad{k}.p{i}")
        opt.step()
        for i, p in enumerate(params):
            st = opt.state[p]
            refs = {"param": p, "exp_avg": st["exp_avg"], "exp_avg_sq": st["exp_avg_sq"]}
            for what, ref in refs.items():
                name = f"step{k}.{what}.p{i}"
                err, where = rel(get(name), ref)
                worst[what] = max(worst[what], err)
                if not err <= tol:
                    bad.append(f"  step {k + 1}, parameter {i}, {what}: rel error {err:.3e} > {tol:g}; {where}")
            eng_step = int(get(f"step{k}.step.p{i}", torch.int64))
            if eng_step != int(st["step"]):
                bad.append(f"  step {k + 1}, parameter {i}: engine step count {eng_step}, torch {int(st['step'])}")
    print(f"Adam {dt} lr={lr} betas=({b1}, {b2}) eps={eps} weight_decay={wd}, {n} params x {steps} steps: "
          + ", ".join(f"{w} max rel error {e:.3e}" for w, e in worst.items()) + f" (torch {torch.__version__})")
    if bad:
        print(f"MISMATCH against torch.optim.Adam ({path}), tolerance {tol:g}:")
        print("\n".join(bad))
        sys.exit(1)


if __name__ == "__main__":
    main(sys.argv[1])
