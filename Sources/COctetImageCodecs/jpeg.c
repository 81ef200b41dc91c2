// libjpeg-turbo decoding with an error manager that longjmps back here instead of calling exit().
#include "COctetImageCodecs.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

/// More scans than this is a hostile progressive file (each scan re-walks the coefficients); real encoders
/// write about ten. libjpeg-turbo's own tools suggest a limit of this kind.
#define OCTET_JPEG_MAX_SCANS 1000

struct octet_jpeg_error {
    struct jpeg_error_mgr manager;
    jmp_buf jump;
    char *message;
    size_t message_size;
};

static void octet_jpeg_fail(j_common_ptr cinfo) {
    struct octet_jpeg_error *error = (struct octet_jpeg_error *)cinfo->err;
    char text[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, text);
    snprintf(error->message, error->message_size, "%s", text);
    longjmp(error->jump, 1);
}

/// Warnings about metadata are harmless; every other warning (premature end of file, corrupt entropy data,
/// bad progression) means libjpeg filled pixels it did not read, so it is an error here.
static void octet_jpeg_message(j_common_ptr cinfo, int level) {
    if (level >= 0) return;  // trace messages
    switch (cinfo->err->msg_code) {
    case JWRN_EXTRANEOUS_DATA:
    case JWRN_JFIF_MAJOR:
    case JWRN_ADOBE_XFORM:
    case JWRN_BOGUS_ICC:
        return;
    default:
        octet_jpeg_fail(cinfo);
    }
}

static void octet_jpeg_progress(j_common_ptr cinfo) {
    if (cinfo->is_decompressor && ((j_decompress_ptr)cinfo)->input_scan_number > OCTET_JPEG_MAX_SCANS) {
        struct octet_jpeg_error *error = (struct octet_jpeg_error *)cinfo->err;
        snprintf(error->message, error->message_size, "the progressive JPEG has more than %d scans", OCTET_JPEG_MAX_SCANS);
        longjmp(error->jump, 1);
    }
}

/// Pillow's CMYK JPEG path, step by step: it always assumes Adobe's inverted CMYK (rawmode "CMYK;I": every
/// sample v becomes 255 − v), then `convert("RGB")` computes nk = 255 − k and each channel as
/// nk − MULDIV255(c, nk) (Convert.c `cmyk2rgb`).
static void octet_cmyk_row_to_rgb(const uint8_t *in, uint8_t *out, size_t width) {
    for (size_t x = 0; x < width; x++) {
        int nk = 255 - (255 - in[3]);
        for (int c = 0; c < 3; c++) {
            int tmp = (255 - in[c]) * nk + 128;
            int v = nk - (((tmp >> 8) + tmp) >> 8);
            out[c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
        in += 4;
        out += 3;
    }
}

int octet_jpeg_decode(const uint8_t *data, size_t size, uint8_t *rgb, size_t rgb_size,
                      uint32_t *width, uint32_t *height, char *message, size_t message_size) {
    struct jpeg_decompress_struct cinfo;
    // CMYK rows are decoded here first (4 bytes a pixel); freed on the error path, so volatile.
    uint8_t *volatile cmyk_row = NULL;
    struct octet_jpeg_error error;
    struct jpeg_progress_mgr progress;
    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = jpeg_std_error(&error.manager);
    error.manager.error_exit = octet_jpeg_fail;
    error.manager.emit_message = octet_jpeg_message;
    error.message = message;
    error.message_size = message_size;
    if (setjmp(error.jump)) {
        free(cmyk_row);
        jpeg_destroy_decompress(&cinfo);
        return 1;
    }
    jpeg_create_decompress(&cinfo);
    progress.progress_monitor = octet_jpeg_progress;
    cinfo.progress = &progress;
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    *width = cinfo.image_width;
    *height = cinfo.image_height;
    if (rgb == NULL) {
        jpeg_destroy_decompress(&cinfo);
        return 0;
    }
    int gray = 0, cmyk = 0;
    switch (cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE:
        gray = 1;
        cinfo.out_color_space = JCS_GRAYSCALE;
        break;
    case JCS_YCbCr:
    case JCS_RGB:
        cinfo.out_color_space = JCS_RGB;
        break;
    case JCS_CMYK:
    case JCS_YCCK:
        cmyk = 1;
        cinfo.out_color_space = JCS_CMYK;
        break;
    default:
        snprintf(message, message_size, "the JPEG's colour space (%d) is not grayscale, YCbCr, RGB, CMYK or YCCK", (int)cinfo.jpeg_color_space);
        jpeg_destroy_decompress(&cinfo);
        return 1;
    }
    // Pillow's decoding: accurate integer IDCT, fancy (triangular) upsampling of subsampled chroma.
    cinfo.dct_method = JDCT_ISLOW;
    cinfo.do_fancy_upsampling = TRUE;
    jpeg_start_decompress(&cinfo);
    size_t row_bytes = (size_t)cinfo.output_width * 3;
    if (cinfo.output_width != *width || cinfo.output_height != *height || rgb_size / row_bytes < cinfo.output_height) {
        snprintf(message, message_size, "internal error: the output buffer does not fit %ux%u", cinfo.output_width, cinfo.output_height);
        jpeg_destroy_decompress(&cinfo);
        return 1;
    }
    if (cmyk) {
        cmyk_row = malloc((size_t)cinfo.output_width * 4);
        if (cmyk_row == NULL) {
            snprintf(message, message_size, "out of memory for a %u-pixel row", cinfo.output_width);
            jpeg_destroy_decompress(&cinfo);
            return 1;
        }
        while (cinfo.output_scanline < cinfo.output_height) {
            uint8_t *out = rgb + (size_t)cinfo.output_scanline * row_bytes;
            JSAMPROW row = cmyk_row;
            if (jpeg_read_scanlines(&cinfo, &row, 1) == 1) octet_cmyk_row_to_rgb(cmyk_row, out, cinfo.output_width);
        }
        free(cmyk_row);
        cmyk_row = NULL;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW rows[16];
        JDIMENSION first = cinfo.output_scanline;
        JDIMENSION count = cinfo.output_height - first < 16 ? cinfo.output_height - first : 16;
        for (JDIMENSION i = 0; i < count; i++) rows[i] = rgb + (size_t)(first + i) * row_bytes;
        JDIMENSION read = jpeg_read_scanlines(&cinfo, rows, count);
        if (gray) {
            // Expand in place from the end: sample x moves to 3x, 3x+1, 3x+2, never over an unread sample.
            for (JDIMENSION i = 0; i < read; i++) {
                uint8_t *row = rows[i];
                for (size_t x = cinfo.output_width; x-- > 0;) {
                    uint8_t v = row[x];
                    row[3 * x] = v;
                    row[3 * x + 1] = v;
                    row[3 * x + 2] = v;
                }
            }
        }
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    return 0;
}
