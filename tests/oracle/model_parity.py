"""PyTorch oracle for the paper's networks (tests/test_models.cpp), against the official architectures
replicated in official_nets.py, in float64 on CPU.

  model_parity.py step FILE
      One discriminator step of the paper, from the engine's file. FILE holds the network config in its
      metadata (string values: arch, image_size, n_colors, z_size, G_h_size, D_h_size, batch_norm_D,
      spectral_D, leaky_slope, ..., and lambda), D's state before the step as D.<state_dict key>
      (parameters and buffers; num_batches_tracked as I64), the batches x_real, x_fake [N, C, S, S] and
      the mixing weights u [N, 1, 1, 1], and the engine's results: grad.<name> for every parameter of D,
      after.<name> for every buffer of D after the step, loss_D and penalty; optionally y_real, y_fake,
      y_hat and norms (the per-sample gradient norms), compared when present.
      Optionally, the mmgan -> PyTorch direction for G too: G.<key> (G's state), z [N, z_size, 1, 1], the
      engine's G_out = G(z) in train mode and G_after.<buffer> (G's buffers after that forward).
      The step, in the official order, D in train mode throughout (so each of the 3 calls updates the
      BatchNorm running statistics and runs one spectral-norm power iteration):
          y_real = D(x_real); y_fake = D(x_fake)
          loss_D = mean(relu(1 - y_real)) + mean(relu(1 + y_fake))               (HingeGAN)
          xhat = u * x_real + (1 - u) * x_fake  (a fresh leaf); y_hat = D(xhat)
          g = autograd.grad(y_hat, xhat, ones, create_graph=True); norms = max |g| per sample
          penalty = mean(relu(norms - 1)); (loss_D + lambda * penalty).backward()
      Every gradient, buffer and scalar must equal PyTorch's to 1e-9 relative (max abs diff / max abs
      value), and the engine's gradient and buffer names must be exactly PyTorch's parameter and buffer
      names: a missing or extra key is a failure. One exception to the denominator: the bias of a conv
      followed by a train-mode BatchNorm (the standard CNN) has gradient exactly 0 (the batch mean removes a
      per-channel constant), so both engines return rounding noise (~1e-15) whose ratio means nothing; its
      difference is measured against the largest gradient of that conv's weight instead.

  model_parity.py export CONFIG OUT
      The PyTorch -> mmgan direction of the weights: CONFIG is a JSON object (or a path to one) with the
      network config, seed (default 0) and batch (default 3). Builds G and D in float64 after
      torch.manual_seed(seed), applies the official weights_init and writes OUT: G.<key> and D.<key>
      (the state), z [N, z_size, 1, 1], x [N, C, S, S], G_out = G(z) and D_out = D(x) in train mode,
      G_after.<buffer> and D_after.<buffer> (the buffers after those forwards), and metadata G_params and
      D_params (the parameter counts), G_keys and D_keys (state_dict key order, newline-separated) and
      the config. The engine loads the state, repeats the forwards and compares.

Exits non-zero listing each mismatch; prints the observed errors either way.
"""
import json
import sys

import torch
import torch.nn.functional as F

from compare import rel
from official_nets import make_discriminator, make_generator, parse_config, weights_init
from st_io import load, save

TOL = 1e-9
# The networks are small: one thread is faster than two here, and immune to OpenMP spinning on a busy machine.
torch.set_num_threads(1)
INPUTS = {"x_real", "x_fake", "u"}
SCALARS = ["loss_D", "penalty"]
DIAGNOSTICS = ["y_real", "y_fake", "y_hat", "norms"]
G_CHECK = {"z", "G_out"}


def variant(c):
    parts = [c["arch"], f"{c['image_size']}px"]
    if c["arch"] == "dcgan":
        parts.append(f"D_h {c['D_h_size']}")
    parts.append("BN_D" if c["batch_norm_D"] and not c["spectral_D"] else "no BN_D")
    parts += [f"spectral {n}" for n in "DG" if c[f"spectral_{n}"]]
    return ", ".join(parts)


