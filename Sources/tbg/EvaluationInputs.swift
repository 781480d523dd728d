// The inputs of `tbg evaluate`, read and checked: a `tbg sample` output (MDTraj layout plus
// /samples/*) and an MD trajectory of the same peptide. Both must have the same atoms (count and
// names, in order) and temperature; every coordinate used must be finite. φ and ψ are the first
// backbone torsions MDTraj finds in the reference topology (Evaluation/Dihedrals.swift). A biased
// reference's frames carry the log weights /bias_energy / kT.
import Evaluation
import Foundation
import HDF5
import MDData

struct EvaluationInputs {
    var samples: SampleSet
    var reference: ReferenceSet
    var referenceFile: TrajectoryFile
    var kT: Double
    var phiAtoms: [Int]
    var psiAtoms: [Int]
    /// Target-energy evaluations the samples cost (field.md §4 budgets): /samples@energy_evaluations
    /// when present (tbg sample, smc, mcmc write it), else one per valid sample (what tbg sample
    /// evaluates).
    var energyEvaluations: Int
    /// The sampler that wrote the samples (/samples@sampler: smc, mcmc), nil for tbg sample (whose
    /// /samples@sampler holds its ODE settings as JSON).
    var sampler: String?

    private static let sampleHint = "the samples file is the output of tbg sample --out"

    init(samplesPath: String, referencePath: String) throws {
        let sampleFile = try TrajectoryFile(path: samplesPath)
        let referenceFile = try TrajectoryFile(path: referencePath)
        self.referenceFile = referenceFile
        try Self.checkSameAtoms(sampleFile, referenceFile)
        let group = try Self.samplesGroup(samplesPath)
        let kT = try Self.samplesKT(group, file: samplesPath)
        self.kT = kT
        guard let referenceKT = referenceFile.metadata.kT else {
            throw DataFormatError(file: referencePath, "/metadata has neither kT_kJ_per_mol nor temperature_K; the energies need the temperature")
        }
        guard abs(referenceKT - kT) <= 1e-6 * kT else {
            throw DataFormatError(file: referencePath, "kT is \(referenceKT) kJ/mol here but \(kT) kJ/mol in \(samplesPath) (/samples attribute kT_kJ_per_mol); samples and MD must be at the same temperature")
        }

        let residues = referenceFile.topology.chains.flatMap { chain in
            chain.residues.map { ResidueAtoms(chain: chain.index, index: $0.index, atoms: $0.atoms.map { ($0.name, $0.index) }) }
        }
        guard let phi = BackboneTorsions.quartets(residues, pattern: BackboneTorsions.phiPattern).first,
              let psi = BackboneTorsions.quartets(residues, pattern: BackboneTorsions.psiPattern).first else {
            throw DataFormatError(file: referencePath, "/topology has no phi or no psi backbone torsion (C of residue i-1, N, CA, C of residue i; N, CA, C of residue i, N of residue i+1, in one chain, as mdtraj.compute_phi/psi find them); tbg evaluate needs a peptide backbone")
        }
        (phiAtoms, psiAtoms) = (phi, psi)

        // MD: every frame, energies from /potentialEnergy.
        try referenceFile.requireFrames(for: "tbg evaluate (the MD reference)")
        guard let energies = try referenceFile.potentialEnergies() else {
            throw DataFormatError(file: referencePath, "missing dataset /potentialEnergy; expected the MD potential energy of every frame in kJ/mol")
        }
        if let bad = energies.firstIndex(where: { !$0.isFinite }) {
            throw DataFormatError(file: referencePath, "/potentialEnergy of frame \(bad) is \(energies[bad]); expected finite energies")
        }
        let mdCoordinates = try referenceFile.readFrames(0..<referenceFile.frameCount)   // checked finite, nm
        // A biased run (Tools/FORMAT.md §1.7): frame k has log weight V_k/kT at the file's own kT.
        let biasLogWeights = try referenceFile.biasEnergies().map { $0.map { $0 / referenceKT } }
        reference = ReferenceSet(energies: energies.map { Double($0) / kT },
                                 phi: BackboneTorsions.dihedrals(mdCoordinates, atoms: referenceFile.atomCount, quartet: phi),
                                 psi: BackboneTorsions.dihedrals(mdCoordinates, atoms: referenceFile.atomCount, quartet: psi),
                                 logWeights: biasLogWeights)
        let quartets = Self.torsionQuartets(residues)
        reference.torsions = Self.torsions(mdCoordinates, atoms: referenceFile.atomCount, quartets: quartets)
        reference.torsionDimensions = quartets.count

        // Samples: the per-sample datasets of tbg sample; coordinates must be finite where valid.
        try sampleFile.requireFrames(for: "tbg evaluate (the samples)")
        let count = sampleFile.frameCount
        func doubles(_ name: String, _ expected: String) throws -> [Double] {
            try Self.dataset(group, name, count: count, file: samplesPath, expected: expected).read(as: Double.self)
        }
        func flags(_ name: String) throws -> [Bool] {
            try Self.dataset(group, name, count: count, file: samplesPath, expected: "uint8 flag per sample").read(as: UInt8.self).map { $0 != 0 }
        }
        // A units attribute, if another tool wrote one, must be an energy unit tbg converts.
        let energyFactor = try PhysicalUnits.factor(of: try Self.dataset(group, "energy_kj_mol", count: count, file: samplesPath,
                                                                          expected: "float64 energy per sample in kJ/mol"), quantity: .energy)
        let sampleEnergies = try doubles("energy_kj_mol", "float64 energy per sample in kJ/mol").map { $0 * energyFactor / kT }
        let logWeights = try doubles("log_weight", "float64 log importance weight per sample")
        let (topologyOK, chiralityOK, chiralityFixed) = (try flags("topology_ok"), try flags("chirality_ok"), try flags("chirality_fixed"))
        // Invalid samples may hold anything (a diverged integration); only the valid ones are used.
        let coordinates = try sampleFile.readFrames(0..<count, requireFinite: false)
        let validIndices = (0..<count).filter { topologyOK[$0] && chiralityOK[$0] }
        energyEvaluations = group.hasAttribute("energy_evaluations")
            ? Int((try? group.readAttribute("energy_evaluations", as: Int64.self).first ?? Int64(validIndices.count)) ?? Int64(validIndices.count))
            : validIndices.count
        // tbg smc/mcmc write their name here; tbg sample writes its ODE settings (a JSON object) under
        // the same attribute name, which is the flow sampler.
        let samplerAttribute = group.hasAttribute("sampler") ? try? group.readStringAttribute("sampler") : nil
        sampler = samplerAttribute.flatMap { $0.hasPrefix("{") ? nil : $0 }
        try Self.checkFinite(coordinates, frames: validIndices, in: sampleFile, what: "valid sample")
        samples = SampleSet(energies: sampleEnergies,
                            phi: BackboneTorsions.dihedrals(coordinates, atoms: sampleFile.atomCount, quartet: phi),
                            psi: BackboneTorsions.dihedrals(coordinates, atoms: sampleFile.atomCount, quartet: psi),
                            logWeights: logWeights, topologyOK: topologyOK, chiralityOK: chiralityOK, chiralityFixed: chiralityFixed)
        samples.torsions = Self.torsions(coordinates, atoms: sampleFile.atomCount, quartets: quartets)
        samples.torsionDimensions = quartets.count
        try Self.addRawWeights(to: &samples, group: group, count: count, kT: kT, coordinates: coordinates, file: sampleFile)
    }

