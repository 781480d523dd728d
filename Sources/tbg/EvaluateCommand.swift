// `tbg evaluate`: samples of `tbg sample` against MD of the same peptide (method.md §8–§9): counts
// and ESS, energy W1/W2, torus W2 on (φ, ψ), Ramachandran JSD and the φ-basin ΔF, for the valid
// samples unweighted ("proposal") and importance-weighted ("reweighted"); optionally the NLL of MD
// frames under a checkpoint (split over MPI ranks, as `tbg nll`); and the field's two SNIS protocols
// side by side (snis_tbg, snis_clipped: ESS, energy W2 and torsion W2 over resampled samples;
// Evaluation/SNISProtocols.swift, field.md §4). The metrics are computed on
// rank 0 by the Evaluation library; this file reads options and prints.
import ArgumentParser
import Communication
import Evaluation
import FlowModel
import Foundation
import MDData
import Sampling

struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Compare tbg sample output with MD: ESS, energy W1/W2, torus W2, Ramachandran JSD, φ-basin ΔF, NLL.",
        discussion: """
            Energies in kT at the samples' temperature, angles in radians, JSD in bits. The torus W2 \
            uses M = min(--max-points, MD frames, valid samples) points per set (MD every ⌊T/M⌋-th \
            frame, the first M valid samples, M multinomial draws ∝ w) and is exact (Jonker–Volgenant, \
            costs quantised to 1e-6 rad²). --json prints one object; its keys are listed in the README. \
            The ODE options apply to --nll-checkpoint only. snis_tbg and snis_clipped are the field's two \
            SNIS protocols (TBG: drop invalid samples; Prose/SBG: keep them with their raw energies and \
            drop the top --clip-fraction of log weights), each with the energy W2 and torsion W2 of \
            M resampled samples against M MD frames.
            """)

    @Option(help: "Output of tbg sample (.h5).") var samples: String
    @Option(help: "MD trajectory of the same peptide (.h5, with /potentialEnergy).") var reference: String
    @Flag(help: "Print one JSON object instead of text.") var json = false
    @Option(help: "Most points per set in the torus W2.") var maxPoints = 10_000
    @Option(help: "Histogram bins per angle for the JSD.") var bins = 36
    @Option(help: "Contiguous MD blocks of the block bootstrap of ΔF.") var blocks = 20
    @Option(help: "Bootstrap replicates for the ΔF errors.") var bootstrap = 200
    @Option(help: "Seed of the resampling and the bootstraps.") var seed: UInt64 = 1
    @Option(help: "Fraction of largest log weights the clipped SNIS protocol (snis_clipped, Prose/SBG) drops.") var clipFraction = 0.002
    @Flag(help: "List the resampled sample indices and MD frames of snis_tbg and snis_clipped in the JSON.") var listResampled = false
    @Option(parsing: .unconditional,
            help: "The positive phi basin of dF, LOWER:UPPER in radians (open interval; the rest is the other basin).",
            transform: PhiBasinArgument.parse)
    var phiBasin = PhiBasinArgument(lower: 0, upper: 2.15)
    @Option(help: "Checkpoint for the NLL of MD frames (default: no NLL).") var nllCheckpoint: String?
    @Option(help: "MD frames for the NLL, evenly spaced.") var nllFrames = 100
    @Flag(help: "Allow NLL frames the checkpoint trained on (by default they are left out: a training frame's NLL is optimistic).")
    var nllIncludeTrainingFrames = false
    @OptionGroup var sampler: SamplerOptions
    @OptionGroup var distributed: DistributedOptions

    func validate() throws {
        guard maxPoints >= 1, bins >= 1, blocks >= 1, bootstrap >= 0, nllFrames >= 1 else {
            throw ValidationError("--max-points, --bins, --blocks and --nll-frames must be positive, --bootstrap not negative")
        }
        // Upper ends: a 2-D histogram of bins² cells, bootstrap replicates held in memory.
        try SizeLimit.check("--bins", bins, in: 1...3600)
        try SizeLimit.check("--bootstrap", bootstrap, in: 0...1_000_000)
        if nllCheckpoint == nil, !sampler.given.isEmpty {
            throw ValidationError("\(sampler.given.joined(separator: ", ")): only used for the NLL of MD frames; give --nll-checkpoint too (without it no ODE is solved)")
        }
        try sampler.validateMethod()
        guard clipFraction >= 0, clipFraction < 1 else {
            throw ValidationError("--clip-fraction must be in [0, 1) (the fraction of largest log weights dropped; 0.002 drops the top 0.2 %), got \(clipFraction)")
        }
    }

    func run() throws {
        try distributed.withCommunicator { comm in
            do {
                let inputs = try EvaluationInputs(samplesPath: samples, referencePath: reference)
                let nll = try nllCheckpoint.map { try likelihood(checkpoint: $0, inputs: inputs, comm: comm) } ?? nil
                guard comm.isRoot else { return }
                var settings = EvaluationSettings()
                (settings.maxPoints, settings.bins, settings.blocks, settings.bootstrap, settings.seed) = (maxPoints, bins, blocks, bootstrap, seed)
                settings.phiBasin = PhiBasin(lower: phiBasin.lower, upper: phiBasin.upper)
                settings.clipFraction = clipFraction
                let started = Date()
                let report = SampleEvaluation.evaluate(reference: inputs.reference, samples: inputs.samples, settings: settings)
                let protocols = SNISProtocols.evaluate(reference: inputs.reference, samples: inputs.samples, settings: settings,
                                                       listResampled: listResampled)
                let output = EvaluateOutput(samplesFile: samples, referenceFile: reference, peptide: inputs.referenceFile.metadata.name,
                                            kT: inputs.kT, temperature: inputs.referenceFile.metadata.temperatureK,
                                            phiAtoms: inputs.phiAtoms, psiAtoms: inputs.psiAtoms, energyEvaluations: inputs.energyEvaluations,
                                            sampler: inputs.sampler ?? "flow", report: report, protocols: protocols, nll: nll)
                if json {
                    writeLine(try JSONOutput.line(output))
                } else {
                    writeLine(EvaluationText.render(output, seconds: Date().timeIntervalSince(started)))
                }
            } catch {
                if comm.size > 1 { comm.abort(code: 1, message: "tbg evaluate: error: \(error)") }
                throw error
            }
        }
    }

    /// NLL of K evenly spaced MD frames, all ranks taking part; nil except on rank 0. Frames the
    /// checkpoint trained on (its training-data record, matched by file content) are left out
    /// unless --nll-include-training-frames; a reference made only of training frames is an error.
    private func likelihood(checkpoint: String, inputs: EvaluationInputs, comm: any Communicator) throws -> NLLReport? {
        let runner = try LikelihoodRunner(checkpointPath: checkpoint, dataPath: reference, settings: sampler.settings, communicator: comm)
        let frameCount = inputs.referenceFile.frameCount
        var candidates = Array(0..<frameCount), excluded = 0
        if let trained = try runner.trainingData?.trainingFrames(ofFileAt: reference) {
            if nllIncludeTrainingFrames {
                if comm.isRoot { writeError("tbg evaluate: warning: frames \(trained.lowerBound)..<\(trained.upperBound) of \(reference) were trained on by \(checkpoint); their NLL is optimistic (--nll-include-training-frames)") }
            } else {
                candidates.removeAll { trained.contains($0) }
                excluded = frameCount - candidates.count
                guard !candidates.isEmpty else {
                    throw ValidationError("every frame of \(reference) was trained on by \(checkpoint): the NLL needs frames it has not seen (an independent trajectory, e.g. a test split), or pass --nll-include-training-frames")
                }
            }
        }
        let k = min(nllFrames, candidates.count)
        let frames = (0..<k).map { candidates[$0 * candidates.count / k] }
        guard let result = try runner.negativeLogLikelihood(frames: frames) else { return nil }
        let dimensions = Double(result.degreesOfFreedom)
        return NLLReport(checkpoint: checkpoint, frames: frames.count, mean: result.mean, standardError: result.standardError,
                         dimensions: result.degreesOfFreedom, meanPerDimension: result.mean / dimensions,
                         standardErrorPerDimension: result.standardError / dimensions, meanBgflow: result.meanBgflow,
                         meanNanometres: result.meanNanometres, weights: runner.weightsDescription, excludedTrainingFrames: excluded)
    }
}

