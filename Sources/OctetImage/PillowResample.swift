/// Pillow's `Image.resize(size, Image.BILINEAR)` for 8-bit RGB, reproduced: the triangle filter widened by the
/// scale when reducing (antialiasing), coefficients normalized per output pixel and rounded to 22-bit fixed
/// point, a horizontal pass to 8 bits and then a vertical pass (Pillow's `libImaging/Resample.c`,
/// `precompute_coeffs`, `normalize_coeffs_8bpc`, `ImagingResampleInner`). torchvision's `Resize` on a PIL image
/// is exactly this call, so the `torchvision` recipe matches it to the byte.
///
/// Only the requested window of the output is computed (the centre crop), from only the source rows it needs;
/// each output pixel depends on nothing else, so the bytes equal cropping Pillow's whole resized image.
public enum PillowResample {
    /// 32 − 8 − 2 bits: room for 8-bit samples and two bits of overshoot in an `Int32` accumulator.
    static let precisionBits = 22

    /// For each output index: the first source index, the number of taps, and `kSize` fixed-point weights.
    struct Coefficients {
        var first: [Int]
        var count: [Int]
        var kSize: Int
        var weights: [Int32]
    }

    /// `precompute_coeffs` + `normalize_coeffs_8bpc` for the bilinear filter (support 1) over the whole
    /// source extent (Pillow's default box).
    static func coefficients(inSize: Int, outSize: Int) -> Coefficients {
        let scale = Double(Float(inSize)) / Double(outSize)
        let filterScale = max(scale, 1)
        let support = 1.0 * filterScale
        let kSize = Int(support.rounded(.up)) * 2 + 1
        var first = [Int](repeating: 0, count: outSize), count = first
        var weights = [Int32](repeating: 0, count: outSize * kSize)
        var k = [Double](repeating: 0, count: kSize)
        for xx in 0..<outSize {
            let center = (Double(xx) + 0.5) * scale
            let ss = 1.0 / filterScale
            // C's (int) conversion truncates toward zero, as Int(_: Double) does.
            let xmin = max(Int(center - support + 0.5), 0)
            let xmax = min(Int(center + support + 0.5), inSize) - xmin
            var ww = 0.0
            for x in 0..<kSize { k[x] = 0 }
            for x in 0..<xmax {
                let t = abs((Double(x + xmin) - center + 0.5) * ss)
                let w = t < 1 ? 1 - t : 0
                k[x] = w
                ww += w
            }
            for x in 0..<xmax where ww != 0 { k[x] /= ww }
            for x in 0..<kSize {
                let scaled = k[x] * Double(1 << precisionBits)
                weights[xx * kSize + x] = Int32(k[x] < 0 ? -0.5 + scaled : 0.5 + scaled)
            }
            first[xx] = xmin
            count[xx] = xmax
        }
        return Coefficients(first: first, count: count, kSize: kSize, weights: weights)
    }

    @inline(__always) static func clip8(_ sum: Int32) -> UInt8 { UInt8(clamping: sum >> Int32(precisionBits)) }

    /// Pillow's bilinear resize of `image` to `width × height`, returning only the window of columns
    /// `x0 ..< x0 + windowWidth` and rows `y0 ..< y0 + windowHeight` of that output.
    public static func resize(
        _ image: DecodedImage, width: Int, height: Int, window: (x0: Int, y0: Int, width: Int, height: Int)? = nil
    ) -> DecodedImage {
        let (x0, y0, outW, outH) = window ?? (0, 0, width, height)
        precondition(x0 >= 0 && y0 >= 0 && outW > 0 && outH > 0 && x0 + outW <= width && y0 + outH <= height)
        let needHorizontal = width != image.width, needVertical = height != image.height
        let inW = image.width
        // Horizontal pass over the source rows the window's vertical taps read (all of them without a vertical pass).
        let vertical = needVertical ? coefficients(inSize: image.height, outSize: height) : nil
        let rowFirst = vertical.map { v in v.first[y0] } ?? y0
        let rowEnd = vertical.map { v in (y0..<y0 + outH).map { v.first[$0] + v.count[$0] }.max() ?? 0 } ?? (y0 + outH)
        let rows = rowEnd - rowFirst
        var temp: [UInt8]
        let tempW: Int
        if needHorizontal {
            let h = coefficients(inSize: inW, outSize: width)
            tempW = outW
            temp = [UInt8](repeating: 0, count: rows * outW * 3)
            image.pixels.withUnsafeBufferPointer { src in
                h.weights.withUnsafeBufferPointer { kk in
                    temp.withUnsafeMutableBufferPointer { dst in
                        let half = Int32(1 << (precisionBits - 1))
                        for r in 0..<rows {
                            let srcRow = (rowFirst + r) * inW * 3
                            for xx in 0..<outW {
                                let first = h.first[x0 + xx], taps = h.count[x0 + xx], k = (x0 + xx) * h.kSize
                                var s0 = half, s1 = half, s2 = half
                                var p = srcRow + first * 3
                                for x in 0..<taps {
                                    let w = kk[k + x]
                                    s0 &+= Int32(src[p]) &* w
                                    s1 &+= Int32(src[p + 1]) &* w
                                    s2 &+= Int32(src[p + 2]) &* w
                                    p += 3
                                }
                                let o = (r * outW + xx) * 3
                                dst[o] = clip8(s0)
                                dst[o + 1] = clip8(s1)
                                dst[o + 2] = clip8(s2)
                            }
                        }
                    }
                }
            }
        } else {
            tempW = outW
            temp = [UInt8](repeating: 0, count: rows * outW * 3)
            for r in 0..<rows {
                let s = ((rowFirst + r) * inW + x0) * 3
                temp.replaceSubrange((r * outW * 3)..<((r + 1) * outW * 3), with: image.pixels[s..<s + outW * 3])
            }
        }
        guard let v = vertical else {
            return DecodedImage(width: outW, height: outH, pixels: temp, format: image.format)
        }
        var out = [UInt8](repeating: 0, count: outW * outH * 3)
        temp.withUnsafeBufferPointer { src in
            v.weights.withUnsafeBufferPointer { kk in
                out.withUnsafeMutableBufferPointer { dst in
                    let half = Int32(1 << (precisionBits - 1))
                    for yy in 0..<outH {
                        let first = v.first[y0 + yy] - rowFirst, taps = v.count[y0 + yy], k = (y0 + yy) * v.kSize
                        for i in 0..<tempW * 3 {
                            var s = half
                            var p = first * tempW * 3 + i
                            for y in 0..<taps {
                                s &+= Int32(src[p]) &* kk[k + y]
                                p += tempW * 3
                            }
                            dst[yy * outW * 3 + i] = clip8(s)
                        }
                    }
                }
            }
        }
        return DecodedImage(width: outW, height: outH, pixels: out, format: image.format)
    }
}
