import OctetCore

/// The spatial arithmetic of a 2-D convolution or pooling window over an NHWC input.
struct WindowGeometry: Sendable {
    var kernel: (Int, Int)
    var strides: (Int, Int)
    var dilations: (Int, Int)
    var padsBegin: (Int, Int)

    init(kernel: [Int], strides: [Int], dilations: [Int], padsBegin: [Int]) {
        self.kernel = (kernel[0], kernel[1])
        self.strides = (strides[0], strides[1])
        self.dilations = (dilations[0], dilations[1])
        self.padsBegin = (padsBegin[0], padsBegin[1])
    }

    var taps: Int { kernel.0 * kernel.1 }

    /// Input row and column read by tap (ky, kx) of output (oy, ox); may lie outside the input.
    @inline(__always)
    func source(_ oy: Int, _ ox: Int, _ ky: Int, _ kx: Int) -> (Int, Int) {
        (oy * strides.0 - padsBegin.0 + ky * dilations.0, ox * strides.1 - padsBegin.1 + kx * dilations.1)
    }

    var isPointwise: Bool {
        kernel == (1, 1) && strides == (1, 1) && padsBegin == (0, 0)
    }
}

/// Gathers convolution patches into rows of a matrix (im2col) for the GEMM kernels: row = output pixel,
/// columns = taps × channels of one group (tap-major, channels contiguous), padded with `pad` to `rowLength`.
/// Works on bytes: `elementSize` is 1 for quantized data and 4 for float.
func im2col(
    input: UnsafeRawPointer, height: Int, width: Int, channels: Int, channelOffset: Int, groupChannels: Int,
    geometry g: WindowGeometry, outHeight: Int, outWidth: Int, batchRange: Range<Int>, rows: Range<Int>,
    elementSize: Int, rowLength: Int, destination: UnsafeMutableRawPointer
) {
    let pixelsPerImage = outHeight * outWidth
    let rowBytes = rowLength * elementSize
    let copyBytes = groupChannels * elementSize
    let pixelBytes = channels * elementSize
    let (kh, kw) = g.kernel
    let (sy, sx) = g.strides
    let (dy, dx) = g.dilations
    let (py, px) = g.padsBegin
    let source = input.assumingMemoryBound(to: UInt8.self) + channelOffset * elementSize
    for row in rows {
        let n = batchRange.lowerBound + row / pixelsPerImage
        let pixel = row % pixelsPerImage
        let iy0 = (pixel / outWidth) * sy - py, ix0 = (pixel % outWidth) * sx - px
        var out = (destination + (row - rows.lowerBound) * rowBytes).assumingMemoryBound(to: UInt8.self)
        for ky in 0..<kh {
            let iy = iy0 + ky * dy
            if iy < 0 || iy >= height {
                out.initialize(repeating: 0, count: kw * copyBytes)
                out += kw * copyBytes
                continue
            }
            let line = source + (n * height + iy) * width * pixelBytes
            for kx in 0..<kw {
                let ix = ix0 + kx * dx
                if ix < 0 || ix >= width {
                    out.initialize(repeating: 0, count: copyBytes)
                } else if copyBytes <= 16 {
                    // A few bytes (the RGB stem): a loop beats a memcpy call.
                    let from = line + ix * pixelBytes
                    for b in 0..<copyBytes { out[b] = from[b] }
                } else {
                    out.update(from: line + ix * pixelBytes, count: copyBytes)
                }
                out += copyBytes
            }
        }
        let written = kh * kw * copyBytes
        if written < rowBytes { out.initialize(repeating: 0, count: rowBytes - written) }
    }
}
