#!/usr/bin/env python3
"""A/B latency of two (or more) octet binaries on the same model, alternating, on a noisy machine.

    Benchmarks/cpu_ab.py --model M [--ranges R] [--batch 1,8] [--threads 2] [--rounds 5]
                         [--bench-option=--trt-compatible-ranges ...] OCTET_A OCTET_B ...

Each round runs `octet bench --json` once per binary and batch size, in turn, so that load from elsewhere on
the machine falls on every binary alike. Per binary and batch it prints the lowest and the median p50 over
the rounds, and each binary's median divided by the first's. Shared cloud machines drift by tens of percent
within minutes: compare binaries only within one run of this script, never across runs.
"""
import argparse
import json
import statistics
import subprocess
import sys


def bench(octet, args, batch):
    command = [octet, "bench", "--model", args.model, "--batch", str(batch), "--threads", str(args.threads),
               "--iterations", str(args.iterations), "--warmup", "3", "--json"]
    if args.ranges:
        command += ["--ranges", args.ranges]
    command += args.bench_option
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{octet} bench failed (status {result.returncode}): {result.stderr.strip()}")
    return json.loads(result.stdout.strip().splitlines()[-1])["p50_ms"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("binaries", nargs="+", help="octet binaries; the first is the baseline")
    parser.add_argument("--model", required=True)
    parser.add_argument("--ranges")
    parser.add_argument("--batch", default="1,8", help="comma-separated batch sizes (default 1,8)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--iterations", type=int, default=40, help="timed runs per bench call (default 40)")
    parser.add_argument("--bench-option", action="append", default=[], metavar="OPTION",
                        help="extra `octet bench` option for every binary, e.g. --bench-option=--trt-compatible-ranges")
    args = parser.parse_args()
    batches = [int(b) for b in args.batch.split(",")]
    p50 = {(b, o): [] for b in batches for o in args.binaries}
    for round_index in range(args.rounds):
        for batch in batches:
            for octet in args.binaries:
                p50[(batch, octet)].append(bench(octet, args, batch))
        print(f"round {round_index + 1}/{args.rounds} done", file=sys.stderr)
    print(f"model {args.model}, {args.threads} threads, {args.rounds} alternating rounds, p50 ms per round")
    for batch in batches:
        base = statistics.median(p50[(batch, args.binaries[0])])
        for octet in args.binaries:
            values = p50[(batch, octet)]
            median = statistics.median(values)
            print(f"batch {batch:3d}  {octet}: lowest {min(values):8.3f}  median {median:8.3f}  "
                  f"median / first {median / base:5.3f}  all {' '.join(f'{v:.3f}' for v in values)}")


if __name__ == "__main__":
    main()
