"""PyTorch oracle for the Fashion-MNIST feature classifier (tests/test_classifier.cpp), float64 on CPU.

  classifier.py ce FILE
      Cross-entropy cases: for each case K, K.logits [N, C], K.labels [N] (I64), and the engine's K.loss
      (scalar) and K.grad (d loss / d logits). Compared with F.cross_entropy (mean reduction) to 1e-12
      relative.

  classifier.py model FILE SHIPPED
      The network, rebuilt here as a torch.nn.Module whose state_dict names must be exactly those of the
      shipped weight file SHIPPED (and of the engine's state in FILE). FILE holds the engine's state
      (state.<name>), a batch x [N, 1, 32, 32] and labels [N] (I64), and the engine's results:
        eval mode:  logits_eval, features_eval (BatchNorm running statistics)
        train mode: logits_train, loss_train = cross_entropy(logits_train, labels), grad.<param> for
                    every parameter, after.<buffer> for every buffer after that forward
      The same computations here must agree to 1e-9 relative (max abs diff / max abs value).

Exits non-zero listing each mismatch; prints the worst errors either way.
"""
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

from compare import rel
from st_io import load

torch.set_num_threads(1)


class FmnistClassifier(nn.Module):
    """models/fmnist_classifier.h in PyTorch."""

    def __init__(self):
        super().__init__()
        layers = []
        for cin, cout, k, s, p in [(1, 32, 4, 2, 1), (32, 64, 4, 2, 1), (64, 128, 4, 2, 1), (128, 128, 3, 1, 1)]:
            layers += [nn.Conv2d(cin, cout, k, s, p, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
        self.conv = nn.Sequential(*layers)
        self.fc = nn.Linear(128, 128)
        self.head = nn.Linear(128, 10)

    def features(self, x):
        return F.relu(self.fc(self.conv(x).mean((2, 3))))

    def forward(self, x):
        return self.head(self.features(x))


class Report:
    def __init__(self, tol):
        self.tol, self.bad, self.worst = tol, [], (0.0, "")

    def check(self, name, engine, ref):
        err, where = rel(engine, ref)
        if err > self.worst[0]:
            self.worst = (err, name)
        if not err <= self.tol:
            self.bad.append(f"{name}: rel error {err:.3e} > {self.tol:g} ({where})")

    def finish(self, what):
        print(f"{what}: worst rel error {self.worst[0]:.3e} ({self.worst[1]}), torch {torch.__version__}")
        if self.bad:
            print("MISMATCH against PyTorch:\n" + "\n".join(self.bad))
            sys.exit(1)


def ce(path):
    data, _ = load(path)
    cases = sorted({k.split(".")[0] for k in data})
    r = Report(1e-12)
    for c in cases:
        logits = torch.tensor(data[f"{c}.logits"], requires_grad=True)
        loss = F.cross_entropy(logits, torch.tensor(data[f"{c}.labels"]))
        (g,) = torch.autograd.grad(loss, logits)
        r.check(f"{c}.loss", data[f"{c}.loss"], loss)
        r.check(f"{c}.grad", data[f"{c}.grad"], g)
    r.finish(f"cross_entropy, {len(cases)} cases")


def model(path, shipped):
    data, _ = load(path)
    ship, _ = load(shipped)
    torch.set_default_dtype(torch.float64)
    m = FmnistClassifier().double()
    r = Report(1e-9)
    # The names and shapes: PyTorch's state_dict = the shipped file's = the engine's.
    want = {k: tuple(v.shape) for k, v in m.state_dict().items()}
    got_ship = {k: tuple(v.shape) for k, v in ship.items()}
    got_engine = {k[len("state."):]: tuple(v.shape) for k, v in data.items() if k.startswith("state.")}
    for what, got in (("shipped file", got_ship), ("engine state", got_engine)):
        if got != want:
            r.bad.append(f"{what}: names/shapes differ from PyTorch's: missing {sorted(set(want) - set(got))}, "
                         f"extra {sorted(set(got) - set(want))}, "
                         f"shape mismatches {[k for k in want if k in got and got[k] != want[k]]}")
    if r.bad:
        r.finish("classifier")
    m.load_state_dict({k: torch.tensor(data["state." + k]) for k in want}, strict=True)
    x, labels = torch.tensor(data["x"]), torch.tensor(data["labels"])

    m.eval()
    with torch.no_grad():
        r.check("features_eval", data["features_eval"], m.features(x))
        r.check("logits_eval", data["logits_eval"], m(x))

    m.train()
    logits = m(x)
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    r.check("logits_train", data["logits_train"], logits)
    r.check("loss_train", data["loss_train"], loss)
    for name, p in m.named_parameters():
        r.check(f"grad.{name}", data[f"grad.{name}"], p.grad)
    for name, b in m.named_buffers():
        r.check(f"after.{name}", data[f"after.{name}"], b)
    r.finish(f"classifier on {x.shape[0]} images, {len(want)} state entries")


if __name__ == "__main__":
    if sys.argv[1] == "ce":
        ce(sys.argv[2])
    elif sys.argv[1] == "model":
        model(sys.argv[2], sys.argv[3])
    else:
        sys.exit(f"unknown mode {sys.argv[1]}")
