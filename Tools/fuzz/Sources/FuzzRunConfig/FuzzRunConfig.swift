// libFuzzer target: the run configuration. The first byte chooses what the rest is: a YAML/JSON
// configuration file (written to a scratch file, as `tbg train --config` reads it), or `--set`
// overrides one per line on top of the defaults. Either must resolve or throw, never crash; a
// resolved configuration must survive its own JSON round trip (it is stored in every checkpoint).
import Foundation
import FlowModel

private let scratch = NSTemporaryDirectory() + "/tbg-fuzz-config-\(getpid()).yaml"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRunConfig(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let body = Data(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let resolved: RunConfig?
    // As `tbg train` does: YAMLInputCheck first (Yams.load traps on non-scalar mapping keys).
    if data[0] % 2 == 0 {
        guard FileManager.default.createFile(atPath: scratch, contents: body),
              (try? YAMLInputCheck.check(String(decoding: body, as: UTF8.self), source: "fuzz")) != nil else { return 0 }
        resolved = try? RunConfig.resolve(file: scratch, overrides: [])
    } else {
        let lines = String(decoding: body, as: UTF8.self).split(separator: "\n").map(String.init)
        guard lines.allSatisfy({ line in
            guard let equals = line.firstIndex(of: "=") else { return true }
            return (try? YAMLInputCheck.check(String(line[line.index(after: equals)...]), source: "fuzz")) != nil
        }) else { return 0 }
        resolved = try? RunConfig.resolve(file: nil, overrides: lines)
    }
    if let resolved {
        guard let again = try? RunConfig.decode(json: resolved.json()) else {
            fatalError("a resolved configuration does not decode from its own JSON: \(resolved.json())")
        }
        _ = again
    }
    return 0
}
