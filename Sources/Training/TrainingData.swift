// The training and validation data of a run: peptides from a dataset folder (each with one or more
// trajectory files whose frames are pooled), their encodings, and the frames each step uses on each
// rank.
//
// Global batch of a step: every training peptide contributes n = frames_per_peptide frames
// (method.md §5.2: all peptides every step), global sample g = p·n + q. Rank r of R handles the
// contiguous slice g ∈ [⌊rB/R⌋, ⌊(r+1)B/R⌋), so the union over ranks is the same batch for any R.
// Step k of epoch e takes positions [k·n, (k+1)·n) of the peptide's order for epoch e:
//   iid       a fresh uniformly random permutation of all the peptide's training frames, seeded by
//             (seed, epoch, peptide), over frames held in memory: every frame once per epoch, and
//             batches of independent frames, as the original's index iterator (method.md §5.2);
//   windowed  the streaming windowed shuffle of `FrameSchedule` (sets that do not fit in memory).
// Both are pure functions of (seed, epoch, peptide), so any rank layout and any resumed run agree.
import FlowModel
import Foundation
import Kernels
import MDData
import Model

public struct TrainingSample: Sendable, Equatable {
    public var peptide: Int
    /// Position of the sample in the peptide's order for its epoch.
    public var frame: Int
    /// Index of the sample in the global batch (seeds its x₀, ε and t).
    public var globalIndex: Int
}

/// A peptide's training frames over all its files: pooled frame f is frame f − offset of the file
/// holding it, among each file's leading (training) frames.
public final class PooledFrames {
    public let files: [TrajectoryFile]
    /// Training frames [0, trainingCounts[i]) of file i.
    public let trainingCounts: [Int]
    /// Pooled index of each file's first frame, and the total at the end.
    let offsets: [Int]
    public var count: Int { offsets.last ?? 0 }

    init(files: [TrajectoryFile], trainingCounts: [Int]) {
        self.files = files
        self.trainingCounts = trainingCounts
        var offsets = [0]
        for count in trainingCounts { offsets.append(offsets.last! + count) }
        self.offsets = offsets
    }

    /// Coordinates (nm, frames × atoms × 3) of the pooled frames `range`, reading across files.
    public func read(_ range: Range<Int>) throws -> [Float] {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "pooled frames \(range) outside 0..<\(count)")
        var result: [Float] = []
        for (index, file) in files.enumerated() {
            let low = max(range.lowerBound, offsets[index]), high = min(range.upperBound, offsets[index + 1])
            guard low < high else { continue }
            result += try file.readFrames((low - offsets[index])..<(high - offsets[index]))
        }
        return result
    }
}

public final class TrainingPeptide {
    public let name: String
    /// The first trajectory file (topology, encoding, metadata).
    public let trajectory: TrajectoryFile
    public let atomCount: Int
    /// Encoding rows, atoms × K.
    public let features: [Float]
    /// The training frames, pooled over the peptide's files (nil for validation-only peptides).
    public let frames: PooledFrames?
    public var trainingFrames: Int { frames?.count ?? 0 }
    let stream: FrameStreamKind
    let seed: UInt64
    let number: Int
    let schedule: FrameSchedule?
    private var memory: [Float]?
    private var permutation: (epoch: Int, order: [Int])?
    private var cachedGroup: (epoch: Int, group: Int, frames: [Int], coordinates: [Float])?

    init(name: String, trajectory: TrajectoryFile, features: [Float], frames: PooledFrames?, stream: FrameStreamKind,
         config: RunConfig, number: Int) {
        self.name = name
        self.trajectory = trajectory
        atomCount = trajectory.atomCount
        self.features = features
        self.frames = frames
        self.stream = stream
        seed = config.training.seed
        self.number = number
        if let frames, stream == .windowed {
            schedule = FrameSchedule(frameCount: frames.count, windowFrames: config.data.windowFrames,
                                     groupWindows: config.data.shuffleWindows, seed: config.training.seed, peptide: number)
        } else {
            schedule = nil
        }
    }

