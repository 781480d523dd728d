// Plain-text rendering of inspection reports: one labelled line per fact, aligned.
import Foundation
import MDData

enum ReportText {
    /// `samples`: the file is a sampler's output; its frames are samples, not MD, and its lines say so.
    static func trajectory(_ report: TrajectoryReport, indent: String = "", samples: SamplesReport? = nil) -> String {
        var lines: [(String, String)] = []
        let name = report.name ?? report.sequence ?? "unnamed"
        let sequence = [report.sequence.map { "sequence \($0)" }, report.termini.map { "\($0) termini" }]
            .compactMap { $0 }.joined(separator: ", ")
        lines.append(("peptide", sequence.isEmpty ? name : "\(name) (\(sequence))"))
        lines.append(("atoms", "\(report.atoms) in \(report.residues.count) residues (\(report.residues.joined(separator: " "))), \(report.bonds) bonds, \(report.formula)"))
        if report.duplicateBondsRemoved > 0 {
            lines.append(("bonds", "\(report.duplicateBondsRemoved) duplicated bond(s) in /topology (e.g. from PDB CONECT records) removed; \(report.bonds) distinct bonds used"))
        }
        var frames = "\(report.frames)"
        if samples != nil {
            frames += " samples (not MD: /time holds the sample index)"
        } else if let first = report.timeFirstPS, let last = report.timeLastPS {
            frames += ", time \(number(first)) … \(number(last)) ps"
            if let interval = report.frameIntervalPS { frames += " (every \(number(interval)) ps)" }
        }
        lines.append(("frames", frames))
        if let prepared = report.prepared {
            var origin = "prepared by Tools/prepare_peptide.py from " + (prepared.sourcePDB.map { "PDB \($0)" } ?? "its sequence")
            if let energy = prepared.minimizedEnergyKJMol { origin += ", energy-minimised to \(number(energy)) kJ/mol" }
            origin += "; no MD: an input for tbg sample (topology, force field), not a reference ensemble"
            lines.append(("origin", origin))
        }
        var forcefield = report.preset ?? "unknown preset"
        if let files = report.forcefield { forcefield += ": " + files.joined(separator: " + ") }
        if let temperature = report.temperatureK { forcefield += ", \(number(temperature)) K" }
        if let kT = report.kTkJPerMol { forcefield += " (kT = \(number(kT)) kJ/mol)" }
        lines.append(("force field", forcefield))
        lines.append(("system", "\(report.systemParticles) particles, \(report.systemConstraints) constraints; forces: \(report.forces.joined(separator: ", "))"))
        if let range = report.potentialEnergyRangeKJMol {
            lines.append(("energy", "potential \(number(range[0])) … \(number(range[1])) kJ/mol (simulation platform)"))
        }
        if report.referenceFrames > 0, let range = report.referenceTotalRangeKJMol {
            lines.append(("reference", "\(report.referenceFrames) frames with per-force energies and forces from OpenMM \(report.referencePlatform ?? "?"), total \(number(range[0])) … \(number(range[1])) kJ/mol"))
        } else {
            lines.append(("reference", "none"))
        }
        if let bias = report.bias {
            var text = "\(bias.kind ?? "unknown kind") on \(bias.cv ?? "?")"
            if let atoms = bias.cvAtoms { text += " (atoms \(atoms.map(String.init).joined(separator: "-")))" }
            if let factor = bias.biasFactor { text += ", bias factor \(number(factor))" }
            if let build = bias.buildPS { text += ", built over \(number(build)) ps" }
            if bias.energyRangeKJMol.count == 2 {
                text += "; V \(number(bias.energyRangeKJMol[0])) … \(number(bias.energyRangeKJMol[1])) kJ/mol"
            }
            if let ess = bias.effectiveFraction, ess.isFinite {
                text += "; frames weighted by exp(+V/kT), ESS \(String(format: "%.1f %%", 100 * ess)) of frames"
            }
            lines.append(("bias", text))
        }
        lines.append(("coordinates", "all finite; largest frame bounding-box diagonal \(number(report.maxBoxDiagonalNM)) nm"))
        let provenance = [report.openmmVersion.map { "OpenMM \($0)" }, report.platform.map { "\($0) platform" },
                          report.timestepFS.map { "\(number($0)) fs steps" }, report.seed.map { "seed \($0)" }]
        lines.append((samples == nil ? "made with" : "peptide MD", provenance.compactMap { $0 }.joined(separator: ", ")))
        if let samples { lines += sampleLines(samples) }
        let width = lines.map(\.0.count).max() ?? 0
        let body = lines.map { indent + "  " + $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.1 }
        return ([indent + report.file] + body).joined(separator: "\n")
    }

    static func dataset(_ report: DatasetReport) -> String {
        let peptides = report.members.map(\.name).reduce(into: [String]()) { if $0.last != $1 { $0.append($1) } }
        var text = "\(report.directory.isEmpty ? "." : report.directory) — dataset of \(peptides.count) peptides"
        if report.members.count > peptides.count { text += " in \(report.members.count) files" }
        if let preset = report.preset { text += ", preset \(preset)" }
        if let termini = report.termini { text += ", \(termini) termini" }
        for split in DatasetIndex.splits {
            let members = report.members.filter { $0.split == split }
            let frames = members.compactMap { $0.report?.frames }.reduce(0, +)
            let names = members.map(\.name).reduce(into: [String]()) { if $0.last != $1 { $0.append($1) } }
            text += "\n  \(split.padding(toLength: 10, withPad: " ", startingAt: 0)) \(names.count) peptides, \(frames) frames: "
            text += names.joined(separator: " ")
        }
        for member in report.members {
            if let memberReport = member.report {
                text += "\n\n" + trajectory(memberReport, indent: "  ")
            } else {
                text += "\n\n  \(member.file) (\(member.name)): INVALID (see error)"
            }
        }
        return text
    }

