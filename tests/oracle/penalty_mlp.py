"""PyTorch oracle for the gradient-penalty critic loss of tests/test_parity_torch.cpp.

Reads the critic's parameters (W1 b1 W2 b2 W3 b3), the batches xr, xf and the mixing weights u from a
safetensors file, with the norm ("l1", "l2", "linf"), lambda, the activation ("leaky_relu" with its
slope, or "tanh") in its metadata, and recomputes in float64

    f(x)  = linear(act(linear(act(linear(x.flatten(1), W1, b1)), W2, b2)), W3, b3)
    xhat  = u * xr + (1 - u) * xf                      (a fresh leaf)
    gx    = autograd.grad(f(xhat).sum(), xhat, create_graph=True)
    L     = mean(relu(1 - f(xr))) + mean(relu(1 + f(xf))) + lambda * mean(relu(||gx||_q - 1))

and dL/d(every parameter, xhat) with torch.autograd.grad. Every quantity the engine wrote (xhat,
f_real, f_fake, gx, norms, loss, grad.*) must agree to 1e-10 relative (max abs diff / max abs value);
exits non-zero listing each one that does not, and prints the observed errors either way.
"""
import sys

import torch
import torch.nn.functional as F

from compare import rel
from st_io import load

TOL = 1e-10
PARAMS = ["W1", "b1", "W2", "b2", "W3", "b3"]

NORMS = {
    "l1": lambda g: g.flatten(1).abs().sum(1),
    "l2": lambda g: torch.linalg.vector_norm(g.flatten(1), 2, dim=1),
    "linf": lambda g: g.flatten(1).abs().amax(1),
}



def main(path):
    data, meta = load(path)
    norm, lam, slope = meta["norm"], float(meta["lambda"]), float(meta["slope"])
    act = {"leaky_relu": lambda z: F.leaky_relu(z, slope), "tanh": torch.tanh}[meta["activation"]]
    if norm not in NORMS:
        print(f"{path}: unknown norm {norm!r}")
        sys.exit(1)
    T = {k: torch.tensor(v) for k, v in data.items()}
    for k, v in T.items():
        if v.dtype != torch.float64:
            print(f"{path}: {k} is {v.dtype}, expected float64")
            sys.exit(1)
    params = [T[n].clone().requires_grad_(True) for n in PARAMS]
    W1, b1, W2, b2, W3, b3 = params

    def f(x):
        h = act(F.linear(x.flatten(1), W1, b1))
        h = act(F.linear(h, W2, b2))
        return F.linear(h, W3, b3).reshape(-1)

    xr, xf, u = T["xr"], T["xf"], T["u"]
    xhat = (u * xr + (1 - u) * xf).detach().requires_grad_(True)
    f_real, f_fake = f(xr), f(xf)
    (gx,) = torch.autograd.grad(f(xhat).sum(), xhat, create_graph=True)
    norms = NORMS[norm](gx)
    loss = F.relu(1 - f_real).mean() + F.relu(1 + f_fake).mean() + lam * F.relu(norms - 1).mean()
    grads = torch.autograd.grad(loss, params + [xhat])

    checks = [("xhat", xhat), ("f_real", f_real), ("f_fake", f_fake), ("gx", gx), ("norms", norms), ("loss", loss)]
    checks += [(f"grad.{n}", g) for n, g in zip(PARAMS + ["xhat"], grads)]
    bad, worst = [], 0.0
    for name, ref in checks:
        if name not in data:
            bad.append(f"{name}: missing from {path}")
            continue
        err, where = rel(T[name], ref)
        worst = max(worst, err) if name.startswith("grad.") else worst
        line = f"  {name:10s} rel error {err:.3e}"
        print(line)
        if not err <= TOL:
            bad.append(f"{line} > {TOL:g}; {where}")
    active = int((norms > 1).sum())
    print(f"norm {norm}, {meta['activation']}, x {tuple(xr.shape)}, penalty active on {active}/{norms.numel()}, loss {loss.item():.17g}, "
          f"max gradient rel error {worst:.3e} (torch {torch.__version__})")
    if active in (0, norms.numel()):
        bad.append(f"penalty active on {active}/{norms.numel()} samples in torch: the comparison would not exercise "
                   "the kink at ||gx|| = 1")
    if bad:
        print(f"MISMATCH against PyTorch ({path}):")
        print("\n".join(bad))
        sys.exit(1)


if __name__ == "__main__":
    main(sys.argv[1])
