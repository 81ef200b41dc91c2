#!/usr/bin/env python3
"""CPU latency of Octet against onnxruntime and OpenVINO, FP32 and INT8, in one run on one machine.

usage: python3 Benchmarks/cpu_int8.py [--octet .build/release/octet] [--models-dir /work/shared/data/models]
           [--resnet50 .models/resnet50_op13.onnx] [--out docs/PERFORMANCE-raw.json] [--batches 1,8]
           [--threads 2] [--runs 30] [--warmup 5] [--engines ort,openvino,octet] [--only mobilenet_v2 ...]
           [--cache .bench] [--images /work/shared/data/images/224] [--ort-int8-activation uint8|int8]
           [--octet-isa native,avx2] [--no-accuracy]

Models: ResNet-50 (torchvision export, random weights, ImageNet normalization), MobileNetV2 1.0 224 and
EfficientNet-Lite0 (real weights, p*2/255-1). Engines, all with --threads threads:
  * onnxruntime FP32: CPUExecutionProvider, ORT_ENABLE_ALL, intra_op_num_threads=T, inter_op 1, sequential.
  * onnxruntime INT8: the same session options on onnxruntime's own static QDQ model (Scripts/int8/make_qdq.py
    --mode ort-default: QUInt8 activations, per-channel QInt8 weights, MinMax on the photos), built once and
    cached in --cache (default <repo>/.bench, git-ignored) as <model>_ort_qdq.onnx.
  * OpenVINO FP32 / INT8: CPU plugin, INFERENCE_NUM_THREADS=T, PERFORMANCE_HINT=LATENCY,
    INFERENCE_PRECISION_HINT=f32 (this CPU's default would be bf16), batch made static by reshape; INT8 runs
    the same onnxruntime QDQ model (OpenVINO's low-precision transformations make it INT8).
  * Octet: `OCTET bench --model M --ranges R --precision int8|fp32 --batch B --threads T --iterations RUNS
    --warmup W --json` (one JSON object per batch size on stdout); R is Octet's own max calibration on the photos
    (`octet calibrate --method max`, cached as <model>_octet_max_ranges.txt), or with --octet-calibration
    onnxruntime the max-abs range file of Scripts/int8/max_ranges.py, cached as <model>_ranges.txt. Without a working `bench`
    subcommand Octet is recorded as missing and the rest still runs.
Octet runs once per --octet-isa entry: "native" (the kernels the hardware picks) and any ISA name, run with
OCTET_FORCE_ISA=<name> (recorded as engine "octet[<name>]"), e.g. avx2 on an AVX-512 machine as a PROXY for an
AVX2-only CPU (same instructions, but this core's caches, clocks and ports).
ISA path, column "ISA" (what each engine really ran):
  * Octet: "(kernels in use: X)" of `octet selftest` under the same environment.
  * onnxruntime: MLAS picks its kernels from CPUID with no override and no report, so this is INFERRED from the
    CPU flags (MLAS order: avx512_vnni > avx_vnni > avx2) and marked "(inferred)".
  * OpenVINO: the primitive type of the runtime model's Convolution/FullyConnected/MatMul nodes (e.g.
    brgconv_avx512_core_vnni_I8, jit_avx2_I8), the most frequent one. ONEDNN_MAX_CPU_ISA in the environment is
    recorded; whether OpenVINO honours it shows in these names.
Accuracy, column "top-1 vs FP32" (unless --no-accuracy): every engine/precision classifies the photos of --images
(29 in /work/shared/data/images/224), batch 1 for onnxruntime and OpenVINO, one batch of all photos for Octet
(`octet run --load-inputs X.npy --save-outputs Y.npy`, the same preprocessed tensors), and its top-1 is compared
with the model's own FP32 top-1 (onnxruntime FP32, checked against expected.tsv's FP32 columns where it has them).
Inputs are random but fixed (numpy default_rng(20240601), uniform [-1, 1)), the same for every engine, or with
--inputs photos the preprocessed photos of --images (photo i % 29 in row i of each batch; Octet gets them through
`bench --load-inputs`): Octet's AVX2 INT8 GEMM is faster on activations whose rows span at most 128 byte values, so
its time depends on the data, and noise images are not what it serves. Python
engines: WARMUP untimed runs, then RUNS timed runs (perf_counter around each run); p50 is the median. The
whole set is measured --rounds times (default 3, interleaved); each result keeps its round with the lowest p50
(all rounds' p50s are in the JSON), because noise on a shared machine only ever adds time.
Another build on a 2-core machine ruins the numbers, so before each measurement it waits (up to --idle-wait s)
for idle CPUs, measures the CPU time other processes took during it (others_cpu) and re-measures (up to
--retries times, keeping the least disturbed) when that exceeds --max-interference. Prints a markdown table
(with Octet/ORT-INT8 and Octet/ORT-FP32 p50 ratios) and writes all numbers, CPU model, load average, engine
versions and settings as JSON to --out.
"""
import argparse
import datetime
import hashlib
import json
import os
import platform
import shlex
import subprocess
import sys
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "Scripts", "int8"))
from int8common import cpu_flags, cpu_model, load_photo_inputs  # noqa: E402