def cancelled_biases(m):
    """{bias name: weight name} for every conv whose next sibling in a Sequential is a BatchNorm2d."""
    out = {}
    for prefix, mod in m.named_modules():
        if not isinstance(mod, torch.nn.Sequential):
            continue
        kids = list(mod.named_children())
        for (name, a), (_, b) in zip(kids, kids[1:]):
            if isinstance(b, torch.nn.BatchNorm2d) and getattr(a, "bias", None) is not None:
                base = f"{prefix}.{name}" if prefix else name
                out[f"{base}.bias"] = f"{base}.weight_orig" if hasattr(a, "weight_orig") else f"{base}.weight"
    return out


def step(path):
    data, meta = load(path)
    c = parse_config(meta)
    lam = float(meta["lambda"])
    bad = []

    torch.set_default_dtype(torch.float64)
    D = make_discriminator(c).double()
    param_names = [n for n, _ in D.named_parameters()]
    buffer_names = [n for n, _ in D.named_buffers()]
    with_G = "z" in data
    G = make_generator(c).double() if with_G else None

    # The names: D.* must be D's full state, grad.* its parameters, after.* its buffers (and G.* G's
    # state, G_after.* G's buffers), nothing else.
    want = {"D.": param_names + buffer_names, "grad.": param_names, "after.": buffer_names}
    if with_G:
        want["G."] = list(G.state_dict().keys())
        want["G_after."] = [n for n, _ in G.named_buffers()]
    groups = {p: set() for p in ("D.", "grad.", "after.", "G.", "G_after.")}
    for k in data:
        for p in groups:
            if k.startswith(p):
                groups[p].add(k[len(p):])
                break
        else:
            if k not in INPUTS | set(SCALARS) | set(DIAGNOSTICS) | G_CHECK:
                bad.append(f"unexpected key {k!r} in the engine's file")
    for p in groups:
        missing, extra = set(want.get(p, [])) - groups[p], groups[p] - set(want.get(p, []))
        if missing:
            bad.append(f"{p}*: missing (PyTorch has them): {sorted(missing)}")
        if extra:
            bad.append(f"{p}*: extra (PyTorch has no such {'parameter' if p == 'grad.' else 'entry'}): {sorted(extra)}")
    for k in sorted(INPUTS | set(SCALARS) | (G_CHECK if with_G else set())):
        if k not in data:
            bad.append(f"{k}: missing from the engine's file")
    if bad:
        print(f"MISMATCH against PyTorch ({path}, {variant(c)}):")
        print("\n".join(bad))
        sys.exit(1)

    T = {}
    for k, v in data.items():
        t = torch.from_numpy(v)
        dtype = torch.int64 if k.endswith("num_batches_tracked") else torch.float64
        if t.dtype != dtype:
            bad.append(f"{k}: dtype {t.dtype}, expected {dtype}")
        T[k] = t
    for tag, m in (("D", D), ("G", G)):
        if m is None:
            continue
        try:
            m.load_state_dict({k[2:]: T[k] for k in data if k.startswith(tag + ".")}, strict=True)
        except RuntimeError as e:
            bad.append(f"load_state_dict(strict=True) of the engine's {tag}.* failed: {e}")
    if bad:
        print(f"MISMATCH against PyTorch ({path}, {variant(c)}):")
        print("\n".join(bad))
        sys.exit(1)
    D.train()

    x_real, x_fake, u = T["x_real"], T["x_fake"], T["u"]
    n = x_real.shape[0]
    y_real = D(x_real)
    y_fake = D(x_fake)
    loss_D = F.relu(1.0 - y_real).mean() + F.relu(1.0 + y_fake).mean()
    xhat = (u * x_real + (1.0 - u) * x_fake).detach().requires_grad_(True)
    y_hat = D(xhat)
    (g,) = torch.autograd.grad(y_hat, xhat, torch.ones_like(y_hat), create_graph=True)
    norms = g.view(n, -1).abs().max(1)[0]
    penalty = F.relu(norms - 1.0).mean()
    total = loss_D + lam * penalty
    total.backward()

    params = dict(D.named_parameters())
    buffers = dict(D.named_buffers())
    checks = [(k, {"loss_D": loss_D, "penalty": penalty}[k]) for k in SCALARS]
    checks += [(k, {"y_real": y_real, "y_fake": y_fake, "y_hat": y_hat, "norms": norms}[k])
               for k in DIAGNOSTICS if k in data]
    checks += [(f"grad.{k}", params[k].grad if params[k].grad is not None else torch.zeros_like(params[k]))
               for k in param_names]
    checks += [(f"after.{k}", buffers[k]) for k in buffer_names]
    if with_G:
        G.train()
        with torch.no_grad():
            checks.append(("G_out", G(T["z"])))
        checks += [(f"G_after.{k}", v) for k, v in G.named_buffers()]
    worst = {"grad": (-1.0, "none"), "after": (-1.0, "none"), "scalar": (-1.0, "none"), "G": (-1.0, "none")}
    scale_of = cancelled_biases(D)
    for name, ref in checks:
        err, where = rel(T[name], ref)
        if name.startswith("grad.") and name[5:] in scale_of:  # true value 0: compare on the weight's scale
            w = params[scale_of[name[5:]]].grad
            err = float((T[name] - ref).abs().max() / w.abs().max().clamp_min(1e-300))
            where += f" (vs max |grad {scale_of[name[5:]]}| = {w.abs().max().item():.3g})"
        kind = "G" if name.startswith("G_") else name.split(".")[0] if "." in name else "scalar"
        if kind in worst and err > worst[kind][0]:
            worst[kind] = (err, name)
        if not err <= TOL:
            bad.append(f"  {name}: rel error {err:.3e} > {TOL:g}; {where}")
    active = int((norms > 1).sum())
    w = {k: f"{e:.3e} ({name})" if e >= 0 else "none" for k, (e, name) in worst.items()}
    print(f"{variant(c)}, batch {n}: loss_D {loss_D.item():.6g}, penalty {penalty.item():.6g} active on "
          f"{active}/{n}; worst rel error: grads {w['grad']}, buffers {w['after']}, scalars {w['scalar']}"
          + (f", G forward {w['G']}" if with_G else "") + f" (torch {torch.__version__})")
    if bad:
        print(f"MISMATCH against PyTorch ({path}, {variant(c)}):")
        print("\n".join(bad))
        sys.exit(1)


