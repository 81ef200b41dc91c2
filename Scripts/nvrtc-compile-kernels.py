#!/usr/bin/env python3
"""Compiles Octet's CUDA kernels with NVRTC exactly as CUDAKernelLibrary does (common.cuh followed by every .cu in
name order, with CUDADriver.compileOptions as read from CUDADriver.swift) for one architecture, with ptxas -v, and
prints each kernel's registers, stack and spills, then NVRTC's result. Needs only libnvrtc (no GPU, no driver): set NVRTC_LIBRARY to its
path, e.g. from `pip download nvidia-cuda-nvrtc-cu12` unpacked (nvidia/cuda_nvrtc/lib/libnvrtc.so.12).

    Scripts/nvrtc-compile-kernels.py [sm_90a] [--filter SUBSTRING]
"""
import argparse
import ctypes
import os
import re
import sys

parser = argparse.ArgumentParser()
parser.add_argument("architecture", nargs="?", default="sm_90a")
parser.add_argument("--filter", default="", help="only kernels whose name contains this")
args = parser.parse_args()
library = os.environ.get("NVRTC_LIBRARY", "libnvrtc.so.12")
try:
    nvrtc = ctypes.CDLL(library)
except OSError as error:
    sys.exit(f"nvrtc-compile-kernels: cannot open {library} ({error}); set NVRTC_LIBRARY to libnvrtc's path")
backend = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Sources", "OctetCUDA")
kernels = os.path.join(backend, "Kernels")
# The backend's own options, so that the two cannot drift apart.
declaration = re.search(r"static let compileOptions = \[([^\]]*)\]", open(os.path.join(backend, "CUDADriver.swift")).read())
if not declaration:
    sys.exit("nvrtc-compile-kernels: CUDADriver.swift no longer declares `static let compileOptions = [...]`")
compile_options = re.findall(r'"([^"]*)"', declaration.group(1))
source = open(os.path.join(kernels, "common.cuh")).read()
for name in sorted(os.listdir(kernels)):
    if name.endswith(".cu"):
        source += open(os.path.join(kernels, name)).read()
program = ctypes.c_void_p()
if nvrtc.nvrtcCreateProgram(ctypes.byref(program), source.encode(), b"octet_kernels.cu", 0, None, None) != 0:
    sys.exit("nvrtc-compile-kernels: nvrtcCreateProgram failed")
options = [f"--gpu-architecture={args.architecture}"] + compile_options + ["--ptxas-options=-v"]
result = nvrtc.nvrtcCompileProgram(program, len(options), (ctypes.c_char_p * len(options))(*[o.encode() for o in options]))
size = ctypes.c_size_t()
nvrtc.nvrtcGetProgramLogSize(program, ctypes.byref(size))
log = ctypes.create_string_buffer(size.value)
nvrtc.nvrtcGetProgramLog(program, log)
text = log.value.decode(errors="replace")
# ptxas prints, per kernel: "Compiling entry function 'NAME'", then its stack/spill line and its register line.
current = None
for line in text.splitlines():
    entry = re.search(r"Compiling entry function '([^']+)'", line)
    if entry:
        current = entry.group(1)
    elif current and args.filter in current and ("spill" in line or "registers" in line):
        detail = re.sub(r"^ptxas\s+(info\s+:|\.)\s*", "", line).strip()
        print(f"{current}: {detail}")
    elif "error" in line or "warning" in line:
        print(line)
print(f"NVRTC {'compiled' if result == 0 else 'failed (result %d)' % result} the kernels for {args.architecture}")
sys.exit(0 if result == 0 else 1)
