import ArgumentParser
import Foundation
import Octet

/// How images become network inputs, shared by `run`, `calibrate`, `compare` and `preprocess`: a named recipe
/// (docs/preprocessing.md), with `--mean`, `--std`, `--resize` and `--crop` to change any part of it.
struct PreprocessingOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Preprocessing recipe: \(PreprocessingRecipe.Name.allCases.map(\.rawValue).joined(separator: ", ")).",
            discussion: PreprocessingRecipe.Name.allCases.map { "\($0.rawValue): \($0.formula)." }.joined(separator: " ")
                + " Sizes follow the model: the crop is its HxW and the resize round(min(H,W)/0.875).",
            valueName: "name"))
    var recipe = PreprocessingRecipe.Name.sample.rawValue

    @Option(help: ArgumentHelp("Per-channel mean in 0..1 units, one value or R,G,B: x becomes (x/255 - mean)/std.", valueName: "m"))
    var mean: String?

    @Option(help: ArgumentHelp("Per-channel standard deviation in 0..1 units, one value or R,G,B (with --mean; default 1).", valueName: "s"))
    var std: String?

    @Option(help: ArgumentHelp("Resize the shorter side to N pixels (Pillow's antialiased bilinear) before a centre crop.", valueName: "N"))
    var resize: Int?

    @Option(help: ArgumentHelp("Centre crop N or HxW; it must equal the model's input size (the default).", valueName: "size"))
    var crop: String?

    @Option(help: "Normalization formula replacing the recipe's (kept for older command lines): \(Normalization.allCases.map(\.rawValue).joined(separator: ", ")).")
    var normalization: String?

    func validate() throws {
        guard PreprocessingRecipe.Name(rawValue: recipe) != nil else {
            throw ValidationError("--recipe must be one of \(PreprocessingRecipe.Name.allCases.map(\.rawValue).joined(separator: ", ")), not '\(recipe)'")
        }
        if let normalization, Normalization(rawValue: normalization) == nil {
            throw ValidationError("--normalization must be one of \(Normalization.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if normalization != nil, mean != nil || std != nil {
            throw ValidationError("--normalization and --mean/--std both set the normalization; give one")
        }
        if let resize, resize < 1 { throw ValidationError("--resize must be at least 1") }
        _ = try channels(mean, "--mean")
        if let s = try channels(std, "--std"), s.contains(where: { $0 == 0 }) { throw ValidationError("--std must not be 0") }
        _ = try cropSize()
    }

    /// One value or three, comma-separated.
    private func channels(_ text: String?, _ option: String) throws -> [Float]? {
        guard let text else { return nil }
        let fields = text.split(separator: ",", omittingEmptySubsequences: false)
        let finite = fields.compactMap { Float($0.trimmingCharacters(in: .whitespaces)) }.filter(\.isFinite)
        guard finite.count == fields.count, finite.count == 1 || finite.count == 3 else {
            throw ValidationError("\(option) takes one number or three (R,G,B) separated by commas, not '\(text)'")
        }
        return finite.count == 1 ? Array(repeating: finite[0], count: 3) : finite
    }

    private func cropSize() throws -> (height: Int, width: Int)? {
        guard let crop else { return nil }
        let parts = crop.lowercased().split(separator: "x", omittingEmptySubsequences: false)
        let sizes = parts.compactMap { Int($0) }.filter { $0 > 0 }
        guard sizes.count == parts.count, sizes.count == 1 || sizes.count == 2 else {
            throw ValidationError("--crop takes N or HxW (positive integers), not '\(crop)'")
        }
        return (sizes[0], sizes.count == 2 ? sizes[1] : sizes[0])
    }

    /// The recipe for a network input of `[N, 3, height, width]`, with the overriding options applied.
    func resolved(height: Int, width: Int) throws -> PreprocessingRecipe {
        let name = PreprocessingRecipe.Name(rawValue: recipe) ?? .sample
        var result = PreprocessingRecipe.named(name, height: height, width: width)
        var overrides: [String] = []
        if let size = try cropSize() {
            guard size == (height, width) else {
                throw OctetError.invalidInput(reason: "--crop \(crop ?? "") gives \(size.width)x\(size.height) inputs, but the model's input is \(width)x\(height)")
            }
            overrides.append("--crop")
            if case .resizeThenCenterCrop = result.geometry {} else { result.geometry = .resizeThenCenterCrop(shorterSide: nil) }
        }
        if let resize {
            overrides.append("--resize")
            result.geometry = .resizeThenCenterCrop(shorterSide: resize)
        }
        if let normalization, let formula = Normalization(rawValue: normalization) {
            overrides.append("--normalization")
            result.normalization = .formula(formula)
        }
        if mean != nil || std != nil {
            overrides.append(mean != nil && std != nil ? "--mean --std" : mean != nil ? "--mean" : "--std")
            result.normalization = .meanStd(mean: try channels(mean, "--mean") ?? [0, 0, 0], std: try channels(std, "--std") ?? [1, 1, 1])
        }
        if !overrides.isEmpty { result.name += " with " + overrides.joined(separator: " ") }
        return result
    }

    /// The recipe for `network`'s first input, which must be `[N, 3, H, W]`; `alternative` is added to the error.
    func resolved(for network: Network, alternative: String? = nil) throws -> PreprocessingRecipe {
        let input = network[network.inputs[0]]
        guard input.shape.count == 4, input.shape[1] == 3, input.shape[2] > 0, input.shape[3] > 0 else {
            throw OctetError.invalidInput(
                reason: "the model input '\(input.name)' has shape \(input.shape), not [N, 3, H, W], so an image cannot feed it\(alternative.map { "; \($0)" } ?? "")")
        }
        return try resolved(height: input.shape[2], width: input.shape[3])
    }

    /// Image files in `folder` that Octet decodes, by extension, sorted by name.
    static func imageFiles(in folder: String) throws -> [String] {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: folder) } catch {
            throw OctetError.io(path: folder, reason: "cannot list the image folder")
        }
        return names.filter { imageExtensions.contains(($0 as NSString).pathExtension.lowercased()) }.sorted()
    }

    static let imageExtensions: Set<String> = ["jpg", "jpeg", "png", "ppm", "pnm"]
}
