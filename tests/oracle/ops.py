"""PyTorch formulas for every op case of tests/test_ops.cpp. Reads NAME.in*, NAME.out, NAME.v and
NAME.grad* from a safetensors file, recomputes the output and the gradients of sum(out * v) with
torch in float64, and exits non-zero listing every case whose relative error exceeds 1e-12."""
import sys

import torch
import torch.nn.functional as F

from compare import rel
from st_io import load

def bilinear(x, size):
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def max_pool2d_backward(gy, x, kernel, stride):
    """The input gradient of F.max_pool2d(x) for output gradient gy, differentiable in gy."""
    xx = x.detach().requires_grad_()
    return torch.autograd.grad(F.max_pool2d(xx, kernel, stride), xx, gy, create_graph=True)[0]


def batch_norm_backward(x, w, g, y=None, slope=0.0):
    """(gx, gw, gb) of training-mode batch norm (then LeakyReLU when its output y is given) for
    output gradient g, flattened into one vector, differentiable in x, w and g."""
    if y is not None:
        g = g * torch.where(y > 0, torch.ones_like(y), torch.full_like(y, slope))
    xx = x if x.requires_grad else x.detach().requires_grad_()
    dims = (0, 2, 3)
    if w is None:
        w = torch.ones(x.shape[1], dtype=x.dtype)
    ww = w if w.requires_grad else w.detach().requires_grad_()
    gx, gw = torch.autograd.grad(F.batch_norm(xx, None, None, ww, None, training=True), (xx, ww), g,
                                 create_graph=True)
    return torch.cat([gx.reshape(-1), gw, g.sum(dims)])


