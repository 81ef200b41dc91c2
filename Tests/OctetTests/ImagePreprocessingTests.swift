import Foundation
import Testing
import Octet

/// The recipes' geometry: Pillow's resampler reproduced byte for byte (Pillow's own output is the fixture),
/// torchvision's sizes and crop offsets, and the `sample` recipe unchanged from before recipes existed.
@Suite struct ImagePreprocessingTests {
    static let directory = ImageDecodingTests.directory

    static var source: DecodedImage {
        get throws {
            DecodedImage(width: 67, height: 45, pixels: [UInt8](try ImageDecodingTests.fixture("source_67x45.rgb")), format: .ppm)
        }
    }

    /// Down, up, and one axis at a time (where Pillow skips the other pass).
    @Test(arguments: [(29, 19), (101, 70), (67, 20), (40, 45)])
    func bilinearResizeEqualsPillow(_ width: Int, _ height: Int) throws {
        let ours = PillowResample.resize(try Self.source, width: width, height: height)
        let pillow = [UInt8](try ImageDecodingTests.fixture("resize_\(width)x\(height).rgb"))
        #expect(ours.width == width && ours.height == height)
        let differing = zip(ours.pixels, pillow).enumerated().filter { $0.element.0 != $0.element.1 }
        #expect(ours.pixels.count == pillow.count)
        #expect(differing.isEmpty, "\(width)x\(height): \(differing.count) bytes differ from Pillow, first at byte \(differing.first?.offset ?? -1)")
    }

    /// Computing only a window (the centre crop) gives the bytes of cropping the whole resize.
    @Test(arguments: [(29, 19, 3, 2, 20, 15), (101, 70, 17, 0, 60, 70), (101, 70, 0, 11, 101, 40), (67, 20, 5, 5, 50, 10)])
    func windowEqualsCropOfWholeResize(_ width: Int, _ height: Int, _ x0: Int, _ y0: Int, _ w: Int, _ h: Int) throws {
        let whole = PillowResample.resize(try Self.source, width: width, height: height)
        let window = PillowResample.resize(try Self.source, width: width, height: height, window: (x0, y0, w, h))
        var expected: [UInt8] = []
        for y in y0..<y0 + h { expected += whole.pixels[((y * width + x0) * 3)..<((y * width + x0 + w) * 3)] }
        #expect(window.width == w && window.height == h)
        #expect(window.pixels == expected)
    }

    /// torchvision's 224 → 256, Inception's 299 → 342, and the 128 crops' 146 all come from one rule.
    @Test func resizeFollowsTheInputSize() {
        #expect(PreprocessingRecipe.shorterSide(forCropHeight: 224, width: 224) == 256)
        #expect(PreprocessingRecipe.shorterSide(forCropHeight: 299, width: 299) == 342)
        #expect(PreprocessingRecipe.shorterSide(forCropHeight: 128, width: 128) == 146)
        #expect(PreprocessingRecipe.shorterSide(forCropHeight: 192, width: 256) == 219)
    }

    /// Shorter side 45 → 40 gives 59x40 (int(40·67/45) = 59); the 20x20 crop starts at round(39/2) = 20 (half to
    /// even) and round(20/2) = 10, and /255, mean and std are applied as torchvision does.
    @Test func resizeThenCentreCropUsesTorchvisionOffsets() throws {
        var recipe = PreprocessingRecipe.named(.torchvision, height: 20, width: 20)
        recipe.geometry = .resizeThenCenterCrop(shorterSide: 40)
        let x = try recipe.inputTensor(try Self.source, path: "source")
        let resized = PillowResample.resize(try Self.source, width: 59, height: 40)
        #expect(x.shape == [1, 3, 20, 20])
        for (c, (y, xx)) in [(0, (0, 0)), (1, (7, 13)), (2, (19, 19))] {
            let byte = resized.pixels[((10 + y) * 59 + 20 + xx) * 3 + c]
            let want = (Float(byte) / 255 - PreprocessingRecipe.imageNetMean[c]) / PreprocessingRecipe.imageNetStandardDeviation[c]
            #expect(x.values[c * 400 + y * 20 + xx] == want)
        }
    }

    /// The default recipe is the preprocessing `octet run` had before recipes: same tensor, bit for bit.
    @Test func sampleRecipeIsTheOldPreprocessing() throws {
        let image = try Self.source
        let recipe = PreprocessingRecipe.named(.sample, height: 32, width: 24)
        let old = image.floatImage.inputTensor(height: 32, width: 24, normalization: .sample)
        #expect(try recipe.inputTensor(image, path: "source") == old)
    }

    /// tf: central_crop(0.875) of 67x45 keeps 59x41 from (4, 2), then the stretch and x·2/255 − 1.
    @Test func tfRecipeCropsTheCentralFraction() throws {
        let image = try Self.source
        let recipe = PreprocessingRecipe.named(.tf, height: 16, width: 16)
        var cropped: [Float] = []
        for y in 2..<43 { for x in 4..<63 { for c in 0..<3 { cropped.append(Float(image.pixels[(y * 67 + x) * 3 + c])) } } }
        let expected = RGBImage(width: 59, height: 41, pixels: cropped).inputTensor(height: 16, width: 16, normalization: .sample)
        #expect(try recipe.inputTensor(image, path: "source") == expected)
    }

    @Test func imagesTooSmallOrOfTheWrongSizeAreErrors() throws {
        let image = try Self.source
        #expect(throws: OctetError.self) { try PreprocessingRecipe.named(.none, height: 224, width: 224).inputTensor(image, path: "small.png") }
        var recipe = PreprocessingRecipe.named(.torchvision, height: 50, width: 50)
        recipe.geometry = .resizeThenCenterCrop(shorterSide: nil)
        do {
            _ = try recipe.inputTensor(image, path: "small.png")
            Issue.record("a 67x45 image was cropped to 50x50")
        } catch let error as OctetError {
            #expect(error.description.contains("small.png") && error.description.contains("50x50"))
        }
    }
}
