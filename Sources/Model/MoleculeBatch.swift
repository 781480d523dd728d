// A batch of molecules of possibly different sizes, processed unpadded (method.md §2.6): atoms are
// concatenated, and each molecule contributes its N(N−1) ordered pairs (i ≠ j) as directed edges.
// Edges are grouped by receiver i (and ordered by sender j within), so the sum over j of a message
// is a contiguous segment.

public struct MoleculeBatch: Sendable, Equatable {
    public let atomCounts: [Int]
    /// First atom of each molecule (and the total at the end).
    public let atomOffsets: [Int]
    /// First edge of each molecule (and the total at the end).
    public let edgeOffsets: [Int]
    /// Receiver i and sender j of every edge.
    public let receivers: [Int32]
    public let senders: [Int32]
    /// The molecule each atom belongs to.
    public let moleculeOfAtom: [Int32]

    public var moleculeCount: Int { atomCounts.count }
    public var atomCount: Int { atomOffsets.last ?? 0 }
    public var edgeCount: Int { edgeOffsets.last ?? 0 }

    public init(atomCounts: [Int]) {
        precondition(atomCounts.allSatisfy { $0 >= 1 }, "every molecule needs at least one atom: \(atomCounts)")
        self.atomCounts = atomCounts
        var atomOffsets = [0], edgeOffsets = [0]
        var receivers: [Int32] = [], senders: [Int32] = [], moleculeOfAtom: [Int32] = []
        for (molecule, count) in atomCounts.enumerated() {
            let first = atomOffsets.last!
            for i in 0..<count {
                moleculeOfAtom.append(Int32(molecule))
                for j in 0..<count where j != i {
                    receivers.append(Int32(first + i))
                    senders.append(Int32(first + j))
                }
            }
            atomOffsets.append(first + count)
            edgeOffsets.append(edgeOffsets.last! + count * (count - 1))
        }
        self.atomOffsets = atomOffsets
        self.edgeOffsets = edgeOffsets
        self.receivers = receivers
        self.senders = senders
        self.moleculeOfAtom = moleculeOfAtom
    }
}
