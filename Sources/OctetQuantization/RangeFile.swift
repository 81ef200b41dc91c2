import Foundation
import OctetCore

/// Per-tensor dynamic ranges: TensorRT sampleINT8API's range file and TensorRT calibration caches.
///
/// Range file: one `tensor_name:range` per line. The value follows the **last** `:` on the line (so names may
/// contain colons), surrounding spaces are trimmed from both (`name : value` works, as the sample's README
/// writes it), names may contain spaces and `/`, and blank lines and lines starting with `#` are skipped.
public struct DynamicRanges: Sendable, Equatable {
    /// Range R per tensor name, in file order.
    public var entries: [(name: String, range: Float)]

    public init(entries: [(name: String, range: Float)] = []) { self.entries = entries }

    public static func == (a: DynamicRanges, b: DynamicRanges) -> Bool {
        a.entries.count == b.entries.count && zip(a.entries, b.entries).allSatisfy { $0.name == $1.name && $0.range == $1.range }
    }

    /// Ranges a range file may give: positive and within 2^±40, so that the requantization multiplier (input
    /// scale × weight scale ÷ output scale, three such factors) stays inside float32's normal numbers
    /// (2^±126). A range outside it is a mistake (0 quantizes everything to 0, 1e30 everything to 0 too).
    public static let acceptedRanges: ClosedRange<Float> = 0x1p-40...0x1p40

    /// The range of a tensor that was always 0 during calibration: any positive scale represents it exactly.
    public static let alwaysZeroRange: Float = 1e-8

    public var dictionary: [String: Float] { Dictionary(entries, uniquingKeysWith: { _, last in last }) }

    /// Entries of `other` replace ours with the same name; new names are appended.
    public func overriding(with other: DynamicRanges) -> DynamicRanges {
        let replacements = other.dictionary
        var merged = entries.map { ($0.name, replacements[$0.name] ?? $0.range) }
        let known = Set(entries.map(\.name))
        merged += other.entries.filter { !known.contains($0.name) }
        return DynamicRanges(entries: merged)
    }

    // MARK: Range file

    public static func readRangeFile(path: String) throws -> DynamicRanges {
        try parseRangeFile(try readText(path), path: path)
    }

    public static func parseRangeFile(_ text: String, path: String) throws -> DynamicRanges {
        var entries: [(String, Float)] = []
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let colon = line.lastIndex(of: ":") else {
                throw OctetError.malformedFile(path: path, line: index + 1, reason: "expected 'tensor_name:range', found no ':'")
            }
            let name = line[..<colon].trimmingCharacters(in: .whitespaces)
            let valueText = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            guard !name.isEmpty else {
                throw OctetError.malformedFile(path: path, line: index + 1, reason: "the tensor name is empty")
            }
            guard let value = Float(valueText), Self.acceptedRanges.contains(value) else {
                throw OctetError.malformedFile(
                    path: path, line: index + 1,
                    reason: "'\(valueText)' is not a usable range for tensor '\(name)': a range is a number from 2^-40 to 2^40 (9.1e-13 to 1.1e12)")
            }
            entries.append((name, value))
        }
        return DynamicRanges(entries: entries)
    }

    /// The range file text, one `name:range` per line, with enough digits to read back exactly.
    public func rangeFileText() -> String {
        entries.map { "\($0.name):\($0.range)\n" }.joined()
    }

    // MARK: Recipe comment

    /// The comment line `octet calibrate` writes first in a range file: the preprocessing recipe the ranges
    /// were measured with (`# octet-recipe: tf: central crop 0.875, ...`), so that a run with another recipe
    /// can warn. Readers skip it as any `#` line. Calibration caches have no comment syntax (TensorRT reads
    /// every line after the header as an entry), so they carry no recipe.
    public static let recipeCommentPrefix = "# octet-recipe: "

    /// The recipe recorded in a range file's text, or nil when it has none.
    public static func recordedRecipe(inRangeFileText text: String) -> String? {
        for line in text.split(separator: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.hasPrefix(recipeCommentPrefix) {
                return String(trimmed.dropFirst(recipeCommentPrefix.count)).trimmingCharacters(in: .whitespaces)
            }
            if !trimmed.isEmpty, !trimmed.hasPrefix("#") { return nil }  // only the leading comments count
        }
        return nil
    }

    /// The recipe recorded in the range file at `path`; nil when it has none or cannot be read (the range
    /// reader reports unreadable files).
    public static func recordedRecipe(path: String) -> String? {
        (try? readText(path)).flatMap { recordedRecipe(inRangeFileText: $0) }
    }

    /// The range file text preceded by the recipe comment.
    public func rangeFileText(recipe: String) -> String {
        Self.recipeCommentPrefix + recipe.replacingOccurrences(of: "\n", with: " ") + "\n" + rangeFileText()
    }

    // MARK: TensorRT calibration cache

    /// Reads a TensorRT calibration cache: a `TRT-<version>-<algorithm>` line, then `name: <8 hex digits>` per
    /// line, the hex being the float32 bit pattern of the scale; the range is scale × 127.
    public static func readCalibrationCache(path: String) throws -> (ranges: DynamicRanges, header: String) {
        try parseCalibrationCache(try readText(path), path: path)
    }

    public static func parseCalibrationCache(_ text: String, path: String) throws -> (ranges: DynamicRanges, header: String) {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map {
            $0.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        guard let header = lines.first, header.hasPrefix("TRT-") else {
            throw OctetError.malformedFile(path: path, line: 1, reason: "a calibration cache starts with a 'TRT-<version>-<algorithm>' line")
        }
        var entries: [(String, Float)] = []
        for (index, line) in lines.enumerated().dropFirst() where !line.isEmpty {
            guard let colon = line.lastIndex(of: ":") else {
                throw OctetError.malformedFile(path: path, line: index + 1, reason: "expected 'tensor_name: <hex scale>', found no ':'")
            }
            let name = line[..<colon].trimmingCharacters(in: .whitespaces)
            let hex = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            guard hex.count <= 8, let bits = UInt32(hex, radix: 16) else {
                throw OctetError.malformedFile(path: path, line: index + 1, reason: "'\(hex)' is not an 8-digit hex float32 scale")
            }
            let scale = Float(bitPattern: bits)
            // TensorRT writes scale 0 for a tensor that was always 0; any other scale must give a usable range.
            guard scale == 0 || Self.acceptedRanges.contains(scale * 127) else {
                throw OctetError.malformedFile(
                    path: path, line: index + 1,
                    reason: "scale \(scale) for tensor '\(name)' is not usable: a scale is 0 or gives a range (scale × 127) from 2^-40 to 2^40")
            }
            entries.append((name, scale * 127))
        }
        return (DynamicRanges(entries: entries), header)
    }

    /// The calibration cache text for these ranges.
    public func calibrationCacheText(header: String = "TRT-8601-EntropyCalibration2") -> String {
        header + "\n" + entries.map { "\($0.name): \(String(($0.range / 127).bitPattern, radix: 16).leftPadded(to: 8))\n" }.joined()
    }

    private static func readText(_ path: String) throws -> String {
        try FileReading.text(of: path, what: "a dynamic range file or calibration cache")
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

extension Network {
    /// Applies ranges to the tensors they name.
    /// - Returns: the names that match no tensor (TensorRT-internal names, typos), for the caller to report.
    @discardableResult
    public mutating func apply(_ ranges: DynamicRanges) -> [String] {
        var unknown: [String] = []
        for (name, range) in ranges.entries where !setDynamicRange(name, min: -range, max: range) {
            unknown.append(name)
        }
        return unknown
    }
}
