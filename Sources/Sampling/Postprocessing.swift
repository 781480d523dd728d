// Post-processing of flow samples, as pure functions of the sample (no MPI, no files): the steps
// after the integration that turn x₁ (model units) and its log q into a weighted configuration
// (method.md §8.1–8.3):
//   1. nm: x = x₁ / s (ModelUnits);
//   2. topology: bonds inferred from distances, isomorphism onto the reference bond graph labelled by
//      the model's atom classes, which also gives the permutation onto the reference atom order;
//   3. chirality: compared with the reference; an all-mirrored sample is fixed by x → −x, a mixed one
//      rejected;
//   4. energy and log w = −u/kT − log q: the weight only for samples that pass 2 and 3, the energy
//      of the written coordinates (`rawEnergy`) for every sample whose integration finished, valid
//      or not, for the clipped SNIS protocol (field.md §4; RawSampleWeights.swift).
// `SamplePostprocessor.summarize` reduces the records of a run to its counts, ESS and energies.
import Evaluation
import FlowModel
import Foundation

/// Everything known about one sample, in a flat form that travels through the communicator.
public struct SampleRecord: Sendable {
    public var index: Int
    public var positions: [Double]      // nm, reference atom order (raw order if the topology check failed)
    public var logPrior: Double
    public var deltaLogDet: Double
    public var logQ: Double
    public var energy: Double           // kJ/mol (+∞ if invalid)
    public var topologyOK: Bool
    public var chiralityOK: Bool
    public var mirrored: Bool
    public var logWeight: Double        // −∞ if invalid
    /// Forward-then-reverse check (`run(count:roundTrip:)`): |log q − log q after integrating the
    /// sample back to t = 0| and max |z − z_back| (model units); NaN when not checked.
    public var roundTripLogQError = Double.nan
    public var roundTripLatentError = Double.nan
    /// Whether the ODE integration reached t = 1 (else: coordinates zero, log q NaN, log w −∞).
    public var integrationOK = true
    /// kJ/mol: the force-field energy of `positions` as written, for every sample whose integration
    /// finished, valid or not (mirror-fixed; reference order after a passed bond-graph check, the
    /// sampled order after a failed one); NaN when the integration failed. The Prose/SBG protocol
    /// keeps invalid samples with this energy (field.md §4); equal to `energy` for valid samples.
    public var rawEnergy = Double.nan
    /// The bond-graph check gave up (`BondGraph.Match.budgetExhausted`) rather than finding that
    /// the graphs differ; `topologyOK` is false either way.
    public var isomorphismBudgetExhausted = false
    /// Velocity evaluations this sample's forward integration took (dopri5: 2 for the initial step,
    /// then 6 per accepted or rejected step; rk4: 4 per step): how stiff its path was. NaN unknown.
    public var odeEvaluations = Double.nan

    public init(index: Int, positions: [Double], logPrior: Double, deltaLogDet: Double, logQ: Double, energy: Double,
                topologyOK: Bool, chiralityOK: Bool, mirrored: Bool, logWeight: Double, roundTripLogQError: Double = .nan,
                roundTripLatentError: Double = .nan, integrationOK: Bool = true) {
        self.index = index
        self.positions = positions
        self.logPrior = logPrior
        self.deltaLogDet = deltaLogDet
        self.logQ = logQ
        self.energy = energy
        self.topologyOK = topologyOK
        self.chiralityOK = chiralityOK
        self.mirrored = mirrored
        self.logWeight = logWeight
        self.roundTripLogQError = roundTripLogQError
        self.roundTripLatentError = roundTripLatentError
        self.integrationOK = integrationOK
    }

    static let scalarFields = 15

    func flattened() -> [Double] {
        [Double(index), logPrior, deltaLogDet, logQ, energy, topologyOK ? 1 : 0, chiralityOK ? 1 : 0, mirrored ? 1 : 0, logWeight,
         roundTripLogQError, roundTripLatentError, integrationOK ? 1 : 0, rawEnergy, isomorphismBudgetExhausted ? 1 : 0, odeEvaluations] + positions
    }

    static func unflatten(_ values: ArraySlice<Double>, atoms: Int) -> SampleRecord {
        let v = Array(values)
        var record = SampleRecord(index: Int(v[0]), positions: Array(v[scalarFields..<(scalarFields + 3 * atoms)]), logPrior: v[1],
                                  deltaLogDet: v[2], logQ: v[3], energy: v[4], topologyOK: v[5] != 0, chiralityOK: v[6] != 0,
                                  mirrored: v[7] != 0, logWeight: v[8], roundTripLogQError: v[9], roundTripLatentError: v[10],
                                  integrationOK: v[11] != 0)
        (record.rawEnergy, record.isomorphismBudgetExhausted, record.odeEvaluations) = (v[12], v[13] != 0, v[14])
        return record
    }

