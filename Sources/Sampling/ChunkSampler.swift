// One chunk of `tbg sample`'s work, without MPI or files: sample i's latent z ~ the mean-free prior
// seeded by (seed, i), integrated forward with the exact divergence (FlowSampler), then each sample
// post-processed (SamplePostprocessor). A sample whose integration fails is recorded as such
// (`SampleRecord.failedIntegration`). Samples with index < `roundTrip` are also integrated back from
// t = 1 to 0 (with a(1) = 0), which must recover their latent z and log q = log p(z) − Δ
// (method.md §7.4).
import Foundation
import Model

public struct ChunkSampler {
    public let sampler: FlowSampler
    public let settings: SamplerSettings
    /// The seed of the latents.
    public let seed: UInt64
    public let postprocessor: SamplePostprocessor

    public init(sampler: FlowSampler, settings: SamplerSettings, seed: UInt64, postprocessor: SamplePostprocessor) {
        self.sampler = sampler
        self.settings = settings
        self.seed = seed
        self.postprocessor = postprocessor
    }

    var atoms: Int { postprocessor.elements.count }

    /// Integrates, checks and weights the samples `indices` (one chunk).
    /// - Returns: their records, the batched network calls and the per-sample velocity evaluations.
    public func sample(indices: [Int], roundTrip: Int) throws -> (records: [SampleRecord], fieldEvaluations: Int, sampleEvaluations: Double) {
        let latents = indices.map { MeanFreePrior.sample(atoms: atoms, seed: seed, index: $0) }
        return try records(latents: latents, indices: indices, roundTrip: roundTrip)
    }

    /// Integrates, checks and weights the given latents (model units, mean-free, atoms × 3 each),
    /// recorded under `indices`; those with index < `roundTrip` are also integrated back.
    /// - Returns: as `sample(indices:roundTrip:)`.
    public func records(latents: [[Double]], indices: [Int], roundTrip: Int = 0) throws -> (records: [SampleRecord], fieldEvaluations: Int, sampleEvaluations: Double) {
        precondition(latents.count == indices.count && latents.allSatisfy { $0.count == 3 * atoms }, "one latent of \(3 * atoms) values per index")
        var states: [Double] = [], logPriors: [Double] = []
        for z in latents {
            logPriors.append(MeanFreePrior.logDensity(z[...], atoms: atoms))
            states += z + [0]
        }
        let initial = states
        let statistics = try sampler.integrate(states: &states, from: 0, to: 1, settings: settings)
        let checked = try roundTripErrors(rows: indices.indices.filter { indices[$0] < roundTrip && statistics.succeeded($0) },
                                          latents: initial, samples: states)
        var records: [SampleRecord] = []
        for (row, index) in indices.enumerated() {
            let base = row * (3 * atoms + 1)
            let evaluations = statistics.sampleEvaluations.isEmpty ? Double.nan : Double(statistics.sampleEvaluations[row])
            guard statistics.succeeded(row) else {
                var failed = SampleRecord.failedIntegration(index: index, atoms: atoms, logPrior: logPriors[row])
                failed.odeEvaluations = evaluations
                records.append(failed)
                continue
            }
            var record = postprocessor.record(index: index, modelUnits: Array(states[base..<(base + 3 * atoms)]), logPrior: logPriors[row],
                                              deltaLogDet: states[base + 3 * atoms])
            if let errors = checked[row] { (record.roundTripLogQError, record.roundTripLatentError) = errors }
            record.odeEvaluations = evaluations
            records.append(record)
        }
        return (records, statistics.fieldEvaluations, Double(statistics.sampleEvaluations.reduce(0, +)))
    }

    /// The samples of the given latents without log q (FlowSampler.integratePositions: no
    /// divergence, a fraction of the cost), post-processed as `records` does: bond graph, chirality
    /// fix, energy. Their `logQ`, `deltaLogDet` and `logWeight` are NaN; a failed integration's
    /// record is `SampleRecord.failedIntegration`.
    /// - Returns: the records and the batched network calls.
    public func positionRecords(latents: [[Double]], indices: [Int]) throws -> (records: [SampleRecord], fieldEvaluations: Int) {
        precondition(latents.count == indices.count && latents.allSatisfy { $0.count == 3 * atoms }, "one latent of \(3 * atoms) values per index")
        var states = latents.flatMap { $0 }
        let statistics = try sampler.integratePositions(states: &states, from: 0, to: 1, settings: settings)
        let records = indices.enumerated().map { row, index -> SampleRecord in
            let logPrior = MeanFreePrior.logDensity(latents[row][...], atoms: atoms)
            guard statistics.succeeded(row) else { return SampleRecord.failedIntegration(index: index, atoms: atoms, logPrior: logPrior) }
            let base = row * 3 * atoms
            return postprocessor.record(index: index, modelUnits: Array(states[base..<(base + 3 * atoms)]), logPrior: logPrior, deltaLogDet: .nan)
        }
        return (records, statistics.fieldEvaluations)
    }

    /// Integrates rows `rows` of `samples` (x₁, Δ) back to t = 0 and compares with their `latents`.
    func roundTripErrors(rows: [Int], latents: [Double], samples: [Double]) throws -> [Int: (Double, Double)] {
        guard !rows.isEmpty else { return [:] }
        let width = 3 * atoms + 1
        var states: [Double] = []
        for row in rows { states += samples[(row * width)..<(row * width + 3 * atoms)] + [0] }
        let statistics = try sampler.integrate(states: &states, from: 1, to: 0, settings: settings)
        var errors: [Int: (Double, Double)] = [:]
        for (k, row) in rows.enumerated() {
            guard statistics.succeeded(k) else {
                errors[row] = (.infinity, .infinity)
                continue
            }
            let z = latents[(row * width)..<(row * width + 3 * atoms)]
            let back = states[(k * width)..<(k * width + 3 * atoms)]
            let forward: Double = MeanFreePrior.logDensity(z, atoms: atoms) - samples[row * width + 3 * atoms]
            let reverse: Double = MeanFreePrior.logDensity(back, atoms: atoms) + states[k * width + 3 * atoms]
            var latentError = 0.0
            for (a, b) in zip(z, back) { latentError = max(latentError, abs(a - b)) }
            errors[row] = (abs(forward - reverse), latentError)
        }
        return errors
    }
}
