#!/usr/bin/python3
"""PyTorch on mlp_bench's three training workloads, or on a network of other
widths as mlp_bench's --net builds it, for the comparison in
bench/peers/README.md.

Run with Debian's python3-torch (apt-get install python3-torch):

    /usr/bin/python3 bench/peers/torch_bench.py --threads 1

--threads N sets OpenBLAS's threads, which run torch's matrix products
(see below). Each step is what a PyTorch user writes: zero_grad, forward, loss,
backward, optimizer step (torch.optim.SGD, lr 0.01, momentum 0.9), on
float32 tensors on the CPU. The data are mlp_bench's: the four XOR points
in turn for xor; for the others, one batch of inputs in [-1, 1) and
one-hot targets (row i has class (i * 7) % n_out), used by every step. Timing is
mlp_bench's: warm-up steps, then timed rounds, the fastest counting.
GFLOP/s counts 6 x weights x samples, as mlp_bench does.

--net 4-16-3 --loss ce|bce|mse --batch 64 builds what mlp_bench --net
builds: ReLU hidden layers and, for the output, softmax + cross-entropy
(CrossEntropyLoss on the logits, targets one-hot as above), sigmoid +
binary cross-entropy (BCEWithLogitsLoss, the form a PyTorch user writes;
target (i, j) is 1 where (7 i + j) % 3 == 0, else 0) or identity + mean
squared error (targets in [-1, 1) from the xorshift, seed 54321); batch 32
unless --batch, and about 1e10 FLOP per timed round, as in mlp_bench.
"""

import argparse
import os
import sys
import time


def thread_count_from_argv():
    """--threads N, read before torch is imported: the thread pools size
    themselves from the environment when they start."""
    for k, arg in enumerate(sys.argv):
        if arg == "--threads" and k + 1 < len(sys.argv):
            return sys.argv[k + 1]
        if arg.startswith("--threads="):
            return arg.split("=", 1)[1]
    return "1"


# Debian's torch (BLAS_INFO=generic) runs its matrix products in the system
# OpenBLAS, with OpenBLAS's own pthread pool, and its other operations in an
# OpenMP pool. --threads N goes to OpenBLAS, as in mlp_bench; the OpenMP
# pool gets one thread, because both pools at two threads on two cores
# oversubscribe them (measured on large: 4,951 samples/s against 15,521).
os.environ["OPENBLAS_NUM_THREADS"] = thread_count_from_argv()
os.environ["OMP_NUM_THREADS"] = "1"
os.environ["MKL_NUM_THREADS"] = "1"

import torch  # noqa: E402  (after the thread variables, on purpose)

WORKLOADS = {
    # name: (widths, batch, steps per round, warm-up steps)
    "xor": ([2, 4, 1], 1, 20000, 2000),
    "digits-size": ([64, 128, 64, 10], 32, 2000, 200),
    "large": ([784, 1024, 1024, 10], 256, 10, 3),
}


def xorshift_floats(count, seed):
    """Uniform floats in [-1, 1) from a 32-bit xorshift, like mlp_bench."""
    state = seed
    out = []
    for _ in range(count):
        state ^= (state << 13) & 0xFFFFFFFF
        state ^= state >> 17
        state ^= (state << 5) & 0xFFFFFFFF
        out.append(state / 2147483648.0 - 1.0)
    return out


def make_model(widths, sigmoid_output):
    layers = []
    for k in range(len(widths) - 1):
        layers.append(torch.nn.Linear(widths[k], widths[k + 1]))
        if k + 2 < len(widths):
            layers.append(torch.nn.ReLU())
    if sigmoid_output:
        layers.append(torch.nn.Sigmoid())
    return torch.nn.Sequential(*layers)


def parse_net(spec, loss):
    """--net 64-256-10 and --loss: the widths, as mlp_bench checks them."""
    try:
        widths = [int(w) for w in spec.split("-")]
    except ValueError:
        widths = []
    min_outputs = 2 if loss == "ce" else 1
    if not 2 <= len(widths) <= 8 or min(widths) <= 0 or widths[-1] < min_outputs:
        sys.exit(f"torch_bench.py: --net wants 2 to 8 widths such as 64-256-10, "
                 f"with at least {min_outputs} output(s)")
    return widths