SEED = 20240601


def stats(times_s, batch):
    t = np.asarray(times_s) * 1000.0
    p50 = float(np.percentile(t, 50))
    return dict(p50_ms=p50, p90_ms=float(np.percentile(t, 90)), p99_ms=float(np.percentile(t, 99)),
                mean_ms=float(t.mean()), min_ms=float(t.min()), max_ms=float(t.max()),
                throughput_ips=batch * 1000.0 / p50)


def time_fn(fn, warmup, runs):
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def ort_bench(path, x, threads, warmup, runs):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    feeds = {name: x}
    return time_fn(lambda: sess.run(None, feeds), warmup, runs)


def ov_bench(path, x, threads, warmup, runs):
    import openvino as ov
    core = ov.Core()
    model = core.read_model(path)
    model.reshape({model.inputs[0].any_name: list(x.shape)})
    cfg = {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32"}
    compiled = core.compile_model(model, "CPU", cfg)
    req = compiled.create_infer_request()
    runtime = compiled.get_runtime_model()
    precisions, primitives = {}, {}
    for op in runtime.get_ordered_ops():
        rt = op.get_rt_info()
        if rt["layerType"].astype(str) in ("Convolution", "FullyConnected", "MatMul"):
            p = rt["runtimePrecision"].astype(str)
            precisions[p] = precisions.get(p, 0) + 1
            if "primitiveType" in rt:
                t = rt["primitiveType"].astype(str)
                primitives[t] = primitives.get(t, 0) + 1
    return time_fn(lambda: req.infer({0: x}), warmup, runs), precisions, primitives


def ort_top1(path, inputs, threads):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.log_severity_level = 3
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    return [int(np.argmax(sess.run(None, {name: x})[0].reshape(-1))) for _, x in inputs]


def ov_top1(path, inputs, threads):
    import openvino as ov
    core = ov.Core()
    model = core.read_model(path)
    model.reshape({model.inputs[0].any_name: list(inputs[0][1].shape)})
    compiled = core.compile_model(model, "CPU", {"INFERENCE_NUM_THREADS": threads, "INFERENCE_PRECISION_HINT": "f32"})
    req = compiled.create_infer_request()
    return [int(np.argmax(req.infer({0: x})[compiled.outputs[0]].reshape(-1))) for _, x in inputs]


def octet_top1(octet, model, ranges, precision, inputs, threads, env, workdir):
    """One `octet run` over all photos as one batch; -> top-1 per photo."""
    # Written for every call: the tensors depend on the model's normalization (a file cached across models once
    # gave the mobile nets ResNet-50's ImageNet-normalized photos).
    xin = os.path.join(workdir, f"photos_nchw_{os.getpid()}.npy")
    np.save(xin, np.concatenate([x for _, x in inputs]).astype(np.float32))
    yout = os.path.join(workdir, f"octet_{precision}_{os.getpid()}.npy")
    cmd = [octet, "run", "--model", model, "--ranges", ranges, "--precision", precision, "--threads", str(threads),
           "--load-inputs", xin, "--save-outputs", yout]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=900, env=env)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(map(shlex.quote, cmd))}: exit {p.returncode}: "
                           f"{p.stderr.decode(errors='replace').strip()[-800:]}")
    y = np.load(yout).reshape(len(inputs), -1)
    os.remove(yout)
    os.remove(xin)
    return [int(v) for v in np.argmax(y, axis=1)]


