// Plain-text rendering of inspection reports: one labelled line per fact, aligned.
import Foundation
import MDData

enum ReportText {
    static func trajectory(_ report: TrajectoryReport, indent: String = "") -> String {
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
        if let first = report.timeFirstPS, let last = report.timeLastPS {
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
        lines.append(("made with", provenance.compactMap { $0 }.joined(separator: ", ")))
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
