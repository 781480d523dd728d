// The chirality check and mirror fix of TBG (method.md §8.2). Centres: atoms with exactly four
// distinct bonded neighbours in the reference, more than two of them non-hydrogen, and no two of
// them graph-equivalent (Cα except Gly; Thr/Ile Cβ; not Val Cβ or Leu Cγ, whose two methyls are
// interchangeable, so that a sample's methyls matched the other way round are not "wrong"). Each
// centre uses its first three neighbours in atom-index order, so the check does not depend on how
// the topology lists its bonds (or on duplicated bonds). The sign of v₁·(v₂ × v₃)
// (v_k = neighbour − centre) must match the reference; a sample whose signs all disagree is
// mirrored (x → −x, which keeps q since q is inversion invariant), a sample with mixed signs is
// rejected.
//
// Graph equivalence is 1-dimensional Weisfeiler–Lehman colour refinement started from the elements
// (the refinement canonical-ranking codes such as RDKit's use): two neighbours of a centre with the
// same stable colour head identical branches.

public struct ChiralCentres: Sendable, Equatable {
    public let centres: [(centre: Int, neighbours: [Int])]
    public let referenceSigns: [Double]

    public static func == (a: ChiralCentres, b: ChiralCentres) -> Bool {
        a.referenceSigns == b.referenceSigns && a.centres.map(\.centre) == b.centres.map(\.centre)
    }

    /// - Parameters:
    ///   - elements: element symbols, one per atom (N).
    ///   - bonds: pairs of atom indices, in any order, duplicates allowed.
    ///   - reference: N × 3 positions (nm) with the reference chirality (the peptide file's frame 0).
    public init(elements: [String], bonds: [[Int]], reference: ArraySlice<Double>) {
        let graph = BondGraph(elements: elements, bonds: bonds)
        let colours = Self.equivalenceColours(graph)
        var centres: [(Int, [Int])] = []
        for atom in elements.indices where graph.neighbours[atom].count == 4 {
            let substituents = graph.neighbours[atom]
            let heavy = substituents.filter { elements[$0] != "H" }.count
            let distinct = Set(substituents.map { colours[$0] }).count == 4
            if heavy > 2 && distinct { centres.append((atom, Array(substituents.prefix(3)))) }
        }
        self.centres = centres
        referenceSigns = centres.map { Self.sign(reference, centre: $0.0, neighbours: $0.1) }
    }

    /// Stable Weisfeiler–Lehman colours (one integer per atom): atoms of one colour are equivalent
    /// as far as colour refinement from the elements can tell (for these molecules: exactly the
    /// automorphism classes).
    static func equivalenceColours(_ graph: BondGraph) -> [Int] {
        func relabel<Key: Hashable>(_ keys: [Key]) -> [Int] {
            var codes: [Key: Int] = [:]
            return keys.map { key in
                if let code = codes[key] { return code }
                codes[key] = codes.count
                return codes.count - 1
            }
        }
        var colours = relabel(graph.elements)
        while true {
            let refined = relabel(graph.neighbours.indices.map { [colours[$0]] + graph.neighbours[$0].map { colours[$0] }.sorted() })
            // Refinement only splits classes: the same number of classes means the partition is stable.
            if Set(refined).count == Set(colours).count { return refined }
            colours = refined
        }
    }

    /// The first centre whose three neighbours in `reference` (N × 3, nm) are coincident with it or
    /// coplanar through it, so that its sign says nothing (a degenerate or damaged frame): the centre
    /// and the volume v₁·(v₂ × v₃) over |v₁||v₂||v₃| (≈ 0.8 at a tetrahedral centre); nil when every
    /// centre is well defined (|that| ≥ 0.05).
    public func degenerateCentre(in reference: ArraySlice<Double>) -> (centre: Int, neighbours: [Int], volume: Double)? {
        for (centre, neighbours) in centres {
            let (volume, lengths) = Self.tripleProduct(reference, centre: centre, neighbours: neighbours)
            let normalised = lengths > 0 ? volume / lengths : 0
            if !(abs(normalised) >= 0.05) { return (centre, neighbours, normalised) }
        }
        return nil
    }

    static func sign(_ x: ArraySlice<Double>, centre: Int, neighbours: [Int]) -> Double {
        tripleProduct(x, centre: centre, neighbours: neighbours).volume >= 0 ? 1 : -1
    }

    /// v₁·(v₂ × v₃) with v_k = neighbour k − centre (nm³), and |v₁||v₂||v₃|.
    static func tripleProduct(_ x: ArraySlice<Double>, centre: Int, neighbours: [Int]) -> (volume: Double, lengths: Double) {
        let base = x.startIndex
        func vector(_ atom: Int) -> SIMD3<Double> {
            SIMD3(x[base + 3 * atom] - x[base + 3 * centre], x[base + 3 * atom + 1] - x[base + 3 * centre + 1],
                  x[base + 3 * atom + 2] - x[base + 3 * centre + 2])
        }
        let (a, b, c) = (vector(neighbours[0]), vector(neighbours[1]), vector(neighbours[2]))
        let crossed = SIMD3(b.y * c.z - b.z * c.y, b.z * c.x - b.x * c.z, b.x * c.y - b.y * c.x)
        func length(_ v: SIMD3<Double>) -> Double { (v * v).sum().squareRoot() }
        return ((a * crossed).sum(), length(a) * length(b) * length(c))
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
