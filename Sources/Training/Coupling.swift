// The coupling of a training step (training.coupling): which prior sample x₀ each data sample x₁ of
// the global batch is paired with.
//
// The OT plan is over the **global** batch, per peptide (only samples of one molecule can be
// paired): every rank gathers the step's data coordinates, draws every sample's x₀ from its own
// seed, and solves the same deterministic problem, so 1 and 2 ranks take the same step. Each rank
// then keeps the pairs of its own slice. With few frames of a peptide per step (2AA: 2–3) the
// assignment is nearly trivial and the coupling reduces to aligning each x₀ onto its x₁ (the
// per-sample Kabsch fallback), which `equivariant_ot` does for every pair.
import Foundation
import Transport

enum StepCoupling {
    /// The paired x₀ (model units) of each local sample, in the order of `local`.
    /// - Parameters:
    ///   - global: every sample of the step in global order; `globalCoordinates` their nm coordinates.
    ///   - key: the random-stream key of a global sample (the same as the loss uses).
    static func pairedPriors(local: [TrainingSample], global: [TrainingSample], globalCoordinates: [Float],
                             data: TrainingData, config: RunConfig, key: (TrainingSample) -> [UInt64]) -> [[Double]?] {
        var offsets = [0]
        for sample in global { offsets.append(offsets.last! + data.peptides[sample.peptide].atomCount * 3) }
        var paired: [Int: [Double]] = [:]
        let byPeptide = Dictionary(grouping: global.indices, by: { global[$0].peptide })
        let wanted = Set(local.map(\.peptide))
        for (peptideIndex, members) in byPeptide where wanted.contains(peptideIndex) {
            let peptide = data.peptides[peptideIndex]
            let atoms = peptide.atomCount, stride = atoms * 3
            var prior = [Double](), x1 = [Double]()
            prior.reserveCapacity(members.count * stride)
            x1.reserveCapacity(members.count * stride)
            for index in members {
                let sample = global[index]
                prior += FlowMatchingInputs.Draw(atoms: atoms, key: key(sample), config: config).x0
                x1 += FlowMatchingInputs.modelCoordinates(globalCoordinates[offsets[index]..<offsets[index + 1]], atoms: atoms,
                                                          key: key(sample), config: config)
            }
            let cost: CouplingCost = config.training.coupling == .equivariantOT ? .aligned(peptide.interchangeableAtoms) : .euclidean
            let pairing = MinibatchCoupling.pair(prior: prior, data: x1, count: members.count, atoms: atoms, cost: cost)
            for (position, index) in members.enumerated() {
                paired[global[index].globalIndex] = Array(pairing.pairedPrior[(position * stride)..<((position + 1) * stride)])
            }
        }
        return local.map { paired[$0.globalIndex] }
    }
}

extension TrainingPeptide {
    /// Atoms the model cannot tell apart (identical encoding rows): the permutations the
    /// equivariant coupling may use.
    var interchangeableAtoms: InterchangeableAtoms {
        InterchangeableAtoms.identicalRows(features, atoms: atomCount, width: features.count / max(atomCount, 1))
    }
}