def expected_fp32_top1(images_dir, model_name):
    """photo -> FP32 top-1 class from expected.tsv (effl0 / mnv2 columns), {} when it has none for the model."""
    column = {"efficientnet_lite0": "effl0_top1_idx", "mobilenet_v2": "mnv2_top1_idx"}.get(model_name)
    path = os.path.join(os.path.dirname(os.path.abspath(images_dir)), "expected.tsv")
    if column is None or not os.path.exists(path):
        return {}
    lines = [l.rstrip("\n").split("\t") for l in open(path) if l.strip()]
    head = lines[0]
    return {r[head.index("file")][:-4]: int(r[head.index(column)]) for r in lines[1:]}


def octet_isa(octet, env):
    """The ISA name Octet's CPU kernels use under env ("(kernels in use: X)" of `octet selftest`)."""
    try:
        p = subprocess.run([octet, "selftest"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300, env=env)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    out = p.stdout.decode(errors="replace")
    i = out.find("(kernels in use: ")
    isa = out[i + 17:out.find(")", i)] if i >= 0 else "unknown"
    refused = [l for l in p.stderr.decode(errors="replace").splitlines() if "refused" in l]
    return isa + (f" (REFUSED: {refused[0]})" if refused else "")


def mlas_isa(flags):
    for flag, name in (("avx512_vnni", "avx512vnni"), ("avx_vnni", "avxvnni"), ("avx2", "avx2")):
        if flag in flags:
            return f"mlas {name} (inferred)"
    return "mlas sse (inferred)"


def cpu_busy(interval=0.5):
    """Share of all CPUs that other processes used over interval seconds (our own threads, e.g. a runtime's
    spinning pool, do not count); None if unknown."""
    with Interference() as it:
        time.sleep(interval)
    return it.fraction


def wait_idle(threshold, max_wait, log):
    """Waits (up to max_wait s) until the machine is idle below threshold; -> (busy fraction, waited s)."""
    t0 = time.time()
    busy = cpu_busy()
    said = False
    while busy is not None and busy > threshold and time.time() - t0 < max_wait:
        if not said:
            log(f"  machine {busy:.0%} busy; waiting up to {max_wait:.0f}s for it to go below {threshold:.0%}")
            said = True
        time.sleep(2)
        busy = cpu_busy()
    return busy, round(time.time() - t0, 1)


class Interference:
    """CPU time other processes used while a measurement ran: /proc/stat busy time minus our own (and our
    children's) CPU time, as a fraction of wall time x CPUs."""

    def _read(self):
        with open("/proc/stat") as f:
            v = [int(t) for t in f.readline().split()[1:]]
        busy = (sum(v[:8]) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")
        t = os.times()
        return busy, t.user + t.system + t.children_user + t.children_system, time.time()

    def __enter__(self):
        try:
            self.start = self._read()
        except OSError:
            self.start = None
        return self

    def __exit__(self, *exc):
        self.fraction = None
        if self.start:
            b1, o1, w1 = self._read()
            b0, o0, w0 = self.start
            self.fraction = max(0.0, ((b1 - b0) - (o1 - o0)) / max((w1 - w0) * (os.cpu_count() or 1), 1e-9))
        return False


def octet_has_bench(octet):
    try:
        p = subprocess.run([octet, "bench", "--help"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return False, str(e)
    txt = (p.stdout + p.stderr).decode(errors="replace")
    if p.returncode != 0 or "--iterations" not in txt:
        return False, f"`{octet} bench --help` shows no bench subcommand (exit {p.returncode}, no --iterations option)"
    return True, ""


def octet_bench(octet, model, ranges, precision, batch, threads, warmup, runs, timeout=600, env=None, inputs=None):
    """`octet bench` on its random inputs, or on the .npy tensor `inputs` (--load-inputs)."""
    cmd = [octet, "bench", "--model", model, "--ranges", ranges, "--precision", precision, "--batch", str(batch),
           "--threads", str(threads), "--iterations", str(runs), "--warmup", str(warmup), "--json"]
    if inputs:
        cmd += ["--load-inputs", inputs]
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout, env=env)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, f"{' '.join(map(shlex.quote, cmd))}: {e}"
    if p.returncode != 0:
        return None, f"{' '.join(map(shlex.quote, cmd))}: exit {p.returncode}: " \
                     f"{p.stderr.decode(errors='replace').strip()[-1500:]}"
    objs = []
    for line in p.stdout.decode(errors="replace").splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                objs.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    hit = [o for o in objs if int(o.get("batch", -1)) == batch] or objs
    if not hit or "p50_ms" not in hit[0]:
        return None, f"{' '.join(map(shlex.quote, cmd))}: no JSON object with p50_ms on stdout"
    return hit[0], ""


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def ensure_qdq(m, cache, images, activation, log):
    """<cache>/<stem>_ort_qdq.onnx, built with make_qdq's ort-default mode when missing or stale."""
    from make_qdq import agreement, make_ort_default
    suffix = "" if activation == "uint8" else "_s8"
    out = os.path.join(cache, f"{m['stem']}_ort_qdq{suffix}.onnx")
    meta_path = out + ".json"
    src_sha = sha256(m["path"])
    if os.path.exists(out) and os.path.exists(meta_path):
        meta = json.load(open(meta_path))
        if meta.get("source_sha256") == src_sha and meta.get("activation_type") == activation:
            log(f"  cached {out} (top-1 agreement {meta.get('top1_agreement')})")
            return out, meta
    log(f"  building {out} (onnxruntime quantize_static, QDQ, per-channel, {activation} activations) ...")
    inputs = load_photo_inputs(m["path"], images, m["normalization"])
    t0 = time.time()
    make_ort_default(m["path"], inputs, out, activation, True, log=log)
    agree, mincos, _ = agreement(m["path"], out, inputs, True)
    meta = dict(source=m["path"], source_sha256=src_sha, activation_type=activation, weight_type="int8",
                per_channel=True, calibration="MinMax", photos=len(inputs), normalization=m["normalization"],
                top1_agreement=f"{agree}/{len(inputs)}", min_cosine=mincos, build_s=round(time.time() - t0, 1))
    json.dump(meta, open(meta_path, "w"), indent=1)
    log(f"  built in {meta['build_s']}s; top-1 agreement with FP32 {agree}/{len(inputs)}, min cosine {mincos:.4f}")
    return out, meta


def ensure_ranges(m, cache, images, log, octet=None, threads=2):
    """Octet's range file: `octet calibrate --method max` (Octet's own FP32 engine, its default calibration) when
    octet is given, else Scripts/int8/max_ranges.py (onnxruntime FP32). Both are max |x| over the photos, but the
    float sums differ in the last bits, and on 29 photos that can flip a borderline top-1."""
    if octet:
        out = os.path.join(cache, f"{m['stem']}_octet_max_ranges.txt")
        if os.path.exists(out) and os.path.getmtime(out) >= os.path.getmtime(m["path"]):
            return out
        cmd = [octet, "calibrate", "--model", m["path"], "--images", images, "--method", "max", "--normalization",
               m["normalization"], "--threads", str(threads), "--output", out]
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=1800)
        if p.returncode != 0:
            raise SystemExit(f"{' '.join(map(shlex.quote, cmd))}: exit {p.returncode}: {p.stderr.decode()[-800:]}")
        log(f"  wrote {out} (octet calibrate --method max)")
        return out
    from max_ranges import compute_ranges, write_range_file
    out = os.path.join(cache, f"{m['stem']}_ranges.txt")
    if os.path.exists(out) and os.path.getmtime(out) >= os.path.getmtime(m["path"]):
        return out
    inputs = load_photo_inputs(m["path"], images, m["normalization"])
    write_range_file(out, compute_ranges(m["path"], inputs, log=lambda s: None))
    log(f"  wrote {out}")
    return out


def markdown_table(results):
    """p50 table; Octet rows get p50 ratios to onnxruntime INT8 (INT8 rows only) and FP32. Missing Octet data is
    left out; other failures show as 'error'."""
    def p50(model, engine, prec, b):
        for r in results:
            if (r["model"], r["engine"], r["precision"], r["batch"]) == (model, engine, prec, b) and "p50_ms" in r:
                return r["p50_ms"]
        return None

    lines = ["| model | batch | engine | ISA path | precision | p50 ms | p90 ms | img/s | top-1 vs FP32 | Octet / ORT-INT8 "
             "| Octet / ORT-FP32 | others CPU | p50 per round |",
             "|---|---:|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in results:
        isa, top1 = r.get("isa", ""), r.get("top1_vs_fp32", "")
        if "p50_ms" not in r:
            if r["engine"].startswith("octet") and str(r.get("error", "")).startswith("missing"):
                continue
            lines.append(f"| {r['model']} | {r['batch']} | {r['engine']} | {isa} | {r['precision']} | error | | | "
                         f"{top1} | | | | |")
            continue
        r1 = r2 = ""
        if r["engine"].startswith("octet"):
            oi = p50(r["model"], "onnxruntime", "int8", r["batch"]) if r["precision"] == "int8" else None
            of = p50(r["model"], "onnxruntime", "fp32", r["batch"])
            r1 = f"{r['p50_ms'] / oi:.2f}" if oi else ""
            r2 = f"{r['p50_ms'] / of:.2f}" if of else ""
        rounds = " / ".join(f"{v:.2f}" for v in r.get("p50_ms_rounds", []))
        lines.append(f"| {r['model']} | {r['batch']} | {r['engine']} | {isa} | {r['precision']} | {r['p50_ms']:.2f} | "
                     f"{r.get('p90_ms', float('nan')):.2f} | {r.get('throughput_ips', float('nan')):.1f} | {top1} | "
                     f"{r1} | {r2} | {(r.get('others_cpu') or 0):.0%} | {rounds} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--octet", help="octet CLI binary (omit to skip Octet)")
    ap.add_argument("--models-dir", default="/work/shared/data/models",
                    help="folder with mobilenet_v2_1.0_224.onnx and efficientnet_lite0.onnx")
    ap.add_argument("--resnet50", default=os.path.join(REPO, ".models", "resnet50_op13.onnx"),
                    help="torchvision ResNet-50 export (Scripts/export_torchvision.py)")
    ap.add_argument("--out", default=os.path.join(REPO, "docs", "PERFORMANCE-raw.json"))
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--engines", default="ort,openvino,octet", help="comma list of ort, openvino, octet")
    ap.add_argument("--only", nargs="+", help="model names: resnet50 mobilenet_v2 efficientnet_lite0")
    ap.add_argument("--cache", default=os.path.join(REPO, ".bench"), help="QDQ models and range files")
    ap.add_argument("--images", default="/work/shared/data/images/224", help="calibration photos (224x224 PPM)")
    ap.add_argument("--idle-threshold", type=float, default=0.25,
                    help="before each measurement wait until the CPUs are less busy than this (default 0.25)")
    ap.add_argument("--idle-wait", type=float, default=300, help="longest wait for idle, seconds (default 300)")
    ap.add_argument("--rounds", type=int, default=3,
                    help="measure everything this many times, interleaved, and keep each result's lowest p50 "
                         "(default 3; noise on a shared machine only adds time)")
    ap.add_argument("--max-interference", type=float, default=0.10,
                    help="re-measure when other processes used more than this share of the CPUs (default 0.10)")
    ap.add_argument("--retries", type=int, default=2, help="re-measurements allowed per result (default 2)")
    ap.add_argument("--ort-int8-activation", choices=["uint8", "int8"], default="uint8",
                    help="activation type of the onnxruntime QDQ model (default uint8 = QUInt8)")
    ap.add_argument("--octet-isa", default="native",
                    help="comma list: native (hardware choice) and/or ISA names run with OCTET_FORCE_ISA "
                         "(scalar, avx2, avxvnni, avx512vnni); engine 'octet[NAME]' (default native)")
    ap.add_argument("--octet-calibration", choices=["octet", "onnxruntime"], default="octet",
                    help="Octet's ranges: `octet calibrate --method max` (default; each engine calibrates itself on "
                         "the photos) or Scripts/int8/max_ranges.py's max |x| from onnxruntime FP32")
    ap.add_argument("--no-accuracy", action="store_true", help="skip the top-1 agreement with FP32 on the photos")
    ap.add_argument("--inputs", choices=["random", "photos"], default="random",
                    help="what every engine is timed on: fixed uniform [-1, 1) noise (default) or the preprocessed "
                         "photos of --images, photo i %% N in row i of each batch")
    ap.add_argument("--table-from", metavar="RAW_JSON", help="only print the markdown table of an earlier run's JSON")
    args = ap.parse_args()
    if args.table_from:
        print(markdown_table(json.load(open(args.table_from))["results"]))
        return
    if args.warmup < 5 or args.runs < 30:
        print("note: fewer than 5 warm-up / 30 timed runs", file=sys.stderr)

    log = lambda s: print(s, flush=True)  # noqa: E731
    batches = [int(b) for b in args.batches.split(",") if b]
    engines = set(args.engines.split(","))
    os.makedirs(args.cache, exist_ok=True)
    models = [
        dict(name="resnet50", path=args.resnet50, normalization="imagenet", weights="random (torchvision export)"),
        dict(name="mobilenet_v2", path=os.path.join(args.models_dir, "mobilenet_v2_1.0_224.onnx"),
             normalization="sample", weights="real"),
        dict(name="efficientnet_lite0", path=os.path.join(args.models_dir, "efficientnet_lite0.onnx"),
             normalization="sample", weights="real"),
    ]
    models = [m for m in models if not args.only or m["name"] in args.only]
    for m in models:
        m["stem"] = os.path.basename(m["path"])[:-5]

    import onnxruntime as ort
    versions = {"onnxruntime": ort.__version__, "numpy": np.__version__, "python": platform.python_version()}
    try:
        import openvino as ov
        versions["openvino"] = ov.__version__
    except ImportError as e:
        if "openvino" in engines:
            log(f"OpenVINO unavailable ({e}); pip install openvino")
            engines.discard("openvino")
    octet_ok, octet_why = False, "not requested (--octet not given)"
    if args.octet and "octet" in engines:
        octet_ok, octet_why = octet_has_bench(args.octet)
        if not octet_ok:
            log(f"Octet skipped: {octet_why}")
    versions["octet"] = args.octet
    # Octet variants: (engine label, environment, ISA its kernels use).
    octet_variants = []
    if octet_ok:
        for name in [v for v in args.octet_isa.split(",") if v]:
            env = dict(os.environ)
            env.pop("OCTET_FORCE_ISA", None)
            if name != "native":
                env["OCTET_FORCE_ISA"] = name
            octet_variants.append(("octet" if name == "native" else f"octet[{name}]", env, octet_isa(args.octet, env)))
            log(f"{octet_variants[-1][0]}: kernels {octet_variants[-1][2]}")

    flags = set(cpu_flags())
    machine = dict(cpu_model=cpu_model(), logical_cpus=os.cpu_count(),
                   affinity=sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
                   isa=sorted(flags & {"avx2", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "avx512_bf16",
                                       "amx_int8", "amx_bf16", "fma"}),
                   kernel=platform.release(), loadavg_start=os.getloadavg())
    log(f"{machine['cpu_model']}, {machine['logical_cpus']} CPUs, {' '.join(machine['isa'])}; load average "
        f"{' '.join(f'{v:.2f}' for v in machine['loadavg_start'])}")
    if os.environ.get("ONEDNN_MAX_CPU_ISA"):
        machine["ONEDNN_MAX_CPU_ISA"] = os.environ["ONEDNN_MAX_CPU_ISA"]
    ort_isa = mlas_isa(flags)
    log(f"onnxruntime {versions['onnxruntime']}, openvino {versions.get('openvino', '-')}; threads {args.threads}, "
        f"warm-up {args.warmup}, runs {args.runs}, batches {batches}")

    model_meta, prepared = [], []
    t_start = time.time()
    import onnx
    for m in models:
        log(f"\n== {m['name']}: {m['path']}")
        if not os.path.exists(m["path"]):
            log("  missing; skipped")
            model_meta.append(dict(m, missing=True))
            continue
        qdq, qmeta = None, {}
        if engines & {"ort", "openvino"}:
            qdq, qmeta = ensure_qdq(m, args.cache, args.images, args.ort_int8_activation, log)
        ranges = None
        if octet_ok:
            ranges = ensure_ranges(m, args.cache, args.images, log,
                                   args.octet if args.octet_calibration == "octet" else None, args.threads)
        model_meta.append(dict(m, ort_qdq=qdq, ort_qdq_meta=qmeta, ranges=ranges))
        inp = onnx.load(m["path"], load_external_data=False).graph.input[0]
        h, w = [d.dim_value for d in inp.type.tensor_type.shape.dim][2:]
        prepared.append(dict(m, qdq=qdq, ranges=ranges, h=h, w=w))

    accuracy = {}  # (model, engine, precision) -> "agree/photos" against the model's own FP32 top-1
    if not args.no_accuracy:
        for m in prepared:
            log(f"\n== {m['name']}: top-1 agreement with FP32 on the photos of {args.images}")
            inputs = load_photo_inputs(m["path"], args.images, m["normalization"])
            reference = ort_top1(m["path"], inputs, args.threads)
            expected = expected_fp32_top1(args.images, m["name"])
            if expected:
                same = sum(expected.get(n) == r for (n, _), r in zip(inputs, reference))
                log(f"  onnxruntime FP32 top-1 equals expected.tsv's FP32 top-1 on {same}/{len(inputs)} photos")
            runs = []
            if "ort" in engines:
                runs += [("onnxruntime", "fp32", lambda: reference),
                         ("onnxruntime", "int8", lambda: ort_top1(m["qdq"], inputs, args.threads))]
            if "openvino" in engines:
                runs += [("openvino", "fp32", lambda: ov_top1(m["path"], inputs, args.threads)),
                         ("openvino", "int8", lambda: ov_top1(m["qdq"], inputs, args.threads))]
            for label, env, _ in octet_variants:
                for prec in ("int8", "fp32"):
                    runs.append((label, prec, lambda env=env, prec=prec: octet_top1(
                        args.octet, m["path"], m["ranges"], prec, inputs, args.threads, env, args.cache)))
            for engine, prec, fn in runs:
                try:
                    top = fn()
                    agree = sum(a == b for a, b in zip(top, reference))
                    accuracy[(m["name"], engine, prec)] = f"{agree}/{len(inputs)}"
                except Exception as e:  # noqa: BLE001 -- recorded, the timing still runs
                    accuracy[(m["name"], engine, prec)] = f"error: {type(e).__name__}"
                    log(f"  {engine} {prec}: {e}")
                log(f"  {engine:<20} {prec}: top-1 agreement with FP32 {accuracy[(m['name'], engine, prec)]}")

    def jobs_for(m, x, b):
        """[(engine, precision, fn -> stats dict)]"""
        T, W, R = args.threads, args.warmup, args.runs

        def ort_job(path):
            times = ort_bench(path, x, T, W, R)
            return dict(stats(times, b), times_ms=[round(t * 1000, 4) for t in times])

        def ov_job(path):
            times, precisions, primitives = ov_bench(path, x, T, W, R)
            return dict(stats(times, b), times_ms=[round(t * 1000, 4) for t in times],
                        conv_runtime_precisions=precisions, conv_primitive_types=primitives,
                        isa=max(primitives, key=primitives.get) if primitives else "")

        def octet_job(prec, env):
            npy = None
            if args.inputs == "photos":  # the same tensor the Python engines get
                npy = os.path.join(args.cache, f"bench_inputs_{m['name']}_b{b}_{os.getpid()}.npy")
                np.save(npy, x)
            obj, err = octet_bench(args.octet, m["path"], m["ranges"], prec, b, T, W, R, env=env, inputs=npy)
            if obj is None:
                raise RuntimeError(err)
            keep = ("p50_ms", "p90_ms", "p99_ms", "mean_ms", "min_ms", "max_ms", "throughput_ips")
            return dict({k: obj[k] for k in keep if k in obj}, octet_json=obj)

        jobs = []
        if "ort" in engines:
            jobs += [("onnxruntime", "fp32", lambda: ort_job(m["path"])),
                     ("onnxruntime", "int8", lambda: ort_job(m["qdq"]))]
        if "openvino" in engines:
            jobs += [("openvino", "fp32", lambda: ov_job(m["path"])), ("openvino", "int8", lambda: ov_job(m["qdq"]))]
        for label, env, _ in octet_variants:
            jobs += [(label, "int8", lambda env=env: octet_job("int8", env)),
                     (label, "fp32", lambda env=env: octet_job("fp32", env))]
        return jobs

    def measure(fn, label):
        """Runs fn (re-running when disturbed); -> the least disturbed result, or {'error': ...}."""
        best = None
        for attempt in range(1 + args.retries):
            busy, waited = wait_idle(args.idle_threshold, args.idle_wait, log)
            try:
                with Interference() as it:
                    res = fn()
            except Exception as e:
                return dict(error=f"{type(e).__name__}: {e}")
            res.update(busy_before=busy, waited_s=waited, others_cpu=it.fraction, attempt=attempt + 1)
            if best is None or (res["others_cpu"] or 0) < (best["others_cpu"] or 0):
                best = res
            if (it.fraction or 0) <= args.max_interference:
                break
            log(f"  {label}: other processes used {it.fraction:.0%} of the CPUs; measuring again")
        return best

    measured, order = {}, []
    for rnd in range(args.rounds):
        log(f"\n== round {rnd + 1}/{args.rounds}")
        for m in prepared:
            for b in batches:
                if args.inputs == "photos":
                    photos = m.setdefault("photos", [p for _, p in load_photo_inputs(m["path"], args.images,
                                                                                     m["normalization"])])
                    x = np.concatenate([photos[i % len(photos)] for i in range(b)]).astype(np.float32)
                else:
                    x = np.random.default_rng(SEED).uniform(-1, 1, (b, 3, m["h"], m["w"])).astype(np.float32)
                for engine, prec, fn in jobs_for(m, x, b):
                    key = (m["name"], engine, prec, b)
                    if key not in measured:
                        measured[key] = []
                        order.append(key)
                    label = f"{m['name']} batch {b} {engine} {prec}"
                    res = measure(fn, label)
                    res["round"] = rnd + 1
                    measured[key].append(res)
                    log(f"  {label:<42} " +
                        (f"p50 {res['p50_ms']:8.2f} ms  p90 {res.get('p90_ms', float('nan')):8.2f}  "
                         f"others {res['others_cpu'] or 0:.0%}" if "p50_ms" in res else f"FAILED {res['error']}") +
                        (f"  conv {res['conv_runtime_precisions']}" if "conv_runtime_precisions" in res else ""))

    results = []
    for key in order:
        model, engine, prec, b = key
        rec = dict(model=model, engine=engine, precision=prec, batch=b, threads=args.threads, warmup=args.warmup,
                   runs=args.runs)
        good = [r for r in measured[key] if "p50_ms" in r]
        if good:
            best = min(good, key=lambda r: r["p50_ms"])
            rec.update(best)
            rec["p50_ms_rounds"] = [r["p50_ms"] for r in good]
        else:
            rec["error"] = measured[key][-1]["error"]
        if engine == "onnxruntime":
            rec["isa"] = ort_isa
        elif engine.startswith("octet"):
            rec["isa"] = next(isa for label, _, isa in octet_variants if label == engine)
        if (model, engine, prec) in accuracy:
            rec["top1_vs_fp32"] = accuracy[(model, engine, prec)]
        results.append(rec)
    if not octet_ok and "octet" in engines:
        for m in prepared:
            for b in batches:
                for prec in ("int8", "fp32"):
                    results.append(dict(model=m["name"], engine="octet", precision=prec, batch=b,
                                        threads=args.threads, error=f"missing: {octet_why}"))
    machine["loadavg_end"] = os.getloadavg()

    table = markdown_table(results)
    print()
    print(table)
    if not octet_ok:
        print(f"\nOctet: no data ({octet_why})")
    print(f"\nload average start {machine['loadavg_start']}, end {machine['loadavg_end']}; "
          f"{time.time() - t_start:.0f}s")

    doc = dict(date=datetime.datetime.now().astimezone().isoformat(timespec="seconds"), machine=machine,
               versions=versions,
               settings=dict(threads=args.threads, warmup=args.warmup, runs=args.runs, batches=batches,
                             input=(f"numpy default_rng({SEED}).uniform(-1, 1), float32 NCHW" if args.inputs == "random"
                                    else f"the photos of {args.images} (photo i % N in row i), float32 NCHW"),
                             timing="perf_counter around each run; p50 = median of the timed runs",
                             onnxruntime="CPUExecutionProvider, ORT_ENABLE_ALL, intra_op_num_threads=threads, "
                                         "inter_op_num_threads=1, ORT_SEQUENTIAL",
                             openvino="CPU, INFERENCE_NUM_THREADS=threads, PERFORMANCE_HINT=LATENCY, "
                                      "INFERENCE_PRECISION_HINT=f32, static batch via reshape; INT8 = the "
                                      "onnxruntime QDQ model",
                             ort_int8=f"quantize_static QDQ, per_channel, {args.ort_int8_activation} activations "
                                      "(asymmetric), int8 weights, MinMax calibration on the photos",
                             octet="OCTET bench --model M --ranges R --precision P --batch B --threads T "
                                   "--iterations RUNS --warmup W --json; octet[NAME] with OCTET_FORCE_ISA=NAME",
                             octet_isa=args.octet_isa, octet_calibration=args.octet_calibration,
                             accuracy=None if args.no_accuracy else
                             f"top-1 of each engine/precision on the {args.images} photos vs onnxruntime FP32 top-1",
                             affinity="none set (taskset not used)",
                             idle="before each measurement: wait until /proc/stat shows the CPUs less than "
                                  f"{args.idle_threshold:.0%} busy over 0.5 s (at most {args.idle_wait:.0f} s); "
                                  "busy_before/waited_s per result"),
               octet_available=octet_ok, octet_note=None if octet_ok else octet_why,
               models=model_meta, results=results, table_markdown=table)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=1)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
