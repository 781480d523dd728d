// The chirality check and mirror fix of TBG (method.md §8.2). Centres: atoms with exactly four
// bonds in the reference and more than two non-hydrogen neighbours (Cα except Gly; also Thr/Ile
// Cβ …), each with its first three bonded neighbours in bond-list order. The sign of
// v₁·(v₂ × v₃) (v_k = neighbour − centre) must match the reference; a sample whose signs all
// disagree is mirrored (x → −x, which keeps q since q is inversion invariant), a sample with mixed
// signs is rejected.

public struct ChiralCentres: Sendable, Equatable {
    public let centres: [(centre: Int, neighbours: [Int])]
    public let referenceSigns: [Double]

    public static func == (a: ChiralCentres, b: ChiralCentres) -> Bool {
        a.referenceSigns == b.referenceSigns && a.centres.map(\.centre) == b.centres.map(\.centre)
    }

    public init(elements: [String], bonds: [[Int]], reference: ArraySlice<Double>) {
        var bondedInOrder = [[Int]](repeating: [], count: elements.count)
        for bond in bonds where bond.count == 2 {
            bondedInOrder[bond[0]].append(bond[1])
            bondedInOrder[bond[1]].append(bond[0])
        }
        var centres: [(Int, [Int])] = []
        for atom in elements.indices where bondedInOrder[atom].count == 4 {
            let heavy = bondedInOrder[atom].filter { elements[$0] != "H" }.count
            if heavy > 2 { centres.append((atom, Array(bondedInOrder[atom].prefix(3)))) }
        }
        self.centres = centres
        referenceSigns = centres.map { Self.sign(reference, centre: $0.0, neighbours: $0.1) }
    }

    static func sign(_ x: ArraySlice<Double>, centre: Int, neighbours: [Int]) -> Double {
        let base = x.startIndex
        func vector(_ atom: Int) -> SIMD3<Double> {
            SIMD3(x[base + 3 * atom] - x[base + 3 * centre], x[base + 3 * atom + 1] - x[base + 3 * centre + 1],
                  x[base + 3 * atom + 2] - x[base + 3 * centre + 2])
        }
        let (a, b, c) = (vector(neighbours[0]), vector(neighbours[1]), vector(neighbours[2]))
        let crossed = SIMD3(b.y * c.z - b.z * c.y, b.z * c.x - b.x * c.z, b.x * c.y - b.y * c.x)
        return (a * crossed).sum() >= 0 ? 1 : -1
    }

    public enum Verdict: Sendable, Equatable {
        case correct, mirrored, mixed
    }

    /// Whether positions (in reference atom order) match the reference chirality, need mirroring, or neither.
    public func verdict(_ x: ArraySlice<Double>) -> Verdict {
        guard !centres.isEmpty else { return .correct }
        let signs = centres.map { Self.sign(x, centre: $0.centre, neighbours: $0.neighbours) }
        if signs == referenceSigns { return .correct }
        if signs.map({ -$0 }) == referenceSigns { return .mirrored }
        return .mixed
    }
}
