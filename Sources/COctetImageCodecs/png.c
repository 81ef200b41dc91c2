// libpng decoding with an error callback that longjmps back here (libpng's own default would abort).
#include "COctetImageCodecs.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

struct octet_png_source {
    const uint8_t *data;
    size_t size;
    size_t offset;
    char *message;
    size_t message_size;
};

static void octet_png_fail(png_structp png, png_const_charp text) {
    struct octet_png_source *source = (struct octet_png_source *)png_get_error_ptr(png);
    snprintf(source->message, source->message_size, "%s", text);
    png_longjmp(png, 1);
}

/// libpng warns about ancillary metadata (a known-bad sRGB profile, a bad text chunk) it then ignores; pixels
/// are not affected, so warnings are dropped. Lost pixel data is an error in libpng itself.
static void octet_png_warn(png_structp png, png_const_charp text) {
    (void)png;
    (void)text;
}

static void octet_png_read(png_structp png, png_bytep out, size_t length) {
    struct octet_png_source *source = (struct octet_png_source *)png_get_io_ptr(png);
    if (source->size - source->offset < length) png_error(png, "the file is truncated");
    memcpy(out, source->data + source->offset, length);
    source->offset += length;
}

int octet_png_decode(const uint8_t *data, size_t size, uint8_t *rgb, size_t rgb_size,
                     uint32_t *width, uint32_t *height, char *message, size_t message_size) {
    if (size < 8 || png_sig_cmp(data, 0, 8) != 0) {
        snprintf(message, message_size, "not a PNG file: the signature is wrong");
        return 1;
    }
    struct octet_png_source source = {data, size, 0, message, message_size};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &source, octet_png_fail, octet_png_warn);
    if (png == NULL) {
        snprintf(message, message_size, "libpng could not start");
        return 1;
    }
    png_infop info = png_create_info_struct(png);
    // Written after setjmp and freed on the error path, so volatile.
    uint8_t *volatile converted = NULL;
    png_bytep *volatile rows = NULL;
    if (info == NULL || setjmp(png_jmpbuf(png))) {
        free(converted);
        free(rows);
        png_destroy_read_struct(&png, info ? &info : NULL, NULL);
        if (info == NULL) snprintf(message, message_size, "libpng could not start");
        return 1;
    }
    png_set_read_fn(png, &source, octet_png_read);
    png_read_info(png, info);
    png_uint_32 w, h;
    int bit_depth, color_type, interlace;
    png_get_IHDR(png, info, &w, &h, &bit_depth, &color_type, &interlace, NULL, NULL);
    *width = w;
    *height = h;
    if (rgb == NULL) {
        png_destroy_read_struct(&png, &info, NULL);
        return 0;
    }
    if (bit_depth == 16) png_set_strip_16(png);  // keep the high byte, as Pillow does
    if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    size_t channels = png_get_channels(png, info);
    size_t row_bytes = png_get_rowbytes(png, info);
    if (channels < 1 || channels > 4 || row_bytes != (size_t)w * channels || rgb_size / ((size_t)w * 3) < h) {
        png_error(png, "internal error: unexpected row layout after conversion to 8 bits");
    }
    uint8_t *target = rgb;
    if (channels != 3) {
        converted = malloc(row_bytes * h);
        if (converted == NULL) png_error(png, "out of memory");
        target = converted;
    }
    rows = malloc(sizeof(png_bytep) * h);
    if (rows == NULL) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < h; y++) rows[y] = target + (size_t)y * row_bytes;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    if (channels != 3) {
        size_t pixels = (size_t)w * h;
        const uint8_t *in = converted;
        for (size_t i = 0; i < pixels; i++) {
            const uint8_t *p = in + i * channels;
            uint8_t *q = rgb + i * 3;
            if (channels <= 2) {  // gray, gray + alpha
                q[0] = q[1] = q[2] = p[0];
            } else {  // RGBA
                q[0] = p[0];
                q[1] = p[1];
                q[2] = p[2];
            }
        }
    }
    free(converted);
    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    return 0;
}
