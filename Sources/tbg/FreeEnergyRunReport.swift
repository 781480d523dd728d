// `tbg inspect` of an unfinished `tbg free-energy` run: its folder OUT.logq/ of reverse
// integrations (Sampling/ChainLogQCache.swift), the folder's run.json, or one chain file. It says
// what the folder is, how many chains' integrations it keeps and what the run was, instead of
// "index.json: no such dataset index" (the folder was taken for a dataset).
import Foundation
import HDF5
import Sampling

struct FreeEnergyRunReport: Encodable {
    let kind = "unfinished_free_energy_run"
    /// The folder OUT.logq.
    let file: String
    /// The output the run writes when complete.
    let output: String
    /// Chain files (global chain indices) whose reverse integrations are kept.
    let finishedChains: [Int]
    /// Groups of latent chains (--flow-chains) kept, by their first global chain.
    let finishedLatentGroups: [Int]
    /// Chunks of position-only draws (--position-draws) kept, and groups of restricted draws by their first.
    let finishedDrawChunks: [Int]
    let finishedRestrictedGroups: [Int]
    /// Groups of annealed trajectories (--annealed-chains) kept, forward and reverse, by their first trajectory.
    let finishedAnnealedForwardGroups: [Int]
    let finishedAnnealedReverseGroups: [Int]
    /// run.json: content hashes of the samples and checkpoint, ODE and chain settings, proposal
    /// limit (nil when run.json is missing or not JSON: `problem` says which).
    let run: [String: String]?
    let problem: String?

    enum CodingKeys: String, CodingKey {
        case kind, file, output, run, problem
        case finishedChains = "finished_chains", finishedLatentGroups = "finished_latent_groups"
        case finishedDrawChunks = "finished_position_draw_chunks", finishedRestrictedGroups = "finished_restricted_draw_groups"
        case finishedAnnealedForwardGroups = "finished_annealed_forward_groups", finishedAnnealedReverseGroups = "finished_annealed_reverse_groups"
    }

    /// The OUT.logq folder that `path` names (the folder, its run.json, or a chain file in it), else nil.
    static func folder(for path: String) -> String? {
        var trimmed = path
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed.removeLast() }
        let url = URL(fileURLWithPath: trimmed)
        let parent = url.deletingLastPathComponent().path
        if parent.hasSuffix(".logq"), url.lastPathComponent == "run.json" || url.lastPathComponent.hasPrefix("chain-")
            || ["latent-", "draws-", "restricted-", "annealed-"].contains(where: url.lastPathComponent.hasPrefix) { return parent }
        var isDirectory: ObjCBool = false
        if trimmed.hasSuffix(".logq"), FileManager.default.fileExists(atPath: trimmed, isDirectory: &isDirectory), isDirectory.boolValue { return trimmed }
        return nil
    }

    init(folder: String) {
        file = folder
        output = String(folder.dropLast(".logq".count))
        finishedChains = ChainLogQCache.chainFiles(in: folder).compactMap { name in
            Int(name.dropFirst("chain-".count).prefix(while: \.isNumber))
        }.sorted()
        func numbers(_ names: [String], _ prefix: String) -> [Int] {
            names.compactMap { Int($0.dropFirst(prefix.count).dropLast(".h5".count)) }.sorted()
        }
        finishedLatentGroups = numbers(ChainLogQCache.latentFiles(in: folder), "latent-")
        finishedDrawChunks = numbers(ChainLogQCache.drawFiles(in: folder), "draws-")
        finishedRestrictedGroups = numbers(ChainLogQCache.latentFiles(in: folder, prefix: "restricted-"), "restricted-")
        finishedAnnealedForwardGroups = numbers(ChainLogQCache.latentFiles(in: folder, prefix: "annealed-forward-"), "annealed-forward-")
        finishedAnnealedReverseGroups = numbers(ChainLogQCache.latentFiles(in: folder, prefix: "annealed-reverse-"), "annealed-reverse-")
        let manifest = folder + "/run.json"
        guard let data = FileManager.default.contents(atPath: manifest) else {
            (run, problem) = (nil, "\(manifest) is missing: nothing says which samples, checkpoint and settings the kept integrations belong to, so a resume refuses them")
            return
        }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            (run, problem) = (nil, "\(manifest) is not a JSON object: a resume cannot match it")
            return
        }
        // Each value in words: strings as they are, objects and numbers as compact JSON.
        run = object.mapValues { value in
            if let text = value as? String { return text }
            if value is NSNull { return "none" }
            if let json = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed]) {
                return String(decoding: json, as: UTF8.self)
            }
            return "\(value)"
        }
        problem = nil
    }

    var text: String {
        var lines = ["\(file): the reverse integrations of an unfinished tbg free-energy run (Sampling/ChainLogQCache.swift)",
                     "  output       \(output) (written, and this folder removed, when the run completes)",
                     "  finished     \(finishedChains.count) chain(s) of reverse integrations kept"
                         + (finishedLatentGroups.isEmpty ? "" : ", \(finishedLatentGroups.count) group(s) of latent chains")
                         + (finishedDrawChunks.isEmpty ? "" : ", \(finishedDrawChunks.count) chunk(s) of position-only draws")
                         + (finishedRestrictedGroups.isEmpty ? "" : ", \(finishedRestrictedGroups.count) group(s) of restricted draws")
                         + (finishedAnnealedForwardGroups.isEmpty && finishedAnnealedReverseGroups.isEmpty ? ""
                            : ", \(finishedAnnealedForwardGroups.count) forward and \(finishedAnnealedReverseGroups.count) reverse group(s) of annealed trajectories")]
        if let run {
            for key in run.keys.sorted() { lines.append("  " + key.padding(toLength: 18, withPad: " ", startingAt: 0) + " " + run[key]!) }
            lines.append("  continue     the tbg free-energy command that started it, with --resume (samples and checkpoint are matched by content)")
        }
        if let problem { lines.append("  problem      \(problem)") }
        return lines.joined(separator: "\n")
    }
}
