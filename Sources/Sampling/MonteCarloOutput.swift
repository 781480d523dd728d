// The output of `tbg smc` and `tbg mcmc`: a samples file like `tbg sample`'s (MDTraj layout,
// coordinates in nm, topology, /openmm_system, /metadata), so `tbg evaluate` and MDTraj read it as
// any samples file, with
//   /samples/{index, source_frame, energy_kj_mol, energy_kT, log_weight, integration_ok,
//             topology_ok, chirality_ok, chirality_fixed}   one value per frame;
//   /samples@{kT_kJ_per_mol, effective_sample_size, energy_evaluations, sampler, settings, seed,
//             ranks, source_samples};
//   /diagnostics/*   one value per SMC stage or MCMC sweep (see the writers), with a `units`
//                    attribute where one applies.
// log_weight: SMC's final log weights (all 0 after a final resampling, the usual case); MCMC's are
// 0 (chain states are equally weighted draws). topology_ok/chirality_ok are recomputed on every
// output configuration (bond graph atom for atom, chirality of the pool); moves keep the reference
// atom order, so chirality_fixed is 0.
import Evaluation
import Foundation
import HDF5
import MDData

public struct MonteCarloFrames {
    /// frames × 3·atoms, nm.
    public var positions: [Double]
    /// kJ/mol.
    public var energies: [Double]
    public var logWeights: [Double]
    /// The frame of the input samples file each frame descends from (SMC: pool ancestor; MCMC: anchor).
    public var sourceFrames: [Int]
    /// Per-frame index (SMC: particle; MCMC: chain·length + sweep).
    public var index: [Int]
    public var chain: [Int]?

    public init(positions: [Double], energies: [Double], logWeights: [Double], sourceFrames: [Int], index: [Int], chain: [Int]? = nil) {
        (self.positions, self.energies, self.logWeights, self.sourceFrames, self.index, self.chain) = (positions, energies, logWeights, sourceFrames, index, chain)
    }
}

public enum MonteCarloOutput {
    /// One diagnostics column: name, values (one per stage or sweep), units.
    public typealias Column = (name: String, values: [Double], units: String?)

    /// Writes `frames` to `path` atomically (the input is never the output: the CLI checks).
    public static func write(_ frames: MonteCarloFrames, input: ProposalFile, sampler: String, settingsJSON: String, seed: UInt64, ranks: Int,
                             evaluations: Int, diagnostics: [Column], to path: String) throws {
        let atoms = input.trajectory.atomCount, width = 3 * atoms, n = frames.energies.count
        let checks = (0..<n).map { input.checks(frames.positions[($0 * width)..<(($0 + 1) * width)]) }
        var metadata: [String: Any] = (try? JSONSerialization.jsonObject(with: Data(input.trajectory.metadataJSON.utf8))) as? [String: Any] ?? [:]
        metadata["kind"] = "samples"
        metadata["sampler"] = sampler
        metadata["n_frames"] = n
        metadata["source_samples_file"] = input.path
        let metadataJSON = String(decoding: try JSONSerialization.data(withJSONObject: metadata, options: [.sortedKeys]), as: UTF8.self)
        let contents = TrajectoryContents(
            coordinates: frames.positions.map(Float.init), frameCount: n, atomCount: atoms, time: frames.index.map(Float.init),
            topologyJSON: input.trajectory.topologyJSON, metadataJSON: metadataJSON, systemXML: input.trajectory.systemXML,
            title: "tbg \(sampler) samples of \(input.trajectory.metadata.name ?? input.path)")
        let kT = input.kT
        try TrajectoryWriter.write(contents, to: path) { root in
            let group = try root.createGroup("samples")
            try group.writeDataset("index", frames.index.map(Int64.init), shape: [n])
            try group.writeDataset("source_frame", frames.sourceFrames.map(Int64.init), shape: [n])
            if let chain = frames.chain { try group.writeDataset("chain", chain.map(Int64.init), shape: [n]) }
            try group.writeDataset("energy_kj_mol", frames.energies, shape: [n])
            try group.writeDataset("energy_kT", frames.energies.map { $0 / kT }, shape: [n])
            try group.writeDataset("log_weight", frames.logWeights, shape: [n])
            try group.writeDataset("integration_ok", [UInt8](repeating: 1, count: n), shape: [n])
            try group.writeDataset("topology_ok", checks.map { UInt8($0.topologyOK ? 1 : 0) }, shape: [n])
            try group.writeDataset("chirality_ok", checks.map { UInt8($0.chiralityOK ? 1 : 0) }, shape: [n])
            try group.writeDataset("chirality_fixed", [UInt8](repeating: 0, count: n), shape: [n])
            try group.writeAttribute("kT_kJ_per_mol", [kT])
            try group.writeAttribute("effective_sample_size", [ImportanceWeights.effectiveSampleSize(logWeights: frames.logWeights)])
            try group.writeAttribute("energy_evaluations", [Int64(evaluations)])
            try group.writeAttribute("sampler", string: sampler)
            try group.writeAttribute("settings", string: settingsJSON)
            try group.writeAttribute("seed", [Int64(bitPattern: seed)])
            try group.writeAttribute("ranks", [Int64(ranks)])
            try group.writeAttribute("source_samples", string: input.path)
            let table = try root.createGroup("diagnostics")
            for column in diagnostics {
                let dataset = try table.writeDataset(column.name, column.values, shape: [column.values.count])
                if let units = column.units { try dataset.writeAttribute("units", string: units) }
            }
        }
    }
}
