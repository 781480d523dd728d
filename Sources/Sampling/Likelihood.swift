// `tbg nll`: the negative log-likelihood of given configurations under the flow (method.md §7.4,
// §8.5): integrate backwards from t = 1 at x (centred, model units: ModelUnits) with a(1) = 0 to t = 0, giving z and
// a(0) = −Δ; then NLL(x) = −log q(x) = ½‖z‖² + (3(N−1)/2) log 2π − Δ, in model units.
// Also the per-dimension value, NLL / (3(N−1)).
import Communication
import FlowModel
import Foundation
import Linalg
import MDData
import Model

public struct LikelihoodResult: Sendable {
    public var frames: [Int]
    public var negativeLogLikelihood: [Double]
    public var latents: [[Double]]
    public var degreesOfFreedom: Int
    /// The model's units (nm → model units factor: AD2 10, 2AA 30).
    public var units = ModelUnits(scaling: 1)
    public var scaling: Double { units.scaling }

    /// The normalised mean NLL minus the Gaussian constant (D/2)·ln 2π: the convention of bgflow's
    /// unnormalised NLL, in which TBG reports AD2's −127.06 (method.md §8.5).
    public var meanBgflow: Double { mean - 0.5 * Double(degreesOfFreedom) * log(2 * Double.pi) }
    /// The normalised mean NLL of the coordinates in nm: −log q_nm = −log q_model − D·ln s.
    public var meanNanometres: Double { units.nanometreNLL(mean, dimensions: degreesOfFreedom) }

    public var mean: Double { negativeLogLikelihood.reduce(0, +) / Double(max(1, negativeLogLikelihood.count)) }
    public var standardError: Double {
        let n = Double(negativeLogLikelihood.count)
        guard n > 1 else { return .nan }
        let variance = negativeLogLikelihood.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / (n - 1)
        return (variance / n).squareRoot()
    }
}

/// `tbg nll`'s runner: the checkpoint's model for the data file's peptide, frames split over ranks.
/// It needs no temperature and no force field (only the frames, topology and model).
public final class LikelihoodRunner {
    /// The checkpoint's model, made ready for the data file's peptide.
    public let flow: TrainedFlow
    let settings: SamplerSettings
    let comm: any Communicator

    /// What the checkpoint was trained on (nil for checkpoints older than the record).
    public var trainingData: TrainingDataRecord? { flow.trainingData }
    /// The weights in use, in words.
    public var weightsDescription: String { flow.weightsDescription }
    /// The frames' file.
    public var data: TrajectoryFile { flow.peptide }

    /// - Parameters: `dataPath`: the trajectory whose frames are scored; its topology defines the peptide.
    public init(checkpointPath: String, dataPath: String, settings: SamplerSettings, communicator: any Communicator) throws {
        BLASRuntime.setThreadCount(1)   // one rank per core: OpenBLAS's spinning workers would steal it
        flow = try TrainedFlow(checkpointPath: checkpointPath, peptidePath: dataPath)
        self.settings = settings
        comm = communicator
    }

    /// −log q of frames `frames` of the data file, split over ranks (contiguous slices, `settings.chunk`
    /// frames per integration); rank 0 returns them all in the order of `frames`, the others nil.
    /// - Throws: `DataFormatError` naming the file when `frames` is empty (no NLL of nothing), for a
    ///   frame outside the file or with a non-finite coordinate (frame and atom named), or when a
    ///   reverse integration fails.
    public func negativeLogLikelihood(frames: [Int]) throws -> LikelihoodResult? {
        let data = self.data, atoms = data.atomCount, units = flow.units
        guard !frames.isEmpty else {
            throw DataFormatError(file: data.path, "no frames selected; the NLL needs at least one frame")
        }
        let low = frames.count * comm.rank / comm.size, high = frames.count * (comm.rank + 1) / comm.size
        var positions: [Double] = []
        // MD frames must be molecules (a damaged frame's NLL is meaningless); a sample file's frames
        // are the model's output and are scored as they are (the round-trip check of log q).
        for frame in frames[low..<high] { positions += try data.readFrames(frame..<(frame + 1), requireBonds: !data.holdsSamples).map(Double.init) }
        let (nll, latents) = try localNegativeLogLikelihood(nanometres: positions, count: high - low) { row, reason in
            DataFormatError(file: data.path, "frame \(frames[low + row]): the reverse integration failed (\(reason)); its NLL is undefined")
        }
        var local: [Double] = []
        for row in 0..<nll.count { local += [nll[row]] + latents[row] }
        let gathered = comm.gather(local, root: 0)
        guard comm.isRoot else { return nil }
        let width = 1 + 3 * atoms
        let flat = gathered.flatMap { $0 }
        let rows = stride(from: 0, to: flat.count, by: width).map { Array(flat[$0..<($0 + width)]) }
        return LikelihoodResult(frames: frames, negativeLogLikelihood: rows.map { $0[0] }, latents: rows.map { Array($0.dropFirst()) },
                                degreesOfFreedom: 3 * (atoms - 1), units: units)
    }

    /// −log q (model units) of `count` configurations `nanometres` (count × 3·atoms, nm, the
    /// peptide's atom order) on this rank alone, `settings.chunk` configurations per integration;
    /// not collective. Returns −log q and the latent z (model units) of each.
    /// - Parameters: `failure(row, reason)` makes the error thrown when row's reverse integration
    ///   fails; `progress(done)` is called after each integration with the rows done so far.
    public func localNegativeLogLikelihood(nanometres positions: [Double], count: Int, failure: (Int, String) -> any Error,
                                           progress: ((Int) -> Void)? = nil) throws -> (nll: [Double], latents: [[Double]]) {
        let atoms = data.atomCount, units = flow.units, width = 3 * atoms
        precondition(positions.count == count * width, "\(count) configurations of \(atoms) atoms")
        let sampler = FlowSampler(model: flow.model, features: flow.features, atoms: atoms)
        var nll: [Double] = [], latents: [[Double]] = []
        var start = 0
        while start < count {
            let end = min(count, start + max(1, settings.chunk))
            var states: [Double] = []
            for row in start..<end {
                states += units.modelCoordinates(nanometres: positions[(row * width)..<((row + 1) * width)], atoms: atoms) + [0]
            }
            let statistics = try sampler.integrate(states: &states, from: 1, to: 0, settings: settings)
            for row in 0..<(end - start) where !statistics.succeeded(row) {
                throw failure(start + row, statistics.failures[row] ?? "")
            }
            for row in 0..<(end - start) {
                let base = row * (width + 1)
                let z = states[base..<(base + width)]
                nll.append(-(MeanFreePrior.logDensity(z, atoms: atoms) + states[base + width]))
                latents.append(Array(z))
            }
            start = end
            progress?(start)
        }
        return (nll, latents)
    }
}