/// `--phi-basin LOWER:UPPER`: the positive φ basin in radians, −π ≤ LOWER < UPPER ≤ π.
struct PhiBasinArgument: ExpressibleByArgument {
    var lower: Double
    var upper: Double

    init(lower: Double, upper: Double) { (self.lower, self.upper) = (lower, upper) }

    init?(argument: String) {
        guard let parsed = try? Self.parse(argument) else { return nil }
        self = parsed
    }

    /// The range, or an error that says what is wrong with it (ArgumentParser prints it after "The
    /// value … is invalid for --…"); the options use it as their transform.
    static func parse(_ argument: String) throws -> PhiBasinArgument {
        let parts = argument.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let lower = Double(parts[0]), let upper = Double(parts[1]) else {
            throw ValidationError("expected LOWER:UPPER, two numbers in radians (e.g. -3.14:0)")
        }
        guard lower < upper else { throw ValidationError("LOWER \(lower) must be below UPPER \(upper)") }
        guard lower >= -Double.pi - 1e-9, upper <= Double.pi + 1e-9 else {
            throw ValidationError("angles are in radians, within -pi...pi (-3.1416...3.1416)")
        }
        return PhiBasinArgument(lower: lower, upper: upper)
    }

    var defaultValueDescription: String { "\(lower):\(upper)" }
}

