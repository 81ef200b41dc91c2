import Foundation
import Testing
import _OctetTestSupport
import Octet

/// The image options of the command line, run as a user runs them: JPEG and PNG input, standard input,
/// recipes and their `[I]` line, `octet preprocess`, image folders, and broken images.
@Suite struct CommandLineImageTests {
    let fixtures = Bundle.module.resourceURL!.appendingPathComponent("Fixtures")
    var images: URL { fixtures.appendingPathComponent("images") }
    var caffe2Model: String { fixtures.appendingPathComponent("caffe2_style_resnet.onnx").path }

    private func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("octet-image-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Runs `octet` with `input` on its standard input.
    private func run(_ arguments: [String], standardInput input: Data) throws -> CommandResult {
        let process = Process()
        process.executableURL = OctetBinary.url
        process.arguments = arguments
        let stdin = Pipe(), out = Pipe(), err = Pipe()
        process.standardInput = stdin
        process.standardOutput = out
        process.standardError = err
        try process.run()
        stdin.fileHandleForWriting.write(input)
        try stdin.fileHandleForWriting.close()
        let outData = out.fileHandleForReading.readDataToEndOfFile(), errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return CommandResult(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errData, as: UTF8.self))
    }

    /// A JPEG and a PNG classify, each run saying which recipe it used; the same JPEG on standard input gives the
    /// same output tensor as from its file.
    @Test func runReadsJPEGAndPNGAndStandardInput() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let jpeg = images.appendingPathComponent("jpeg_420.jpg").path
        let fromFile = directory.appendingPathComponent("file.npy").path, fromStdin = directory.appendingPathComponent("stdin.npy").path
        let common = ["run", "--precision", "fp32", "--model", caffe2Model, "--recipe", "torchvision"]
        let file = try OctetBinary.run(common + ["--image", jpeg, "--save-outputs", fromFile], in: directory)
        #expect(file.status == 0, "\(file.stderr)")
        #expect(file.stdout.contains("[I] Preprocessing a 67x45 JPEG image with recipe torchvision: shorter side to 37 (Pillow antialiased bilinear), centre crop 32x32, (x/255 - mean)/std, mean 0.485,0.456,0.406, std 0.229,0.224,0.225\n"))
        let stdin = try run(common + ["--image", "-", "--save-outputs", fromStdin], standardInput: try Data(contentsOf: URL(fileURLWithPath: jpeg)))
        #expect(stdin.status == 0, "\(stdin.stderr)")
        #expect(try NumPyFile.read(path: fromFile) == NumPyFile.read(path: fromStdin))
        let png = try OctetBinary.run(["run", "--precision", "fp32", "--model", caffe2Model, "--image", images.appendingPathComponent("png_palette.png").path], in: directory)
        #expect(png.status == 0, "\(png.stderr)")
        #expect(png.stdout.contains("[I] Preprocessing a 67x45 PNG image with recipe sample: bilinear stretch to 32x32, x*2/255-1 (TensorRT sample)\n"))
    }

    /// `octet preprocess` writes exactly the tensor the library computes, and --mean/--std/--resize override the recipe.
    @Test func preprocessWritesTheRecipesTensor() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let png = images.appendingPathComponent("png_rgb8.png").path
        let out = directory.appendingPathComponent("x.npy").path
        let result = try OctetBinary.run(["preprocess", "--image", png, "--size", "24x24", "--recipe", "torchvision", "--resize", "30", "--mean", "0.5", "--std", "0.25,0.5,1", "-o", out])
        #expect(result.status == 0, "\(result.stderr)")
        var recipe = PreprocessingRecipe.named(.torchvision, height: 24, width: 24)
        recipe.geometry = .resizeThenCenterCrop(shorterSide: 30)
        recipe.normalization = .meanStd(mean: [0.5, 0.5, 0.5], std: [0.25, 0.5, 1])
        #expect(try NumPyFile.read(path: out) == recipe.inputTensor(try ImageFile.read(path: png), path: png))
        #expect(result.stdout.contains("recipe torchvision with --resize --mean --std: shorter side to 30"))
    }

    /// `--normalization` (older command lines) still picks its formula, now on top of the recipe's geometry.
    @Test func normalizationOptionStillWorks() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let jpeg = images.appendingPathComponent("jpeg_422.jpg").path
        let out = directory.appendingPathComponent("x.npy").path
        let result = try OctetBinary.run(["preprocess", "--image", jpeg, "--size", "16x20", "--normalization", "imagenet", "-o", out])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("recipe sample with --normalization: bilinear stretch to 20x16, (x/255-mean)/std (ImageNet)"))
        let expected = try ImageFile.read(path: jpeg).floatImage.inputTensor(height: 16, width: 20, normalization: .imagenet)
        #expect(try NumPyFile.read(path: out) == expected)
    }

    /// Option mistakes are refused with a sentence saying which option and why.
    @Test(arguments: [
        (["--recipe", "pytorch"], "--recipe must be one of torchvision, inception, sample, tf, none"),
        (["--normalization", "imagenet", "--mean", "0.5"], "--normalization and --mean/--std both set the normalization"),
        (["--mean", "0.1,0.2"], "--mean takes one number or three"),
        (["--std", "0"], "--std must not be 0"),
        (["--crop", "10x"], "--crop takes N or HxW"),
        (["--crop", "30"], "--crop 30 gives 30x30 inputs, but the model's input is 32x32"),
    ])
    func badPreprocessingOptionsAreRefused(_ options: [String], _ message: String) throws {
        let result = try OctetBinary.run(["run", "--precision", "fp32", "--model", caffe2Model, "--image", images.appendingPathComponent("png_rgb8.png").path] + options)
        #expect(result.status != 0)
        #expect(result.stderr.contains(message), "stderr: \(result.stderr)")
    }

    /// `--help` prints every recipe's formula.
    @Test func helpPrintsTheFormulas() throws {
        let help = try OctetBinary.run(["run", "--help"])
        let flat = help.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        for name in PreprocessingRecipe.Name.allCases {
            #expect(flat.contains("\(name.rawValue): \(name.formula)"), "help shows the \(name.rawValue) formula")
        }
        for flag in ["--recipe", "--mean", "--std", "--resize", "--crop", "--normalization"] { #expect(help.stdout.contains(flag)) }
    }

    /// calibrate takes a folder of JPEG, PNG and PPM files (other files ignored).
    @Test func calibrateReadsAFolderOfMixedFormats() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        for name in ["jpeg_444.jpg", "png_gray8.png", "png_rgba.png"] {
            try FileManager.default.copyItem(at: images.appendingPathComponent(name), to: directory.appendingPathComponent(name))
        }
        try Data("not an image".utf8).write(to: directory.appendingPathComponent("notes.txt"))
        let ranges = directory.appendingPathComponent("ranges.txt").path
        let result = try OctetBinary.run(["calibrate", "--model", caffe2Model, "--images", directory.path, "--recipe", "torchvision", "--output", ranges])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("on 3 images"))
    }

    /// Broken images through the command line: exit status 1 and one sentence naming the file.
    @Test(arguments: ["truncated", "magic"])
    func brokenImageFailsCleanly(_ damage: String) throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let good = try Data(contentsOf: images.appendingPathComponent("jpeg_progressive.jpg"))
        let path = directory.appendingPathComponent("photo.jpg").path
        try (damage == "truncated" ? good.prefix(good.count / 2) : Data("BM not a format Octet reads".utf8)).write(to: URL(fileURLWithPath: path))
        let result = try OctetBinary.run(["run", "--precision", "fp32", "--model", caffe2Model, "--image", path])
        #expect(result.status == 1)
        #expect(result.stderr.split(separator: "\n").count == 1, "stderr: \(result.stderr)")
        #expect(result.stderr.contains(path) && result.stderr.contains(damage == "truncated" ? "Premature end of JPEG file" : "not a JPEG, PNG or PPM image"))
    }

    /// The brief's example: MobileNetV2 on a JPEG prints its top-5 (the TF recipe is that model's own
    /// preprocessing: ../shared/data/models/README.md).
    @Test(.enabled(if: TestPaths.hasSharedData, Comment(rawValue: TestPaths.sharedDataMissing)))
    func mobileNetClassifiesAJPEG() throws {
        let model = TestPaths.sharedData.appendingPathComponent("models/mobilenet_v2_1.0_224.onnx").path
        let labels = TestPaths.sharedData.appendingPathComponent("labels/imagenet1k_labels.txt").path
        let result = try OctetBinary.run(["run", "--model", model, "--image", images.appendingPathComponent("coffee_300x201.jpg").path, "--reference", labels, "--recipe", "tf"])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("[I] Preprocessing a 300x201 JPEG image with recipe tf: central crop 0.875") })
        #expect(lines.filter { $0.hasPrefix("[I] [") }.count == 5)
        #expect(lines.contains { $0.hasPrefix("[I] [1] espresso  (class 967") }, "\(result.stdout)")
    }
}
