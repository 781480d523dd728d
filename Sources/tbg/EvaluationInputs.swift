// The inputs of `tbg evaluate`, read and checked: a sample file (Sampling/SampleFile.swift: MDTraj
// layout plus /samples/*, as tbg sample, smc and mcmc write it) and an MD trajectory of the same peptide. Both must have the same atoms (count and
// names, in order) and temperature; every coordinate used must be finite. φ and ψ are the first
// backbone torsions MDTraj finds in the reference topology (Evaluation/Dihedrals.swift). A biased
// reference's frames carry the log weights /bias_energy / kT.
import Evaluation
import Foundation
import MDData
import Sampling

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
    /// The sampler that wrote the samples (/samples@sampler: flow, smc, mcmc, md); nil when the file
    /// does not say (reported as flow).
    var sampler: String?

    private static let sampleHint = "the samples file is the output of tbg sample --out"

    init(samplesPath: String, referencePath: String) throws {
        let sampleFile = try TrajectoryFile(path: samplesPath)
        let referenceFile = try TrajectoryFile(path: referencePath)
        self.referenceFile = referenceFile
        try Self.checkSameAtoms(sampleFile, referenceFile)
        let sampleData = try SampleFile(trajectory: sampleFile, hint: Self.sampleHint)
        let kT = sampleData.kT
        self.kT = kT
        guard let referenceKT = referenceFile.metadata.kT else {
            throw DataFormatError(file: referencePath, "/metadata has neither kT_kJ_per_mol nor temperature_K; the energies need the temperature")
        }
        guard abs(referenceKT - kT) <= 1e-6 * kT else {
            throw DataFormatError(file: referencePath, "kT is \(referenceKT) kJ/mol here but \(kT) kJ/mol in \(samplesPath) (/samples attribute kT_kJ_per_mol); samples and MD must be at the same temperature")
        }

        let residues = Self.residues(referenceFile.topology)
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
        let mdCoordinates = try referenceFile.readFrames(0..<referenceFile.frameCount, requireBonds: !referenceFile.holdsSamples)   // checked finite (and bonded, for MD), nm
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
        let sampleEnergies = try sampleData.energies().map { $0 / kT }
        let logWeights = try sampleData.logWeights()
        let (topologyOK, chiralityOK, chiralityFixed) = (try sampleData.topologyOK(), try sampleData.chiralityOK(), try sampleData.chiralityFixed())
        // Invalid samples may hold anything (a diverged integration); only the valid ones are used.
        let coordinates = try sampleData.coordinates()
        let validIndices = (0..<count).filter { topologyOK[$0] && chiralityOK[$0] }
        energyEvaluations = sampleData.energyEvaluations(validCount: validIndices.count)
        sampler = sampleData.sampler
        try sampleFile.requireFinite(coordinates, frames: validIndices, what: "valid sample")
        samples = SampleSet(energies: sampleEnergies,
                            phi: BackboneTorsions.dihedrals(coordinates, atoms: sampleFile.atomCount, quartet: phi),
                            psi: BackboneTorsions.dihedrals(coordinates, atoms: sampleFile.atomCount, quartet: psi),
                            logWeights: logWeights, topologyOK: topologyOK, chiralityOK: chiralityOK, chiralityFixed: chiralityFixed)
        samples.torsions = Self.torsions(coordinates, atoms: sampleFile.atomCount, quartets: quartets)
        samples.torsionDimensions = quartets.count
        try Self.addRawWeights(to: &samples, from: sampleData, kT: kT, coordinates: coordinates)
        samples.clusters = try Self.clusters(sampleData)
    }

    /// Which samples share a history, for the ΔF bootstrap: an MCMC file's /samples/chain (states of
    /// one chain are correlated), chains linked by a shared /samples/source_frame joined into one
    /// cluster (SharedHistory.swift); an SMC file's /samples/source_frame (particles resampled from one
    /// proposal are copies of it, moved); nil for independent samples (tbg sample, MD as samples).
    private static func clusters(_ file: SampleFile) throws -> (labels: [Int], name: String)? {
        if let chain = try file.optionalDataset("chain", expected: "int64 chain index per sample") {
            let chains = try chain.read(as: Int64.self).map(Int.init)
            // Chains that started from, or accepted, the same proposal share it: one cluster.
            if let source = try file.optionalDataset("source_frame", expected: "int64 proposal per sample") {
                let sources = try source.read(as: Int64.self).map(Int.init)
                guard sources.count == chains.count else {
                    throw DataFormatError(file: file.path, "/samples/source_frame has \(sources.count) entries but /samples/chain \(chains.count); expected one per sample")
                }
                return (SharedHistory.components([chains, sources]), "chain group")   // chains sharing a proposal joined
            }
            return (chains, "chain")
        }
        if file.sampler == "smc", let ancestors = try file.optionalDataset("source_frame", expected: "int64 proposal ancestor per particle") {
            return (try ancestors.read(as: Int64.self).map(Int.init), "proposal ancestor")
        }
        return nil
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

}

extension EvaluationInputs {
    /// The topology's residues as the backbone-torsion search wants them (chain, residue index, atom names and indices).
    static func residues(_ topology: MDTrajTopology) -> [ResidueAtoms] {
        topology.chains.flatMap { chain in
            chain.residues.map { ResidueAtoms(chain: chain.index, index: $0.index, atoms: $0.atoms.map { ($0.name, $0.index) }) }
        }
    }
}
