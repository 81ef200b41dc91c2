#ifndef OCTET_FUZZER_DRIVER_H
#define OCTET_FUZZER_DRIVER_H
#include <stddef.h>
#include <stdint.h>

/// libFuzzer's entry point for programs that own `main` (see LLVM's libFuzzer docs, "Using libFuzzer as a
/// library"). SwiftPM links every executable with `main` aliased to `<Module>_main`, so libFuzzer's own
/// `main` is never used: each harness defines `<Module>_main` and calls this.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

/// Runs libFuzzer on `callback` with the process's arguments.
static inline int octet_fuzz_main(int argc, char **argv, int (*callback)(const uint8_t *data, size_t size)) {
    return LLVMFuzzerRunDriver(&argc, &argv, callback);
}
#endif
