import Foundation
import Testing
import _OctetTestSupport
import Octet

/// Each calibration method against histograms whose answer can be worked out by hand, and the TensorRT
/// calibration cache format.
@Suite struct CalibrationTests {
    /// |x| ∈ {0.5, 1.5, …, 99.5}, one value per unit bin once the range is 100 wide.
    private func uniformHistogram() -> AbsoluteHistogram {
        var h = AbsoluteHistogram(bins: 100)
        h.add([100])  // fixes the bin width at about 1
        h.add((0..<100).map { Float($0) + 0.5 })
        return h
    }

    @Test func maxIsTheLargestMagnitude() {
        var h = AbsoluteHistogram()
        h.add([-3, 2, 0.5])
        h.add([-7.25, 1])
        #expect(h.range(.max) == 7.25)
        #expect(h.total == 5)
    }

    @Test func histogramGrowsByMergingBins() {
        var h = AbsoluteHistogram(bins: 4)
        h.add([1, 2, 3, 4])  // width ≈ 1: bins hold 1, 2, 3, 4 (clamped) → [0,1,1,2]
        let before = h.counts.reduce(0, +)
        h.add([15])           // needs 16 wide: merges pairs twice
        #expect(h.counts.reduce(0, +) == before + 1)
        #expect(h.binWidth > 3.9 && h.binWidth < 4.1)
        #expect(h.range(.max) == 15)
    }

    @Test func percentileOfAUniformHistogram() {
        let h = uniformHistogram()
        // 101 values; 50 % of them lie below |x| = 50.
        let p50 = h.range(.percentile(50))
        #expect(p50 > 49 && p50 < 52, "\(p50)")
        #expect(h.range(.percentile(100)) == h.range(.max))
    }

    /// For a Gaussian, KL-optimal and MSE-optimal 8-bit thresholds sit between 2.5 and 6 standard deviations:
    /// well inside the maximum, far above the bulk.
    @Test func entropyAndMSEClipTheTailsOfAGaussian() {
        var generator = SeededGenerator(seed: 5)
        var h = AbsoluteHistogram()
        var values: [Float] = []
        for _ in 0..<200_000 {
            let u1 = Float.random(in: Float.ulpOfOne...1, using: &generator), u2 = Float.random(in: 0...1, using: &generator)
            values.append((-2 * log(u1)).squareRoot() * cos(2 * .pi * u2))
        }
        h.add(values)
        let maximum = h.range(.max)
        #expect(maximum > 4)
        for method in [CalibrationMethod.entropy, .mse] {
            let t = h.range(method)
            #expect(t > 2.5 && t < 6 && t < maximum, "\(method): \(t) (max \(maximum))")
        }
    }

    @Test func calibrationCacheRoundTrip() throws {
        let ranges = DynamicRanges(entries: [("gpu_0/data_0", 1.000244), ("gpu_0/conv1_1", 5.43116), ("name with spaces/x", 0.0303731)])
        let text = ranges.calibrationCacheText(header: "TRT-8601-EntropyCalibration2")
        let (read, header) = try DynamicRanges.parseCalibrationCache(text, path: "test.cache")
        #expect(header == "TRT-8601-EntropyCalibration2")
        for ((name, r), (readName, readR)) in zip(ranges.entries, read.entries) {
            #expect(name == readName)
            #expect(abs(r - readR) <= r * 1e-6, "\(name): \(r) vs \(readR)")
        }
    }

    /// The example of ../shared/reference/FORMATS.md: `3c010a14` is the scale 0.0078759, range 1.000244.
    @Test func tensorRTCacheIsRead() throws {
        let text = "TRT-8205-EntropyCalibration2\ngpu_0/data_0: 3c010a14\n(Unnamed Layer* 174) [Shuffle]_output: 3c010a14\n"
        let (ranges, _) = try DynamicRanges.parseCalibrationCache(text, path: "resnet.cache")
        #expect(ranges.entries.count == 2)
        #expect(abs(ranges.entries[0].range - 1.000244) < 1e-5)
        #expect(throws: OctetError.malformedFile(path: "bad.cache", line: 2, reason: "'zz' is not an 8-digit hex float32 scale")) {
            try DynamicRanges.parseCalibrationCache("TRT-8205-EntropyCalibration2\nx: zz\n", path: "bad.cache")
        }
        #expect(throws: OctetError.self) { try DynamicRanges.parseCalibrationCache("gpu_0/data_0: 3c010a14\n", path: "nohead.cache") }
    }

    @Test func rangeFileSpellings() throws {
        let ranges = try DynamicRanges.parseRangeFile("gpu_0/data_0:1.000244122\n  gpu_0/conv1_1 : 5.43116007373 \n\n# comment\nname: with colon:2\n", path: "r.txt")
        #expect(ranges.entries.map(\.name) == ["gpu_0/data_0", "gpu_0/conv1_1", "name: with colon"])
        #expect(ranges.entries.map(\.range) == [1.000244122, 5.43116007373, 2])
        #expect(throws: OctetError.malformedFile(path: "r.txt", line: 1, reason: "'-1' is not a usable range for tensor 'x': a range is a number from 2^-40 to 2^40 (9.1e-13 to 1.1e12)")) {
            try DynamicRanges.parseRangeFile("x:-1\n", path: "r.txt")
        }
        let merged = DynamicRanges(entries: [("a", 1), ("b", 2)]).overriding(with: DynamicRanges(entries: [("b", 5), ("c", 3)]))
        #expect(merged.dictionary == ["a": 1, "b": 5, "c": 3])
    }
}
