"""NumPy/SciPy side of tests/test_frechet.cpp. Reads cases from a safetensors file and writes the
references to another; the C++ test compares. Per case C:
  C.x                      features -> C.mu, C.sigma: mean and numpy.cov(x, rowvar=False)
  C.mu1 C.sigma1 C.mu2 C.sigma2
                           -> C.fid: pytorch-fid's formula (scipy.linalg.sqrtm of sigma1 @ sigma2),
                              C.fid_eps: 1 if its eps fallback was taken
  C.x1 C.x2                samples -> C.nuclear: the same distance from the samples alone, with
                              tr sqrtm(s1 s2) = ||X2c X1c^T||_* / sqrt((n1 - 1)(n2 - 1)) (Xc centred
                              samples; s = Xc^T Xc / (n - 1) and eig(A^T A B^T B) = eig((B A^T)^T (B A^T))),
                              an SVD of a well-conditioned matrix, exact also when s1 s2 is singular.
Usage: frechet.py IN.safetensors OUT.safetensors"""
import sys

import numpy as np
import scipy.linalg

from st_io import load, save


def pytorch_fid(mu1, sigma1, mu2, sigma2, eps=1e-6):
    """The Fréchet distance as pytorch-fid computes it (written from its description)."""
    diff = mu1 - mu2
    covmean, _ = scipy.linalg.sqrtm(sigma1.dot(sigma2), disp=False)
    used_eps = False
    if not np.isfinite(covmean).all():  # singular product: regularise both covariances
        offset = np.eye(sigma1.shape[0]) * eps
        covmean, _ = scipy.linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset), disp=False)
        used_eps = True
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"imaginary component {np.max(np.abs(covmean.imag))}")
        covmean = covmean.real
    return diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean), used_eps


def from_samples(x1, x2):
    c1, c2 = x1 - x1.mean(0), x2 - x2.mean(0)
    diff = x1.mean(0) - x2.mean(0)
    n1, n2 = x1.shape[0], x2.shape[0]
    tr1, tr2 = (c1 * c1).sum() / (n1 - 1), (c2 * c2).sum() / (n2 - 1)
    nuc = np.linalg.svd(c2 @ c1.T, compute_uv=False).sum() / np.sqrt((n1 - 1) * (n2 - 1))
    return diff.dot(diff) + tr1 + tr2 - 2 * nuc


def main(inp, out):
    t, _ = load(inp)
    cases = sorted({k.rsplit(".", 1)[0] for k in t})
    res, notes = {}, []
    for c in cases:
        if c + ".x" in t:
            x = t[c + ".x"].astype(np.float64)
            res[c + ".mu"] = x.mean(0)
            res[c + ".sigma"] = np.cov(x, rowvar=False)
        if c + ".sigma1" in t:
            d, used = pytorch_fid(t[c + ".mu1"], t[c + ".sigma1"], t[c + ".mu2"], t[c + ".sigma2"])
            res[c + ".fid"] = np.array([d])
            res[c + ".fid_eps"] = np.array([1.0 if used else 0.0])
            notes.append(f"{c}: pytorch-fid {d:.17g}{' (eps fallback)' if used else ''}")
        if c + ".x1" in t:
            d = from_samples(t[c + ".x1"], t[c + ".x2"])
            res[c + ".nuclear"] = np.array([d])
            notes.append(f"{c}: from samples {d:.17g}")
    print("; ".join(notes) if notes else f"{len(cases)} covariance cases")
    save(out, res)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