def make_batches(name, widths, batch, loss):
    """Input and target batches, used in turn by the steps (xor: four)."""
    if name == "xor":
        xs = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
        ys = [0.0, 1.0, 1.0, 0.0]
        return [(torch.tensor([x]), torch.tensor([[y]])) for x, y in zip(xs, ys)]
    n_in, n_out = widths[0], widths[-1]
    X = torch.tensor(xorshift_floats(batch * n_in, 12345), dtype=torch.float32)
    X = X.reshape(batch, n_in)
    if loss == "mse":
        Y = torch.tensor(xorshift_floats(batch * n_out, 54321), dtype=torch.float32)
        return [(X, Y.reshape(batch, n_out))]
    if loss == "bce":
        Y = [[1.0 if (i * 7 + j) % 3 == 0 else 0.0 for j in range(n_out)]
             for i in range(batch)]
        return [(X, torch.tensor(Y))]
    classes = torch.tensor([(i * 7) % n_out for i in range(batch)])
    return [(X, classes)]


def loss_function(name, loss):
    if name == "xor":
        return lambda out, y: 0.5 * ((out - y) ** 2).mean()
    return {"ce": torch.nn.CrossEntropyLoss(), "bce": torch.nn.BCEWithLogitsLoss(),
            "mse": torch.nn.MSELoss()}[loss]


def net_workload(widths, batch):
    """(widths, batch, steps per round, warm-up steps) of a --net network:
    about 1e10 FLOP per round, as mlp_bench times it, at most 20,000 steps
    (PyTorch's step costs tens of microseconds however small the network)."""
    flop = 6.0 * sum(widths[k] * widths[k + 1] for k in range(len(widths) - 1)) * batch
    iters = int(min(max(1e10 / flop, 10), 20000))
    return widths, batch, iters, iters // 20 + 1


def time_workload(name, spec, loss, threads, iters, rounds):
    widths, batch, default_iters, warmup = spec
    iters = iters or default_iters
    torch.manual_seed(0)
    model = make_model(widths, name == "xor")
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = loss_function(name, loss)
    batches = make_batches(name, widths, batch, loss)

    def steps(first, count):
        for s in range(first, first + count):
            x, y = batches[s % len(batches)]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()

    steps(0, warmup)
    best = float("inf")
    for r in range(rounds):
        t0 = time.perf_counter()
        steps(warmup + r * iters, iters)
        best = min(best, (time.perf_counter() - t0) / iters)
    weights = sum(widths[k] * widths[k + 1] for k in range(len(widths) - 1))
    samples_per_s = batch / best
    return {
        "workload": name,
        "threads": threads,
        "batch": batch,
        "samples_per_s": samples_per_s,
        "gflops": 6.0 * weights * samples_per_s / 1e9,
        "us_per_step": best * 1e6,
        "ns_per_sample": best / batch * 1e9,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--workload", choices=list(WORKLOADS), default=None)
    parser.add_argument("--iters", type=int, default=0,
                        help="steps per timed round (default per workload)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--csv", action="store_true")
    parser.add_argument("--net", help="a network of these widths (64-256-10) instead "
                        "of the workloads, as mlp_bench --net builds it")
    parser.add_argument("--loss", choices=["ce", "bce", "mse"], default=None,
                        help="output and loss of --net (default ce)")
    parser.add_argument("--batch", type=int, default=0,
                        help="rows per step of --net (default 32)")
    args = parser.parse_args()
    if (args.loss or args.batch) and not args.net:
        sys.exit("torch_bench.py: --loss and --batch go with --net")
    if args.net and args.workload:
        sys.exit("torch_bench.py: --net replaces --workload")

    torch.set_num_threads(1)  # the OpenMP pool; see the top of this file
    if args.net:
        loss = args.loss or "ce"
        widths = parse_net(args.net, loss)
        # named as mlp_bench names it, so that compare.py can match the rows
        name = args.net + ("/" + args.loss if args.loss else "")
        spec = net_workload(widths, args.batch or 32)
        results = [time_workload(name, spec, loss, args.threads, args.iters, args.rounds)]
    else:
        names = [args.workload] if args.workload else list(WORKLOADS)
        results = [time_workload(n, WORKLOADS[n], "ce", args.threads, args.iters,
                                 args.rounds) for n in names]
    columns = ["workload", "threads", "batch", "samples_per_s", "gflops",
               "us_per_step", "ns_per_sample"]
    if args.csv:
        print(",".join(columns))
        for r in results:
            print(",".join(str(r[c]) for c in columns))
        return
    print(f"PyTorch {torch.__version__}, {args.threads} OpenBLAS thread(s)")
    print(f"{'workload':12} {'thr':>3} {'batch':>5} {'samples/s':>12} {'GFLOP/s':>8} "
          f"{'us/step':>10} {'ns/sample':>10}")
    for r in results:
        print(f"{r['workload']:12} {r['threads']:3} {r['batch']:5} "
              f"{r['samples_per_s']:12.0f} {r['gflops']:8.2f} {r['us_per_step']:10.1f} "
              f"{r['ns_per_sample']:10.1f}")


if __name__ == "__main__":
    main()