/// What `tbg evaluate --json` prints (README "Evaluation" lists the keys).
struct EvaluateOutput: Encodable {
    var samplesFile: String
    var referenceFile: String
    @JSONNullable var peptide: String? = nil
    var kT: Double
    @JSONNullable var temperature: Double? = nil
    var phiAtoms: [Int]
    var psiAtoms: [Int]
    /// Target-energy evaluations the samples cost, to compare samplers at equal budgets.
    var energyEvaluations: Int
    /// flow (tbg sample), smc or mcmc.
    var sampler: String
    var report: EvaluationReport
    /// The field's two SNIS protocols (snis_tbg, snis_clipped).
    var protocols: SNISProtocolsReport
    @JSONNullable var nll: NLLReport? = nil

    enum CodingKeys: String, CodingKey {
        case samplesFile = "samples_file"
        case referenceFile = "reference_file"
        case peptide
        case kT = "kT_kJ_per_mol"
        case temperature = "temperature_K"
        case phiAtoms = "phi_atoms"
        case psiAtoms = "psi_atoms"
        case energyEvaluations = "energy_evaluations"
        case sampler
        case counts, md, proposal, reweighted, settings, nll
        case snisTBG = "snis_tbg"
        case snisClipped = "snis_clipped"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(samplesFile, forKey: .samplesFile)
        try container.encode(referenceFile, forKey: .referenceFile)
        try container.encode(_peptide, forKey: .peptide)
        try container.encode(kT, forKey: .kT)
        try container.encode(_temperature, forKey: .temperature)
        try container.encode(phiAtoms, forKey: .phiAtoms)
        try container.encode(psiAtoms, forKey: .psiAtoms)
        try container.encode(energyEvaluations, forKey: .energyEvaluations)
        try container.encode(sampler, forKey: .sampler)
        try container.encode(report.counts, forKey: .counts)
        try container.encode(report.md, forKey: .md)
        try container.encode(report.proposal, forKey: .proposal)
        try container.encode(report.reweighted, forKey: .reweighted)
        try container.encode(report.settings, forKey: .settings)
        try container.encode(protocols.tbg, forKey: .snisTBG)
        try container.encode(protocols.clipped, forKey: .snisClipped)
        try container.encode(_nll, forKey: .nll)
    }
}

/// Mean NLL of MD frames in model units, with its standard error, per molecule and per dimension.
struct NLLReport: Encodable, Equatable {
    var checkpoint: String
    var frames: Int
    @JSONNullable var mean: Double? = nil
    @JSONNullable var standardError: Double? = nil
    var dimensions: Int
    @JSONNullable var meanPerDimension: Double? = nil
    @JSONNullable var standardErrorPerDimension: Double? = nil
    /// The mean without the Gaussian constant (D/2)·ln 2π (bgflow's convention, TBG's tables).
    @JSONNullable var meanBgflow: Double? = nil
    /// The mean for coordinates in nm (mean − D·ln scaling).
    @JSONNullable var meanNanometres: Double? = nil
    var weights = ""
    /// Frames of the reference left out because the checkpoint trained on them.
    var excludedTrainingFrames = 0
    var units = "model units (positions times the checkpoint's model.scaling per nm), 3(N-1) dimensions"

    enum CodingKeys: String, CodingKey {
        case checkpoint, frames, mean
        case excludedTrainingFrames = "excluded_training_frames"
        case standardError = "standard_error"
        case dimensions
        case meanPerDimension = "mean_per_dimension"
        case standardErrorPerDimension = "standard_error_per_dimension"
        case meanBgflow = "mean_bgflow"
        case meanNanometres = "mean_nm"
        case units, weights
    }
}

