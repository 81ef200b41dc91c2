import COctetCPUKernels
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
/// columns = taps × channels of one group (tap-major, channels contiguous), padded with zeros to `rowLength`.
/// Works on bytes: `elementSize` is 1 for quantized data (taps in the padding hold `padByte`, the stored
/// input zero point) and 4 for float (`padByte` 0). `flip` 0x80 XORs every tap byte (int8 patches as the uint8
/// the VNNI GEMMs multiply, see octet_im2col).
func im2col(
    input: UnsafeRawPointer, height: Int, width: Int, channels: Int, channelOffset: Int, groupChannels: Int,
    geometry g: WindowGeometry, outHeight: Int, outWidth: Int, rows: Range<Int>,
    elementSize: Int, rowLength: Int, padByte: UInt8, flip: UInt8 = 0, destination: UnsafeMutableRawPointer
) {
    octet_im2col(
        input, height, width, channels, channelOffset, groupChannels, g.kernel.0, g.kernel.1, g.strides.0, g.strides.1,
        g.dilations.0, g.dilations.1, g.padsBegin.0, g.padsBegin.1, outHeight, outWidth, rows.lowerBound, rows.count,
        elementSize, rowLength, padByte, flip, destination)
}
