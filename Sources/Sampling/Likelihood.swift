// Negative log-likelihood of given configurations under the flow (method.md §7.4, §8.5): integrate
// backwards from t = 1 at x (centred, model units) with a(1) = 0 to t = 0, giving z and
// a(0) = −Δ; then NLL(x) = −log q(x) = ½‖z‖² + (3(N−1)/2) log 2π − Δ, in model units.
// Also the per-dimension value, NLL / (3(N−1)).
import Communication
import Foundation
import MDData

public struct LikelihoodResult: Sendable {
    public var frames: [Int]
    public var negativeLogLikelihood: [Double]
    public var latents: [[Double]]
    public var degreesOfFreedom: Int
    /// nm → model units factor of the model (AD2 10, 2AA 30).
    public var scaling: Double = 1

    /// The normalised mean NLL minus the Gaussian constant (D/2)·ln 2π: the convention of bgflow's
    /// unnormalised NLL, in which TBG reports AD2's −127.06 (method.md §8.5).
    public var meanBgflow: Double { mean - 0.5 * Double(degreesOfFreedom) * log(2 * Double.pi) }
    /// The normalised mean NLL of the coordinates in nm: −log q_nm = −log q_model − D·ln s.
    public var meanNanometres: Double { mean - Double(degreesOfFreedom) * log(scaling) }

    public var mean: Double { negativeLogLikelihood.reduce(0, +) / Double(max(1, negativeLogLikelihood.count)) }
    public var standardError: Double {
        let n = Double(negativeLogLikelihood.count)
        guard n > 1 else { return .nan }
        let variance = negativeLogLikelihood.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / (n - 1)
        return (variance / n).squareRoot()
    }
}

extension SampleRunner {
    /// −log q of frames `frames` of `data` (a trajectory of the same peptide), split over ranks.
    /// - Throws: `DataFormatError` naming the file when `frames` is empty (no NLL of nothing), for a
    ///   frame outside the file or with a non-finite coordinate (frame and atom named).
    public func negativeLogLikelihood(data: TrajectoryFile, frames: [Int]) throws -> LikelihoodResult? {
        let atoms = peptide.atomCount
        guard !frames.isEmpty else {
            throw DataFormatError(file: data.path, "no frames selected; the NLL needs at least one frame")
        }
        guard data.atomCount == atoms else {
            throw DataFormatError(file: data.path, "has \(data.atomCount) atoms per frame; the peptide has \(atoms)")
        }
        let low = frames.count * comm.rank / comm.size, high = frames.count * (comm.rank + 1) / comm.size
        let sampler = FlowSampler(model: model, features: features, atoms: atoms)
        var local: [Double] = []
        var start = low
        while start < high {
            let chunk = Array(frames[start..<min(high, start + max(1, settings.chunk))])
            var states: [Double] = []
            for frame in chunk {
                let x = try data.readFrames(frame..<(frame + 1)).map(Double.init)
                var centred = x
                for axis in 0..<3 {
                    let mean = stride(from: axis, to: x.count, by: 3).map { x[$0] }.reduce(0, +) / Double(atoms)
                    for atom in 0..<atoms { centred[3 * atom + axis] = (x[3 * atom + axis] - mean) * checkpoint.config.model.scaling }
                }
                states += centred + [0]
            }
            let statistics = try sampler.integrate(states: &states, from: 1, to: 0, settings: settings)
            for (row, frame) in chunk.enumerated() where !statistics.succeeded(row) {
                throw DataFormatError(file: data.path, "frame \(frame): the reverse integration failed (\(statistics.failures[row] ?? "")); its NLL is undefined")
            }
            for row in 0..<chunk.count {
                let base = row * (3 * atoms + 1)
                let z = states[base..<(base + 3 * atoms)]
                let logQ = MeanFreePrior.logDensity(z, atoms: atoms) + states[base + 3 * atoms]
                local += [-logQ] + Array(z)
            }
            start += chunk.count
        }
        let gathered = comm.gather(local, root: 0)
        guard comm.isRoot else { return nil }
        let width = 1 + 3 * atoms
        let flat = gathered.flatMap { $0 }
        let rows = stride(from: 0, to: flat.count, by: width).map { Array(flat[$0..<($0 + width)]) }
        return LikelihoodResult(frames: frames, negativeLogLikelihood: rows.map { $0[0] }, latents: rows.map { Array($0.dropFirst()) },
                                degreesOfFreedom: 3 * (atoms - 1), scaling: checkpoint.config.model.scaling)
    }
}