T = {
    "neg": lambda x: -x,
    "exp": torch.exp,
    "log": torch.log,
    "abs": torch.abs,
    "sqrt": torch.sqrt,
    "square": lambda x: x * x,
    "reciprocal": lambda x: 1 / x,
    "pow3": lambda x: x ** 3,
    "pow_half": lambda x: x ** 0.5,
    "pow_m1_5": lambda x: x ** -1.5,
    "clamp": lambda x: x.clamp(-0.5, 0.5),
    "relu": F.relu,
    "leaky_relu": lambda x: F.leaky_relu(x, 0.2),
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "softplus": lambda x: F.softplus(3 * x),
    "log_sigmoid": lambda x: F.logsigmoid(3 * x),
    "add_bcast": lambda a, b: a + b,
    "sub_bcast": lambda a, b: a - b,
    "mul_bcast": lambda a, b: a * b,
    "div_bcast": lambda a, b: a / b,
    "maximum": torch.maximum,
    "minimum": torch.minimum,
    "scalar_arith": lambda x: 3.0 - (x + 1.5) * -2.0 / 4.0,
    "where": lambda c, a, b: torch.where(c != 0, a, b),
    "sum_all": lambda x: (x * x).sum(),
    "sum_dim1_keep": lambda x: (x * x).sum(1, keepdim=True),
    "sum_dims02": lambda x: (x * x).sum((0, 2)),
    "mean_dim_neg1": lambda x: (x * x).mean(-1),
    "amax_dim1": lambda x: x.amax(1),
    "amax_all": lambda x: x.amax(),
    "l1_norm": lambda x: x.flatten(1).abs().sum(1),
    "l2_norm": lambda x: x.flatten(1).norm(dim=1),
    "linf_norm": lambda x: x.flatten(1).abs().amax(1),
    "smooth_max_s1": lambda x: (x.flatten(1) * torch.exp(x.flatten(1))).sum(1) / torch.exp(x.flatten(1)).sum(1),
    "smooth_max_s3": lambda x: (x.flatten(1) * torch.exp(3 * x.flatten(1))).sum(1)
    / torch.exp(3 * x.flatten(1)).sum(1),
    "logsumexp": lambda x: torch.logsumexp(x.flatten(1), 1),
    "reshape": lambda x: (x * x).reshape(2, -1),
    "flatten": lambda x: (x * x).flatten(1),
    "transpose": lambda x: (x.transpose(0, 2) ** 2).contiguous(),
    "permute": lambda x: x.permute(2, 0, 1) ** 2,
    "expand": lambda x: x.expand(2, 3, 4) ** 2,
    "unsqueeze_squeeze": lambda x: (x * x).unsqueeze(1).squeeze(1),
    "slice_step2": lambda x: x[:, 1:5:2] ** 2,
    "slice_neg": lambda x: x[-3:-1] ** 2,
    "concat": lambda a, b: torch.cat([a, b], 1) ** 2,
    "matmul": lambda a, b: a @ b,
    "matmul_transposed": lambda a, b: a.t() @ b.t(),
    "linear": F.linear,
    "conv2d_s2p1": lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1),
    "conv2d_rect": lambda x, w: F.conv2d(x, w, stride=(1, 2), padding=(0, 1)),
    "conv2d_1x1": lambda x, w, b: F.conv2d(x, w, b),
    "conv_transpose2d": lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1),
    # 3x2 input, 3x2 kernel, stride 2, padding (1, 0): natural size 5x4, asked for 6x5.
    "conv_transpose2d_to": lambda x, w: F.conv_transpose2d(x, w, stride=2, padding=(1, 0), output_padding=(1, 1)),
    "conv2d_weight": lambda x, gy: torch.nn.grad.conv2d_weight(x, (3, 2, 3, 3), gy, stride=2, padding=1),
    "batch_norm_train": lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
    "batch_norm_train_noaffine": lambda x: F.batch_norm(x, None, None, training=True),
    "batch_norm_leaky_train": lambda x, w, b: F.leaky_relu(F.batch_norm(x, None, None, w, b, training=True), 0.2),
    "batch_norm_relu_train": lambda x, w, b: F.relu(F.batch_norm(x, None, None, w, b, training=True)),
    "conv2d_leaky": lambda x, w, b: F.leaky_relu(F.conv2d(x, w, b, (2, 1), (1, 0)), 0.2),
    "conv2d_relu_nobias": lambda x, w: F.relu(F.conv2d(x, w, None, 1, 1)),
    "conv2d_1x1_leaky": lambda x, w, b: F.leaky_relu(F.conv2d(x, w, b), 0.1),
    "batch_norm_backward": batch_norm_backward,
    "batch_norm_leaky_backward": lambda x, w, g, y: batch_norm_backward(x, w, g, y, 0.2),
    "batch_norm_backward_noaffine": lambda x, g: batch_norm_backward(x, None, g),
    "batch_norm_eval": lambda x, w, b, rm, rv: F.batch_norm(x, rm, rv, w, b, training=False),
    "spectral_dim0": lambda w, u, v: w / (u @ (w.reshape(3, -1) @ v)),
    "spectral_dim1": lambda w, u, v: w / (u @ (w.transpose(0, 1).reshape(3, -1) @ v)),
    "max_pool2d_k3s2": lambda x: F.max_pool2d(x, 3, 2),
    "max_pool2d_k3s1p1": lambda x: F.max_pool2d(x, 3, 1, 1),
    "max_pool2d_backward": lambda gy, x: max_pool2d_backward(gy, x, 3, 2),
    "avg_pool2d_k3s1p1_excl": lambda x: F.avg_pool2d(x, 3, 1, 1, count_include_pad=False),
    "avg_pool2d_k3s1p1_incl": lambda x: F.avg_pool2d(x, 3, 1, 1, count_include_pad=True),
    "avg_pool2d_k2x3s2x1": lambda x: F.avg_pool2d(x, (2, 3), (2, 1)),
    "avg_pool2d_k2x3s2x1p1_excl": lambda x: F.avg_pool2d(x, (2, 3), (2, 1), (1, 1), count_include_pad=False),
    "adaptive_avg_pool2d_3x2": lambda x: F.adaptive_avg_pool2d(x, (3, 2)),
    "adaptive_avg_pool2d_1x1": lambda x: F.adaptive_avg_pool2d(x, 1),
    "adaptive_avg_pool2d_up": lambda x: F.adaptive_avg_pool2d(x, (5, 7)),
    "resize_up": lambda x: bilinear(x, (7, 5)),
    "resize_down": lambda x: bilinear(x, (3, 4)),
    "resize_5_to_9": lambda x: bilinear(x, (9, 9)),
    "resize_mixed": lambda x: bilinear(x, (11, 3)),
    "resize_same": lambda x: bilinear(x, (3, 4)),
    "to_dtype": lambda x: x.float().double(),
    "to_device": lambda x: x * x,  # squared on the other device (the same one without a GPU)
    # Written by MaxPoolTies in test_ops.cpp: inputs in {-1, 0, 1}, so windows tie.
    "max_pool2d_ties_k3s2": lambda x: F.max_pool2d(x, 3, 2),
    "max_pool2d_ties_k3s1p1": lambda x: F.max_pool2d(x, 3, 1, 1),
    "max_pool2d_ties_k2x3s1x2p1": lambda x: F.max_pool2d(x, (2, 3), (1, 2), (1, 1)),
    "max_pool2d_backward_ties": lambda gy, x: max_pool2d_backward(gy, x, 3, 2),
}


def main(path):
    data, _ = load(path)
    names = sorted({k.split(".")[0] for k in data})
    bad = []
    for name in names:
        if name not in T:
            bad.append(f"{name}: no PyTorch formula")
            continue
        ins = []
        i = 0
        while f"{name}.in{i}" in data:
            t = torch.tensor(data[f"{name}.in{i}"])
            t.requires_grad_(f"{name}.grad{i}" in data)
            ins.append(t)
            i += 1
        out = T[name](*ins)
        err, where = rel(data[f"{name}.out"], out)
        if err > 1e-12:
            bad.append(f"{name}: forward rel error {err:.3e} ({where})")
        wrt = [t for t in ins if t.requires_grad]
        gs = torch.autograd.grad(out, wrt, torch.tensor(data[f"{name}.v"]))
        k = 0
        for j in range(len(ins)):
            if f"{name}.grad{j}" in data:
                e, where = rel(data[f"{name}.grad{j}"], gs[k])
                k += 1
                if e > 1e-12:
                    bad.append(f"{name}: gradient of input {j} rel error {e:.3e} ({where})")
    print(f"{len(names)} ops compared with torch {torch.__version__}")
    if bad:
        print("\n".join(bad))
        sys.exit(1)


if __name__ == "__main__":
    main(sys.argv[1])
