"""The FID Inception-v3 in PyTorch, built from Debian's torchvision Inception blocks with the
FID graph's changes (pytorch-fid's fid_inception_v3), as the independent reference of
tests/test_inception.cpp.

    inception_ref.py DIR SEED

writes into DIR:
  pt_inception.pth   the model's state_dict with seeded random weights, laid out as pytorch-fid's
                     weight file (1008-class fc, BatchNorm counters): the converter's input;
  imagenet.pth       a few of its tensors with a 1000-class fc (the shape of torchvision's ImageNet
                     model), which the converter must refuse;
  ref.safetensors    inputs x3 [2, 3, 32, 32] and x1 [1, 1, 28, 28] in [-1, 1], and the 2048-d
                     features of each in float32 (f32.x3, f32.x1) and float64 (f64.x3, f64.x1),
                     computed as pytorch-fid does: images in [0, 1], bilinear resize to 299x299
                     (align_corners=False), 2x - 1, the blocks, global average pool. Grey images are
                     repeated to 3 colours (PIL's convert("RGB")).
"""
import os
import sys

import torch
import torch.nn.functional as F
from torchvision.models import inception as tv

from st_io import save


def avg_pool_tf(x):
    # TensorFlow's average pool does not count the padding.
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class FidA(tv.InceptionA):
    def forward(self, x):
        d = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch1x1(x), self.branch5x5_2(self.branch5x5_1(x)), d,
                          self.branch_pool(avg_pool_tf(x))], 1)


class FidC(tv.InceptionC):
    def forward(self, x):
        s = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d = x
        for layer in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4,
                      self.branch7x7dbl_5):
            d = layer(d)
        return torch.cat([self.branch1x1(x), s, d, self.branch_pool(avg_pool_tf(x))], 1)


class FidE(tv.InceptionE):
    def __init__(self, in_channels, max_pool):
        super().__init__(in_channels)
        self.max_pool = max_pool  # the FID graph max-pools Mixed_7c's pool branch

    def forward(self, x):
        t = self.branch3x3_1(x)
        d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        pooled = F.max_pool2d(x, kernel_size=3, stride=1, padding=1) if self.max_pool else avg_pool_tf(x)
        return torch.cat([self.branch1x1(x), self.branch3x3_2a(t), self.branch3x3_2b(t),
                          self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d), self.branch_pool(pooled)], 1)


def fid_inception(num_classes=1008):
    m = tv.Inception3(num_classes=num_classes, aux_logits=False, init_weights=False)
    m.Mixed_5b = FidA(192, pool_features=32)
    m.Mixed_5c = FidA(256, pool_features=64)
    m.Mixed_5d = FidA(288, pool_features=64)
    m.Mixed_6b = FidC(768, channels_7x7=128)
    m.Mixed_6c = FidC(768, channels_7x7=160)
    m.Mixed_6d = FidC(768, channels_7x7=160)
    m.Mixed_6e = FidC(768, channels_7x7=192)
    m.Mixed_7b = FidE(1280, max_pool=False)
    m.Mixed_7c = FidE(2048, max_pool=True)
    return m.eval()


def randomize(m, gen):
    with torch.no_grad():
        for name, p in m.named_parameters():
            if p.dim() == 4:  # He-normal conv weights keep the scale through 94 ReLU layers
                fan_in = p.shape[1] * p.shape[2] * p.shape[3]
                p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64) * (2.0 / fan_in) ** 0.5)
            elif name.startswith("fc."):
                p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64) * 0.01)
            elif name.endswith(".weight"):
                p.copy_(0.8 + 0.4 * torch.rand(p.shape, generator=gen, dtype=torch.float64))
            else:
                p.copy_(0.2 * torch.rand(p.shape, generator=gen, dtype=torch.float64) - 0.1)
        for name, b in m.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(0.2 * torch.rand(b.shape, generator=gen, dtype=torch.float64) - 0.1)
            elif name.endswith("running_var"):
                b.copy_(0.8 + 0.4 * torch.rand(b.shape, generator=gen, dtype=torch.float64))
            elif name.endswith("num_batches_tracked"):
                b.fill_(12345)


def features(m, images):
    """pytorch-fid's InceptionV3 forward up to the pool3 features, images in [-1, 1]."""
    x = (images + 1) / 2  # pytorch-fid takes [0, 1]
    if x.shape[1] == 1:
        x = x.repeat(1, 3, 1, 1)
    x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
    x = 2 * x - 1
    for layer in (m.Conv2d_1a_3x3, m.Conv2d_2a_3x3, m.Conv2d_2b_3x3, m.maxpool1, m.Conv2d_3b_1x1,
                  m.Conv2d_4a_3x3, m.maxpool2, m.Mixed_5b, m.Mixed_5c, m.Mixed_5d, m.Mixed_6a, m.Mixed_6b,
                  m.Mixed_6c, m.Mixed_6d, m.Mixed_6e, m.Mixed_7a, m.Mixed_7b, m.Mixed_7c):
        x = layer(x)
    return F.adaptive_avg_pool2d(x, (1, 1)).flatten(1)


def main(out_dir, seed):
    gen = torch.Generator().manual_seed(seed)
    m = fid_inception()
    randomize(m, gen)
    torch.save(m.state_dict(), os.path.join(out_dir, "pt_inception.pth"))
    sd = m.state_dict()
    imagenet = {k: sd[k] for k in ("Conv2d_1a_3x3.conv.weight", "Mixed_7c.branch_pool.conv.weight")}
    imagenet["fc.weight"] = torch.zeros(1000, 2048)
    torch.save(imagenet, os.path.join(out_dir, "imagenet.pth"))

    inputs = {"x3": 2 * torch.rand(2, 3, 32, 32, generator=gen) - 1, "x1": 2 * torch.rand(1, 1, 28, 28, generator=gen) - 1}
    out = {k: v.numpy() for k, v in inputs.items()}
    with torch.no_grad():
        for k, x in inputs.items():
            out["f32." + k] = features(m.float(), x).numpy()
            out["f64." + k] = features(m.double(), x.double()).numpy()
    save(os.path.join(out_dir, "ref.safetensors"), out)
    f = out["f32.x3"]
    print(f"reference features: mean {f.mean():.4g}, std {f.std():.4g}, zero fraction {(f == 0).mean():.3f}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
