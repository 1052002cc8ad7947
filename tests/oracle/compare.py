"""The comparison every oracle script uses: relative error of an engine tensor against PyTorch."""
import torch


def rel(engine, ref):
    """max |engine - ref| / max |ref| over the tensor, and where the largest difference is."""
    a = torch.as_tensor(engine).double()
    b = ref.detach().double()
    if a.shape != b.shape:
        return float("inf"), f"shape {tuple(a.shape)} vs torch {tuple(b.shape)}"
    if b.numel() == 0:
        return 0.0, ""
    diff = (a - b).abs()
    i = int(diff.flatten().argmax())
    err = float(diff.max() / b.abs().max().clamp_min(1e-300))
    return err, f"worst at flat index {i}: engine {a.flatten()[i].item():.17g} torch {b.flatten()[i].item():.17g}"
