#!/usr/bin/env bash
# Runs conv_igemm.cu's warpgroup-MMA (wgmma) convolution tiles on the host, unchanged, with cp.async and wgmma.mma_async
# from shared-memory descriptors modelled in C++ (Scripts/cuda-emulation/conv_wgmma_host.cpp) and a block's 128-256
# threads as std::threads, against a direct convolution: the swizzled stores, descriptors, warpgroup fragments and
# the epilogue's staging passes checked without a GPU.
exec bash "$(dirname "$0")/emulate-cuda-on-host.sh" conv_wgmma_host.cpp conv_args.cu conv_igemm.cu
