// Where `tbg smc` and `tbg mcmc` get their proposals: a `tbg sample` output given as SAMPLES, or
// drawn by the command itself with --checkpoint, --peptide and --proposals N (tbg sample's run,
// FlowSampling.swift). Drawn proposals go to a file of their own beside the output and are kept:
// they are the expensive part (an ODE solve with the exact divergence per proposal), a later run
// can reuse them as SAMPLES, and an interrupted draw continues from its chunks when the same
// command is run again.
import ArgumentParser
import Communication
import Foundation
import HDF5
import MDData
import Sampling

struct ProposalDrawingOptions: ParsableArguments {
    @Option(help: "Draw the proposals with this trained flow (.h5 checkpoint) instead of reading SAMPLES; needs --peptide and --proposals N (the number to draw).")
    var checkpoint: String?
    @Option(help: "With --checkpoint: trajectory file of the peptide (frame 0: the reference chirality; its OpenMM System: the energies).")
    var peptide: String?
    @Option(help: "With --checkpoint: the file the drawn proposals are written to and kept in (default: OUT with .h5 replaced by .proposals.h5).")
    var proposalsOut: String?
    @Option(help: "With --checkpoint: seed of the flow's latents (proposal i uses (seed, i)).")
    var proposalSeed: UInt64 = 1
    @OptionGroup(title: "Drawing proposals (with --checkpoint)") var sampler: SamplerOptions

    /// The proposals file for `out`: --proposals-out, else OUT's name with .proposals.h5.
    func proposalsPath(out: String) -> String {
        if let proposalsOut { return proposalsOut }
        let stem = out.hasSuffix(".h5") ? String(out.dropLast(3)) : out
        return stem + ".proposals.h5"
    }

    /// Checks that exactly one source is given. `count` is --proposals.
    func validate(samples: String?, count: Int?) throws {
        switch (samples, checkpoint) {
        case (nil, nil): throw ValidationError("give SAMPLES (a tbg sample output), or --checkpoint, --peptide and --proposals N to draw the proposals")
        case (.some, .some): throw ValidationError("give SAMPLES or --checkpoint, not both")
        case (nil, .some):
            guard peptide != nil else { throw ValidationError("--checkpoint needs --peptide (the peptide to sample)") }
            guard count != nil else { throw ValidationError("--checkpoint needs --proposals N (how many proposals to draw)") }
        case (.some, nil):
            guard peptide == nil, proposalsOut == nil else { throw ValidationError("--peptide and --proposals-out go with --checkpoint (drawing proposals), not with SAMPLES") }
            // The drawing options would be silently ignored: SAMPLES was drawn with its own settings.
            guard proposalSeed == 1, sampler.given.isEmpty else {
                throw ValidationError("--proposal-seed and the ODE options (--method, --tolerance, --steps, --micro-batch, --chunk, --max-steps) go with --checkpoint (drawing proposals); SAMPLES was drawn with its own")
            }
        }
        try sampler.validateMethod()
    }

    /// The proposals file to read, collectively on every rank: SAMPLES, or the file drawn now.
    /// - Returns: nil when a signal stopped the draw (its chunks are kept; running the same command
    ///   again continues it).
    /// - Throws: an output that is an input; a proposals file that already exists (it is never
    ///   overwritten: pass it as SAMPLES, or remove it); everything tbg sample throws.
    func proposals(samples: String?, count: Int?, out: String, progressSeconds: Int, communicator comm: any Communicator,
                   prefix: String) throws -> String? {
        if let samples { return samples }
        guard let checkpoint, let peptide, let count else { preconditionFailure("validate(samples:count:) checks the options") }
        let path = proposalsPath(out: out)
        if comm.isRoot {
            try OutputPath.checkDistinct(out, from: [checkpoint, peptide, path])
            try OutputPath.checkDistinct(path, from: [checkpoint, peptide])
            if FileManager.default.fileExists(atPath: path) {
                throw DataFormatError(file: path, "exists already and is never overwritten: pass it as SAMPLES to use these proposals (with --proposals N for its first N), or remove it or choose --proposals-out to draw new ones")
            }
            writeLine("\(prefix): drawing \(count) proposal\(count == 1 ? "" : "s") with \(checkpoint) into \(path)")
        }
        let finished = try FlowSampling.draw(checkpoint: checkpoint, peptide: peptide, count: count, out: path, seed: proposalSeed, roundTrip: 0,
                                             sampler: sampler, resume: true, overwrite: false, progressSeconds: progressSeconds, communicator: comm,
                                             prefix: prefix + " (proposals)")
        // A stop signal that came during the last chunk let the draw complete; it still stops the
        // command before SMC/MCMC (which do not watch for it), on every rank alike.
        let stopped = comm.allreduce(Int64(StopSignal.received != 0 ? 1 : 0), .max) != 0
        if finished, stopped, comm.isRoot {
            writeLine("\(prefix): stopped after the proposals were drawn; they are complete in \(path): run again with \(path) as SAMPLES, without --checkpoint, --peptide and --proposals-out")
        }
        return finished && !stopped ? path : nil
    }

    /// Tells the user, on rank 0, that proposals drawn before an error stopped the run are kept and
    /// how to reuse them (the same command would refuse the existing file). Nothing when the
    /// proposals were given as SAMPLES or not drawn completely.
    static func reportKept(drawn: String?, prefix: String, communicator comm: any Communicator) {
        guard comm.isRoot, let drawn, FileManager.default.fileExists(atPath: drawn) else { return }
        writeLine("\(prefix): the drawn proposals are kept in \(drawn): run again with \(drawn) as SAMPLES, without --checkpoint, --peptide and --proposals-out, to use them")
    }
}

extension ProposalDrawingOptions {
    /// The frame `tbg smc` and `tbg mcmc` share, collectively on every rank: check the output (not
    /// an input, writable, not existing unless --overwrite), get the proposals (SAMPLES, or drawn
    /// now), read them (`--proposals` limits a given SAMPLES file; drawn proposals are used whole),
    /// and run `body` with the proposals and their file's path. On an error it says where drawn
    /// proposals are kept and ends the other ranks. Returns without calling `body` when a signal
    /// stopped the draw (the same command continues it).
    func withProposals(command: String, samples: String?, out: String, monteCarlo: MonteCarloOptions, distributed: DistributedOptions,
                       body: (_ input: ProposalFile, _ path: String, _ comm: any Communicator) throws -> Void) throws {
        let prefix = "tbg \(command)"
        try distributed.withCommunicator { comm in
            var drawn: String?   // the proposals file this run drew, once drawn
            do {
                if comm.isRoot {
                    try OutputPath.checkNewFile(out, from: [samples, checkpoint, peptide].compactMap { $0 }, overwrite: monteCarlo.overwrite)
                    for stale in HDF5File.removeStalePartials(for: out) { writeLine("removed stale partial file \(stale)") }
                }
                guard let path = try proposals(samples: samples, count: monteCarlo.proposals, out: out, progressSeconds: monteCarlo.progressSeconds,
                                               communicator: comm, prefix: prefix) else {
                    return
                }
                if samples == nil { drawn = path }
                let input = try ProposalFile(path: path, limit: samples == nil ? nil : monteCarlo.proposals)
                try body(input, path, comm)
            } catch {
                Self.reportKept(drawn: drawn, prefix: prefix, communicator: comm)
                if comm.size > 1 { comm.abort(code: 1, message: "\(prefix): error: \(error)") }
                throw error
            }
        }
    }
}
