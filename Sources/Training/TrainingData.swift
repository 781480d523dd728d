// The training and validation data of a run: peptides from a dataset folder, their encodings, and
// the frames each step uses on each rank (FrameSchedule), read by hyperslab windows.
//
// Global batch of a step: every training peptide contributes n = frames_per_peptide frames
// (method.md §5.2: all peptides every step), global sample g = p·n + q. Rank r of R handles the
// contiguous slice g ∈ [⌊rB/R⌋, ⌊(r+1)B/R⌋), so the union over ranks is the same batch for any R.
import Foundation
import Kernels
import MDData
import Model

public struct TrainingSample: Sendable, Equatable {
    public var peptide: Int
    public var frame: Int
    /// Index of the sample in the global batch (seeds its x₀, ε and t).
    public var globalIndex: Int
}

public final class TrainingPeptide {
    public let name: String
    public let trajectory: TrajectoryFile
    public let atomCount: Int
    /// Encoding rows, atoms × K.
    public let features: [Float]
    public let schedule: FrameSchedule?
    /// Frames [0, trainingFrames) are for training; the rest (if any) are held out.
    public let trainingFrames: Int
    private var cachedGroup: (epoch: Int, group: Int, frames: [Int], coordinates: [Float])?

    init(name: String, trajectory: TrajectoryFile, features: [Float], trainingFrames: Int, schedule: FrameSchedule?) {
        self.name = name
        self.trajectory = trajectory
        atomCount = trajectory.atomCount
        self.features = features
        self.trainingFrames = trainingFrames
        self.schedule = schedule
    }

    /// Coordinates (nm) of schedule position `position` of `epoch`, reading the group if needed.
    func coordinates(epoch: FrameSchedule.Epoch, position: Int) throws -> ArraySlice<Float> {
        guard let schedule else { preconditionFailure("peptide \(name) has no training schedule") }
        let (group, offset) = schedule.locate(epoch, position: position)
        if cachedGroup?.epoch != epoch.epoch || cachedGroup?.group != group {
            let frames = schedule.groupFrames(epoch, group: group)
            let stride = atomCount * 3
            var coordinates = [Float](repeating: 0, count: frames.count * stride)
            // Read the group's windows (contiguous frame ranges) and place each frame where the
            // shuffled order wants it.
            var slot = [Int: Int]()
            for (index, frame) in frames.enumerated() { slot[frame] = index }
            let windows = Set(frames.map { $0 / schedule.windowFrames })
            for window in windows.sorted() {
                let start = window * schedule.windowFrames
                let range = start..<min(schedule.frameCount, start + schedule.windowFrames)
                let block = try trajectory.readFrames(range)
                for frame in range {
                    guard let index = slot[frame] else { continue }
                    let source = (frame - start) * stride
                    coordinates.replaceSubrange((index * stride)..<((index + 1) * stride), with: block[source..<(source + stride)])
                }
            }
            cachedGroup = (epoch.epoch, group, frames, coordinates)
        }
        let stride = atomCount * 3
        return cachedGroup!.coordinates[(offset * stride)..<((offset + 1) * stride)]
    }
}

public final class TrainingData {
    public let peptides: [TrainingPeptide]
    /// Validation entries: (peptide handle, frame).
    public let validation: [(peptide: TrainingPeptide, frame: Int)]
    public let featureWidth: Int
    public let framesPerPeptide: Int
    public let stepsPerEpoch: Int
    private var epochCache: [Int: [FrameSchedule.Epoch]] = [:]

    public var globalBatch: Int { peptides.count * framesPerPeptide }

