#!/usr/bin/python3
"""libmlp, its limits, PyTorch and FANN on mlp_bench's workloads in one sitting.

What issue 4 asks to be checked, from one command: each workload timed with
libmlp next to its limit (mlp_bench), PyTorch (torch_bench.py) and FANN
(fann_bench), one program after the other, and at 1 thread libmlp one
sample per step next to FANN, which always trains so; then, from outside
each process,
the peak resident memory of the large workload (/usr/bin/time) and the heap
allocations per training step (valgrind's count for two runs that differ
only in their number of steps). About two minutes per thread count on a
2-core machine. Build first, as bench/peers/README.md says:

    cmake -S . -B build/peers -DCMAKE_BUILD_TYPE=Release -DMLP_BENCH_PEERS=ON
    cmake --build build/peers -j
    /usr/bin/python3 bench/peers/compare.py --threads 1 --cpu 1

--net 4-16-3/ce 30-16-1/bce ... adds networks of other widths (and
losses: ce, bce or mse) to the timing tables and to the allocation count,
as mlp_bench --net builds them, at the batch --batch gives (default 32),
each program timing the same network.

--cpu K pins every program to CPU K with taskset (one thread only); the
shared machines these figures come from have unlike virtual CPUs
(bench/README.md, "Results"). PyTorch is skipped when torch is not
installed, valgrind's count when valgrind is not. Nothing here is a test:
it prints what it measured, as markdown tables.
"""

import argparse
import csv
import io
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORKLOADS = ["xor", "digits-size", "large"]


def run(command, pin):
    """stdout of command, pinned to a CPU when asked; exits on failure."""
    if pin is not None:
        command = ["taskset", "-c", str(pin)] + command
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"compare.py: {' '.join(command)} failed:\n{done.stderr}")
    return done.stdout, done.stderr


def csv_rows(text):
    """The rows of a CSV table printed by one of the benchmarks, by workload."""
    return {row["workload"]: row for row in csv.DictReader(io.StringIO(text))}


def torch_available():
    done = subprocess.run(["/usr/bin/python3", "-c", "import torch"],
                          capture_output=True)
    return done.returncode == 0


def peak_kib(command, pin):
    """Peak resident memory of command in KiB, read by /usr/bin/time."""
    _, err = run(["/usr/bin/time", "-f", "%M"] + command, pin)
    return int(err.strip().splitlines()[-1])


def heap_allocs(command):
    """valgrind's count of heap allocations over a whole run."""
    done = subprocess.run(["valgrind", "--tool=memcheck"] + command,
                          capture_output=True, text=True)
    for line in done.stderr.splitlines():
        if "total heap usage:" in line:
            return int(line.split("usage:")[1].split("allocs")[0].replace(",", ""))
    sys.exit(f"compare.py: no heap summary from valgrind for {' '.join(command)}")


def net_options(spec, batch):
    """The options that make each benchmark time --net's spec, 4-16-3/ce,
    and the name the rows come back under."""
    widths, _, loss = spec.partition("/")
    return ["--net", widths, "--loss", loss or "ce", "--batch", str(batch)], \
        f"{widths}/{loss or 'ce'}"


