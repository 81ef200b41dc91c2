import ArgumentParser
import Foundation
import Octet

/// `octet selftest`: the kernel-versus-reference checks, runnable wherever the binary runs (a release binary
/// built with --static-swift-stdlib runs on a GPU machine without a Swift toolchain).
struct SelftestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "selftest", abstract: "Check every kernel against the reference arithmetic on random inputs of awkward sizes.")

    @Option(help: "Device: cpu, cuda or auto (cuda when present, else cpu).")
    var device = "cpu"

    func validate() throws {
        if !["cpu", "cuda", "auto"].contains(device) { throw ValidationError("--device must be cpu, cuda or auto") }
    }

    func run() throws {
        let log: (String) -> Void = { print("[I] \($0)") }
        var failures = try CPUSelfTest.run(log: log)
        if device != "cpu" {
            do {
                failures += try CUDASelfTest.run(log: log)
            } catch let error as OctetError where device == "auto" {
                log("CUDA checks skipped: \(error)")
            }
        }
        guard failures == 0 else {
            throw OctetError.invalidNetwork(reason: "selftest found \(failures) mismatch(es); see the lines above")
        }
        print("&&&& PASSED Octet.selftest")
    }
}