    /// The i.i.d. order of `epoch`: a permutation of 0..<trainingFrames (Fisher–Yates).
    public func iidOrder(epoch: Int) -> [Int] {
        if let permutation, permutation.epoch == epoch { return permutation.order }
        var random = RandomSource(seed: seed, streams: [0x11D0, UInt64(epoch), UInt64(number)])
        var order = Array(0..<trainingFrames)
        for k in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(k, random.integer(below: k + 1)) }
        permutation = (epoch, order)
        return order
    }

    /// Coordinates (nm) of position `position` of `epoch`'s order.
    func coordinates(epoch: Int, position: Int, windowedEpoch: () -> FrameSchedule.Epoch) throws -> ArraySlice<Float> {
        guard let frames else { preconditionFailure("peptide \(name) has no training frames") }
        let stride = atomCount * 3
        if stream == .iid {
            if memory == nil { memory = try frames.read(0..<frames.count) }
            let frame = iidOrder(epoch: epoch)[position]
            return memory![(frame * stride)..<((frame + 1) * stride)]
        }
        let schedule = schedule!
        let epochOrder = windowedEpoch()
        let (group, offset) = schedule.locate(epochOrder, position: position)
        if cachedGroup?.epoch != epoch || cachedGroup?.group != group {
            let groupFrames = schedule.groupFrames(epochOrder, group: group)
            var coordinates = [Float](repeating: 0, count: groupFrames.count * stride)
            // Read the group's windows (contiguous frame ranges) and place each frame where the
            // shuffled order wants it.
            var slot = [Int: Int]()
            for (index, frame) in groupFrames.enumerated() { slot[frame] = index }
            for window in Set(groupFrames.map { $0 / schedule.windowFrames }).sorted() {
                let start = window * schedule.windowFrames
                let range = start..<min(schedule.frameCount, start + schedule.windowFrames)
                let block = try frames.read(range)
                for frame in range {
                    guard let index = slot[frame] else { continue }
                    let source = (frame - start) * stride
                    coordinates.replaceSubrange((index * stride)..<((index + 1) * stride), with: block[source..<(source + stride)])
                }
            }
            cachedGroup = (epoch, group, groupFrames, coordinates)
        }
        return cachedGroup!.coordinates[(offset * stride)..<((offset + 1) * stride)]
    }
}

/// One validation frame: a frame of one file of a peptide.
public struct ValidationFrame {
    public let peptide: TrainingPeptide
    public let file: TrajectoryFile
    public let frame: Int
}

public final class TrainingData {
    public let peptides: [TrainingPeptide]
    public let validation: [ValidationFrame]
    public let featureWidth: Int
    public let framesPerPeptide: Int
    public let stepsPerEpoch: Int
    /// The stream in use (`auto` resolved by the whole training set's size, so that every rank
    /// layout draws the same frames).
    public let stream: FrameStreamKind
    /// Bytes of all training frames (float32).
    public let trainingBytes: Int
    private var epochCache: [Int: [FrameSchedule.Epoch]] = [:]

    public var globalBatch: Int { peptides.count * framesPerPeptide }