/// The text report: a header, the counts, one table row per metric, and the notes.
enum EvaluationText {
    static func render(_ output: EvaluateOutput, seconds: Double) -> String {
        let report = output.report, counts = report.counts
        let temperature = output.temperature.map { String(format: " (%.6g K)", $0) } ?? ""
        var lines = ["tbg evaluate: \(output.samplesFile) against \(output.referenceFile)",
                     "  peptide \(output.peptide ?? "?"), kT = \(String(format: "%.6g", output.kT)) kJ/mol\(temperature); phi atoms \(atoms(output.phiAtoms)), psi atoms \(atoms(output.psiAtoms))"]
        var failures = ""
        if let integration = counts.integrationFailures, let exhausted = counts.isomorphismBudgetExhausted, let different = counts.notIsomorphic {
            failures = " (\(integration) integration failures, \(different) not isomorphic, \(exhausted) isomorphism budget exhausted)"
        }
        lines.append(String(format: "  samples %d: %d valid (%@), %d failed the bond-graph check%@, %d mixed chirality; %d mirrored (%@ of valid); %d valid with non-finite energy",
                            counts.samples, counts.valid, percent(counts.validFraction), counts.topologyFailures, failures, counts.chiralityFailures,
                            counts.chiralityFixes, percent(counts.chiralityFixRate), counts.nonFiniteEnergies))
        var mdFrames = "MD \(report.md.frames) frames"
        if report.md.weightedByBias {
            mdFrames += ", a biased run: every MD metric weights its frames by exp(+V/kT) (/bias_energy), bias ESS \(number(report.md.biasEffectiveSampleSize, 4)) (\(percent(report.md.biasEffectiveSampleSize)))"
        }
        let khat = counts.paretoKHat.map { k in
            String(format: ", Pareto k %.2f%@", k, k > (counts.paretoKHatThreshold ?? 0.7)
                   ? String(format: " (above %.2f, the threshold for this many samples: the reweighted estimates rest on a few of them)", counts.paretoKHatThreshold ?? 0.7) : "")
        } ?? ""
        lines.append("  ESS \(number(counts.effectiveSampleSize, 4)) (\(percent(counts.effectiveSampleSize)))\(khat) over the \(counts.valid) valid samples; \(mdFrames)")
        lines.append("  sampler \(output.sampler), \(output.energyEvaluations) target-energy evaluations")
        let md = report.md, sets = [report.proposal, report.reweighted]
        var table: [[String]] = [["", "MD", "proposal", "reweighted"]]
        table.append(["energy mean (kT)", number(md.energyMean, 3)] + sets.map { number($0.energyMean, 3) })
        table.append(["energy median (kT)", number(md.energyMedian, 3)] + sets.map { number($0.energyMedian, 3) })
        table.append(["energy W1 (kT)", "-"] + sets.map { number($0.energyW1, 4) })
        table.append(["energy W2 (kT)", "-"] + sets.map { number($0.energyW2, 4) })
        table.append(["torus W2 phi/psi (rad)", "-"] + sets.map { $0.torusW2 == nil ? "n/a" : "\(number($0.torusW2, 4)) (M \($0.torusPoints))" })
        table.append(["JSD phi/psi (bits)", "-"] + sets.map { number($0.jsdBits, 4) })
        let basin = report.settings.phiPositiveBasin.map { String(format: "%.6g", $0) }
        table.append(["dF = F(\(basin[0])<phi<\(basin[1])) - F(rest) (kT)", deltaF(md.deltaF.value, md.deltaF.standardError)] + sets.map { deltaF($0.deltaF?.value, $0.deltaF?.standardError) })
        table.append(["dF - MD (kT)", "-"] + sets.map { deltaF($0.deltaFMinusMD?.value, $0.deltaFMinusMD?.standardError) })
        let widths = (0..<4).map { column in table.map { $0[column].count }.max() ?? 0 }
        lines += table.map { row in
            let cells = row.enumerated().map { $0.element.padding(toLength: widths[$0.offset] + 3, withPad: " ", startingAt: 0) }
            return ("  " + cells.joined()).replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
        }
        lines.append("  (- : not defined for this column; n/a: not computable from these samples; dF > 0: the positive-phi basin is less populated)")
        lines += protocolTable(output.protocols)
        if let nll = output.nll {
            if nll.excludedTrainingFrames > 0 {
                lines.append("  NLL frames: \(nll.excludedTrainingFrames) frames of the reference were trained on by the checkpoint and are left out")
            }
            lines.append("  NLL of \(nll.frames) MD frames: \(number(nll.mean, 4)) ± \(number(nll.standardError, 4)) (\(nll.dimensions) dimensions), \(number(nll.meanPerDimension, 5)) ± \(number(nll.standardErrorPerDimension, 5)) per dimension, model units; bgflow convention \(number(nll.meanBgflow, 4)), in nm \(number(nll.meanNanometres, 4))")
        }
        var notes: [String] = []
        for (name, set) in [("proposal", report.proposal), ("reweighted", report.reweighted)] {
            if let reason = set.reason { notes.append("\(name): \(reason)") }
            if let deltaF = set.deltaF { notes += Self.deltaFNotes(name, deltaF) }
        }
        notes += Self.deltaFNotes("MD", md.deltaF)
        if let reason = output.protocols.tbg.reason { notes.append("snis_tbg: \(reason)") }
        if let reason = output.protocols.clipped.reason { notes.append("snis_clipped: \(reason)") }
        lines += notes.map { "  note: " + $0 }
        let s = report.settings
        let mdPoints = md.weightedByBias ? "MD: multinomial draws ∝ exp(+V/kT)" : "MD frames 0, \(md.torusStride), \(2 * md.torusStride), ..."
        lines.append("  settings: torus W2 on \(s.torusPoints) points per set (\(mdPoints); the first valid samples; multinomial draws with seed \(s.seed)), exact to \(s.torusW2SquaredErrorBound) rad^2 in W2^2; JSD on \(s.bins)x\(s.bins) bins; dF errors: MD \(s.blocks)-block bootstrap\(md.weightedByBias ? " (bias-weighted)" : ""), samples: \(report.reweighted.deltaF?.method ?? report.proposal.deltaF?.method ?? "bootstrap, \(s.bootstrap) replicates"); \(String(format: "%.1f", seconds)) s")
        return lines.joined(separator: "\n")
    }

