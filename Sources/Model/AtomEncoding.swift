// Node encodings of the TBG variants (method.md §3), computed from a molecule's topology.
//
//   element   5 classes: first letter of the atom name, H C N O S                     (TBG)
//   backbone  13: element classes, then the 8 backbone atoms named N, CA, C, O in index
//             order get classes 5…12                                                   (TBG+backbone)
//   full      2 + 20 + 54 = 76: [residue position ‖ amino acid ‖ canonical atom name]  (TBG+full)
//   atoms     one class per atom, hydrogens bound to the same heavy atom merged; width N
//             (the alanine-dipeptide "full" variant, method.md §3.3, for single-molecule models)
// A residue or atom the encoding cannot represent is an error naming it, never a silent zero row.

public enum EncodingKind: String, Codable, Sendable, CaseIterable {
    case element, backbone, full, atoms
}

/// What the encoder needs to know about one atom.
public struct AtomDescription: Sendable, Equatable {
    public var name: String
    public var element: String
    /// Index of the residue within the molecule (0 for the first).
    public var residueIndex: Int
    public var residueName: String

    public init(name: String, element: String, residueIndex: Int, residueName: String) {
        self.name = name
        self.element = element
        self.residueIndex = residueIndex
        self.residueName = residueName
    }
}

public enum AtomEncoder {
    public static let elementClasses = ["H": 0, "C": 1, "N": 2, "O": 3, "S": 4]
    public static let aminoAcids = ["ALA", "ARG", "ASN", "ASP", "CYS", "GLN", "GLU", "GLY", "HIS", "ILE",
                                    "LEU", "LYS", "MET", "PHE", "PRO", "SER", "THR", "TRP", "TYR", "VAL"]
    /// Protonation/tautomer names that encode as their parent amino acid.
    public static let residueAliases = ["HIE": "HIS", "HID": "HIS", "HIP": "HIS", "CYX": "CYS", "ASH": "ASP",
                                        "GLH": "GLU", "LYN": "LYS"]
    /// The 54 canonical atom names, alphabetical (method.md §3.3).
    public static let atomNames = [
        "C", "CA", "CB", "CD", "CD1", "CD2", "CE", "CE1", "CE2", "CE3", "CG", "CG1", "CG2", "CH2", "CZ", "CZ2", "CZ3",
        "H", "HA", "HB", "HD", "HD1", "HD2", "HE", "HE1", "HE2", "HE3", "HG", "HG1", "HG2", "HH", "HH1", "HH2", "HZ",
        "HZ2", "HZ3", "N", "ND1", "ND2", "NE", "NE1", "NE2", "NH1", "NH2", "NZ", "O", "OD", "OE", "OG", "OG1", "OH",
        "OXT", "SD", "SG",
    ]

    /// The one-hot width of an encoding (for `atoms`, the molecule's atom count).
    public static func width(_ kind: EncodingKind, atomCount: Int) -> Int {
        switch kind {
        case .element: return 5
        case .backbone: return 13
        case .full: return 2 + 20 + 54
        case .atoms: return atomCount
        }
    }

    /// TBG+full canonical atom name: strip one trailing 1/2/3 from hydrogen names (except aromatic
    /// ring hydrogens HD*/HE*/HZ*/HH* of HIS, PHE, TRP, TYR), then one trailing digit of OD*/OE*.
    public static func canonicalAtomName(_ name: String, residue: String) -> String {
        var result = name
        let aromatic = ["HIS", "PHE", "TRP", "TYR"].contains(residueAliases[residue] ?? residue)
        let ringHydrogen = ["HE", "HD", "HZ", "HH"].contains { name.hasPrefix($0) }
        if name.hasPrefix("H"), let last = name.last, "123".contains(last), !(aromatic && ringHydrogen) {
            result.removeLast()
        }
        if result.hasPrefix("OD") || result.hasPrefix("OE"), result.count > 2 { result.removeLast() }
        return result
    }