    public init(config: RunConfig) throws {
        let (index, directory) = try DatasetIndex.load(config.data.dataset)
        let path = { (entry: DatasetIndex.Entry) in directory.isEmpty ? entry.file : directory + "/" + entry.file }
        let trainEntries = index.entries(inSplit: "train"), validationEntries = index.entries(inSplit: "validation")
        guard !trainEntries.isEmpty else {
            throw DataFormatError(file: config.data.dataset, "the dataset has no training peptides")
        }
        let encoding = config.model.encoding
        var width: Int?
        func encode(_ trajectory: TrajectoryFile) throws -> [Float] {
            let (rows, thisWidth) = try PeptideEncoding.features(of: trajectory, encoding: encoding)
            if let width, width != thisWidth {
                throw DataFormatError(file: trajectory.path, "encoding '\(encoding.rawValue)' gives width \(thisWidth) here but \(width) for another peptide; the 'atoms' encoding is for single-molecule models")
            }
            width = thisWidth
            return rows
        }
        let n = config.data.framesPerPeptide
        var peptides: [TrainingPeptide] = [], validation: [(TrainingPeptide, Int)] = []
        let holdOut = validationEntries.isEmpty ? config.data.validationFraction : 0
        for (number, entry) in trainEntries.enumerated() {
            let trajectory = try TrajectoryFile(path: path(entry))
            let training = trajectory.frameCount - Int((Double(trajectory.frameCount) * holdOut).rounded())
            guard training >= n else {
                throw DataFormatError(file: trajectory.path, "\(training) training frames, fewer than data.frames_per_peptide = \(n)")
            }
            let schedule = FrameSchedule(frameCount: training, windowFrames: config.data.windowFrames,
                                         groupWindows: config.data.shuffleWindows, seed: config.training.seed, peptide: number)
            let peptide = TrainingPeptide(name: entry.name, trajectory: trajectory, features: try encode(trajectory),
                                          trainingFrames: training, schedule: schedule)
            peptides.append(peptide)
            if holdOut > 0 {
                validation += Self.spread(training..<trajectory.frameCount, count: config.data.validationFrames).map { (peptide, $0) }
            }
        }
        for entry in validationEntries {
            let trajectory = try TrajectoryFile(path: path(entry))
            let peptide = TrainingPeptide(name: entry.name, trajectory: trajectory, features: try encode(trajectory),
                                          trainingFrames: 0, schedule: nil)
            validation += Self.spread(0..<trajectory.frameCount, count: config.data.validationFrames).map { (peptide, $0) }
        }
        self.peptides = peptides
        self.validation = validation
        featureWidth = width ?? 0
        framesPerPeptide = n
        stepsPerEpoch = peptides.map { $0.trainingFrames / n }.min() ?? 0
    }

    /// `count` frames spread evenly over `range`.
    static func spread(_ range: Range<Int>, count: Int) -> [Int] {
        guard !range.isEmpty, count > 0 else { return [] }
        let total = min(count, range.count)
        return (0..<total).map { range.lowerBound + $0 * range.count / total }
    }

    /// The samples of step `stepInEpoch` of `epoch` that rank `rank` of `size` handles.
    public func samples(epoch: Int, stepInEpoch: Int, rank: Int, size: Int) -> [TrainingSample] {
        let batch = globalBatch
        let low = batch * rank / size, high = batch * (rank + 1) / size
        return (low..<high).map { g in
            let peptide = g / framesPerPeptide, q = g % framesPerPeptide
            return TrainingSample(peptide: peptide, frame: stepInEpoch * framesPerPeptide + q, globalIndex: g)
        }
    }

    /// Coordinates (nm, atoms × 3 each, concatenated) of `samples` of `epoch`; `frame` is a
    /// schedule position.
    public func coordinates(of samples: [TrainingSample], epoch: Int) throws -> [Float] {
        if epochCache[epoch] == nil {
            epochCache = [epoch: peptides.map { $0.schedule!.epoch(epoch) }]
        }
        let epochs = epochCache[epoch]!
        var result: [Float] = []
        for sample in samples {
            result += try peptides[sample.peptide].coordinates(epoch: epochs[sample.peptide], position: sample.frame)
        }
        return result
    }
}

/// Node features of a peptide from its topology, for training and for sampling.
public enum PeptideEncoding {
    /// One-hot rows (atoms × width) and the width.
    /// What the encoder needs per atom, from the MDTraj topology (residue position within the molecule).
    public static func atoms(of topology: MDTrajTopology) -> [AtomDescription] {
        topology.residues.enumerated().flatMap { position, residue in
            residue.atoms.map { AtomDescription(name: $0.name, element: $0.element ?? "", residueIndex: position, residueName: residue.name) }
        }
    }

    public static func features(of trajectory: TrajectoryFile, encoding: EncodingKind) throws -> (rows: [Float], width: Int) {
        let atoms = atoms(of: trajectory.topology)
        do {
            let rows: [Float] = try AtomEncoder.oneHot(encoding, atoms: atoms, bonds: trajectory.topology.bonds)
            return (rows, AtomEncoder.width(encoding, atomCount: atoms.count))
        } catch {
            throw DataFormatError(file: trajectory.path, "cannot encode this peptide with the '\(encoding.rawValue)' encoding: \(error)")
        }
    }
}
