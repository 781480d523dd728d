// libFuzzer target: `/openmm_system` text through both readers: the summary every file open builds
// (particles, masses, forces) and the force field's typed parse with its force recogniser (the
// CustomGBForce expressions), then one energy evaluation at a fixed geometry when it parses.
import ForceField
import MDData

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSystemXML(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    _ = try? OpenMMSystemSummary.parse(xml: text, file: "fuzz")
    guard let system = try? ForceFieldSystem(xml: text), system.particleCount <= 4096 else { return 0 }
    var positions = [Double](repeating: 0, count: 3 * system.particleCount)
    for index in positions.indices {
        let wobble: Double = Double(index % 7) * 0.13
        positions[index] = wobble + Double(index / 3) * 0.05
    }
    let evaluator = EnergyEvaluator(system: system)
    positions.withUnsafeBufferPointer { buffer in
        _ = evaluator.evaluate(buffer, frameCount: 1, forces: true)
    }
    return 0
}
