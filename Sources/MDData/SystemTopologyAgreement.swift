// The OpenMM System in `/openmm_system` and the atoms in `/topology` must describe the same atoms in
// the same order: particle i of the System is atom i of the topology and row i of `/coordinates`.
// A System serialized for another atom order (the same peptide built by another tool) still has the
// right particle count, but its energies on these coordinates are meaningless (10⁵ kJ/mol instead
// of −62). Particle masses are what the System says about its atoms' identity, so each mass is
// checked against the standard atomic weight of the topology's element for that atom:
//   |m_i − M(element_i)| ≤ 0.5 Da,
// or, when `/metadata` declares hydrogen mass repartitioning (`hydrogen_mass_amu` = m_H, as
// OpenMM's `createSystem(hydrogenMass=…)`), m_H for hydrogens and M(heavy) − n_H·(m_H − M(H)) for a
// heavy atom bonded to n_H hydrogens. Zero-mass particles (virtual sites) are refused: tbg's
// samples and energies have one massive particle per atom.
import Foundation

public enum SystemTopologyAgreement {
    /// Tolerance of a particle mass against its expected value, Da.
    public static let massTolerance = 0.5

    /// Standard atomic weights (IUPAC abridged, Da) of the elements tbg can meet in biomolecular
    /// files; "D" is deuterium as MDTraj names it.
    public static let standardMass: [String: Double] = [
        "H": 1.008, "D": 2.014, "He": 4.0026, "Li": 6.94, "Be": 9.0122, "B": 10.81, "C": 12.011, "N": 14.007,
        "O": 15.999, "F": 18.998, "Ne": 20.180, "Na": 22.990, "Mg": 24.305, "Al": 26.982, "Si": 28.085,
        "P": 30.974, "S": 32.06, "Cl": 35.45, "Ar": 39.95, "K": 39.098, "Ca": 40.078, "Mn": 54.938,
        "Fe": 55.845, "Co": 58.933, "Ni": 58.693, "Cu": 63.546, "Zn": 65.38, "Se": 78.971, "Br": 79.904,
        "I": 126.90,
    ]

    /// The mass each particle should have, Da: the standard weight of its atom's element, adjusted
    /// for hydrogen mass repartitioning when `hydrogenMass` is given.
    /// - Throws: `DataFormatError` for an element without a standard weight here.
    public static func expectedMasses(topology: MDTrajTopology, hydrogenMass: Double?, file: String) throws -> [Double] {
        let atoms = topology.atoms
        var masses = try atoms.map { atom -> Double in
            guard let mass = standardMass[atom.element] else {
                throw DataFormatError(file: file, "/topology: atom \(atom.index) (\(atom.name) of \(atom.residueName)) has element '\(atom.element)', which tbg does not know; expected a chemical element symbol such as C, H, N, O, S")
            }
            return mass
        }
        guard let hydrogenMass else { return masses }
        let transferred = hydrogenMass - standardMass["H"]!
        for atom in atoms where atom.element == "H" { masses[atom.index] = hydrogenMass }
        for bond in topology.bonds {
            let (a, b) = (bond[0], bond[1])
            if atoms[a].element == "H", atoms[b].element != "H" { masses[b] -= transferred }
            if atoms[b].element == "H", atoms[a].element != "H" { masses[a] -= transferred }
        }
        return masses
    }

    /// Checks particle count, virtual sites and every particle mass against the topology.
    /// - Throws: `DataFormatError` naming the first particle/atom that does not match, the mass
    ///   found and the mass expected.
    public static func check(system: OpenMMSystemSummary, topology: MDTrajTopology, metadata: TrajectoryMetadata, file: String) throws {
        let atoms = topology.atoms
        guard system.particleCount == atoms.count else {
            throw DataFormatError(file: file, "/openmm_system has \(system.particleCount) particles but /topology has \(atoms.count) atoms; expected one particle per atom, in the same order")
        }
        if let hydrogenMass = metadata.hydrogenMassAMU, !(hydrogenMass > 0) {
            throw DataFormatError(file: file, "/metadata: hydrogen_mass_amu is \(hydrogenMass); expected a positive mass in Da (hydrogen mass repartitioning)")
        }
        let expected = try expectedMasses(topology: topology, hydrogenMass: metadata.hydrogenMassAMU, file: file)
        for (index, mass) in system.masses.enumerated() {
            let atom = atoms[index]
            let label = "particle \(index) of /openmm_system (atom \(index), \(atom.name) of \(atom.residueName) \(atom.residueIndex), element \(atom.element) in /topology)"
            guard mass.isFinite else {
                throw DataFormatError(file: file, "\(label) has no numeric mass; expected a <Particle mass=\"…\"/> of \(expected[index]) Da")
            }
            guard mass != 0 else {
                throw DataFormatError(file: file, "\(label) has mass 0, a virtual site; tbg needs one massive particle per atom (Systems with virtual sites, e.g. TIP4P water or extra points, are not supported)")
            }
            guard abs(mass - expected[index]) <= massTolerance else {
                let repartitioning = metadata.hydrogenMassAMU.map { " (with hydrogen mass repartitioning to \($0) Da)" }
                    ?? " (no hydrogen mass repartitioning declared: /metadata hydrogen_mass_amu)"
                throw DataFormatError(file: file, "\(label) has mass \(mass) Da, expected \(String(format: "%.3f", expected[index])) ± \(massTolerance) Da\(repartitioning); the System's particles must be the topology's atoms in the same order",
                                      hint: "was /openmm_system serialized for another atom order? Write the System that was built from this topology")
            }
        }
    }
}