    private static func sampleLines(_ s: SamplesReport) -> [(String, String)] {
        let who = ["flow": "tbg sample", "smc": "tbg smc", "mcmc": "tbg mcmc", "md": "Tools/md_as_samples.py"][s.sampler].map { " (\($0))" } ?? ""
        var lines: [(String, String)] = []
        let share = s.count > 0 ? String(format: "%.1f %%", 100 * Double(s.valid) / Double(s.count)) : "–"
        lines.append(("sampler", "\(s.sampler)\(who): \(s.count) samples, \(s.valid) valid (\(share)), \(s.mirrorFixed) of them mirror-fixed"))
        let ess = s.effectiveSampleSizeFraction.map { String(format: "%.2f %% of the valid samples (Kish, unclipped; tbg evaluate gives both protocols)", 100 * $0) } ?? "– (no valid samples)"
        lines.append(("ESS", ess))
        var cost = "\(s.energyEvaluations) target-energy evaluations"
        if let perSample = s.evaluationsPerSample { cost += ", \(number(perSample)) velocity evaluations per sample" }
        if let median = s.evaluationsMedian, let maximum = s.evaluationsMaximum { cost += " (median \(number(median)), max \(number(maximum)))" }
        lines.append(("cost", cost))
        if let checkpoint = s.checkpoint {
            var model = checkpoint
            if let step = s.checkpointStep { model += " at step \(step)" }
            if let weights = s.weights { model += ", \(weights == "ema" ? "EMA" : weights) weights" }
            lines.append(("model", model))
        }
        if let source = s.sourceSamples { lines.append(("proposals", source)) }
        if let inputs = s.pooledFrom { lines.append(("pool of", inputs.joined(separator: ", "))) }
        var run = "kT \(number(s.kTkJPerMol)) kJ/mol"
        if let seed = s.seed { run += ", seed \(seed)" }
        if let seeds = s.seeds { run += ", seeds \(seeds.map(String.init).joined(separator: ", "))" }
        if let ranks = s.ranks { run += ", \(ranks) rank(s)" }
        lines.append(("run", run))
        if let settings = s.settings { lines.append(("settings", settings)) }
        return lines
    }

    static func checkpoint(_ c: CheckpointReport) -> String {
        var lines: [(String, String)] = []
        var progress = "step \(c.step) (epoch \(c.epoch), \(c.stepsPerEpoch) steps per epoch)"
        if let seen = c.samplesSeen, let batch = c.globalBatch { progress += String(format: ", %.3g training samples seen (global batch %d)", Double(seen), batch) }
        progress += ", last run on \(c.ranks) rank(s)"
        lines.append(("training", progress))
        lines.append(("model", "EGNN vector field, H = \(c.hidden), L = \(c.layers), \(c.encoding) encoding, \(c.parameters) parameters"))
        var recipe = "\(c.coupling) coupling, \(c.schedule) schedule, learning rate \(String(format: "%.3g", c.learningRate)) at this step"
        if let decay = c.emaDecay { recipe += ", EMA \(number(decay))" }
        lines.append(("recipe", recipe))
        var losses: [String] = []
        if let train = c.lastTrainLoss { losses.append("train \(number(train.raw)) (step \(train.step))") }
        if let validation = c.lastValidationLoss {
            losses.append("validation \(number(validation.raw))" + (validation.ema.map { " / EMA \(number($0))" } ?? "") + " (step \(validation.step))")
        }
        lines.append(("loss", losses.isEmpty ? "none recorded" : losses.joined(separator: "; ")))
        lines.append(("resumable", "Adam state at step \(c.adamStep), \(c.emaUpdates) EMA updates; tbg sample uses the \(c.samplingWeights == "ema" ? "EMA" : "raw") weights"))
        if c.skippedSteps > 0 { lines.append(("skipped", "\(c.skippedSteps) step(s) skipped for a non-finite loss or gradient")) }
        var data = c.dataset
        if let peptides = c.trainingPeptides {
            data += ": \(peptides.count) training peptide(s)"
            if let frames = c.trainingFrames { data += ", \(frames) training frames" }
            data += " (" + (peptides.count > 12 ? peptides.prefix(12).joined(separator: " ") + " …" : peptides.joined(separator: " ")) + ")"
        }
        lines.append(("data", data))
        lines.append(("format", "tbg-checkpoint version \(c.formatVersion)"))
        let width = lines.map(\.0.count).max() ?? 0
        return ([c.file] + lines.map { "  " + $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.1 }).joined(separator: "\n")
    }

    /// Up to four significant digits, without trailing zeros ("0.5", "-61.85", "1.095").
    private static func number(_ value: Double) -> String {
        if value == value.rounded() && abs(value) < 1e6 { return String(Int(value)) }
        let magnitude = abs(value)
        let decimals = magnitude >= 1000 ? 1 : magnitude >= 100 ? 2 : magnitude >= 1 ? 3 : 4
        var text = String(format: "%.\(decimals)f", value)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }
}
