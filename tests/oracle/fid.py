"""PyTorch + NumPy/SciPy oracle of tests/test_fid.cpp: the whole Fréchet-distance pipeline with the
shipped Fashion-MNIST classifier, computed independently of the engine.

  fid.py FILE SHIPPED
      FILE holds two image sets a.x, b.x [N, 1, 32, 32] in [-1, 1] (float64) and the engine's results:
      a.mu, a.sigma, b.mu, b.sigma (its statistics of the classifier's features), distance (its
      Fréchet distance of a to b) and self_distance (a to a). Here: the classifier of classifier.py
      with the SHIPPED weights in float64, eval mode; numpy mean and cov; pytorch-fid's formula with
      scipy.linalg.sqrtm (frechet.py). The engine runs the network in float32, so the features agree
      to about 1e-6; statistics must agree to 1e-4 relative, the distances to 1e-4 relative, and the
      self distance must be 0 to 1e-6 of the distance.

Exits non-zero listing each mismatch; prints the worst errors either way.
"""
import sys

import numpy as np
import torch

from classifier import FmnistClassifier, Report
from frechet import pytorch_fid
from st_io import load

torch.set_num_threads(1)


def main(path, shipped):
    data, _ = load(path)
    weights, _ = load(shipped)
    torch.set_default_dtype(torch.float64)
    net = FmnistClassifier().double()
    net.load_state_dict({k: torch.tensor(v) for k, v in weights.items()}, strict=True)
    net.eval()
    r = Report(1e-4)
    stats = {}
    with torch.no_grad():
        for s in ("a", "b"):
            f = net.features(torch.tensor(data[f"{s}.x"])).numpy()
            mu, sigma = f.mean(0), np.cov(f, rowvar=False)
            r.check(f"{s}.mu", data[f"{s}.mu"], torch.tensor(mu))
            r.check(f"{s}.sigma", data[f"{s}.sigma"], torch.tensor(sigma))
            stats[s] = (mu, sigma)
    d, _ = pytorch_fid(*stats["a"], *stats["b"])
    r.check("distance", data["distance"], torch.tensor(d))
    self_d = float(data["self_distance"])
    if not abs(self_d) <= 1e-6 * d:
        r.bad.append(f"self_distance {self_d:.3e} is not 0 (distance a-b {d:.6g})")
    print(f"distance a-b: engine {float(data['distance']):.9g}, reference {d:.9g}; a-a: {self_d:.3e}")
    r.finish(f"Fréchet distance of {data['a.x'].shape[0]} and {data['b.x'].shape[0]} images")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
