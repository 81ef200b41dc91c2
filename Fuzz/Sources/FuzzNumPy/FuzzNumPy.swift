import CFuzzerDriver
import Foundation
import Octet

/// `.npy` bytes → `NumPyFile.decode`; the tensor's shape must match its values.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    do {
        let tensor = try NumPyFile.decode(Data(bytes: data, count: size), path: "fuzz.npy")
        if tensor.shape.reduce(1, *) != tensor.values.count { preconditionFailure("shape does not match the values") }
    } catch {
        if "\(error)".contains("\n") { preconditionFailure("error is not one line: \(error)") }
    }
    return 0
}

/// The process entry: SwiftPM links executables with `main` aliased to `<Module>_main`.
@_cdecl("FuzzNumPy_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    octet_fuzz_main(argc, argv) { data, size in data.map { fuzz($0, size) } ?? 0 }
}
