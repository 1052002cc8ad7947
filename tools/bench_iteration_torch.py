"""The reference for tools/bench_train.cpp: one full training iteration of the official code
(Code/GAN.py order: D step with HingeGAN loss + L-infinity hinge penalty at interpolates, lambda 20,
Adam; G step) for DCGAN32 (h = 128, 3 colours, BatchNorm in D), on CPU, in Debian's PyTorch.
The networks are the official ones as replicated in tests/oracle/official_nets.py.

  /usr/bin/python3 tools/bench_iteration_torch.py --batch 32 --threads 2 --iters 10
prints one line: median seconds per iteration (after 2 warm-up iterations).
"""
import argparse
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "oracle"))
import official_nets  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=10)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    c = official_nets.parse_config({"arch": "dcgan", "image_size": 32, "n_colors": 3})
    G, D = official_nets.make_generator(c), official_nets.make_discriminator(c)
    G.apply(official_nets.weights_init)
    D.apply(official_nets.weights_init)
    oD = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    oG = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    B = a.batch
    data = torch.rand(512, 3, 32, 32) * 2 - 1
    ones = torch.ones(B)

    def iteration():
        for p in D.parameters():
            p.requires_grad = True
        D.zero_grad()
        x = data[torch.randperm(512)[:B]]
        y_pred = D(x)
        z = torch.randn(B, 128, 1, 1)
        fake = G(z)
        x_fake = fake.detach()
        y_pred_fake = D(x_fake)
        errD = torch.relu(1.0 - y_pred).mean() + torch.relu(1.0 + y_pred_fake).mean()
        errD.backward(retain_graph=True)
        u = torch.rand(B, 1, 1, 1)
        x_both = (x * u + x_fake * (1 - u)).requires_grad_(True)
        g = torch.autograd.grad(D(x_both), x_both, ones, retain_graph=True, create_graph=True)[0]
        pen = 20 * torch.relu(g.view(B, -1).abs().max(1)[0] - 1).mean()
        pen.backward()
        oD.step()
        for p in D.parameters():
            p.requires_grad = False
        G.zero_grad()
        errG = -D(G(torch.randn(B, 128, 1, 1))).mean()
        errG.backward()
        oG.step()

    times = []
    for i in range(a.iters + 2):
        t0 = time.perf_counter()
        iteration()
        if i >= 2:
            times.append(time.perf_counter() - t0)
    print(f"pytorch {torch.__version__} threads {a.threads} batch {B}: {statistics.median(times):.4f} s/iteration "
          f"(median of {a.iters})")


if __name__ == "__main__":
    main()
