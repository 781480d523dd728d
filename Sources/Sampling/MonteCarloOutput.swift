// The output of `tbg smc` and `tbg mcmc`: a samples file like `tbg sample`'s (SampleFile.swift: MDTraj layout,
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
    /// The frame of the input samples file each frame descends from (SMC: pool ancestor; MCMC: anchor;
    /// free-energy: the chain's start, −1 when it started from a restricted draw).
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

    /// One per-frame dataset of a sampler in /samples: real values (float64), an index (int64) or a
    /// flag (uint8 0/1, as /samples/topology_ok).
    public enum FrameValues {
        case real([Double]), index([Int]), flag([Bool])
        var count: Int {
            switch self {
            case .real(let values): return values.count
            case .index(let values): return values.count
            case .flag(let values): return values.count
            }
        }
    }
    public typealias FrameColumn = (name: String, values: FrameValues, units: String?)

    /// Writes `frames` to `path` atomically (the input is never the output: the CLI checks), with a
    /// sampler's own per-frame datasets (`frameColumns`, in /samples) and string attributes of /samples.
    /// `extra` writes more groups under the root of the same file before it is renamed into place.
    public static func write(_ frames: MonteCarloFrames, input: ProposalFile, sampler: String, settingsJSON: String, seed: UInt64, ranks: Int,
                             evaluations: Int, diagnostics: [Column], frameColumns: [FrameColumn] = [], attributes: [String: String] = [:],
                             extra: ((HDF5Group) throws -> Void)? = nil, to path: String) throws {
        let atoms = input.trajectory.atomCount, width = 3 * atoms, n = frames.energies.count
        let checks = (0..<n).map { input.checks(frames.positions[($0 * width)..<(($0 + 1) * width)]) }
        let kT = input.kT
        try SampleFile.writeTrajectory(
            source: input.trajectory, positions: frames.positions.map(Float.init), frameCount: n, time: frames.index.map(Float.init),
            metadata: ["sampler": sampler, "source_samples_file": input.path],
            title: "tbg \(sampler) samples of \(input.trajectory.metadata.name ?? input.path)", to: path
        ) { group in
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
            // How many of the source file's samples (the first ones) the proposal pool came from.
            try group.writeAttribute("source_samples_used", [Int64(input.samplesUsed)])
            for column in frameColumns {
                precondition(column.values.count == n, "one value per frame in /samples/\(column.name)")
                let dataset: HDF5Dataset
                switch column.values {
                case .real(let values): dataset = try group.writeDataset(column.name, values, shape: [n])
                case .index(let values): dataset = try group.writeDataset(column.name, values.map(Int64.init), shape: [n])
                case .flag(let values): dataset = try group.writeDataset(column.name, values.map { UInt8($0 ? 1 : 0) }, shape: [n])
                }
                if let units = column.units { try dataset.writeAttribute("units", string: units) }
            }
            for (name, text) in attributes.sorted(by: { $0.key < $1.key }) { try group.writeAttribute(name, string: text) }
        } body: { root in
            let table = try root.createGroup("diagnostics")
            for column in diagnostics {
                let dataset = try table.writeDataset(column.name, column.values, shape: [column.values.count])
                if let units = column.units { try dataset.writeAttribute("units", string: units) }
            }
            try extra?(root)
        }
    }
}