    /// The two SNIS protocols side by side (field.md §4).
    static func protocolTable(_ protocols: SNISProtocolsReport) -> [String] {
        let sets = [protocols.tbg, protocols.clipped]
        let clip = protocols.clipped.clipFraction.map { String(format: "%g", 100 * $0) } ?? "?"
        var table: [[String]] = [["SNIS protocol (field.md 4)", "snis_tbg", "snis_clipped"]]
        table.append(["samples used", "\(protocols.tbg.samples)", protocols.clipped.reason == nil ? "\(protocols.clipped.samples)" : "n/a"])
        table.append(["invalid dropped / kept", "\(protocols.tbg.droppedInvalid) dropped", protocols.clipped.reason == nil ? "\(protocols.clipped.keptInvalid) kept" : "n/a"])
        table.append(["top \(clip) % log weights dropped", "-", protocols.clipped.reason == nil ? "\(protocols.clipped.clipped) (log w > \(number(protocols.clipped.logWeightThreshold, 3)))" : "n/a"])
        table.append(["ESS", number(protocols.tbg.effectiveSampleSize, 4), number(protocols.clipped.effectiveSampleSize, 4)])
        table.append(["resampled vs MD frames", "\(protocols.tbg.resampled)", "\(protocols.clipped.resampled)"])
        table.append(["energy W2 (kT)"] + sets.map { number($0.energyW2, 4) })
        table.append(["torsion W2 (rad, \(protocols.tbg.torsionDimensions) angles)"] + sets.map { number($0.torsionW2, 4) })
        let widths = (0..<3).map { column in table.map { $0[column].count }.max() ?? 0 }
        return table.map { row in
            let cells = row.enumerated().map { $0.element.padding(toLength: widths[$0.offset] + 3, withPad: " ", startingAt: 0) }
            return ("  " + cells.joined()).replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
        }
    }

    private static func number(_ value: Double?, _ decimals: Int) -> String {
        guard let value, value.isFinite else { return "n/a" }
        return String(format: "%.\(decimals)f", value)
    }

    private static func percent(_ fraction: Double?) -> String {
        guard let fraction, fraction.isFinite else { return "n/a" }
        return String(format: "%.1f %%", 100 * fraction)
    }

    /// A ΔF's notes: why it or its error is missing, and bootstrap replicates that drew one basin
    /// only (no finite ΔF; left out of the standard error, which then understates the uncertainty).
    private static func deltaFNotes(_ name: String, _ deltaF: DeltaFReport) -> [String] {
        var notes: [String] = []
        if let reason = deltaF.reason { notes.append("\(name) dF: \(reason)") }
        let left = deltaF.degenerateReplicates
        if deltaF.value != nil, left > 0 {
            notes.append("\(name) dF: \(left) bootstrap replicate\(left == 1 ? "" : "s") drew one basin only and \(left == 1 ? "is" : "are") left out of the error, which is then an underestimate")
        }
        return notes
    }

    private static func deltaF(_ value: Double?, _ error: Double?) -> String {
        guard let value, value.isFinite else { return "n/a" }
        return number(value, 3) + (error.map { " ± " + number($0, 3) } ?? "")
    }

    private static func atoms(_ quartet: [Int]) -> String { quartet.map(String.init).joined(separator: "-") }
}
