// The coupling of a training step (training.coupling): which prior sample x₀ each data sample x₁ of
// the global batch is paired with.
//
// The OT plan is over the **global** batch, per peptide (only samples of one molecule can be
// paired): every rank gathers the step's data coordinates, draws every sample's x₀ from its own
// seed, and solves the same deterministic problem, so 1 and 2 ranks take the same step. Each rank
// then keeps the pairs of its own slice. With few frames of a peptide per step (2AA: 2–3) the
// assignment is nearly trivial and the coupling reduces to aligning each x₀ onto its x₁ (the
// per-sample Kabsch fallback), which `equivariant_ot` does for every pair.
import FlowModel
import Communication
import Foundation
import Transport

enum StepCoupling {
    /// The paired x₀ (model units) of each local sample, in the order of `local`.
    /// - Parameters:
    ///   - global: every sample of the step in global order; `globalCoordinates` their nm coordinates.
    ///   - key: the random-stream key of a global sample (the same as the loss uses).
    ///   - comm: the ranks share the rows of each cost matrix (one all-gather per step); every entry
    ///     is computed the same way on any rank, so the assembled matrix does not depend on the layout.
    static func pairedPriors(local: [TrainingSample], global: [TrainingSample], globalCoordinates: [Float],
                             data: TrainingData, config: RunConfig, comm: any Communicator,
                             key: (TrainingSample) -> [UInt64]) -> [[Double]?] {
        var offsets = [0]
        for sample in global { offsets.append(offsets.last! + data.peptides[sample.peptide].atomCount * 3) }
        let byPeptide = Dictionary(grouping: global.indices, by: { global[$0].peptide }).sorted { $0.key < $1.key }
        // Per peptide: prior draws and model-unit data of all its samples of the step.
        var problems: [(peptide: Int, members: [Int], prior: [Double], data: [Double], cost: CouplingCost)] = []
        for (peptideIndex, members) in byPeptide {
            let peptide = data.peptides[peptideIndex]
            let atoms = peptide.atomCount
            var prior = [Double](), x1 = [Double]()
            for index in members {
                let sample = global[index]
                prior += FlowMatchingInputs.Draw(atoms: atoms, key: key(sample), config: config).x0
                x1 += FlowMatchingInputs.modelCoordinates(globalCoordinates[offsets[index]..<offsets[index + 1]], atoms: atoms,
                                                          key: key(sample), config: config)
            }
            let cost: CouplingCost = config.training.coupling == .equivariantOT ? .aligned(peptide.interchangeableAtoms) : .euclidean
            problems.append((peptideIndex, members, prior, x1, cost))
        }
        // This rank's rows of every cost matrix, gathered from all ranks.
        func rows(_ n: Int, rank: Int) -> Range<Int> { (n * rank / comm.size)..<(n * (rank + 1) / comm.size) }
        var mine: [Double] = []
        for problem in problems {
            mine += MinibatchCoupling.costs(prior: problem.prior, data: problem.data, count: problem.members.count,
                                            atoms: data.peptides[problem.peptide].atomCount, cost: problem.cost,
                                            rows: rows(problem.members.count, rank: comm.rank))
        }
        let gathered = comm.size > 1 ? comm.allgather(mine) : [mine]
        var cursors = [Int](repeating: 0, count: comm.size)
        let wanted = Set(local.map(\.peptide))
        var paired: [Int: [Double]] = [:]
        for problem in problems {
            let n = problem.members.count, atoms = data.peptides[problem.peptide].atomCount, stride = atoms * 3
            var matrix: [Double] = []
            for rank in 0..<comm.size {
                let count = rows(n, rank: rank).count * n
                matrix += gathered[rank][cursors[rank]..<(cursors[rank] + count)]
                cursors[rank] += count
            }
            guard wanted.contains(problem.peptide) else { continue }
            let pairing = MinibatchCoupling.pair(prior: problem.prior, data: problem.data, count: n, atoms: atoms,
                                                 cost: problem.cost, matrix: matrix)
            for (position, index) in problem.members.enumerated() {
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
