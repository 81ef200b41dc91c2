#!/usr/bin/env bash
# Prints what common.cuh's float functions (octet_exp, octet_pow, activate) give on the host for a fixed set of inputs
# (Scripts/cuda-emulation/float_math_host.cpp); FloatMathTests checks them against FloatMath.swift bit for bit.
exec bash "$(dirname "$0")/emulate-cuda-on-host.sh" float_math_host.cpp
