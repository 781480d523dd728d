// The topology stored in `/topology` of an MDTraj HDF5 file: a JSON document of chains → residues
// → atoms, plus bonds as atom-index pairs (MDTraj `mdtraj/formats/hdf5.py`, `topology` setter).
//
// Only the fields MDTraj always writes are required; the rest are optional so files from other
// MDTraj versions decode too.
import Foundation

public struct MDTrajTopology: Codable, Sendable, Equatable {
    public struct Atom: Codable, Sendable, Equatable {
        public var index: Int
        public var name: String
        /// Element symbol ("C", "H", …); MDTraj writes null for virtual sites.
        public var element: String?
    }

    public struct Residue: Codable, Sendable, Equatable {
        public var index: Int
        public var name: String
        public var resSeq: Int?
        public var segmentID: String?
        public var atoms: [Atom]
    }

    public struct Chain: Codable, Sendable, Equatable {
        public var index: Int
        public var chainID: String?
        public var residues: [Residue]

        enum CodingKeys: String, CodingKey {
            case index
            case chainID = "chain_id"
            case residues
        }
    }

    public var chains: [Chain]
    /// Bonds as atom-index pairs, each bond once (duplicates removed by `decode`).
    public var bonds: [[Int]]
    /// How many duplicated bonds `decode` removed (e.g. from PDB CONECT records); not stored.
    public var duplicateBondsRemoved = 0

    enum CodingKeys: String, CodingKey {
        case chains, bonds
    }

    /// A flattened atom with its residue, in file order.
    public struct FlatAtom: Sendable, Equatable {
        public var index: Int
        public var name: String
        public var element: String
        public var residueIndex: Int
        public var residueName: String
    }

    public var residues: [Residue] { chains.flatMap(\.residues) }

    public var atoms: [FlatAtom] {
        residues.flatMap { residue in
            residue.atoms.map {
                FlatAtom(index: $0.index, name: $0.name, element: $0.element ?? "",
                         residueIndex: residue.index, residueName: residue.name)
            }
        }
    }

    public var atomCount: Int { residues.reduce(0) { $0 + $1.atoms.count } }

    /// Decodes and checks internal consistency: atom indices are 0 ..< N in order, every atom has an
    /// element, bonds are pairs of valid, distinct atom indices. A bond listed more than once (as
    /// (a, b) or (b, a)) is kept once, in its first position, and counted in `duplicateBondsRemoved`.
    /// - Throws: `DataFormatError` naming `file` and the offending atom or bond.
    public static func decode(json: String, file: String) throws -> MDTrajTopology {
        var topology: MDTrajTopology
        do {
            topology = try JSONDecoder().decode(MDTrajTopology.self, from: Data(json.utf8))
        } catch {
            throw DataFormatError(file: file, "/topology is not MDTraj topology JSON: \(error)")
        }
        let atoms = topology.atoms
        for (position, atom) in atoms.enumerated() where atom.index != position {
            throw DataFormatError(file: file, "/topology: atom '\(atom.name)' at position \(position) has index \(atom.index); expected atoms numbered 0..<\(atoms.count) in order")
        }
        for atom in atoms where atom.element.isEmpty {
            throw DataFormatError(file: file, "/topology: atom \(atom.index) (\(atom.name) of \(atom.residueName) \(atom.residueIndex)) has no element; expected an element symbol for every atom (virtual sites are not supported)")
        }
        for bond in topology.bonds where bond.count != 2 || bond.contains(where: { $0 < 0 || $0 >= atoms.count }) || bond.first == bond.last {
            throw DataFormatError(file: file, "/topology: bond \(bond) is not a pair of distinct atom indices in 0..<\(atoms.count)")
        }
        var seen = Set<[Int]>()
        let unique = topology.bonds.filter { seen.insert([min($0[0], $0[1]), max($0[0], $0[1])]).inserted }
        topology.duplicateBondsRemoved = topology.bonds.count - unique.count
        topology.bonds = unique
        return topology
    }

    /// Element counts in Hill order (C, H, then alphabetical), e.g. "C6 H12 N2 O3".
    public var hillFormula: String {
        var counts: [String: Int] = [:]
        for atom in atoms { counts[atom.element.isEmpty ? "?" : atom.element, default: 0] += 1 }
        let ordered = ["C", "H"].filter { counts[$0] != nil } + counts.keys.filter { $0 != "C" && $0 != "H" }.sorted()
        return ordered.map { "\($0)\(counts[$0]!)" }.joined(separator: " ")
    }
}
