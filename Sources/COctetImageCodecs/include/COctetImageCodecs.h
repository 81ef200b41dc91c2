// JPEG and PNG decoding into 8-bit RGB, for OctetImage.
//
// This target exists because libjpeg and libpng report errors by longjmp out of a callback (libjpeg's default
// handler even calls exit()), and Swift has no setjmp. Each function here installs its own error handler,
// catches the longjmp, and turns every failure into a return code and a message; nothing exits or aborts.
//
// Contract shared by both decoders:
//   * `data`/`size`: the whole file in memory; never read past `data + size`.
//   * Call once with `rgb == NULL` to read only the header: `*width`, `*height` are set and no pixel memory is
//     allocated, so the caller can refuse absurd sizes before allocating anything.
//   * Call again with `rgb` pointing at `rgb_size >= width * height * 3` bytes: the image is decoded into it,
//     row-major, RGB, 3 bytes a pixel, no padding. Must be the same `data` as the header call.
//   * Returns 0 on success, else nonzero with a NUL-terminated English reason (no file name, no final period)
//     in `error` (truncated to `error_size`).
//   * The result equals Pillow's `Image.open(f).convert("RGB")` (see each function for the conversions).
#ifndef COCTET_IMAGE_CODECS_H
#define COCTET_IMAGE_CODECS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// libjpeg-turbo, with Pillow's settings: accurate integer IDCT (JDCT_ISLOW), fancy upsampling on.
/// Grayscale is replicated to R = G = B; CMYK and YCCK are converted as Pillow does (Adobe-inverted samples,
/// then its cmyk2rgb formula). Warnings that mean pixel data was lost
/// or invented (premature end of file, corrupt entropy data) are errors: libjpeg would pad with gray.
int octet_jpeg_decode(const uint8_t *data, size_t size, uint8_t *rgb, size_t rgb_size,
                      uint32_t *width, uint32_t *height, char *error, size_t error_size);

/// libpng, with no gamma or colour management (Pillow applies none). 16-bit samples keep their high byte,
/// 1/2/4-bit gray is scaled to 0…255 by bit replication, palettes are expanded, gray is replicated to
/// R = G = B, and alpha (an alpha channel or a tRNS chunk) is dropped without compositing.
int octet_png_decode(const uint8_t *data, size_t size, uint8_t *rgb, size_t rgb_size,
                     uint32_t *width, uint32_t *height, char *error, size_t error_size);

#ifdef __cplusplus
}
#endif

#endif