    public init(config: RunConfig) throws {
        let (index, directory) = try DatasetIndex.load(config.data.dataset)
        let path = { (file: String) in directory.isEmpty ? file : directory + "/" + file }
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
        func open(_ entry: DatasetIndex.Entry) throws -> [TrajectoryFile] {
            let files = try entry.allFiles.map { try TrajectoryFile(path: path($0)) }
            for file in files {
                try file.requireFrames(for: "training")
                if config.data.checkBonds { try file.requireMolecules() }
            }
            for file in files.dropFirst() {
                try PeptideEncoding.requireSameAtoms(file, as: files[0])
            }
            return files
        }
        let n = config.data.framesPerPeptide
        let holdOut = validationEntries.isEmpty ? config.data.validationFraction : 0
        // First pass: files and training counts, to resolve the stream by the set's size.
        var opened: [(DatasetIndex.Entry, [TrajectoryFile], [Int])] = []
        var bytes = 0
        for entry in trainEntries {
            let files = try open(entry)
            let counts = files.map { $0.frameCount - Int((Double($0.frameCount) * holdOut).rounded()) }
            guard counts.reduce(0, +) >= n else {
                throw DataFormatError(file: files[0].path, "\(counts.reduce(0, +)) training frames, fewer than data.frames_per_peptide = \(n)")
            }
            bytes += counts.reduce(0, +) * files[0].atomCount * 3 * MemoryLayout<Float>.size
            opened.append((entry, files, counts))
        }
        let stream: FrameStreamKind
        switch config.data.stream {
        case .auto: stream = Double(bytes) <= config.data.memoryBudgetMB * 1_048_576 ? .iid : .windowed
        case .iid:
            guard Double(bytes) <= config.data.memoryBudgetMB * 1_048_576 else {
                throw ConfigError("data.stream = iid: the training frames take \(bytes / 1_048_576) MiB, more than data.memory_budget_mb = \(config.data.memoryBudgetMB); raise it or use windowed")
            }
            stream = .iid
        case .windowed: stream = .windowed
        }
        var peptides: [TrainingPeptide] = [], validation: [ValidationFrame] = []
        for (number, (entry, files, counts)) in opened.enumerated() {
            let peptide = TrainingPeptide(name: entry.name, trajectory: files[0], features: try encode(files[0]),
                                          frames: PooledFrames(files: files, trainingCounts: counts), stream: stream,
                                          config: config, number: number)
            peptides.append(peptide)
            if holdOut > 0 {
                // The trailing fraction of each file, the validation frames split over the files by size.
                let heldOut = zip(files, counts).map { $0.frameCount - $1 }
                let total = heldOut.reduce(0, +)
                for (file, count) in zip(files, counts) where file.frameCount > count {
                    let share = Int((Double(config.data.validationFrames) * Double(file.frameCount - count) / Double(max(total, 1))).rounded(.up))
                    validation += Self.spread(count..<file.frameCount, count: share).map { ValidationFrame(peptide: peptide, file: file, frame: $0) }
                }
            }
        }
        for entry in validationEntries {
            let files = try open(entry)
            let peptide = TrainingPeptide(name: entry.name, trajectory: files[0], features: try encode(files[0]), frames: nil,
                                          stream: stream, config: config, number: -1)
            validation += Self.spread(0..<files[0].frameCount, count: config.data.validationFrames).map {
                ValidationFrame(peptide: peptide, file: files[0], frame: $0)
            }
        }
        self.peptides = peptides
        self.validation = validation
        self.stream = stream
        trainingBytes = bytes
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
        Self.samples(stepInEpoch: stepInEpoch, framesPerPeptide: framesPerPeptide, peptides: peptides.count, rank: rank, size: size)
    }

    static func samples(stepInEpoch: Int, framesPerPeptide n: Int, peptides: Int, rank: Int, size: Int) -> [TrainingSample] {
        let batch = peptides * n
        let low = batch * rank / size, high = batch * (rank + 1) / size
        return (low..<high).map { g in
            TrainingSample(peptide: g / n, frame: stepInEpoch * n + g % n, globalIndex: g)
        }
    }

    /// Coordinates (nm, atoms × 3 each, concatenated) of `samples` of `epoch`.
    public func coordinates(of samples: [TrainingSample], epoch: Int) throws -> [Float] {
        var result: [Float] = []
        for sample in samples {
            let peptide = peptides[sample.peptide]
            result += try peptide.coordinates(epoch: epoch, position: sample.frame) { self.windowedEpoch(epoch)[sample.peptide] }
        }
        return result
    }

    private func windowedEpoch(_ epoch: Int) -> [FrameSchedule.Epoch] {
        if epochCache[epoch] == nil {
            epochCache = [epoch: peptides.map { $0.schedule!.epoch(epoch) }]
        }
        return epochCache[epoch]!
    }

    /// What the run trains on, for the checkpoint: per training peptide its atoms and, per file,
    /// the path, the training frame range, the size and a content hash (FNV-1a, 64 bit, of the
    /// whole file: identifies the file, not a security measure).
    public func record() throws -> TrainingDataRecord {
        TrainingDataRecord(peptides: try peptides.map { peptide in
            TrainingDataRecord.Peptide(
                name: peptide.name,
                atoms: TrainingDataRecord.atoms(of: peptide.trajectory.topology),
                files: try zip(peptide.frames!.files, peptide.frames!.trainingCounts).map { file, count in
                    let (size, hash) = try ContentHash.fnv1a64(path: file.path)
                    return TrainingDataRecord.File(path: file.path, trainingFrames: [0, count], frames: file.frameCount,
                                                   bytes: size, fnv1a64: String(hash, radix: 16))
                })
        }, stream: stream.rawValue)
    }
}

extension PeptideEncoding {
    /// Files pooled for one peptide must hold the same atoms in the same order.
    static func requireSameAtoms(_ file: TrajectoryFile, as first: TrajectoryFile) throws {
        let a = TrainingDataRecord.atoms(of: first.topology), b = TrainingDataRecord.atoms(of: file.topology)
        if let mismatch = TrainingDataRecord.firstMismatch(a, b) {
            throw DataFormatError(file: file.path, "pooled with \(first.path) for one peptide, but \(mismatch)")
        }
    }
}
