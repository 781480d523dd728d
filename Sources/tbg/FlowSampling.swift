// tbg sample's run as a function, for `tbg sample` and for `tbg smc` / `tbg mcmc` when they draw
// their proposals themselves (ProposalDrawing.swift): samples split over the ranks in chunks,
// every finished chunk on disk at once (OUT.chunks/), merged into OUT by rank 0.
import Communication
import Foundation
import HDF5
import MDData
import Sampling

enum FlowSampling {
    /// Draws `count` samples of `peptide` with the flow of `checkpoint` into `out`, collectively on
    /// every rank of `comm`; progress lines start with `prefix`. An existing `out` is refused before
    /// any work unless `overwrite` (it is then replaced only once the new samples are complete).
    /// - Returns: true on every rank when `out` was written; false when a signal (SIGTERM/SIGUSR1)
    ///   stopped the run, the finished chunks being kept in OUT.chunks/ for `resume`.
    /// - Throws: bad inputs (checkpoint, peptide, an output that is an input, an existing output
    ///   without `overwrite`), a chunk folder of
    ///   another run, I/O errors. The caller ends the other ranks (`comm.abort`).
    static func draw(checkpoint: String, peptide: String, count: Int, out: String, seed: UInt64, roundTrip: Int, sampler: SamplerOptions,
                     resume: Bool, overwrite: Bool, progressSeconds: Int, communicator comm: any Communicator, prefix: String) throws -> Bool {
        // First: a Ctrl-C while the model loads must also stop cleanly.
        StopSignal.install()
        if comm.isRoot {
            // --resume of a run whose chunks were merged already: say so rather than "exists".
            if resume, !overwrite, FileManager.default.fileExists(atPath: out), !FileManager.default.fileExists(atPath: SampleChunks.folder(for: out)) {
                // A merged file cannot grow: say how to get more samples without recomputing these.
                let held = (try? HDF5File(opening: out).root().dataset("coordinates").shape.first) ?? nil
                if let held, held != count {
                    throw DataFormatError(file: out, "is complete already with \(held) samples (its chunks were merged, none is left to resume), so a resume cannot make it \(count): for more samples draw them with another --seed into a new file and join the two with tbg pool (samples of different seeds are independent); --overwrite computes \(count) from scratch")
                }
                throw DataFormatError(file: out, "is complete already (its chunks were merged, none is left to resume): nothing to do; --overwrite computes it again")
            }
            try OutputPath.checkNewFile(out, from: [checkpoint, peptide], overwrite: overwrite)
            for stale in HDF5File.removeStalePartials(for: out) {
                writeLine("removed stale partial file \(stale) (an unfinished write of a process that no longer runs)")
            }
        }
        // The default chunk depends on the count only (not on the ranks), so that a resume on
        // another number of ranks finds the same chunks: at least 16 chunks when the count
        // allows, of 8 to 64 samples (a network call's micro-batch is 8).
        // A resume takes the chunk size of the run it continues (when --chunk is not given), so
        // that it may ask for another --count: the default for the new count could differ.
        var settings = sampler.settings
        if sampler.chunk == nil {
            var stored = 0
            let manifest = SampleChunks.folder(for: out) + "/run.json"
            if resume, comm.isRoot, FileManager.default.fileExists(atPath: manifest) {
                stored = try SampleChunks.readIdentity(manifest: manifest).chunk
            }
            var broadcast = [Int64(stored)]
            comm.broadcast(&broadcast, root: 0)
            settings.chunk = broadcast[0] > 0 ? Int(broadcast[0]) : min(64, max(8, (count + 15) / 16))
        }
        let runner = try SampleRunner(checkpointPath: checkpoint, peptidePath: peptide, settings: settings,
                                      seed: seed, communicator: comm)
        if comm.isRoot { writeLine("\(prefix): model: \(runner.weightsDescription)") }
        // Finished chunks go to OUT.chunks/ as they come; rank 0 creates (or, with resume, checks)
        // the folder before any rank writes to it.
        let identity = try runner.runIdentity(count: count, roundTrip: roundTrip, hashingContent: comm.isRoot)
        let opened = comm.isRoot ? try SampleChunks.open(out: out, identity: identity, atoms: runner.atomCount, resume: resume) : nil
        if let warning = opened?.lockWarning { writeLine("\(prefix): warning: \(warning)") }
        for line in opened?.setAside ?? [] { writeLine("\(prefix): \(line)") }
        // The other ranks take the folder's identity from rank 0 (on a resume, the one it started
        // with: the inputs may be at other paths now), so that their chunks carry the run's.
        var identityJSON = opened?.identityJSON ?? ""
        comm.broadcast(&identityJSON, root: 0)
        guard let runIdentity = try? JSONDecoder().decode(SampleChunks.RunIdentity.self, from: Data(identityJSON.utf8)) else {
            throw SampleChunksError("rank \(comm.rank) could not read the run description broadcast by rank 0")
        }
        var chunks = opened ?? SampleChunks(folder: SampleChunks.folder(for: out), identity: runIdentity, atoms: runner.atomCount)
        let started = Date()
        let outcome = try runner.run(count: count, roundTrip: roundTrip, chunks: chunks, shouldStop: { StopSignal.received != 0 },
                                     progressSeconds: Double(progressSeconds)) { writeLine("\(prefix): \($0)") }
        // outcome.stopped is the same on every rank (an allreduce in the runner).
        if comm.isRoot {
            if outcome.resumedChunks > 0 {
                writeLine("\(prefix): resumed: \(outcome.resumedChunks) of \(outcome.chunkCount) chunks were already in \(chunks.folder)")
            }
            if outcome.stopped {
                // Rank 0 may stop because another rank got the signal (the runner's allreduce).
                let cause = StopSignal.cause
                // Counted on disk: the runner stops handing out chunks before it reaches finished
                // ones further on (a resume after a count change can leave such gaps).
                let finished = chunks.doneChunks().count
                writeLine("\(prefix): stopped on \(cause): \(finished) of \(outcome.chunkCount) chunks of \(runIdentity.chunk) samples are in \(chunks.folder); continue with the same command\(prefix == "tbg sample" ? " and --resume" : "")")
            } else if let summary = outcome.summary {
                try runner.write(outcome.records, summary: summary, identity: runIdentity, to: out)
                if let kept = try chunks.remove() {
                    let names = (try? FileManager.default.contentsOfDirectory(atPath: kept)) ?? []
                    var kinds: [String] = []
                    if names.contains(where: { $0.contains(".h5.damaged") }) { kinds.append("CHUNK.damaged: damaged, or another run's") }
                    if names.contains(where: { $0.contains(".h5.other-count") }) {
                        kinds.append("CHUNK.other-count: sound samples of this run at another --count, which no resume takes back now that it is merged (more samples: another --seed and tbg pool)")
                    }
                    writeLine("\(prefix): the chunk files a resume set aside are kept in \(kept) (\(kinds.joined(separator: "; "))); tbg inspect describes them; remove it once you have looked")
                }
                writeLine("\(prefix): \(summary.description)")
                writeLine(String(format: "%@: wrote %@ in %.1f s on %ld rank(s)", prefix, out, Date().timeIntervalSince(started), comm.size))
            }
        }
        // The other ranks may read `out` only once rank 0 has written it.
        comm.barrier()
        return !outcome.stopped
    }
}
