"""The official training iteration in PyTorch (float64), replayed from `mmgan step-dump` files: the
independent check of every loss and gradient-penalty option (tests/test_step_parity.cpp).

For each dump: build the official G and D (official_nets.py) with the dump's configuration, load the
parameters before the step (G.*, D.*), and run the official code's order (Code/GAN.py) on the dumped
inputs: D(x_real), D(G(z_D)) in train mode, the D loss, the penalty at the dumped u (autograd.grad with
create_graph), backward; then, with D set to the engine's D_after.* (so the G step sees the same D), the
G step on z_G (and x_real_G for relativistic losses). Compares the losses, the penalty and every D and G
parameter gradient to 1e-9 relative, and D after its Adam step (torch.optim.Adam) to 1e-9.

Norms follow the project's specification (README of shared/paper): per sample over the flattened
gradient, L1 sum|g|, L2, L-inf max|g|; the smooth max and logsumexp act on |g| per sample.
Usage: step_parity.py DUMP.safetensors...   (exits 1 listing every mismatch)
"""
import json
import sys

import torch
import torch.nn.functional as F

import official_nets
from compare import rel
from st_io import load

TOL = 1e-9


def bce(x, label):  # torch.nn.BCEWithLogitsLoss() with a constant label, as the official BCE_stable
    return F.binary_cross_entropy_with_logits(x, torch.full_like(x, label))


def mse(a, t):
    return torch.mean((a - t) ** 2)


def hinge(a):
    return torch.mean(torch.relu(a))


def relativistic(kind, yr, yf):
    """The official code's relativistic pair: against the other side's mean (kind 1, RaGAN) or the
    mean of both (kind 2, RcGAN)."""
    if kind == 1:
        return yr - torch.mean(yf), yf - torch.mean(yr)
    m = (torch.mean(yr) + torch.mean(yf)) / 2
    return yr - m, yf - m


def d_loss(n, yr, yf):
    fam, kind = n % 10, n // 10
    if kind == 0:
        return {1: lambda: bce(yr, 1) + bce(yf, 0), 2: lambda: mse(yr, 1) + torch.mean(yf ** 2),
                3: lambda: hinge(1 - yr) + hinge(1 + yf), 4: lambda: -torch.mean(yr) + torch.mean(yf)}[fam]()
    if kind in (1, 2):
        a, b = relativistic(kind, yr, yf)
        return {1: lambda: bce(a, 1) + bce(b, 0), 2: lambda: mse(a, 1) + mse(b, -1),
                3: lambda: hinge(1 - a) + hinge(1 + b)}[fam]()
    if kind == 3:
        d = yr - yf
    else:
        gx, gy = torch.meshgrid([yr, yf], indexing="ij")
        d = gx - gy
    return {1: lambda: 2 * bce(d, 1), 2: lambda: 2 * mse(d, 1), 3: lambda: 2 * hinge(1 - d)}[fam]()


def g_loss(n, yr, yf):
    fam, kind = n % 10, n // 10
    if kind == 0:
        return {1: lambda: bce(yf, 1), 2: lambda: mse(yf, 1), 3: lambda: -torch.mean(yf), 4: lambda: -torch.mean(yf)}[fam]()
    if kind in (1, 2):
        a, b = relativistic(kind, yr, yf)
        return {1: lambda: bce(a, 0) + bce(b, 1), 2: lambda: mse(a, -1) + mse(b, 1),
                3: lambda: hinge(1 + a) + hinge(1 - b)}[fam]()
    if kind == 3:
        d = yf - yr
        return {1: lambda: bce(d, 1), 2: lambda: mse(d, 1), 3: lambda: hinge(1 - d)}[fam]()
    gx, gy = torch.meshgrid([yr, yf], indexing="ij")
    d = gy - gx
    return {1: lambda: 2 * bce(d, 1), 2: lambda: 2 * mse(d, 1), 3: lambda: 2 * hinge(1 - d)}[fam]()


def norm(g, kind, s):
    g = g.reshape(g.shape[0], -1)
    a = g.abs()
    if kind == "l1":
        return a.sum(1)
    if kind == "l2":
        return g.norm(2, 1)
    if kind == "linf":
        return a.max(1)[0]
    if kind == "smoothmax":
        return (a * torch.exp(s * a)).sum(1) / torch.exp(s * a).sum(1)
    return torch.logsumexp(a, 1)


