"""PyTorch replica of the paper's networks as the official code builds them (AlexiaJM/MaximumMarginGANs,
Code/GAN.py), for the model parity test (tests/test_models.cpp, tests/oracle/model_parity.py).

Written from the architecture description in models/networks.h, not copied. What matters, and is replicated
exactly, is every module's name and registration order: they make the state_dict keys (e.g.
"main.Start-ConvTranspose2d.weight", "main.Middle-BatchNorm2d [0].running_mean", "model.3.weight_orig"), so a
state saved by mmgan loads here with load_state_dict(strict=True) and the reverse, which is the contract
with the official code. Spectral norm is torch.nn.utils.spectral_norm itself (weight_orig, weight_u,
weight_v; one power iteration per training forward).

- DCGAN (arch "dcgan"), depth from image_size. G: z [N, z, 1, 1] -> ConvT 4x4 s1 p0 to 4x4, then
  ConvT 4x4 s2 p1 halving the channels up to image_size / 2, and a last ConvT to n_colors + Tanh; ReLU,
  BatchNorm when batch_norm_G and not spectral_G. D: Conv 4x4 s2 p1 + LeakyReLU, then Conv 4x4 s2 p1
  doubling the channels down to 4x4 (BatchNorm when batch_norm_D and not spectral_D), then Conv 4x4 s1
  p0 to one output, .view(-1). No conv biases.
- Standard CNN (arch "standard_cnn", 32x32, the spectral normalisation paper's): G = dense z -> 512*4*4,
  3 x (ConvT 4x4 s2 p1 [+ BN] + ReLU), Conv 3x3 -> n_colors, Tanh. D = 7 convs (3x3 s1 / 4x4 s2
  alternating, 64..512 channels) with LeakyReLU, BN after all but the last, then dense 8192 -> 1.
  Convs have biases; spectral norm wraps every conv, never the dense layers.
- weights_init: every module whose class name contains "Conv" gets weight N(0, 0.02), BatchNorm weight
  N(1, 0.02) and bias 0; everything else keeps PyTorch's defaults.
"""
import torch.nn as nn
from torch.nn.utils import spectral_norm

DEFAULTS = {
    "arch": "dcgan", "image_size": 32, "n_colors": 3, "z_size": 128, "G_h_size": 128, "D_h_size": 128,
    "batch_norm_G": True, "batch_norm_D": True, "spectral_G": False, "spectral_D": False, "leaky_slope": 0.2,
}


def parse_config(raw):
    """Config from a dict of strings or values (safetensors metadata, JSON): typed, with defaults."""
    c = dict(DEFAULTS)
    for k, v in raw.items():
        if k not in DEFAULTS:
            continue
        d = DEFAULTS[k]
        if isinstance(d, bool):
            c[k] = v if isinstance(v, bool) else str(v).strip().lower() in ("1", "true")
        elif isinstance(d, int):
            c[k] = int(v)
        elif isinstance(d, float):
            c[k] = float(v)
        else:
            c[k] = str(v)
    if c["arch"] not in ("dcgan", "standard_cnn"):
        raise ValueError(f"unknown arch {c['arch']!r}")
    return c


def _sn(module, on):
    return spectral_norm(module) if on else module


