// Backbone torsions exactly as MDTraj defines them (`mdtraj/geometry/dihedral.py`):
//
// Atoms: `_atom_sequence` looks, in every residue of every chain, for the named atoms of the
// pattern at residue-index offsets; φ = (C of residue i−1, N, CA, C of residue i) and
// ψ = (N, CA, C of residue i, N of residue i+1). Residues are matched by their topology-wide index
// (i ± 1 must exist in the same chain) and atoms by name (a name repeated within a residue: the
// last atom wins, as in `_construct_atom_dict`). Quartets come in chain, then residue order.
//
// Angle (`_dihedral`): b1 = x1 − x0, b2 = x2 − x1, b3 = x3 − x2, c1 = b2 × b3, c2 = b1 × b2,
//   angle = atan2((b1·c1)|b2|, c1·c2) ∈ (−π, π]   (radians; computed here in double precision).
import Foundation

/// The atoms of one residue, by name, for the pattern search.
public struct ResidueAtoms: Sendable, Equatable {
    /// Chain index in the topology.
    public var chain: Int
    /// Residue index in the topology (topology-wide, as MDTraj's `residue.index`).
    public var index: Int
    /// (name, atom index) in file order.
    public var atoms: [(name: String, index: Int)]

    public init(chain: Int, index: Int, atoms: [(name: String, index: Int)]) {
        self.chain = chain
        self.index = index
        self.atoms = atoms
    }

    public static func == (a: ResidueAtoms, b: ResidueAtoms) -> Bool {
        a.chain == b.chain && a.index == b.index && a.atoms.map(\.name) == b.atoms.map(\.name) && a.atoms.map(\.index) == b.atoms.map(\.index)
    }
}

public enum BackboneTorsions {
    public static let phiPattern: [(name: String, offset: Int)] = [("C", -1), ("N", 0), ("CA", 0), ("C", 0)]
    public static let psiPattern: [(name: String, offset: Int)] = [("N", 0), ("CA", 0), ("C", 0), ("N", 1)]

    /// Every quartet of atom indices matching `pattern` (MDTraj `_atom_sequence`).
    public static func quartets(_ residues: [ResidueAtoms], pattern: [(name: String, offset: Int)]) -> [[Int]] {
        var lookup: [Int: [Int: [String: Int]]] = [:]   // chain → residue → name → atom
        for residue in residues {
            var names: [String: Int] = [:]
            for atom in residue.atoms { names[atom.name] = atom.index }
            lookup[residue.chain, default: [:]][residue.index] = names
        }
        var found: [[Int]] = []
        for residue in residues {
            guard let chain = lookup[residue.chain] else { continue }
            let atoms = pattern.map { chain[residue.index + $0.offset]?[$0.name] }
            if atoms.allSatisfy({ $0 != nil }) { found.append(atoms.compactMap { $0 }) }
        }
        return found
    }

    /// The dihedral angle of four points, MDTraj's formula.
    public static func dihedral(_ x0: SIMD3<Double>, _ x1: SIMD3<Double>, _ x2: SIMD3<Double>, _ x3: SIMD3<Double>) -> Double {
        let b1 = x1 - x0, b2 = x2 - x1, b3 = x3 - x2
        let c1 = cross(b2, b3), c2 = cross(b1, b2)
        return atan2((b1 * c1).sum() * (b2 * b2).sum().squareRoot(), (c1 * c2).sum())
    }

    /// The dihedral of `quartet` in every frame of flat frames×atoms×3 coordinates.
    public static func dihedrals(_ coordinates: [Float], atoms: Int, quartet: [Int]) -> [Double] {
        precondition(quartet.count == 4 && atoms > 0 && coordinates.count % (3 * atoms) == 0)
        return (0..<(coordinates.count / (3 * atoms))).map { frame in
            let points = quartet.map { atom in
                let base = 3 * (frame * atoms + atom)
                return SIMD3(Double(coordinates[base]), Double(coordinates[base + 1]), Double(coordinates[base + 2]))
            }
            return dihedral(points[0], points[1], points[2], points[3])
        }
    }

    private static func cross(_ a: SIMD3<Double>, _ b: SIMD3<Double>) -> SIMD3<Double> {
        SIMD3(a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x)
    }
}
