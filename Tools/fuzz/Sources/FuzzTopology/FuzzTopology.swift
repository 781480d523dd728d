// libFuzzer target: `/topology` text (MDTraj topology JSON) through the decoder every command uses,
// then the System-against-topology check against a System of as many carbon particles. Any input
// must give a value or a thrown error, never a crash.
import MDData

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTopology(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let topology = try? MDTrajTopology.decode(json: text, file: "fuzz") else { return 0 }
    _ = topology.hillFormula
    let particles = String(repeating: "<Particle mass=\"12.011\"/>", count: min(topology.atomCount, 10_000))
    guard let system = try? OpenMMSystemSummary.parse(xml: "<System><Particles>\(particles)</Particles></System>", file: "fuzz"),
          let metadata = try? TrajectoryMetadata.decode(json: "{}", file: "fuzz") else { return 0 }
    _ = try? SystemTopologyAgreement.check(system: system, topology: topology, metadata: metadata, file: "fuzz")
    _ = try? SystemTopologyAgreement.expectedMasses(topology: topology, hydrogenMass: 3.0, file: "fuzz")
    return 0
}