    /// log w = −u/kT − log q of the written coordinates (`rawEnergy`), whether or not the sample
    /// is valid; −∞ for an infinite energy, NaN when the integration failed.
    public func rawLogWeight(kT: Double) -> Double {
        guard integrationOK, !rawEnergy.isNaN else { return .nan }
        return rawEnergy == .infinity ? -.infinity : -rawEnergy / kT - logQ
    }
}

extension SampleRecord {
    /// A sample whose integration did not reach t = 1: counted, written with zero coordinates and
    /// log w = −∞, never valid.
    static func failedIntegration(index: Int, atoms: Int, logPrior: Double) -> SampleRecord {
        var record = SampleRecord(index: index, positions: [Double](repeating: 0, count: 3 * atoms), logPrior: logPrior,
                                  deltaLogDet: .nan, logQ: .nan, energy: .infinity, topologyOK: false, chiralityOK: false,
                                  mirrored: false, logWeight: -.infinity)
        record.integrationOK = false
        return record
    }
}

public struct SampleSummary: Sendable {
    public var count: Int
    public var valid: Int
    public var topologyFailures: Int
    /// Bond-graph failures where the isomorphism search ran out of budget (undecided).
    public var isomorphismBudgetExhausted = 0
    public var chiralityFixes: Int
    public var chiralityFailures: Int
    public var effectiveSampleSize: Double
    /// PSIS Pareto k̂ of the valid samples' weights (Evaluation's `ParetoSmoothing`), nil with fewer
    /// than 21 of them; `tbg evaluate` gives it with its threshold.
    public var paretoKHat: Double? = nil
    public var energyMean: Double
    public var energyMinimum: Double
    public var energyMedian: Double
    public var fieldEvaluations: Int
    /// Samples whose integration failed (non-finite state, step-size underflow, too many steps).
    public var integrationFailures = 0
    /// Mean network evaluations (velocity with the exact divergence) per sample, forward pass only.
    public var evaluationsPerSample = Double.nan
    /// Median and largest of the samples' own evaluation counts (SampleRecord.odeEvaluations): a
    /// maximum far above the median means a few stiff paths set the chunks' wall time.
    public var evaluationsMedian = Double.nan
    public var evaluationsMaximum = Double.nan
    /// Round-trip checks: how many, and the largest |Δ log q| and |Δz| among them.
    public var roundTripChecked = 0
    public var roundTripMaxLogQError = Double.nan
    public var roundTripMaxLatentError = Double.nan

    public var description: String {
        let fraction = count > 0 ? Double(valid) / Double(count) : 0
        let spread = evaluationsMedian.isNaN ? "" : String(format: " (median %.0f, max %.0f)", evaluationsMedian, evaluationsMaximum)
        let roundTrip = roundTripChecked == 0 ? "" : String(
            format: "; forward-then-reverse check of %d samples: max |Δ log q| %.2e, max |Δz| %.2e (model units)",
            roundTripChecked, roundTripMaxLogQError, roundTripMaxLatentError)
        let exhausted = isomorphismBudgetExhausted == 0 ? "" : String(format: " (%d of them undecided: isomorphism search budget exhausted)", isomorphismBudgetExhausted)
        // Without a valid sample there is no ESS and no energy: said so, not printed as nan.
        let validPart = valid == 0 ? "no valid sample, so no ESS and no energies" : String(
            format: "normalised ESS %.4f (%.1f %%)%@ over the valid samples; energy of valid samples: mean %.2f, median %.2f, min %.2f kJ/mol",
            effectiveSampleSize, 100 * effectiveSampleSize, paretoKHat.map { String(format: ", Pareto k %.2f", $0) } ?? "",
            energyMean, energyMedian, energyMinimum)
        return String(format: "%ld samples: %ld valid (%.1f %%), %ld failed the integration, %ld failed the bond-graph check%@, %ld mirrored to the reference chirality, %ld with mixed chirality; %@; %ld batched network calls, %.1f velocity evaluations per sample",
                      count, valid, 100 * fraction, integrationFailures, topologyFailures - integrationFailures, exhausted, chiralityFixes, chiralityFailures, validPart,
                      fieldEvaluations, evaluationsPerSample) + spread + roundTrip
    }
}

/// The pure post-processing step of one sample (see the file header).
public struct SamplePostprocessor {
    /// The reference bond graph, labelled by the model's atom classes (`atomClassLabels`).
    public let reference: BondGraph
    /// Element symbols (the bond cutoffs of the inferred graph).
    public let elements: [String]
    public let chirality: ChiralCentres
    public let units: ModelUnits
    /// kJ/mol.
    public let kT: Double
    /// The energy in kJ/mol of one configuration (nm, reference atom order), e.g. the force field's.
    public let energy: ([Double]) -> Double