def export(config, out):
    raw = json.loads(config if config.lstrip().startswith("{") else open(config).read())
    c = parse_config(raw)
    seed, n = int(raw.get("seed", 0)), int(raw.get("batch", 3))
    torch.set_default_dtype(torch.float64)
    torch.manual_seed(seed)
    G, D = make_generator(c), make_discriminator(c)
    G.apply(weights_init)
    D.apply(weights_init)
    G.train()
    D.train()
    tensors = {}
    for tag, m in (("G", G), ("D", D)):
        for k, v in m.state_dict().items():
            tensors[f"{tag}.{k}"] = v.detach().clone().numpy()
    s = c["image_size"]
    z = torch.randn(n, c["z_size"], 1, 1)
    x = torch.rand(n, c["n_colors"], s, s) * 2 - 1
    with torch.no_grad():
        G_out, D_out = G(z), D(x)
    tensors.update({"z": z.numpy(), "x": x.numpy(), "G_out": G_out.numpy(), "D_out": D_out.numpy()})
    for tag, m in (("G", G), ("D", D)):
        for k, v in m.named_buffers():
            tensors[f"{tag}_after.{k}"] = v.detach().clone().numpy()
    meta = {k: (str(int(v)) if isinstance(v, bool) else str(v)) for k, v in c.items()}
    meta.update({"seed": str(seed), "batch": str(n), "torch": torch.__version__,
                 "G_params": str(sum(p.numel() for p in G.parameters())),
                 "D_params": str(sum(p.numel() for p in D.parameters())),
                 "G_keys": "\n".join(G.state_dict().keys()), "D_keys": "\n".join(D.state_dict().keys())})
    save(out, tensors, meta)
    print(f"exported {variant(c)}: G {meta['G_params']} parameters -> {tuple(G_out.shape)}, "
          f"D {meta['D_params']} parameters -> {tuple(D_out.shape)} to {out}")


def main(argv):
    if len(argv) == 2 and argv[0] == "step":
        step(argv[1])
    elif len(argv) == 3 and argv[0] == "export":
        export(argv[1], argv[2])
    else:
        print("usage: model_parity.py step FILE | model_parity.py export CONFIG_JSON OUT", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main(sys.argv[1:])
