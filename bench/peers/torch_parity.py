#!/usr/bin/python3
"""libmlp's training trajectory against PyTorch's, from the same start.

For each case (a network, its hidden and output activations, a loss, an
optimizer), parity_steps trains a libmlp network for STEPS steps on
seeded random batches and writes its parameters before and after;
this script loads the same starting parameters into PyTorch and takes the
same steps twice, in float32 (what a PyTorch user runs) and in float64 (a
reference with about 29 more bits). It prints, for libmlp's float32 and
PyTorch's float32 parameters after the last step, the largest distance to
the float64 reference relative to the largest reference parameter, and
the largest difference of a step's loss relative to the mean loss; and
the distance between the two float32 runs ("between"). Both float32 runs round
differently (libmlp sums and orders its own way, PyTorch's kernels fuse
multiply-adds), so neither matches the reference bit for bit; what the
table shows is whether libmlp drifts from the exact trajectory further
than PyTorch does.

The losses and optimizers are SPEC.md's, written in PyTorch as a PyTorch
user would: cross-entropy on the logits (log_softmax), binary
cross-entropy with logits, and 1/2 the squared error, each summed over a
row and averaged over the batch; torch.optim.SGD (momentum, Nesterov,
weight decay), Adam and AdamW with betas 0.9 and 0.999 and epsilon 1e-8.

Run with Debian's python3-torch, after the release build (which builds
parity_steps with the benchmark):

    /usr/bin/python3 bench/peers/torch_parity.py build/release/bench/parity_steps

It exits with status 1 if libmlp's distance to the reference exceeds 4
times PyTorch's plus 1e-5 in any case (an error in a formula shows up as
far more: a wrong weight decay, bias correction or g' moves the
parameters by 1e-3 to 1e-1 within a few steps).
"""

import argparse
import subprocess
import sys

import torch

ACTIVATIONS = {
    "identity": lambda z: z,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "leaky-relu": lambda z: torch.nn.functional.leaky_relu(z, 0.01),
}

# (widths, hidden, output, loss, optimizer, lr, momentum, weight decay, batch)
CASES = [
    ("4-16-3", "relu", "softmax", "ce", "sgd", 0.1, 0.0, 0.0, 16),
    ("4-16-3", "relu", "softmax", "ce", "sgd", 0.05, 0.9, 0.01, 16),
    ("4-16-3", "tanh", "softmax", "ce", "nesterov", 0.05, 0.9, 0.0, 16),
    ("4-16-3", "leaky-relu", "softmax", "ce", "adam", 0.01, 0.0, 0.01, 16),
    ("4-16-3", "sigmoid", "softmax", "ce", "adamw", 0.01, 0.0, 0.05, 16),
    ("13-32-16-3", "relu", "softmax", "ce", "adam", 0.003, 0.0, 0.0, 32),
    ("30-16-1", "relu", "sigmoid", "bce", "adam", 0.003, 0.0, 0.0, 16),
    ("30-16-1", "tanh", "sigmoid", "bce", "sgd", 0.1, 0.9, 0.001, 16),
    ("8-32-1", "relu", "identity", "mse", "sgd", 0.02, 0.9, 0.0, 32),
    ("8-32-1", "identity", "identity", "mse", "adamw", 0.01, 0.0, 0.01, 32),
    ("8-32-1", "tanh", "identity", "mse", "sgd", 0.01, 0.9, 0.0, 3),
    ("8-16-2", "sigmoid", "relu", "mse", "adam", 0.01, 0.0, 0.0, 8),
    ("8-16-2", "relu", "leaky-relu", "mse", "sgd", 0.05, 0.9, 0.0, 8),
    ("2-4-1", "relu", "sigmoid", "mse", "sgd", 0.2, 0.9, 0.0, 1),
    ("2-4-1", "tanh", "tanh", "mse", "nesterov", 0.05, 0.5, 0.0, 4),
    ("64-128-64-10", "relu", "softmax", "ce", "sgd", 0.01, 0.9, 0.0, 32),
]


def batches(widths, loss, output, batch, steps, seed):
    """STEPS batches of inputs in [-1, 1) and targets valid for the loss."""
    gen = torch.Generator().manual_seed(seed)
    n_in, n_out = widths[0], widths[-1]
    X = torch.rand(steps, batch, n_in, generator=gen) * 2 - 1
    if loss == "ce":
        labels = torch.randint(n_out, (steps, batch), generator=gen)
        Y = torch.nn.functional.one_hot(labels, n_out).float()
    elif loss == "bce" or output == "sigmoid":
        Y = torch.randint(2, (steps, batch, n_out), generator=gen).float()
    else:
        Y = torch.rand(steps, batch, n_out, generator=gen) * 2 - 1
    return X, Y


