import CFuzzerDriver
import Foundation
import Octet

/// Image file bytes → `ImageFile.decode` (JPEG through libjpeg-turbo, PNG through libpng, PPM), the format chosen
/// by the first bytes as for a user's file; errors must be one line, anything else that ends the process (an
/// `exit` from a C library's default error handler, a trap) is a finding.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    do {
        let image = try ImageFile.decode(Data(bytes: data, count: size), path: "fuzz.img")
        if image.pixels.count != image.width * image.height * 3 { preconditionFailure("pixel count does not match the size") }
    } catch {
        if "\(error)".contains("\n") { preconditionFailure("error is not one line: \(error)") }
    }
    return 0
}

/// The process entry: SwiftPM links executables with `main` aliased to `<Module>_main`.
@_cdecl("FuzzImage_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    octet_fuzz_main(argc, argv) { data, size in data.map { fuzz($0, size) } ?? 0 }
}
