// Which frames of a trajectory each step uses: a deterministic streaming shuffle.
//
// Per epoch and peptide, the frames are cut into windows of W consecutive frames; the window order
// is shuffled, consecutive groups of G windows are formed, and the frames inside a group are
// shuffled. Batch k of the epoch takes positions [k·n, (k+1)·n) of that order. A batch therefore
// needs at most a couple of groups, which a rank reads with G hyperslab windows — never the whole
// file — and everything is a pure function of (seed, epoch, peptide), so any rank and any resumed
// run knows which frames a step uses without replaying the past.
import Kernels

public struct FrameSchedule: Sendable {
    public let frameCount: Int
    public let windowFrames: Int
    public let groupWindows: Int
    public let seed: UInt64
    public let peptide: Int

    public init(frameCount: Int, windowFrames: Int, groupWindows: Int, seed: UInt64, peptide: Int) {
        precondition(frameCount > 0, "a schedule needs frames")
        self.frameCount = frameCount
        self.windowFrames = windowFrames
        self.groupWindows = groupWindows
        self.seed = seed
        self.peptide = peptide
    }

    var windowCount: Int { (frameCount + windowFrames - 1) / windowFrames }

    /// One epoch's group structure: the window order and where each group starts (in positions).
    public struct Epoch: Sendable {
        /// Windows in shuffled order.
        public let windows: [Int]
        /// Start position of each group, and the total at the end.
        public let groupStarts: [Int]
        public let epoch: Int
    }

    public func epoch(_ epoch: Int) -> Epoch {
        var random = RandomSource(seed: seed, streams: [0xF5A3, UInt64(epoch), UInt64(peptide), 1])
        var windows = Array(0..<windowCount)
        for k in stride(from: windows.count - 1, to: 0, by: -1) { windows.swapAt(k, random.integer(below: k + 1)) }
        var starts = [0]
        for group in stride(from: 0, to: windows.count, by: groupWindows) {
            let members = windows[group..<min(windows.count, group + groupWindows)]
            starts.append(starts.last! + members.reduce(0) { $0 + windowLength($1) })
        }
        return Epoch(windows: windows, groupStarts: starts, epoch: epoch)
    }

    func windowLength(_ window: Int) -> Int { min(windowFrames, frameCount - window * windowFrames) }

    /// The frames of group `group` of `epoch`, in their shuffled order.
    public func groupFrames(_ epoch: Epoch, group: Int) -> [Int] {
        let members = epoch.windows[(group * groupWindows)..<min(epoch.windows.count, (group + 1) * groupWindows)]
        var frames = members.flatMap { window in (window * windowFrames)..<(window * windowFrames + windowLength(window)) }
        var random = RandomSource(seed: seed, streams: [0xF5A3, UInt64(epoch.epoch), UInt64(peptide), 2, UInt64(group)])
        for k in stride(from: frames.count - 1, to: 0, by: -1) { frames.swapAt(k, random.integer(below: k + 1)) }
        return frames
    }

    /// The group holding position `position` of an epoch, and the position's offset inside it.
    public func locate(_ epoch: Epoch, position: Int) -> (group: Int, offset: Int) {
        precondition(position >= 0 && position < frameCount, "position \(position) outside 0..<\(frameCount)")
        var low = 0, high = epoch.groupStarts.count - 2
        while low < high {
            let middle = (low + high + 1) / 2
            if epoch.groupStarts[middle] <= position { low = middle } else { high = middle - 1 }
        }
        return (low, position - epoch.groupStarts[low])
    }
}