    private static func checkSameAtoms(_ samples: TrajectoryFile, _ reference: TrajectoryFile) throws {
        guard samples.atomCount == reference.atomCount else {
            throw DataFormatError(file: samples.path, "has \(samples.atomCount) atoms per frame but the reference \(reference.path) has \(reference.atomCount); samples and MD must be the same peptide in the same atom order")
        }
        let a = samples.topology.atoms.map(\.name), b = reference.topology.atoms.map(\.name)
        if let atom = zip(a, b).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
            throw DataFormatError(file: samples.path, "atom \(atom) is '\(a[atom])' but '\(b[atom])' in the reference \(reference.path); samples and MD must be the same peptide in the same atom order")
        }
    }

    private static func samplesGroup(_ path: String) throws -> HDF5Group {
        do {
            let root = try HDF5File(opening: path).root()
            guard root.kind(of: "samples") == .group else {
                throw DataFormatError(file: path, "missing group /samples; expected the per-sample datasets of tbg sample", hint: sampleHint)
            }
            return try root.group("samples")
        } catch let error as HDF5Error {
            throw DataFormatError(error)
        }
    }

    private static func samplesKT(_ group: HDF5Group, file path: String) throws -> Double {
        guard group.hasAttribute("kT_kJ_per_mol"), let kT = try? group.readAttribute("kT_kJ_per_mol", as: Double.self).first, kT > 0 else {
            throw DataFormatError(file: path, "/samples has no positive attribute kT_kJ_per_mol; expected the kT the weights were computed at", hint: sampleHint)
        }
        return kT
    }

    static func dataset(_ group: HDF5Group, _ name: String, count: Int, file: String, expected: String) throws -> HDF5Dataset {
        guard group.kind(of: name) == .dataset else {
            throw DataFormatError(file: file, "missing dataset /samples/\(name); expected \(expected)", hint: sampleHint)
        }
        do {
            let dataset = try group.dataset(name)
            guard dataset.shape == [count] else {
                throw DataFormatError(file: file, "/samples/\(name) has shape \(dataset.shape), expected [\(count)] (one value per frame of /coordinates)")
            }
            return dataset
        } catch let error as HDF5Error {
            throw DataFormatError(error)
        }
    }

    private static func checkFinite(_ coordinates: [Float], frames: [Int], in file: TrajectoryFile, what: String) throws {
        let width = 3 * file.atomCount
        for frame in frames {
            if let bad = (frame * width..<(frame + 1) * width).first(where: { !coordinates[$0].isFinite }) {
                throw file.nonFinite(frame: frame, atom: (bad - frame * width) / 3, value: coordinates[bad], what: what)
            }
        }
    }
}