    public init(reference: BondGraph, elements: [String], chirality: ChiralCentres, units: ModelUnits, kT: Double,
                energy: @escaping ([Double]) -> Double) {
        precondition(reference.elements.count == elements.count, "\(reference.elements.count) reference labels for \(elements.count) atoms")
        self.reference = reference
        self.elements = elements
        self.chirality = chirality
        self.units = units
        self.kT = kT
        self.energy = energy
    }

    /// One label per atom for the topology check: its element and the model's features (the
    /// non-zero columns of its feature row), so that atoms the model tells apart (under `full`:
    /// atom type, amino acid and position; under `atoms`: each atom) are never swapped by the
    /// isomorphism, while atoms it cannot tell apart (the hydrogens of a methyl) may be.
    /// - Parameters: `features`: atoms × `width`, the encoding's rows.
    public static func atomClassLabels(elements: [String], features: [Float], width: Int) -> [String] {
        elements.indices.map { atom in
            let row = features[(atom * width)..<((atom + 1) * width)]
            return elements[atom] + ":" + row.indices.filter { row[$0] != 0 }.map { String($0 - atom * width) }.joined(separator: ",")
        }
    }

    /// The record of sample `index`: x₁ in model units (atoms × 3, as integrated), its latent's
    /// log p(z) and Δ = log|det ∂x₁/∂z| (log q = log p(z) − Δ).
    public func record(index: Int, modelUnits: [Double], logPrior: Double, deltaLogDet: Double) -> SampleRecord {
        let atoms = elements.count
        let nm = units.nanometres(modelUnits)
        var record = SampleRecord(index: index, positions: nm, logPrior: logPrior, deltaLogDet: deltaLogDet,
                                  logQ: logPrior - deltaLogDet, energy: .infinity, topologyOK: false, chiralityOK: false,
                                  mirrored: false, logWeight: -.infinity)
        let inferred = BondGraph.inferred(elements: elements, positions: nm[...]).relabelled(reference.elements)
        let mapping: [Int]
        switch reference.match(to: inferred) {
        case .isomorphic(let found): mapping = found
        case .notIsomorphic:
            record.rawEnergy = energy(nm)
            return record
        case .budgetExhausted:
            record.isomorphismBudgetExhausted = true
            record.rawEnergy = energy(nm)
            return record
        }
        record.topologyOK = true
        var ordered = [Double](repeating: 0, count: atoms * 3)
        for (referenceAtom, sampleAtom) in mapping.enumerated() {
            for axis in 0..<3 { ordered[3 * referenceAtom + axis] = nm[3 * sampleAtom + axis] }
        }
        switch chirality.verdict(ordered[...]) {
        case .correct: record.chiralityOK = true
        case .mirrored:
            ordered = ordered.map { -$0 }
            record.chiralityOK = true
            record.mirrored = true
        case .mixed: break
        }
        record.positions = ordered
        record.rawEnergy = energy(ordered)
        guard record.chiralityOK else { return record }
        record.energy = record.rawEnergy
        if record.energy.isFinite { record.logWeight = -record.energy / kT - record.logQ }
        return record
    }

    /// Counts, ESS over the valid samples and energy statistics of `records`; `evaluations` is the
    /// number of batched network calls they cost.
    public static func summarize(_ records: [SampleRecord], evaluations: Int) -> SampleSummary {
        let valid = records.filter { $0.topologyOK && $0.chiralityOK }
        let energies = valid.map(\.energy).filter(\.isFinite).sorted()
        var summary = SampleSummary(
            count: records.count, valid: valid.count, topologyFailures: records.filter { !$0.topologyOK }.count,
            isomorphismBudgetExhausted: records.filter(\.isomorphismBudgetExhausted).count, chiralityFixes: records.filter(\.mirrored).count,
            chiralityFailures: records.filter { $0.topologyOK && !$0.chiralityOK }.count,
            effectiveSampleSize: ImportanceWeights.effectiveSampleSize(logWeights: valid.map(\.logWeight)),
            energyMean: energies.isEmpty ? .nan : energies.reduce(0, +) / Double(energies.count),
            energyMinimum: energies.first ?? .nan, energyMedian: energies.isEmpty ? .nan : energies[energies.count / 2],
            fieldEvaluations: evaluations,
            roundTripChecked: records.filter { !$0.roundTripLogQError.isNaN }.count,
            roundTripMaxLogQError: records.map(\.roundTripLogQError).filter { !$0.isNaN }.max() ?? .nan,
            roundTripMaxLatentError: records.map(\.roundTripLatentError).filter { !$0.isNaN }.max() ?? .nan)
        summary.integrationFailures = records.filter { !$0.integrationOK }.count
        summary.paretoKHat = ParetoSmoothing.khat(logWeights: valid.map(\.logWeight))
        let perSample = records.map(\.odeEvaluations).filter { !$0.isNaN }
        summary.evaluationsMedian = WeightedStatistics.median(perSample) ?? .nan
        summary.evaluationsMaximum = perSample.max() ?? .nan
        return summary
    }
}
