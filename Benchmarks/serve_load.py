#!/usr/bin/env python3
"""Bounded load test of `octet serve` on loopback: C concurrent clients send a fixed number of requests (each a
batch of B FP32 samples in Triton's binary tensor format, or B image files as BYTES), then it stops and prints
p50/p90/p99 latency, throughput and failures as one JSON line (and a readable line on stderr).

  python3 Benchmarks/serve_load.py --url 127.0.0.1:8000 --model demo --requests 400 --concurrency 8 [--batch 1]
                                   [--image photo.jpg] [--grpc] [--warmup 16]

Only loopback addresses are accepted: this is a test of our own server, never of another host.
"""
import argparse
import ipaddress
import json
import socket
import sys
import threading
import time

import numpy as np


def loopback(address):
    host = address.rsplit(":", 1)[0].strip("[]")
    try:
        return all(ipaddress.ip_address(info[4][0]).is_loopback for info in socket.getaddrinfo(host, None))
    except (socket.gaierror, ValueError):
        return False


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="HOST:PORT of the HTTP (or, with --grpc, the gRPC) endpoint")
    parser.add_argument("--model", required=True)
    parser.add_argument("--requests", type=int, default=400, help="requests in all (after the warm-up)")
    parser.add_argument("--concurrency", type=int, default=8, help="clients sending at once")
    parser.add_argument("--batch", type=int, default=1, help="samples per request")
    parser.add_argument("--image", help="send this image file as BYTES instead of an FP32 tensor")
    parser.add_argument("--grpc", action="store_true", help="use tritonclient.grpc")
    parser.add_argument("--warmup", type=int, default=16)
    parser.add_argument("--label", default="", help="a name for the configuration, copied into the JSON line")
    args = parser.parse_args()
    if not loopback(args.url):
        sys.exit(f"{args.url} is not a loopback address; this load test only targets a server on this machine")
    if args.requests < 1 or args.concurrency < 1 or args.batch < 1 or args.requests > 1_000_000:
        sys.exit("--requests (1..1000000), --concurrency and --batch must be positive")

    if args.grpc:
        import tritonclient.grpc as client_module
    else:
        import tritonclient.http as client_module
    metadata_client = client_module.InferenceServerClient(args.url)
    metadata = metadata_client.get_model_metadata(args.model)
    if args.grpc:
        name, shape = metadata.inputs[0].name, [int(d) for d in metadata.inputs[0].shape]
        output_name = metadata.outputs[0].name
    else:
        name, shape = metadata["inputs"][0]["name"], metadata["inputs"][0]["shape"]
        output_name = metadata["outputs"][0]["name"]

    def make_inputs():
        if args.image:
            tensor = client_module.InferInput(name, [args.batch], "BYTES")
            data = np.array([open(args.image, "rb").read()] * args.batch, dtype=np.object_)
        else:
            tensor = client_module.InferInput(name, [args.batch] + shape[1:], "FP32")
            data = np.random.default_rng(0).standard_normal([args.batch] + shape[1:]).astype(np.float32)
        if args.grpc:
            tensor.set_data_from_numpy(data)
        else:
            tensor.set_data_from_numpy(data, binary_data=True)
        return [tensor]

    lock = threading.Lock()
    latencies, failures = [], []
    counter = {"next": 0}

    def worker(total):
        client = client_module.InferenceServerClient(args.url)
        inputs = make_inputs()
        outputs = [client_module.InferRequestedOutput(output_name)] if args.grpc else [client_module.InferRequestedOutput(output_name, binary_data=True)]
        while True:
            with lock:
                if counter["next"] >= total:
                    return
                counter["next"] += 1
            start = time.perf_counter()
            try:
                result = client.infer(args.model, inputs, outputs=outputs)
                if result.as_numpy(output_name).shape[0] != args.batch:
                    raise RuntimeError("wrong batch in the answer")
                elapsed = time.perf_counter() - start
                with lock:
                    latencies.append(elapsed)
            except Exception as error:  # counted and reported, never hidden
                with lock:
                    failures.append(str(error)[:200])

    def run(total):
        counter["next"] = 0
        threads = [threading.Thread(target=worker, args=(total,)) for _ in range(args.concurrency)]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return time.perf_counter() - start

    run(args.warmup)
    latencies.clear()
    failures.clear()
    wall = run(args.requests)
    ms = np.array(latencies) * 1000 if latencies else np.array([float("nan")])
    result = {
        "label": args.label, "model": args.model, "protocol": "grpc" if args.grpc else "http",
        "input": "image" if args.image else "fp32", "requests": args.requests, "concurrency": args.concurrency,
        "batch": args.batch, "failed": len(failures), "seconds": round(wall, 3),
        "requests_per_s": round(len(latencies) / wall, 2), "samples_per_s": round(len(latencies) * args.batch / wall, 2),
        "p50_ms": round(float(np.percentile(ms, 50)), 2), "p90_ms": round(float(np.percentile(ms, 90)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
    }
    print(json.dumps(result))
    print(f"{args.label or args.model}: {result['samples_per_s']} samples/s, p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms, "
          f"{len(failures)} failed of {args.requests}", file=sys.stderr)
    if failures:
        print("first failure: " + failures[0], file=sys.stderr)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
