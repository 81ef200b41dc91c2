"""Batch-1 CPU latency of the torchvision transformer exports: ONNX Runtime FP32, OpenVINO FP32, Octet FP32 and INT8, in
one run on one machine (2 threads, one random input, p50 of 20 runs after 3 warm-ups).

    python3 Benchmarks/cpu_transformers.py MODELS_DIR RANGES_DIR [OCTET] [MODEL ...]

MODELS_DIR holds <model>_op17.onnx (Scripts/export_torchvision.py), RANGES_DIR <model>_ranges.txt (octet calibrate).
"""
import numpy as np, time, onnxruntime as ort, openvino as ov, subprocess, json, sys
models_dir, ranges_dir = sys.argv[1], sys.argv[2]
octet = sys.argv[3] if len(sys.argv) > 3 else ".build/release/octet"
models = sys.argv[4:] or ["vit_b_16", "swin_t"]
x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
def p50(f, warm=3, runs=20):
    for _ in range(warm): f()
    t = []
    for _ in range(runs):
        s = time.perf_counter(); f(); t.append((time.perf_counter() - s) * 1e3)
    return float(np.median(t))
for m in models:
    path = f"{models_dir}/{m}_op17.onnx"
    so = ort.SessionOptions(); so.intra_op_num_threads = 2; so.inter_op_num_threads = 1
    s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"]); name = s.get_inputs()[0].name
    r_ort = p50(lambda: s.run(None, {name: x}))
    core = ov.Core(); c = core.compile_model(path, "CPU", {"INFERENCE_NUM_THREADS": 2, "PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32"})
    r_ov = p50(lambda: c([x]))
    res = {}
    for prec, extra in [("fp32", ["--precision", "fp32"]), ("int8", ["--ranges", f"{ranges_dir}/{m}_ranges.txt"])]:
        out = subprocess.run([octet, "bench", "--model", path, "--batch", "1", "--iterations", "20", "--warmup", "3", "--json"] + extra, capture_output=True, text=True).stdout
        res[prec] = json.loads(out.splitlines()[-1])["p50_ms"]
    print(f"{m}: ORT FP32 {r_ort:.1f} ms, OpenVINO FP32 {r_ov:.1f} ms, Octet FP32 {res['fp32']:.1f} ms, Octet INT8 {res['int8']:.1f} ms", flush=True)