def read_params(raw, offset, widths):
    """Every layer's W then b from raw float32 values at offset."""
    params = []
    for n_in, n_out in zip(widths, widths[1:]):
        W = raw[offset : offset + n_out * n_in].reshape(n_out, n_in)
        offset += n_out * n_in
        b = raw[offset : offset + n_out]
        offset += n_out
        params += [W, b]
    return params, offset


def loss_value(z, Y, loss, output):
    """SPEC.md's loss of the output layer's Z, averaged over the batch."""
    m = z.shape[0]
    if loss == "ce":
        return -(Y * torch.log_softmax(z, dim=1)).sum() / m
    if loss == "bce":
        return torch.nn.functional.binary_cross_entropy_with_logits(z, Y, reduction="sum") / m
    return 0.5 * ((ACTIVATIONS[output](z) - Y) ** 2).sum() / m


def torch_steps(case, start, X, Y, dtype):
    """The case's steps in PyTorch from the start parameters; returns the
    final parameters and the losses, in dtype."""
    _, hidden, output, loss, kind, lr, momentum, wd, _ = case
    params = [p.clone().to(dtype).requires_grad_(True) for p in start]
    if kind in ("sgd", "nesterov"):
        opt = torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=wd,
                              nesterov=kind == "nesterov")
    else:
        cls = torch.optim.Adam if kind == "adam" else torch.optim.AdamW
        opt = cls(params, lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=wd)
    losses = []
    for x, y in zip(X.to(dtype), Y.to(dtype)):
        a = x
        for l in range(0, len(params), 2):
            z = a @ params[l].T + params[l + 1]
            a = ACTIVATIONS[hidden](z) if l + 2 < len(params) else z
        value = loss_value(z, y, loss, output)
        opt.zero_grad()
        value.backward()
        opt.step()
        losses.append(value.item())
    return [p.detach() for p in params], torch.tensor(losses, dtype=torch.float64)


def distance(params, reference):
    """Largest |p - p_ref| over the largest |p_ref|."""
    top = max(r.abs().max().item() for r in reference)
    return max((p.double() - r).abs().max().item() for p, r in zip(params, reference)) / top


def run_case(binary, case, steps, seed):
    widths_s, hidden, output, loss, kind, lr, momentum, wd, batch = case
    widths = [int(w) for w in widths_s.split("-")]
    X, Y = batches(widths, loss, output, batch, steps, seed)
    stdin = torch.cat([torch.cat([x.flatten(), y.flatten()]) for x, y in zip(X, Y)])
    args = [binary, widths_s, hidden, output, loss, kind, repr(lr), repr(momentum),
            repr(wd), str(batch), str(steps), str(seed)]
    out = subprocess.run(args, input=stdin.numpy().tobytes(), capture_output=True,
                         check=True).stdout
    raw = torch.frombuffer(bytearray(out), dtype=torch.float32)
    start, offset = read_params(raw, 0, widths)
    mlp_losses = raw[offset : offset + steps].double()
    mlp_final, _ = read_params(raw, offset + steps, widths)
    ref, ref_losses = torch_steps(case, start, X, Y, torch.float64)
    t32, t32_losses = torch_steps(case, start, X, Y, torch.float32)
    loss_gap = lambda l: (l - ref_losses).abs().max().item() / ref_losses.abs().mean().item()
    return (distance(mlp_final, ref), distance(t32, ref),
            distance(mlp_final, [p.double() for p in t32]), loss_gap(mlp_losses),
            loss_gap(t32_losses))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("parity_steps", help="the parity_steps binary")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"{args.steps} steps from the same start; distance to the float64 trajectory "
          "after the last step (largest |p - p64| / largest |p64|), and the largest "
          "gap of a step's loss, relative to the mean loss")
    print(f"{'case':64} {'libmlp':>9} {'PyTorch':>9} {'between':>9}   "
          f"{'loss libmlp':>11} {'PyTorch':>9}")
    worst = 0.0
    for case in CASES:
        d_mlp, d_t32, d_between, l_mlp, l_t32 = run_case(args.parity_steps, case,
                                                         args.steps, args.seed)
        widths, hidden, output, loss, kind, lr, momentum, wd, batch = case
        name = f"{widths} {hidden}/{output} {loss} {kind} lr {lr} mu {momentum} wd {wd} m {batch}"
        print(f"{name:64} {d_mlp:9.2e} {d_t32:9.2e} {d_between:9.2e}   "
              f"{l_mlp:11.2e} {l_t32:9.2e}")
        worst = max(worst, d_mlp / (4 * d_t32 + 1e-5))
    if worst > 1:
        print("libmlp drifts from the float64 trajectory more than 4x PyTorch's float32")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
