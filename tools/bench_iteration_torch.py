"""The reference for tools/bench_train.cpp: one full training iteration of the official code
(Code/GAN.py order: D step with HingeGAN loss + L-infinity hinge penalty at interpolates, lambda 20,
Adam; G step) for DCGAN32 (h = 128, 3 colours, BatchNorm in D), in PyTorch. The networks are the
official ones as replicated in tests/oracle/official_nets.py.

  /usr/bin/python3 tools/bench_iteration_torch.py --batch 32 --threads 2 --iters 10      (CPU)
  python3 tools/bench_iteration_torch.py --device cuda --batch 32 --iters 200            (GPU, eager)
  python3 tools/bench_iteration_torch.py --device cuda --graph --batch 32 --iters 200    (GPU, CUDA graph)

On the GPU: cuDNN benchmark mode on, TF32 as mmgan uses it (convolutions yes, matmuls no). --graph
captures the whole iteration (both steps, both Adam updates with capturable=True, the random draws)
by hand in one CUDA graph, as PyTorch's documentation shows for whole-network capture, and replays it
after copying the real batch into a static input; if the capture fails, the line says why.
--flops also prints the iteration's FLOP count (torch.utils.flop_counter, PyTorch >= 2.1) and the
device's TF32 matrix-multiply rate (8192^3, the median of 10), for the fraction of peak.
Prints one line: seconds per iteration (CPU: median of --iters timed one by one after 2 warm-ups;
GPU: --iters back-to-back iterations after warm-up, divided, so launch overlap counts as it does in
training).
"""
import argparse
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "oracle"))
import official_nets  # noqa: E402


def build(device, batch, capturable):
    torch.manual_seed(1)
    c = official_nets.parse_config({"arch": "dcgan", "image_size": 32, "n_colors": 3})
    G, D = official_nets.make_generator(c), official_nets.make_discriminator(c)
    G.apply(official_nets.weights_init)
    D.apply(official_nets.weights_init)
    G, D = G.to(device), D.to(device)
    kw = {"capturable": True} if capturable else {}
    oD = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999), **kw)
    oG = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999), **kw)
    data = torch.rand(512, 3, 32, 32, device=device) * 2 - 1
    ones = torch.ones(batch, device=device)

    def iteration(x):
        B = batch
        for p in D.parameters():
            p.requires_grad = True
        D.zero_grad(set_to_none=True)
        y_pred = D(x)
        z = torch.randn(B, 128, 1, 1, device=device)
        fake = G(z)
        x_fake = fake.detach()
        y_pred_fake = D(x_fake)
        errD = torch.relu(1.0 - y_pred).mean() + torch.relu(1.0 + y_pred_fake).mean()
        errD.backward(retain_graph=True)
        u = torch.rand(B, 1, 1, 1, device=device)
        x_both = (x * u + x_fake * (1 - u)).requires_grad_(True)
        g = torch.autograd.grad(D(x_both), x_both, ones, retain_graph=True, create_graph=True)[0]
        pen = 20 * torch.relu(g.view(B, -1).abs().max(1)[0] - 1).mean()
        pen.backward()
        oD.step()
        for p in D.parameters():
            p.requires_grad = False
        G.zero_grad(set_to_none=True)
        errG = -D(G(torch.randn(B, 128, 1, 1, device=device))).mean()
        errG.backward()
        oG.step()

    def batch_of_data():
        return data[torch.randperm(512, device=device)[:batch]]

    return iteration, batch_of_data


def tf32_rate():
    n = 8192
    a, b = torch.randn(n, n, device="cuda"), torch.randn(n, n, device="cuda")
    old = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = True
    for _ in range(3):
        a @ b
    times = []
    for _ in range(10):
        e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        e0.record()
        a @ b
        e1.record()
        torch.cuda.synchronize()
        times.append(e0.elapsed_time(e1) / 1e3)
    torch.backends.cuda.matmul.allow_tf32 = old
    return 2 * n ** 3 / statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--graph", action="store_true")
    ap.add_argument("--flops", action="store_true")
    a = ap.parse_args()
    cuda = a.device.startswith("cuda")
    if not cuda:
        torch.set_num_threads(a.threads)
        iteration, batch_of_data = build("cpu", a.batch, False)
        times = []
        for i in range(a.iters + 2):
            t0 = time.perf_counter()
            iteration(batch_of_data())
            if i >= 2:
                times.append(time.perf_counter() - t0)
        print(f"pytorch {torch.__version__} threads {a.threads} batch {a.batch}: {statistics.median(times):.4f} "
              f"s/iteration (median of {a.iters})")
        return

    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cuda.matmul.allow_tf32 = False
    name = torch.cuda.get_device_name()
    iteration, batch_of_data = build(a.device, a.batch, a.graph)
    static_x = batch_of_data().clone()
    step = lambda: iteration(batch_of_data())  # noqa: E731
    mode = "eager"
    if a.graph:
        mode = "cuda-graph"
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):  # warm-up on a side stream, as PyTorch's capture recipe asks
            for _ in range(3):
                static_x.copy_(batch_of_data())
                iteration(static_x)
        torch.cuda.current_stream().wait_stream(s)
        graph = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.graph(graph):
                iteration(static_x)
        except Exception as e:  # noqa: BLE001
            print(f"pytorch {torch.__version__} {name} batch {a.batch} cuda-graph: capture failed: "
                  f"{type(e).__name__}: {str(e).splitlines()[0]}")
            return

        def step():
            static_x.copy_(batch_of_data())
            graph.replay()
    for _ in range(10):
        step()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(a.iters):
        step()
    torch.cuda.synchronize()
    sec = (time.perf_counter() - t0) / a.iters
    line = f"pytorch {torch.__version__} {name} batch {a.batch} {mode}: {sec:.6f} s/iteration (mean of {a.iters})"
    if a.flops:
        from torch.utils.flop_counter import FlopCounterMode
        fresh, fresh_batch = build(a.device, a.batch, False)
        counter = FlopCounterMode(display=False)
        with counter:
            fresh(fresh_batch())
        flops = counter.get_total_flops()
        rate = tf32_rate()
        line += (f"; {flops / 1e9:.2f} GFLOP/iteration; TF32 matmul {rate / 1e12:.0f} TFLOP/s; "
                 f"this iteration reaches {flops / sec / rate * 100:.1f} % of it")
    print(line)


if __name__ == "__main__":
    main()
