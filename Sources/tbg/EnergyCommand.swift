// `tbg energy FILE [--frames A:B] [--json]`: the force-field energy of trajectory frames, per
// OpenMM force and in total, in kJ/mol and in kT at the file's temperature. Frames are streamed in
// windows, so files of any length work.
import ArgumentParser
import ForceField
import Foundation
import MDData

struct EnergyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "energy",
        abstract: "Force-field energies of trajectory frames, per force term, from the file's OpenMM System.",
        discussion: """
            Energies are computed in double precision from /openmm_system, exactly as OpenMM's \
            Reference platform does. Frames with overlapping atoms get +inf. With --json, one JSON \
            object per frame: frame, total_kj_mol, reduced (total / kT), terms (force class → kJ/mol).
            """)

    @Argument(help: "A trajectory file (.h5) in the project's format.")
    var file: String

    @Option(help: "Frames to evaluate, as A:B (Python-style, B excluded; A: and :B allowed). Default: all.")
    var frames: FrameRange?

    @Option(help: "Threads for the evaluation.")
    var threads = 1

    @Flag(help: "One JSON object per frame instead of a table.")
    var json = false

    func validate() throws {
        if threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        let trajectory = try TrajectoryFile(path: file)
        let system: ForceFieldSystem
        do {
            system = try ForceFieldSystem(xml: trajectory.systemXML)
        } catch {
            throw DataFormatError(file: file, "/openmm_system: \(error)")
        }
        guard let kT = trajectory.metadata.kT else {
            throw DataFormatError(file: file, "/metadata has neither kT_kJ_per_mol nor temperature_K; reduced energies need the temperature")
        }
        let range = try (frames ?? FrameRange()).resolve(frameCount: trajectory.frameCount, file: file)
        let names = TermNames.unique(system.termNames)
        let evaluator = EnergyEvaluator(system: system)
        if !json {
            print("# \(file): \(range.count) frames, kT = \(kT) kJ/mol; energies in kJ/mol")
            print((["frame", "total", "total/kT"] + names).joined(separator: "\t"))
        }
        let window = 1024
        var start = range.lowerBound
        while start < range.upperBound {
            let block = start..<min(range.upperBound, start + window)
            let positions = try trajectory.readFrames(block)
            let batch = positions.withUnsafeBufferPointer {
                evaluator.evaluate($0, frameCount: block.count, forces: false, threads: threads)
            }
            for offset in 0..<block.count {
                let terms = (0..<names.count).map { batch.termEnergies[offset * names.count + $0] }
                let total = batch.totals[offset]
                if json {
                    print(EnergyLine(frame: block.lowerBound + offset, total: total, reduced: total / kT,
                                     terms: Dictionary(uniqueKeysWithValues: zip(names, terms))).json)
                } else {
                    print(([String(block.lowerBound + offset), format(total), format(total / kT)] + terms.map(format)).joined(separator: "\t"))
                }
            }
            start = block.upperBound
        }
    }

    private func format(_ value: Double) -> String { value.isFinite ? String(format: "%.6f", value) : "inf" }
}

/// One frame of `tbg energy --json`. Infinite energies are written as the JSON string "inf".
struct EnergyLine {
    var frame: Int
    var total: Double
    var reduced: Double
    var terms: [String: Double]

    var json: String {
        func number(_ value: Double) -> String { value.isFinite ? "\(value)" : "\"inf\"" }
        let termText = terms.keys.sorted().map { "\"\($0)\": \(number(terms[$0]!))" }.joined(separator: ", ")
        return "{\"frame\": \(frame), \"total_kj_mol\": \(number(total)), \"reduced\": \(number(reduced)), \"terms\": {\(termText)}}"
    }
}

enum TermNames {
    /// Force class names, with "#2", "#3" appended to repeats so that every key is unique.
    static func unique(_ names: [String]) -> [String] {
        var seen: [String: Int] = [:]
        return names.map { name in
            seen[name, default: 0] += 1
            return seen[name]! == 1 ? name : "\(name)#\(seen[name]!)"
        }
    }
}

/// A Python-style frame slice "A:B".
struct FrameRange: ExpressibleByArgument {
    var start: Int?
    var end: Int?

    init() {}

    init?(argument: String) {
        let parts = argument.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return nil }
        if !parts[0].isEmpty { guard let value = Int(parts[0]) else { return nil }; start = value }
        if !parts[1].isEmpty { guard let value = Int(parts[1]) else { return nil }; end = value }
    }

    /// The frames selected in a file of `frameCount` frames.
    /// - Throws: `DataFormatError` naming `file` when the file has no frames, or the slice lies
    ///   outside it or selects none (an empty selection never yields a number).
    func resolve(frameCount: Int, file: String) throws -> Range<Int> {
        let text = "\(start.map(String.init) ?? ""):\(end.map(String.init) ?? "")"
        guard frameCount > 0 else {
            throw DataFormatError(file: file, "has no frames; expected at least one frame to evaluate")
        }
        let lower = start ?? 0, upper = end ?? frameCount
        guard lower <= upper else {
            throw DataFormatError(file: file, "frames \(text): the start \(lower) is after the end \(upper); expected A:B with A < B within 0..<\(frameCount)")
        }
        guard lower >= 0, upper <= frameCount else {
            throw DataFormatError(file: file, "frames \(text) requested, the file has frames 0..<\(frameCount)")
        }
        guard lower < upper else {
            throw DataFormatError(file: file, "frames \(text) select no frames; expected A:B with A < B within 0..<\(frameCount)")
        }
        return lower..<upper
    }
}