def form(n, kind):
    return {"squared-diff": lambda: (n - 1) ** 2, "hinge": lambda: torch.relu(n - 1),
            "clamp": lambda: n.clamp(min=1.0) - 1.0, "squared-clamp": lambda: (n.clamp(min=1.0) - 1.0) ** 2,
            "squared": lambda: n ** 2, "tv": lambda: n, "abs": lambda: torch.abs(n - 1),
            "hinge2": lambda: torch.relu(n - 1) ** 2}[kind]()


def reduce(c, kind):
    if kind == "mean":
        return c.mean()
    if kind == "max":
        return c.max()
    return (c.softmax(0) * c).sum()


def net_config(cfg):
    return official_nets.parse_config({
        "arch": "dcgan" if cfg["arch"] == 0 else "standard_cnn", "image_size": cfg["image_size"],
        "n_colors": cfg["n_colors"], "z_size": cfg["z_size"], "G_h_size": cfg["G_h_size"],
        "D_h_size": cfg["D_h_size"], "batch_norm_G": not cfg["no_batch_norm_G"],
        "batch_norm_D": not cfg["no_batch_norm_D"], "spectral_G": cfg["spectral_G"], "spectral_D": cfg["spectral"],
        "leaky_slope": cfg["leaky_slope"]})


def state(data, prefix):
    return {k[len(prefix):]: torch.tensor(v) for k, v in data.items() if k.startswith(prefix)}


def check(path):
    data, meta = load(path)
    cfg = json.loads(meta["config"])
    t = lambda k: torch.tensor(data[k])
    nc = net_config(cfg)
    G = official_nets.make_generator(nc).double()
    D = official_nets.make_discriminator(nc).double()
    G.load_state_dict(state(data, "G."), strict=True)
    D.load_state_dict(state(data, "D."), strict=True)
    G.train(), D.train()
    n = cfg["loss_D"]
    bad, worst = [], 0.0

    def cmp(name, engine, ref):
        nonlocal worst
        e, where = rel(engine, ref)
        worst = max(worst, e)
        if e > TOL:
            bad.append(f"{path}: {name} rel error {e:.3e} ({where})")

    # D step.
    x = t("x_real")
    y_pred = D(x)
    with torch.no_grad():
        x_fake = G(t("z_D"))
    y_pred_fake = D(x_fake)
    errD = d_loss(n, y_pred, y_pred_fake)
    total = errD
    if cfg["penalty_on"]:
        u = t("u").reshape(-1, 1, 1, 1)
        where = cfg["gp_where"]
        xb = x if where == "real" else x_fake if where == "fake" else x * u + x_fake * (1 - u)
        xb = xb.detach().requires_grad_(True)
        y0 = D(xb)
        g = torch.autograd.grad(y0, xb, torch.ones_like(y0), create_graph=True)[0]
        constraint = reduce(form(norm(g, cfg["gp_norm"], cfg["smoothmax"]), cfg["penalty_type"]), cfg["reduction"])
        if cfg["grad_penalty_aug"]:
            pen = -cfg["penalty"] * constraint + cfg["rho"] / 2 * constraint ** 2
        else:
            pen = cfg["penalty"] * constraint
        cmp("penalty", data["penalty"], constraint)
        cmp("penalty_term", data["penalty_term"], pen)
        total = total + pen
    cmp("loss_D", data["loss_D"], errD)
    D.zero_grad()
    total.backward()
    for name, p in D.named_parameters():
        cmp("grad.D." + name, data["grad.D." + name], p.grad)
    opt = torch.optim.Adam(D.parameters(), lr=cfg["lr_D"], betas=(cfg["beta1"], cfg["beta2"]),
                           weight_decay=cfg["weight_decay"])
    opt.step()
    after = state(data, "D_after.")
    for name, v in D.state_dict().items():
        cmp("D_after." + name, after[name], v)

    # G step, against the engine's D after its update.
    D.load_state_dict(after, strict=True)
    for p in D.parameters():
        p.requires_grad_(False)
    G.zero_grad()
    fake = G(t("z_G"))
    yf = D(fake)
    yr = D(t("x_real_G")) if n > 10 else None
    errG = g_loss(n, yr, yf)
    cmp("loss_G", data["loss_G"], errG)
    errG.backward()
    for name, p in G.named_parameters():
        cmp("grad.G." + name, data["grad.G." + name], p.grad)
    return bad, worst


def main(paths):
    bad, worst = [], 0.0
    for p in paths:
        b, w = check(p)
        bad += b
        worst = max(worst, w)
    print(f"{len(paths)} step dumps replayed with torch {torch.__version__}; worst relative error {worst:.3e}")
    if bad:
        print("\n".join(bad[:60]))
        sys.exit(1)


if __name__ == "__main__":
    main(sys.argv[1:])