class DCGAN_G(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.z_size = c["z_size"]
        sn, bn, h = c["spectral_G"], c["batch_norm_G"] and not c["spectral_G"], c["G_h_size"]
        conv = "SpectralConvTranspose2d" if sn else "ConvTranspose2d"
        mult = c["image_size"] // 8
        main = nn.Sequential()
        main.add_module("Start-" + conv, _sn(nn.ConvTranspose2d(self.z_size, h * mult, 4, 1, 0, bias=False), sn))
        if bn:
            main.add_module("Start-BatchNorm2d", nn.BatchNorm2d(h * mult))
        main.add_module("Start-ReLU", nn.ReLU())
        ii = 1
        while mult > 1:
            main.add_module(f"Middle-{conv} [{ii}]",
                            _sn(nn.ConvTranspose2d(h * mult, h * (mult // 2), 4, 2, 1, bias=False), sn))
            if bn:
                main.add_module(f"Middle-BatchNorm2d [{ii}]", nn.BatchNorm2d(h * (mult // 2)))
            main.add_module(f"Middle-ReLU [{ii}]", nn.ReLU())
            mult //= 2
            ii += 1
        main.add_module("End-" + conv, _sn(nn.ConvTranspose2d(h, c["n_colors"], 4, 2, 1, bias=False), sn))
        main.add_module("End-Tanh", nn.Tanh())
        self.main = main

    def forward(self, z):
        return self.main(z.view(-1, self.z_size, 1, 1))


class DCGAN_D(nn.Module):
    def __init__(self, c):
        super().__init__()
        sn, bn, h = c["spectral_D"], c["batch_norm_D"] and not c["spectral_D"], c["D_h_size"]
        conv = "SpectralConv2d" if sn else "Conv2d"
        main = nn.Sequential()
        main.add_module("Start-" + conv, _sn(nn.Conv2d(c["n_colors"], h, 4, 2, 1, bias=False), sn))
        main.add_module("Start-LeakyReLU", nn.LeakyReLU(c["leaky_slope"]))
        size, mult, ii = c["image_size"] // 2, 1, 0
        while size > 4:
            main.add_module(f"Middle-{conv} [{ii}]", _sn(nn.Conv2d(h * mult, h * 2 * mult, 4, 2, 1, bias=False), sn))
            if bn:
                main.add_module(f"Middle-BatchNorm2d [{ii}]", nn.BatchNorm2d(h * 2 * mult))
            main.add_module(f"Middle-LeakyReLU [{ii}]", nn.LeakyReLU(c["leaky_slope"]))
            size //= 2
            mult *= 2
            ii += 1
        main.add_module("End-" + conv, _sn(nn.Conv2d(h * mult, 1, 4, 1, 0, bias=False), sn))
        self.main = main

    def forward(self, x):
        return self.main(x).view(-1)


class CNN_G(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.z_size = c["z_size"]
        sn, bn = c["spectral_G"], c["batch_norm_G"] and not c["spectral_G"]
        self.dense = nn.Linear(self.z_size, 512 * 4 * 4)
        layers = []
        for ch in (512, 256, 128):
            layers.append(_sn(nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=True), sn))
            if bn:
                layers.append(nn.BatchNorm2d(ch // 2))
            layers.append(nn.ReLU())
        layers += [_sn(nn.Conv2d(64, c["n_colors"], 3, 1, 1, bias=True), sn), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, z):
        return self.model(self.dense(z.view(-1, self.z_size)).view(-1, 512, 4, 4))


class CNN_D(nn.Module):
    SPECS = [(None, 64, 3, 1, 1), (64, 64, 4, 2, 1), (64, 128, 3, 1, 1), (128, 128, 4, 2, 1),
             (128, 256, 3, 1, 1), (256, 256, 4, 2, 1), (256, 512, 3, 1, 1)]

    def __init__(self, c):
        super().__init__()
        sn, bn = c["spectral_D"], c["batch_norm_D"] and not c["spectral_D"]
        self.dense = nn.Linear(512 * 4 * 4, 1)
        layers = []
        for i, (cin, cout, k, s, p) in enumerate(self.SPECS):
            layers.append(_sn(nn.Conv2d(c["n_colors"] if cin is None else cin, cout, k, s, p, bias=True), sn))
            if bn and i + 1 < len(self.SPECS):
                layers.append(nn.BatchNorm2d(cout))
            layers.append(nn.LeakyReLU(c["leaky_slope"]))
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.dense(self.model(x).view(-1, 512 * 4 * 4)).view(-1)


def weights_init(m):
    """The official initialisation, applied with Module.apply."""
    name = m.__class__.__name__
    if name.find("Conv") != -1:
        m.weight.data.normal_(0.0, 0.02)  # with spectral norm, m.weight shares weight_orig's storage
    elif name.find("BatchNorm") != -1:
        m.weight.data.normal_(1.0, 0.02)
        m.bias.data.fill_(0)


def make_generator(c):
    return DCGAN_G(c) if c["arch"] == "dcgan" else CNN_G(c)


def make_discriminator(c):
    return DCGAN_D(c) if c["arch"] == "dcgan" else CNN_D(c)