def timing_table(threads, pin, mlp_bench, fann_bench, torch_script, nets, batch):
    runs = [([], WORKLOADS)] + [(options, [name]) for options, name in
                                (net_options(spec, batch) for spec in nets)]
    libmlp, fann, torch = {}, {}, {}
    for options, _ in runs:
        out, _ = run([mlp_bench, "--threads", str(threads), "--csv"] + options, pin)
        libmlp.update(csv_rows(out))
        if threads == 1:
            fann.update(csv_rows(run([fann_bench, "--csv"] + options, pin)[0]))
        if torch_script:
            out, _ = run(["/usr/bin/python3", torch_script, "--threads", str(threads),
                          "--csv"] + options, pin)
            torch.update(csv_rows(out))
    print(f"\n### Samples per second, {threads} thread(s)\n")
    print("| workload | batch | libmlp | its limit | libmlp / limit | PyTorch | "
          "FANN (per sample) | libmlp / PyTorch | libmlp / FANN |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in (name for _, names in runs for name in names):
        row = libmlp[name]
        ours = float(row["samples_per_s"])
        cells = [name, row["batch"], f"{ours:,.0f}",
                 f"{float(row['limit_samples_per_s']):,.0f} ({row['limit']})",
                 f"{float(row['ratio']):.3f}"]
        for peer in (torch, fann):
            cells.append(f"{float(peer[name]['samples_per_s']):,.0f}" if name in peer
                         else "-")
        for peer in (torch, fann):
            theirs = float(peer[name]["samples_per_s"]) if name in peer else 0.0
            cells.append(f"{ours / theirs:.2f}x" if theirs > 0 else "-")
        print("| " + " | ".join(cells) + " |")
    return libmlp, fann


def one_sample_table(pin, mlp_bench, fann, nets):
    """FANN updates after every sample; libmlp with --batch 1 does the same
    arithmetic per step (no limit: at batch 1 the library makes no
    cblas_sgemm call, so the GEMM-only limit bounds nothing)."""
    command = [mlp_bench, "--threads", "1", "--no-limit", "--csv"]
    libmlp = csv_rows(run(command + ["--batch", "1"], pin)[0])
    names = list(WORKLOADS)
    for spec in nets:
        options, name = net_options(spec, 1)
        libmlp.update(csv_rows(run(command + options, pin)[0]))
        names.append(name)
    print("\n### One sample per step, 1 thread: samples per second\n")
    print("| workload | libmlp (`--batch 1`) | FANN | libmlp / FANN |")
    print("|---|---|---|---|")
    for name in names:
        ours = float(libmlp[name]["samples_per_s"])
        theirs = float(fann[name]["samples_per_s"])
        print(f"| {name} | {ours:,.0f} | {theirs:,.0f} | {ours / theirs:.2f}x |")


def memory_table(pin, mlp_bench, fann_bench, torch_script, minimum_mib):
    minimum_kib = minimum_mib * 1024.0
    print("\n### Peak resident memory of the large workload, from outside\n")
    print(f"Analytic minimum of libmlp's training state: {minimum_mib:.1f} MiB "
          "(weights, gradients, momentum, and Z, A and delta for the batch).\n")
    print("| program | peak KiB | / libmlp's minimum |")
    print("|---|---|---|")
    programs = [("libmlp (`mlp_bench --no-limit`)",
                 [mlp_bench, "--workload", "large", "--no-limit"]),
                ("FANN (one sample per step)", [fann_bench, "--workload", "large"])]
    if torch_script:
        programs.append(("PyTorch", ["/usr/bin/python3", torch_script, "--workload",
                                     "large"]))
    for label, command in programs:
        kib = peak_kib(command, pin)
        print(f"| {label} | {kib:,} | {kib / minimum_kib:.3f}x |")


def alloc_table(mlp_bench, nets, net_batch):
    """Under valgrind a large step at batch 256 takes about a minute, so
    large is counted at batch 16: the work block is sized per batch in the
    same way. The --net networks are counted at their batch."""
    print("\n### Heap allocations per training step, from outside (valgrind)\n")
    print("| workload | batch | steps | allocations in the whole run | per step |")
    print("|---|---|---|---|---|")
    runs = [(name, ["--workload", name, "--batch", str(batch)], batch, few, many)
            for name, batch, few, many in (("xor", 1, 1000, 2000),
                                           ("digits-size", 32, 50, 100),
                                           ("large", 16, 2, 4))]
    for spec in nets:
        options, name = net_options(spec, net_batch)
        runs.append((name, options, net_batch, 50, 100))
    for name, options, batch, few, many in runs:
        counts = []
        for steps in (few, many):
            counts.append(heap_allocs([mlp_bench, "--no-limit", "--iters", str(steps),
                                       "--warmup", "1", "--rounds", "1"] + options))
        per_step = (counts[1] - counts[0]) / (many - few)
        print(f"| {name} | {batch} | {few + 1} and {many + 1} | {counts[0]} and "
              f"{counts[1]} | {per_step:g} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build", default=os.path.join(ROOT, "build", "peers"),
                        help="build folder configured with -DMLP_BENCH_PEERS=ON")
    parser.add_argument("--threads", type=int, nargs="+", default=[1],
                        help="OpenBLAS thread counts to time (FANN at 1 only)")
    parser.add_argument("--cpu", type=int, default=None,
                        help="pin 1-thread runs to this CPU with taskset")
    parser.add_argument("--net", nargs="+", default=[], metavar="WIDTHS[/LOSS]",
                        help="networks to time besides the workloads, such as "
                        "4-16-3/ce, 30-16-1/bce or 8-32-1/mse (as mlp_bench --net)")
    parser.add_argument("--batch", type=int, default=32,
                        help="rows per step of the --net networks (default 32)")
    args = parser.parse_args()

    mlp_bench = os.path.join(args.build, "bench", "mlp_bench")
    fann_bench = os.path.join(args.build, "bench", "fann_bench")
    for path in (mlp_bench, fann_bench):
        if not os.access(path, os.X_OK):
            sys.exit(f"compare.py: {path} is missing: build with -DMLP_BENCH_PEERS=ON "
                     "(bench/peers/README.md)")
    torch_script = os.path.join(ROOT, "bench", "peers", "torch_bench.py")
    if not torch_available():
        print("PyTorch not installed (apt-get install python3-torch): skipped.")
        torch_script = None

    libmlp = None
    for threads in args.threads:
        pin = args.cpu if threads == 1 else None
        libmlp, fann = timing_table(threads, pin, mlp_bench, fann_bench, torch_script,
                                    args.net, args.batch)
        if threads == 1:
            one_sample_table(pin, mlp_bench, fann, args.net)
    memory_table(args.cpu, mlp_bench, fann_bench, torch_script,
                 float(libmlp["large"]["analytic_min_mib"]))
    if shutil.which("valgrind"):
        alloc_table(mlp_bench, args.net, args.batch)
    else:
        print("\nvalgrind not installed: allocations per step not counted from outside.")


if __name__ == "__main__":
    main()