    /// Class indices per atom: one column for element/backbone/atoms, three (position, amino acid,
    /// atom name) for full. `bonds` (atom index pairs) are used by `atoms` to merge hydrogens.
    public static func classes(_ kind: EncodingKind, atoms: [AtomDescription], bonds: [[Int]] = []) throws -> [[Int]] {
        switch kind {
        case .element:
            return try atoms.map { [try elementClass($0)] }
        case .backbone:
            // TBG+backbone is defined on zwitterionic dipeptides: the N, CA, C, O of two amino acids.
            // Capped alanine dipeptide also has exactly 8 atoms named N, CA, C or O (ACE C, O; ALA N,
            // CA, C, O; NME N, C), so matching by name alone would give its caps backbone classes by
            // coincidence: any residue that is not an amino acid is refused.
            if let cap = atoms.first(where: { !aminoAcids.contains(residueAliases[$0.residueName] ?? $0.residueName) }) {
                throw ModelError("the backbone encoding covers zwitterionic dipeptides (N, CA, C, O of two amino acids); residue \(cap.residueName) (atom \(cap.name)) is not an amino acid, e.g. an ACE/NME cap of capped alanine dipeptide, whose atoms would match the backbone names by coincidence; use 'atoms' (the AD2 model) or 'element' for capped peptides")
            }
            var classes = try atoms.map { [try elementClass($0)] }
            let backbone = atoms.indices.filter { ["N", "CA", "C", "O"].contains(atoms[$0].name) }
            let residues = Set(atoms.map(\.residueIndex))
            guard backbone.count == 8, residues.count == 2,
                  residues.allSatisfy({ residue in backbone.filter { atoms[$0].residueIndex == residue }.count == 4 }) else {
                throw ModelError("the backbone encoding needs the 8 backbone atoms (N, CA, C, O of each of two residues) of a dipeptide, found \(backbone.count) in \(residues.count) residues")
            }
            for (rank, index) in backbone.enumerated() { classes[index] = [5 + rank] }
            return classes
        case .full:
            return try atoms.map { atom in
                guard atom.residueIndex >= 0 && atom.residueIndex < 2 else {
                    throw ModelError("the full encoding covers dipeptides (residue positions 0 and 1); atom \(atom.name) is in residue \(atom.residueIndex)")
                }
                let residue = residueAliases[atom.residueName] ?? atom.residueName
                guard let aminoAcid = aminoAcids.firstIndex(of: residue) else {
                    throw ModelError("residue \(atom.residueName) cannot be encoded by the full encoding (the 20 standard amino acids of zwitterionic dipeptides); use 'atoms' for a single capped peptide")
                }
                let canonical = canonicalAtomName(atom.name, residue: residue)
                guard let atomClass = atomNames.firstIndex(of: canonical) else {
                    throw ModelError("atom \(atom.name) of \(atom.residueName) (canonical name \(canonical)) is not in the 54-name vocabulary of the full encoding")
                }
                return [atom.residueIndex, aminoAcid, atomClass]
            }
        case .atoms:
            var heavyPartner = [Int?](repeating: nil, count: atoms.count)
            for bond in bonds where bond.count == 2 {
                let (a, b) = (bond[0], bond[1])
                if atoms[a].element == "H", atoms[b].element != "H" { heavyPartner[a] = b }
                if atoms[b].element == "H", atoms[a].element != "H" { heavyPartner[b] = a }
            }
            var firstHydrogenOf: [Int: Int] = [:]
            return atoms.indices.map { index in
                guard atoms[index].element == "H", let heavy = heavyPartner[index] else { return [index] }
                if let first = firstHydrogenOf[heavy] { return [first] }
                firstHydrogenOf[heavy] = index
                return [index]
            }
        }
    }

    /// One-hot rows (atoms × width), row-major.
    public static func oneHot<T: BinaryFloatingPoint>(_ kind: EncodingKind, atoms: [AtomDescription], bonds: [[Int]] = []) throws -> [T] {
        let width = self.width(kind, atomCount: atoms.count)
        let columnOffsets = kind == .full ? [0, 2, 22] : [0]
        var rows = [T](repeating: 0, count: atoms.count * width)
        for (index, atomClasses) in try classes(kind, atoms: atoms, bonds: bonds).enumerated() {
            for (track, value) in atomClasses.enumerated() { rows[index * width + columnOffsets[track] + value] = 1 }
        }
        return rows
    }

    private static func elementClass(_ atom: AtomDescription) throws -> Int {
        guard let first = atom.name.first, let value = elementClasses[String(first)] else {
            throw ModelError("atom \(atom.name) of \(atom.residueName): element class from the first letter of the name must be one of H, C, N, O, S")
        }
        return value
    }
}
