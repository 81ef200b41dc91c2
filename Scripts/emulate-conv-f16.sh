#!/usr/bin/env bash
# Runs the FP16 convolution kernel (Sources/OctetCUDA/Kernels/conv_f16.cu) on the host, unchanged, with the PTX ISA's
# cvt.rn.f16.f32 and mma.m16n8k16 modelled in C++ (Scripts/cuda-emulation/conv_f16_host.cpp) and 128 threads a block,
# against an exact reference: the kernel's tiling, staging and fragment index arithmetic checked without a GPU.
exec bash "$(dirname "$0")/emulate-cuda-on-host.sh" conv_f16_host.cpp conv_f16.cu
