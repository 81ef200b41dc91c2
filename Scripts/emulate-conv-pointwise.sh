#!/usr/bin/env bash
# Runs the short-K 1x1 INT8 convolution kernels (Sources/OctetCUDA/Kernels/conv_pointwise.cu) on the host, unchanged,
# with the PTX ISA's mma.m16n8k32 on 8-bit operands modelled in C++ (Scripts/cuda-emulation/conv_pointwise_host.cpp)
# and 128 threads a block, against a direct reference: the permutations, row tails and fragment index arithmetic
# checked without a GPU.
exec bash "$(dirname "$0")/emulate-cuda-on-host.sh" conv_pointwise_host.cpp conv_args.cu conv_pointwise.cu
