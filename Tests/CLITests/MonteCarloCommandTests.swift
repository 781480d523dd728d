// `tbg smc` and `tbg mcmc` as users run them, on a small real alanine-dipeptide samples file made
// here by `tbg sample` with the shipped model (Configs/models/ad2.h5): the same particles and chains
// on 1 and 2 MPI ranks for the same seed (bit for bit), output that MDTraj's layout, the diagnostics
// and `tbg evaluate` agree on, and bad inputs refused with the file named (under mpirun too, where
// the failing ranks end the job).
import Evaluation
import Foundation
import HDF5
import TestSupport
import XCTest

final class MonteCarloCommandTests: XCTestCase {
    private static let model = URL(fileURLWithPath: Fixtures.directory).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Configs/models/ad2.h5").path

    /// 12 proposals of the shipped AD2 model (RK4 with 4 steps: fast, rough, some invalid).
    private func makeProposals(_ scratch: ScratchDirectory) throws -> String {
        let path = scratch.file("proposals.h5")
        let result = try Executables.run(Executables.tbg, ["sample", "--checkpoint", Self.model, "--peptide", Fixtures.path("ad2_capped.h5"),
                                                            "--count", "12", "--method", "rk4", "--steps", "4", "--seed", "3", "--out", path],
                                         timeout: 600)
        XCTAssertEqual(result.status, 0, result.standardError)
        return path
    }

    /// The last JSON line of a `tbg free-energy --json` run, without its wall time (which differs
    /// between otherwise identical runs).
    private static func estimate(_ output: String) throws -> [String: Any] {
        let line = try XCTUnwrap(output.split(separator: "\n").last { $0.hasPrefix("{") }, output)
        var object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        for key in object.keys where key.hasSuffix("_seconds") { object[key] = nil }   // wall times
        return object
    }

    /// The one `{"stopped": true, …}` object a `--json` run stopped by a signal prints (the output
    /// holds stdout and stderr together; only stdout has lines that start with "{").
    private static func stoppedObject(_ output: String) throws -> [String: Any] {
        let lines = output.split(separator: "\n").filter { $0.hasPrefix("{") }
        XCTAssertEqual(lines.count, 1, output)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(try XCTUnwrap(lines.first, output).utf8)) as? [String: Any])
        XCTAssertEqual(object["stopped"] as? Bool, true)
        XCTAssertEqual(object["command"] as? String, "free-energy")
        XCTAssertTrue((object["message"] as? String)?.hasPrefix("stopped on") == true, "\(object)")
        return object
    }

    /// A φ split (rad) at the median of the usable proposals' φ, so that both basins have starts.
    private func medianPhiSplit(_ proposals: String) throws -> Double {
        let p = try read(proposals)
        let valid: [UInt8] = try p.group.dataset("chirality_ok").read()
        let phi = BackboneTorsions.dihedrals(p.coordinates, atoms: 22, quartet: [4, 6, 8, 14])   // C of ACE, N, CA, C of ALA (mdtraj.compute_phi)
        let validPhi = phi.indices.filter { valid[$0] != 0 && p.energies[$0].isFinite }.map { phi[$0] }.sorted()
        XCTAssertGreaterThanOrEqual(validPhi.count, 4, "the fixture's proposals must have usable samples on both sides")
        return 0.5 * (validPhi[validPhi.count / 2 - 1] + validPhi[validPhi.count / 2])
    }

    private func read(_ path: String) throws -> (coordinates: [Float], logWeights: [Double], energies: [Double], group: HDF5Group, root: HDF5Group) {
        let root = try HDF5File(opening: path).root()
        let group = try root.group("samples")
        return (try root.dataset("coordinates").read(), try group.dataset("log_weight").read(), try group.dataset("energy_kj_mol").read(), group, root)
    }

    func testSMCAndMCMCGiveTheSameResultOnOneAndTwoRanksAndEvaluateReadsThem() throws {
        let mpirun = try XCTUnwrap(Executables.which("mpirun"), "mpirun not found")
        let scratch = try ScratchDirectory("smc-cli")
        defer { scratch.remove() }
        let proposals = try makeProposals(scratch)

        // SMC with tempering (3 stages from β0 = 0.5), MALA; 7 particles so that 2 ranks split unevenly.
        let smc = ["smc", proposals, "--particles", "7", "--stages", "3", "--beta0", "0.5", "--steps-per-stage", "3", "--seed", "11"]
        let one = try Executables.run(Executables.tbg, smc + ["--out", scratch.file("smc1.h5"), "--progress-seconds", "0"])
        XCTAssertEqual(one.status, 0, one.standardError)
        XCTAssertTrue(one.standardOutput.contains("tbg smc: progress: stage 1/3, beta 0.5,"), one.standardOutput)
        XCTAssertTrue(one.standardOutput.contains("tbg smc: progress: stage 3/3, beta 1,"), one.standardOutput)
        let sources = Set(try HDF5File(opening: scratch.file("smc1.h5")).root().group("samples").dataset("source_frame").read(as: Int64.self)).count
        XCTAssertTrue(one.standardOutput.contains("7 particles from \(sources) distinct proposals"), one.standardOutput)
        let two = try Executables.run(mpirun, ["-np", "2", Executables.tbg] + smc + ["--out", scratch.file("smc2.h5")],
                                      environment: Executables.mpiEnvironment, timeout: 300)
        XCTAssertEqual(two.status, 0, two.standardOutput + two.standardError)
        XCTAssertTrue(two.standardOutput.contains("on 2 rank(s)"), two.standardOutput)
        // 4 ranks (oversubscribed on a 2-core machine): blocks of 2, 2, 2 and 1 particles.
        let four = try Executables.run(mpirun, ["-np", "4", Executables.tbg] + smc + ["--out", scratch.file("smc4.h5")],
                                       environment: Executables.mpiEnvironment, timeout: 300)
        XCTAssertEqual(four.status, 0, four.standardOutput + four.standardError)
        let a = try read(scratch.file("smc1.h5")), b = try read(scratch.file("smc2.h5"))
        XCTAssertEqual(a.coordinates.count, 7 * 22 * 3)
        XCTAssertEqual(b.coordinates, a.coordinates, "2 ranks give the same particles as 1")
        XCTAssertEqual(try read(scratch.file("smc4.h5")).coordinates, a.coordinates, "4 ranks give the same particles as 1")
        XCTAssertEqual(b.logWeights, a.logWeights)
        XCTAssertEqual(b.energies, a.energies)
        XCTAssertTrue(a.energies.allSatisfy(\.isFinite))

        // Diagnostics: one value per stage; the budget is the pool's evaluations (one per integrated
        // proposal), one per particle at the start and one per particle per MALA step.
        let beta: [Double] = try a.root.dataset("diagnostics/beta").read()
        XCTAssertEqual(beta.count, 3)
        XCTAssertEqual(beta[0], 0.5, accuracy: 1e-15)
        XCTAssertEqual(beta[1], 0.5.squareRoot(), accuracy: 1e-15)
        XCTAssertEqual(beta[2], 1)
        let proposalGroup = try HDF5File(opening: proposals).root().group("samples")
        // tbg sample computes an energy for every sample whose integration finished (valid or not).
        let integrated = try proposalGroup.dataset("integration_ok").read(as: UInt8.self).filter { $0 != 0 }.count
        XCTAssertEqual(try proposalGroup.readAttribute("energy_evaluations", as: Int64.self), [Int64(integrated)])
        let evaluations: [Double] = try a.root.dataset("diagnostics/energy_evaluations").read()
        XCTAssertEqual(evaluations, [Double(integrated + 7 + 21), Double(integrated + 7 + 42), Double(integrated + 7 + 63)])
        XCTAssertEqual(try a.group.readAttribute("energy_evaluations", as: Int64.self), [Int64(integrated + 7 + 63)])
        let resampled: [Double] = try a.root.dataset("diagnostics/resampled").read()
        XCTAssertEqual(resampled[0], 1, "stage 0 always resamples the proposals")
        for name in ["ess", "acceptance", "step_size", "energy_mean_kT"] {
            let values: [Double] = try a.root.dataset("diagnostics/\(name)").read()
            XCTAssertEqual(values.count, 3, name)
            XCTAssertTrue(values.allSatisfy(\.isFinite), "\(name): \(values)")
        }

        // tbg evaluate reads the output as any samples file and reports the budget.
        let evaluate = try Executables.run(Executables.tbg, ["evaluate", "--samples", scratch.file("smc1.h5"), "--reference",
                                                              Fixtures.path("ad2_capped.h5"), "--bootstrap", "5", "--json"])
        XCTAssertEqual(evaluate.status, 0, evaluate.standardError)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(evaluate.standardOutput.utf8)) as? [String: Any])
        XCTAssertEqual(json["sampler"] as? String, "smc")
        XCTAssertEqual(json["energy_evaluations"] as? Int, integrated + 7 + 63)
        let counts = try XCTUnwrap(json["counts"] as? [String: Any])
        XCTAssertEqual(counts["samples"] as? Int, 7)
        let flags: [UInt8] = try a.group.dataset("topology_ok").read()
        XCTAssertEqual(counts["valid"] as? Int, flags.filter { $0 != 0 }.count)

        // Flow-MCMC with HMC, 3 chains (uneven over 2 ranks).
        let mcmc = ["mcmc", proposals, "--chains", "3", "--chain-length", "4", "--burn-in", "2", "--steps-per-sweep", "2",
                    "--kernel", "hmc", "--leapfrog-steps", "3", "--seed", "5"]
        let mcmcOne = try Executables.run(Executables.tbg, mcmc + ["--out", scratch.file("mcmc1.h5"), "--progress-seconds", "0"])
        XCTAssertEqual(mcmcOne.status, 0, mcmcOne.standardError)
        XCTAssertTrue(mcmcOne.standardOutput.contains("tbg mcmc: progress: sweep 1/6 (burn-in)"), mcmcOne.standardOutput)
        let mcmcTwo = try Executables.run(mpirun, ["-np", "2", Executables.tbg] + mcmc + ["--out", scratch.file("mcmc2.h5")],
                                          environment: Executables.mpiEnvironment, timeout: 300)
        XCTAssertEqual(mcmcTwo.status, 0, mcmcTwo.standardOutput + mcmcTwo.standardError)
        let c = try read(scratch.file("mcmc1.h5")), d = try read(scratch.file("mcmc2.h5"))
        XCTAssertEqual(c.coordinates.count, 3 * 4 * 22 * 3)
        XCTAssertEqual(d.coordinates, c.coordinates, "2 ranks give the same chains as 1")
        XCTAssertEqual(d.energies, c.energies)
        XCTAssertEqual(c.logWeights, [Double](repeating: 0, count: 12))
        XCTAssertEqual(try c.group.dataset("chain").read(as: Int64.self), [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2])
        let recorded: [Double] = try c.root.dataset("diagnostics/recorded").read()
        XCTAssertEqual(recorded, [0, 0, 1, 1, 1, 1])

        // The settings: the sampler's own keys and the shared local-move keys in one flat object, sorted.
        for (file, keys) in [("smc1.h5", ["particles", "beta0", "steps_per_stage"]), ("mcmc1.h5", ["chains", "local_steps_per_sweep"])] {
            let text = try read(scratch.file(file)).group.readStringAttribute("settings")
            let settings = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text)
            for key in keys + ["kernel", "initial_step_size", "leapfrog_steps", "target_acceptance", "energy_cutoff_kT", "seed"] {
                XCTAssertNotNil(settings[key], "\(file): \(key) in \(text)")
            }
            XCTAssertEqual(text, String(decoding: try JSONSerialization.data(withJSONObject: settings, options: [.sortedKeys]), as: UTF8.self))
        }
        XCTAssertEqual(try read(scratch.file("mcmc1.h5")).group.readAttribute("source_samples_used", as: Int64.self), [12])

        // --proposals: the first samples of the pool only, and only their budget.
        let firstSix = try Executables.run(Executables.tbg, smc + ["--proposals", "6", "--out", scratch.file("smc-six.h5")])
        XCTAssertEqual(firstSix.status, 0, firstSix.standardError)
        XCTAssertTrue(firstSix.standardOutput.contains(" of 6 in "), firstSix.standardOutput)
        let six = try read(scratch.file("smc-six.h5"))
        XCTAssertEqual(try six.group.readAttribute("source_samples_used", as: Int64.self), [6])
        let sixIntegrated = try proposalGroup6(proposals)
        XCTAssertEqual(try six.group.readAttribute("energy_evaluations", as: Int64.self), [Int64(sixIntegrated + 7 + 63)])
        XCTAssertTrue(try six.group.dataset("source_frame").read(as: Int64.self).allSatisfy { $0 < 6 })
    }

    func testDrawingProposalsKeepsThemAndEvaluateBootstrapsByAncestorAndChain() throws {
        let scratch = try ScratchDirectory("smc-draw")
        defer { scratch.remove() }
        let out = scratch.file("smc.h5"), kept = scratch.file("smc.proposals.h5")
        let draw = ["smc", "--checkpoint", Self.model, "--peptide", Fixtures.path("ad2_capped.h5"), "--proposals", "8", "--method", "rk4",
                    "--steps", "4", "--proposal-seed", "3", "--particles", "6", "--stages", "2", "--steps-per-stage", "2", "--seed", "4"]
        let first = try Executables.run(Executables.tbg, draw + ["--out", out], timeout: 600)
        XCTAssertEqual(first.status, 0, first.standardError)
        XCTAssertTrue(first.standardOutput.contains("tbg smc: drawing 8 proposals with \(Self.model) into \(kept)"), first.standardOutput)
        // The drawn proposals are a tbg sample file, kept; the SMC output names it as its source.
        let proposals = try HDF5File(opening: kept).root().group("samples")
        XCTAssertEqual(try proposals.readStringAttribute("sampler"), "flow")
        XCTAssertEqual(try proposals.dataset("log_weight").read(as: Double.self).count, 8)
        let samples = try read(out).group
        XCTAssertEqual(try samples.readStringAttribute("source_samples"), kept)
        let settings = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(try samples.readStringAttribute("settings").utf8)) as? [String: Any])
        XCTAssertEqual(settings["proposals_used"] as? Int, 8)
        // The same proposals, drawn with the same seed, as SAMPLES: the same particles.
        let reuse = try Executables.run(Executables.tbg, ["smc", kept, "--particles", "6", "--stages", "2", "--steps-per-stage", "2", "--seed", "4",
                                                           "--out", scratch.file("reuse.h5")])
        XCTAssertEqual(reuse.status, 0, reuse.standardError)
        XCTAssertEqual(try read(scratch.file("reuse.h5")).coordinates, try read(out).coordinates)
        // An SMC output is not a proposals file: its particles share ancestors. Refused, naming the source.
        for command in ["smc", "mcmc"] {
            let nested = try Executables.run(Executables.tbg, [command, out, "--out", scratch.file("nested-\(command).h5")])
            XCTAssertNotEqual(nested.status, 0)
            XCTAssertTrue(nested.standardError.contains("is the output of tbg smc, not proposals") && nested.standardError.contains(kept), nested.standardError)
        }
        // A sampler this tbg does not know: what its weights mean is unknown, so it is refused.
        let unknown = scratch.file("unknown-sampler.h5")
        try FileManager.default.copyItem(atPath: kept, toPath: unknown)
        try HDF5File(opening: unknown, mode: .readWrite).root().group("samples").writeAttribute("sampler", string: "tempering")
        let strange = try Executables.run(Executables.tbg, ["smc", unknown, "--out", scratch.file("strange.h5")])
        XCTAssertNotEqual(strange.status, 0)
        XCTAssertTrue(strange.standardError.contains(unknown) && strange.standardError.contains("/samples@sampler 'tempering', which this tbg does not know"),
                      strange.standardError)
        // A checkpoint given as SAMPLES, or as the proposals file to draw into, is named for what it is.
        let checkpointAsSamples = try Executables.run(Executables.tbg, ["smc", Self.model, "--out", scratch.file("ck.h5")])
        XCTAssertNotEqual(checkpointAsSamples.status, 0)
        XCTAssertTrue(checkpointAsSamples.standardError.contains("is a training checkpoint, not proposals"), checkpointAsSamples.standardError)
        let intoCheckpoint = try Executables.run(Executables.tbg, draw + ["--out", scratch.file("ck2.h5"), "--proposals-out", Self.model])
        XCTAssertNotEqual(intoCheckpoint.status, 0)
        XCTAssertTrue(intoCheckpoint.standardError.contains("is also an input"), intoCheckpoint.standardError)
        // The proposals file is never overwritten: a second draw into it is refused, and says what to do.
        let again = try Executables.run(Executables.tbg, draw + ["--out", scratch.file("other.h5"), "--proposals-out", kept])
        XCTAssertNotEqual(again.status, 0)
        XCTAssertTrue(again.standardError.contains(kept) && again.standardError.contains("pass it as SAMPLES"), again.standardError)
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.file("other.h5")))
        // Option mistakes: both sources, a draw without a count, a negative count.
        for (arguments, fragment) in [([kept, "--checkpoint", Self.model, "--peptide", kept], "not both"),
                                      (["--checkpoint", Self.model, "--peptide", kept], "--proposals N"),
                                      ([kept, "--proposals", "-3"], "--proposals must lie in 1...1000000000 (got -3)"),
                                      ([kept, "--proposals", "\(Int.max)"], "--proposals must lie in 1...1000000000 (got \(Int.max))"),
                                      ([kept, "--method", "rk4"], "go with --checkpoint (drawing proposals); SAMPLES was drawn with its own"),
                                      ([kept, "--proposal-seed", "2"], "go with --checkpoint"),
                                      ([kept, "--particles", "2000000000"], "--particles must lie in 1...10000000 (got 2000000000)")] {
            let result = try Executables.run(Executables.tbg, ["smc"] + arguments + ["--out", scratch.file("bad.h5")])
            XCTAssertNotEqual(result.status, 0)
            XCTAssertTrue(result.standardError.contains(fragment), result.standardError)
        }
        // A draw that finishes but gives no usable proposal (one RK4 step: no valid molecule) fails
        // after the draw, and says where the drawn proposals are kept and how to reuse them.
        let unusable = scratch.file("unusable.proposals.h5")
        let failed = try Executables.run(Executables.tbg, ["smc", "--checkpoint", Self.model, "--peptide", Fixtures.path("ad2_capped.h5"), "--proposals", "2",
                                                           "--method", "rk4", "--steps", "1", "--out", scratch.file("unusable.h5")])
        XCTAssertNotEqual(failed.status, 0)
        XCTAssertTrue(failed.standardError.contains("none of the 2 samples is usable"), failed.standardError)
        XCTAssertTrue(failed.standardOutput.contains("the drawn proposals are kept in \(unusable): run again with \(unusable) as SAMPLES"), failed.standardOutput)
        XCTAssertTrue(FileManager.default.fileExists(atPath: unusable))
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.file("unusable.h5")))
        // An output that cannot be written is refused before the expensive draw.
        // A device is never replaced by the atomic rename (/dev/null once was, run as root).
        for (target, fragment) in [(scratch.path, "is a directory"), (scratch.file("missing/x.h5"), "does not exist"),
                                   ("/dev/null", "is not a regular file"), (scratch.file("newdir/"), "ends in '/'"), ("", "is empty")] {
            let result = try Executables.run(Executables.tbg, draw + ["--out", target, "--proposals-out", scratch.file("never.h5")])
            XCTAssertNotEqual(result.status, 0)
            XCTAssertTrue(result.standardError.contains(fragment), result.standardError)
            XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.file("never.h5")))
        }

        // tbg evaluate resamples SMC particles by the proposal they descend from, MCMC states by chain.
        let ancestors = Set(try samples.dataset("source_frame").read(as: Int64.self)).count
        let mcmc = try Executables.run(Executables.tbg, ["mcmc", kept, "--chains", "2", "--chain-length", "3", "--burn-in", "1",
                                                          "--steps-per-sweep", "1", "--out", scratch.file("mcmc.h5")])
        XCTAssertEqual(mcmc.status, 0, mcmc.standardError)
        // Chains that share a proposal (a start or an accepted independence move) are one cluster.
        let mcmcSamples = try read(scratch.file("mcmc.h5")).group
        let groups = Set(SharedHistory.components([try mcmcSamples.dataset("chain").read(as: Int64.self).map(Int.init),
                                                   try mcmcSamples.dataset("source_frame").read(as: Int64.self).map(Int.init)])).count
        for (file, fragment) in [(out, "cluster bootstrap over the samples' \(ancestors) proposal ancestor"),
                                 (scratch.file("mcmc.h5"), "cluster bootstrap over the samples' \(groups) chain group"),
                                 (kept, "bootstrap over samples, 5 replicates")] {
            let evaluate = try Executables.run(Executables.tbg, ["evaluate", "--samples", file, "--reference", Fixtures.path("ad2_capped.h5"),
                                                                  "--bootstrap", "5", "--json"])
            XCTAssertEqual(evaluate.status, 0, evaluate.standardError)
            let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(evaluate.standardOutput.utf8)) as? [String: Any])
            let reweighted = try XCTUnwrap(json["reweighted"] as? [String: Any])
            let deltaF = try XCTUnwrap(reweighted["delta_f_kT"] as? [String: Any])
            XCTAssertTrue((deltaF["method"] as? String ?? "").hasPrefix(fragment), "\(file): \(deltaF)")
        }
    }

    /// Finished integrations among the first six samples of a tbg sample file.
    private func proposalGroup6(_ path: String) throws -> Int {
        try HDF5File(opening: path).root().group("samples").dataset("integration_ok").read(as: UInt8.self).prefix(6).filter { $0 != 0 }.count
    }

    func testBadInputsAreRefusedWithTheFileNamed() throws {
        let mpirun = try XCTUnwrap(Executables.which("mpirun"), "mpirun not found")
        let scratch = try ScratchDirectory("smc-bad")
        defer { scratch.remove() }
        // A trajectory without /samples is not a proposals file; on 2 ranks every rank fails and the job ends.
        let plain = Fixtures.path("ad2_capped.h5")
        for command in ["smc", "mcmc"] {
            let result = try Executables.run(Executables.tbg, [command, plain, "--out", scratch.file("x.h5")])
            XCTAssertNotEqual(result.status, 0)
            XCTAssertTrue(result.standardError.contains(plain) && result.standardError.contains("/samples"), result.standardError)
            let ranks = try Executables.run(mpirun, ["-np", "2", Executables.tbg, command, plain, "--out", scratch.file("x.h5")],
                                            environment: Executables.mpiEnvironment, timeout: 120)
            XCTAssertNotEqual(ranks.status, 0)
            XCTAssertTrue((ranks.standardOutput + ranks.standardError).contains("missing group /samples"), ranks.standardError)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.file("x.h5")))
        // The output may not be the input.
        try FileManager.default.copyItem(atPath: plain, toPath: scratch.file("in.h5"))
        let same = try Executables.run(Executables.tbg, ["smc", scratch.file("in.h5"), "--out", scratch.file("in.h5")])
        XCTAssertNotEqual(same.status, 0)
        XCTAssertTrue(same.standardError.contains("is also an input"), same.standardError)
        // An existing output is never replaced without --overwrite, and is refused before any work.
        try Data("an earlier result".utf8).write(to: URL(fileURLWithPath: scratch.file("done.h5")))
        for command in ["smc", "mcmc"] {
            let existing = try Executables.run(Executables.tbg, [command, plain, "--out", scratch.file("done.h5")])
            XCTAssertNotEqual(existing.status, 0)
            XCTAssertTrue(existing.standardError.contains("\(scratch.file("done.h5")): exists already") && existing.standardError.contains("--overwrite"),
                          existing.standardError)
            XCTAssertEqual(try String(contentsOfFile: scratch.file("done.h5"), encoding: .utf8), "an earlier result")
        }
        // Option errors are named.
        let tempering = try Executables.run(Executables.tbg, ["smc", plain, "--out", scratch.file("y.h5"), "--beta0", "0.5", "--stages", "1"])
        XCTAssertNotEqual(tempering.status, 0)
        XCTAssertTrue(tempering.standardError.contains("--stages"), tempering.standardError)
        // Negative values after a space are the options' values (was: "Missing value" for the option):
        // the run gets as far as the input file, which is what it refuses.
        let negative = try Executables.run(Executables.tbg, ["free-energy", plain, "--checkpoint", Self.model, "--phi-basin", "-3.1:0",
                                                             "--psi-split", "-2.1:1.4", "--positive-psi-split", "-1.0:1.4", "--energy-cutoff", "-5",
                                                             "--out", scratch.file("z.h5")])
        XCTAssertNotEqual(negative.status, 0)
        XCTAssertTrue(negative.standardError.contains(plain) && negative.standardError.contains("/samples"), negative.standardError)
    }

    /// `tbg free-energy` on 12 rough proposals, with the basin split at their median φ so that both
    /// basins have proposals: the same chains, log q and estimate on 1 and 2 ranks; every chain
    /// state stays in its chain's basin; the log weights make a normalised Boltzmann-weighted sample
    /// that `tbg evaluate` reads; a checkpoint that did not draw the proposals is refused.
    /// A free-energy run stopped by SIGUSR1 while it integrates keeps the finished chains' log q in
    /// OUT.logq/ and writes no OUT; the same command without --resume refuses to overwrite them, with
    /// --resume (here on 2 ranks) it computes only the rest and gives the uninterrupted estimate.
    func testFreeEnergyStoppedThenResumedEqualsUninterrupted() throws {
        let mpirun = try XCTUnwrap(Executables.which("mpirun"), "mpirun not found")
        let scratch = try ScratchDirectory("free-energy-resume")
        defer { scratch.remove() }
        let proposals = try makeProposals(scratch)
        let split = try medianPhiSplit(proposals)
        func command(_ out: String) -> [String] {
            ["free-energy", proposals, "--checkpoint", Self.model, String(format: "--phi-basin=-3.1415:%.6f", split), "--chains-per-basin", "8",
             "--burn-in", "6", "--thin", "2", "--states-per-chain", "2", "--method", "rk4", "--steps", "4", "--bootstrap", "20", "--seed", "4",
             "--progress-seconds", "0", "--out", scratch.file(out)]
        }
        let whole = try Executables.run(Executables.tbg, command("whole.h5") + ["--json"], timeout: 600)
        XCTAssertEqual(whole.status, 0, whole.standardError)
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.file("whole.h5.logq")), "the folder is removed once OUT is written")

        let stopped = try Executables.interrupt(Executables.tbg, command("resumed.h5") + ["--json"], marker: "tbg free-energy: log q:", signal: SIGUSR1,
                                                log: scratch.file("stopped.log"))
        XCTAssertEqual(stopped.status, 0, stopped.output)
        XCTAssertTrue(stopped.output.contains("stopped on SIGUSR1") && stopped.output.contains("--resume"), stopped.output)
        let object = try Self.stoppedObject(stopped.output)
        XCTAssertEqual(object["stage"] as? String, "reverse integrations")
        XCTAssertEqual(object["kept"] as? String, scratch.file("resumed.h5.logq"))
        XCTAssertEqual(object["resume"] as? Bool, true)
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.file("resumed.h5")), "no output before every chain is integrated")
        let kept = try FileManager.default.contentsOfDirectory(atPath: scratch.file("resumed.h5.logq")).filter { $0.hasPrefix("chain-") }
        XCTAssertGreaterThan(kept.count, 0, stopped.output)
        XCTAssertLessThan(kept.count, 16, "the signal must have stopped the run early")

        let again = try Executables.run(Executables.tbg, command("resumed.h5"), timeout: 600)
        XCTAssertNotEqual(again.status, 0, "without --resume the kept integrations are not overwritten")
        XCTAssertTrue(again.standardError.contains("--resume"), again.standardError)
        let changed = try Executables.run(Executables.tbg, command("resumed.h5").map { $0 == "4" ? "5" : $0 } + ["--resume"], timeout: 600)
        XCTAssertNotEqual(changed.status, 0, "another seed is another run")
        XCTAssertTrue(changed.standardError.contains("different run") && changed.standardError.contains("chain_settings.seed 4 → 5")
                      && changed.standardError.contains("ode_settings.steps 4 → 5"), changed.standardError)
        // Chain files whose run.json is gone are not used (their ODE settings are unknown), nor removed.
        let manifest = scratch.file("resumed.h5.logq/run.json")
        try FileManager.default.moveItem(atPath: manifest, toPath: scratch.file("run.json.away"))
        let orphaned = try Executables.run(Executables.tbg, command("resumed.h5") + ["--resume"], timeout: 600)
        XCTAssertNotEqual(orphaned.status, 0)
        XCTAssertTrue(orphaned.standardError.contains("\(kept.count) file(s) of finished integrations but no run.json"), orphaned.standardError)
        try FileManager.default.moveItem(atPath: scratch.file("run.json.away"), toPath: manifest)
        // inspect says what the folder is and what it keeps (it said "index.json: no such dataset index").
        for path in [scratch.file("resumed.h5.logq"), manifest, scratch.file("resumed.h5.logq/" + kept.sorted()[0])] {
            let report = try Executables.run(Executables.tbg, ["inspect", path])
            XCTAssertEqual(report.status, 0, report.standardError)
            XCTAssertTrue(report.standardOutput.contains("the reverse integrations of an unfinished tbg free-energy run")
                          && report.standardOutput.contains("\(kept.count) chain(s) of reverse integrations kept")
                          && report.standardOutput.contains("chain_settings") && report.standardOutput.contains("--resume"), report.standardOutput)
        }
        let reportJSON = try Executables.run(Executables.tbg, ["inspect", "--json", scratch.file("resumed.h5.logq")])
        let described = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(reportJSON.standardOutput.utf8)) as? [String: Any])
        XCTAssertEqual(described["kind"] as? String, "unfinished_free_energy_run")
        XCTAssertEqual((described["finished_chains"] as? [Int])?.count, kept.count)
        XCTAssertEqual(described["output"] as? String, scratch.file("resumed.h5"))

        let resumed = try Executables.run(mpirun, ["-np", "2", Executables.tbg] + command("resumed.h5") + ["--resume", "--json"],
                                          environment: Executables.mpiEnvironment, timeout: 600)
        XCTAssertEqual(resumed.status, 0, resumed.standardError)
        XCTAssertTrue(resumed.standardError.contains("resumed: the reverse integrations of \(kept.count) of 16 chains"), resumed.standardError)
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.file("resumed.h5.logq")))
        let a = try Self.estimate(whole.standardOutput), b = try Self.estimate(resumed.standardOutput)
        XCTAssertEqual(a["delta_f_kT"] as? Double, b["delta_f_kT"] as? Double)
        XCTAssertEqual(a["standard_error_kT"] as? Double, b["standard_error_kT"] as? Double)
        XCTAssertEqual(NSDictionary(dictionary: a), NSDictionary(dictionary: b), "the same estimate, stratum for stratum")
        let logQ = { (path: String) -> [Double] in (try? HDF5File(opening: path).root().dataset("samples/log_q").read(as: Double.self)) ?? [] }
        XCTAssertEqual(logQ(scratch.file("whole.h5")), logQ(scratch.file("resumed.h5")))
        XCTAssertEqual(logQ(scratch.file("whole.h5")).count, 32)
    }

    /// A stop during the chains (minutes at the default burn-in of 10⁵ steps) takes effect after the
    /// step in flight, not after the last chain step: nothing is written but the run's folder with
    /// its run.json, which the same command (even with another seed, or without --resume) replaces.
    /// With --position-draws, which run before the chains, the draws are kept and --resume uses them.
    func testFreeEnergyStopsDuringTheChainsAndResumes() throws {
        let scratch = try ScratchDirectory("free-energy-stop-chains")
        defer { scratch.remove() }
        let proposals = try makeProposals(scratch)
        let command = ["free-energy", proposals, "--checkpoint", Self.model, String(format: "--phi-basin=-3.1415:%.6f", try medianPhiSplit(proposals)), "--chains-per-basin", "2",
                       "--burn-in", "4000", "--thin", "2", "--states-per-chain", "1", "--method", "rk4", "--steps", "4", "--bootstrap", "10",
                       "--seed", "4", "--progress-seconds", "0", "--out", scratch.file("fe.h5")]
        let stopped = try Executables.interrupt(Executables.tbg, command + ["--json"], marker: "tbg free-energy: chains: step 1/", signal: SIGUSR1,
                                                log: scratch.file("stopped.log"))
        XCTAssertEqual(stopped.status, 0, stopped.output)
        XCTAssertTrue(stopped.output.contains("stopped on SIGUSR1 after chain step") && stopped.output.contains("nothing was kept"), stopped.output)
        // Under --json, stdout says so in one object (the words above are on stderr): nothing kept, no --resume.
        let object = try Self.stoppedObject(stopped.output)
        XCTAssertEqual(object["stage"] as? String, "chains")
        XCTAssertEqual(object["cause"] as? String, "SIGUSR1")
        XCTAssertEqual(object["resume"] as? Bool, false)
        XCTAssertTrue(object["kept"] is NSNull, "nothing was kept: \(object)")
        XCTAssertFalse(stopped.output.contains("chains: step 4002/4002"), "the chains must stop early: \(stopped.output.suffix(400))")
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.file("fe.h5")))
        // Nothing kept but what the run is, and the lock file (its lock ended with the process).
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: scratch.file("fe.h5.logq")).sorted(), ["lock", "run.json"])
        let resumed = try Executables.run(Executables.tbg, command.map { $0 == "4" ? "5" : $0 }, timeout: 600)
        XCTAssertEqual(resumed.status, 0, resumed.standardError)
        XCTAssertTrue(FileManager.default.fileExists(atPath: scratch.file("fe.h5")), resumed.standardOutput)

        // With --position-draws the draws run before the chains: a stop during the chains keeps them,
        // says so (kept, resume), and --resume uses them.
        let drawing = command.map { $0 == scratch.file("fe.h5") ? scratch.file("drawn.h5") : $0 }
            + ["--position-draws", "64", "--restricted-draws", "2", "--flow-chains-below", "100"]
        let stoppedAfterDraws = try Executables.interrupt(Executables.tbg, drawing + ["--json"], marker: "tbg free-energy: chains: step 1/",
                                                          signal: SIGUSR1, log: scratch.file("stopped-draws.log"))
        XCTAssertEqual(stoppedAfterDraws.status, 0, stoppedAfterDraws.output)
        let keptObject = try Self.stoppedObject(stoppedAfterDraws.output)
        XCTAssertEqual(keptObject["stage"] as? String, "chains")
        XCTAssertEqual(keptObject["resume"] as? Bool, true)
        XCTAssertEqual(keptObject["kept"] as? String, scratch.file("drawn.h5.logq"))
        XCTAssertTrue(try FileManager.default.contentsOfDirectory(atPath: scratch.file("drawn.h5.logq")).contains("draws-000000.h5"))
        let refusedFresh = try Executables.run(Executables.tbg, drawing, timeout: 600)
        XCTAssertNotEqual(refusedFresh.status, 0, "kept draws are not replaced without --resume")
        XCTAssertTrue(refusedFresh.standardError.contains("--resume"), refusedFresh.standardError)
        let resumedDraws = try Executables.run(Executables.tbg, drawing + ["--resume"], timeout: 600)
        XCTAssertEqual(resumedDraws.status, 0, resumedDraws.standardError)
        XCTAssertTrue(resumedDraws.standardOutput.contains("(1 of 1 chunks were in"), resumedDraws.standardOutput)
    }

    /// A sample file older than /samples@checkpoint_content says only the checkpoint's step: with
    /// the adaptive ODE (round trip ~0.1 nat), the checkpoint's reverse log q of the first proposals
    /// must reproduce /samples/log_q. As drawn, it does; shifted by 5 nats (what another model of
    /// the same step gives), it is refused. With a fixed-step ODE (round trip off by nats) the check
    /// is skipped, and the run says so.
    func testFreeEnergyChecksTheLogQOfOlderSampleFiles() throws {
        let scratch = try ScratchDirectory("free-energy-older")
        defer { scratch.remove() }
        let drawn = scratch.file("drawn.h5")
        let sample = try Executables.run(Executables.tbg, ["sample", "--checkpoint", Self.model, "--peptide", Fixtures.path("ad2_capped.h5"),
                                                            "--count", "8", "--seed", "3", "--out", drawn], timeout: 600)
        XCTAssertEqual(sample.status, 0, sample.standardError)
        let older = scratch.file("older.h5"), olderShifted = scratch.file("older-shifted.h5")
        for (path, shift) in [(older, 0.0), (olderShifted, 5.0)] {
            try FileManager.default.copyItem(atPath: drawn, toPath: path)
            let group = try HDF5File(opening: path, mode: .readWrite).root().group("samples")
            try group.removeAttribute("checkpoint_content")
            let logQ = try group.dataset("log_q")
            try logQ.write(try logQ.read(as: Double.self).map { $0 + shift })
        }
        func command(_ samples: String, _ out: String) throws -> [String] {
            ["free-energy", samples, "--checkpoint", Self.model, String(format: "--phi-basin=-3.1415:%.6f", try medianPhiSplit(drawn)),
             "--chains-per-basin", "1", "--burn-in", "2", "--thin", "1", "--states-per-chain", "1", "--bootstrap", "5", "--out", scratch.file(out)]
        }
        let accepted = try Executables.run(Executables.tbg, try command(older, "fe1.h5"), timeout: 600)
        XCTAssertEqual(accepted.status, 0, accepted.standardError)
        let shifted = try Executables.run(Executables.tbg, try command(olderShifted, "fe2.h5"), timeout: 600)
        XCTAssertNotEqual(shifted.status, 0)
        XCTAssertTrue(shifted.standardError.contains("\(Self.model): gives log q =") && shifted.standardError.contains("predates /samples@checkpoint_content"),
                      shifted.standardError)
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.file("fe2.h5")))
    }

    func testFreeEnergyIsTheSameOnOneAndTwoRanksAndItsChainsStayInTheirBasins() throws {
        let mpirun = try XCTUnwrap(Executables.which("mpirun"), "mpirun not found")
        let scratch = try ScratchDirectory("free-energy-cli")
        defer { scratch.remove() }
        let proposals = try makeProposals(scratch)
        let phiAtoms = [4, 6, 8, 14]   // C of ACE, N, CA, C of ALA (mdtraj.compute_phi)
        let split = try medianPhiSplit(proposals)
        let basin = String(format: "--phi-basin=-3.1415:%.6f", split)
        let command = ["free-energy", proposals, "--checkpoint", Self.model, basin, "--chains-per-basin", "3", "--burn-in", "6",
                       "--thin", "2", "--states-per-chain", "2", "--method", "rk4", "--steps", "4", "--bootstrap", "20", "--seed", "4"]
        let one = try Executables.run(Executables.tbg, command + ["--out", scratch.file("fe1.h5"), "--json", "--progress-seconds", "0"], timeout: 600)
        XCTAssertEqual(one.status, 0, one.standardError)
        // Proposals drawn with rk4 × 4 and chain states integrated the same way: no warning about
        // the integrations (rough rk4 proposals sit high in energy, so the short chains may be told
        // that they hardly moved; that warning is about the chains, not checked here).
        XCTAssertFalse(one.standardError.contains("warning: the proposals were integrated"), one.standardError)
        // With --json stdout is the JSON object alone (progress and report on stderr).
        let jsonLine = one.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertTrue(one.standardError.contains("tbg free-energy: chains: step"), one.standardError)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(jsonLine.utf8)) as? [String: Any], one.standardOutput)
        XCTAssertEqual(json["phi_atoms"] as? [Int], phiAtoms)
        XCTAssertEqual(json["reverse_integrations"] as? Int, 12)
        let strata = try XCTUnwrap(json["strata"] as? [[String: Any]])
        XCTAssertEqual(strata.count, 2)
        XCTAssertEqual(strata.first?["chain_states"] as? Int, 6)
        XCTAssertEqual(strata.first?["phi_positive_basin"] as? Bool, true)
        XCTAssertNotNil(json["delta_f_kT"] as? Double, jsonLine)
        XCTAssertNotNil(json["snis_delta_f_kT"])
        // A stratum whose forward and reverse EXP differ by more than 3 kT, whose BAR overlap is
        // below 0.03, or whose flow side's Pareto k̂ is above 0.7 with a gap above 1 kT, is warned
        // about, by name, and only such a stratum (the rule's wiring; the 3 kT and 1 kT are from the
        // alanine-dipeptide runs, the 0.03 from Klimovich et al. 2015, the 0.7 from Vehtari et al. 2024).
        for stratum in strata {
            let name = try XCTUnwrap(stratum["stratum"] as? String)
            let warned = one.standardError.contains("warning: in \(name) (\(stratum["flow_samples"] as? Int ?? -1) flow samples) the forward and reverse EXP differ by")
            if let forward = stratum["forward_exp_delta_f_kT"] as? Double, let reverse = stratum["reverse_exp_delta_f_kT"] as? Double {
                let overlap = try XCTUnwrap(stratum["bar_overlap"] as? Double)
                XCTAssertTrue((0...1).contains(overlap), "\(overlap)")
                XCTAssertTrue(stratum.keys.contains("forward_pareto_khat") && stratum.keys.contains("forward_pareto_khat_threshold"), "\(stratum)")
                let khat = stratum["forward_pareto_khat"] as? Double   // null with fewer than 21 flow-side works
                let threshold = stratum["forward_pareto_khat_threshold"] as? Double
                let concerns = try XCTUnwrap(stratum["bar_concerns"] as? [String], "\(stratum)")
                var expected: [String] = []
                if abs(forward - reverse) > 3 { expected.append("forward_reverse_gap") }
                if overlap < 0.03 { expected.append("low_overlap") }
                if let khat, let threshold, khat > threshold, abs(forward - reverse) > 1 { expected.append("heavy_tail") }
                XCTAssertEqual(concerns, expected, "\(stratum)")
                XCTAssertEqual(warned, !expected.isEmpty,
                               "\(name): forward \(forward), reverse \(reverse), overlap \(overlap)\n\(one.standardError)")
            } else {
                XCTAssertFalse(warned, one.standardError)
            }
        }

        let two = try Executables.run(mpirun, ["-np", "2", Executables.tbg] + command + ["--out", scratch.file("fe2.h5")],
                                      environment: Executables.mpiEnvironment, timeout: 600)
        XCTAssertEqual(two.status, 0, two.standardOutput + two.standardError)
        XCTAssertTrue(two.standardOutput.contains("stratified BAR"), two.standardOutput)
        let a = try read(scratch.file("fe1.h5")), b = try read(scratch.file("fe2.h5"))
        XCTAssertEqual(a.coordinates.count, 12 * 22 * 3)
        XCTAssertEqual(b.coordinates, a.coordinates, "2 ranks give the same chains as 1")
        XCTAssertEqual(b.energies, a.energies)
        XCTAssertEqual(b.logWeights, a.logWeights)
        let logQ: [Double] = try a.group.dataset("log_q").read()
        XCTAssertEqual(try b.group.dataset("log_q").read(as: Double.self), logQ, "the same reverse integrations")
        XCTAssertTrue(logQ.allSatisfy(\.isFinite))
        let estimate = { (path: String) throws -> String in try HDF5File(opening: path).root().group("samples").readStringAttribute("free_energy") }
        let first = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(try estimate(scratch.file("fe1.h5")).utf8)) as? [String: Any])
        let second = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(try estimate(scratch.file("fe2.h5")).utf8)) as? [String: Any])
        XCTAssertEqual(first["delta_f_kT"] as? Double, second["delta_f_kT"] as? Double)
        XCTAssertEqual(first["standard_error_kT"] as? Double, second["standard_error_kT"] as? Double)

        // Chains 0–2 are restricted to the positive basin, 3–5 to the rest, and never leave it.
        let chains: [Int64] = try a.group.dataset("chain").read()
        XCTAssertEqual(chains, [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5])
        let flags: [UInt8] = try a.group.dataset("phi_positive_basin").read()
        XCTAssertEqual(flags, [1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
        let strataOfStates: [Int64] = try a.group.dataset("stratum").read()
        XCTAssertEqual(strataOfStates, [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1], "integer strata, as /restricted_draws/stratum")
        let chainPhi = BackboneTorsions.dihedrals(a.coordinates, atoms: 22, quartet: phiAtoms)
        for (k, value) in chainPhi.enumerated() {
            XCTAssertEqual(value > -3.1415 && value < split, flags[k] == 1, "state \(k): phi \(value), split \(split)")
        }
        // The weights: each basin's states share its population; they sum to 1.
        let total = a.logWeights.map { exp($0) }.reduce(0, +)
        XCTAssertEqual(total, 1, accuracy: 1e-12)
        let fraction = a.logWeights.prefix(6).map { exp($0) }.reduce(0, +)
        XCTAssertEqual(fraction, 1 / (1 + exp(try XCTUnwrap(json["delta_f_kT"] as? Double))), accuracy: 1e-9)

        // tbg evaluate reads the chain states as a weighted samples file.
        let evaluate = try Executables.run(Executables.tbg, ["evaluate", "--samples", scratch.file("fe1.h5"), "--reference",
                                                              Fixtures.path("ad2_capped.h5"), "--bootstrap", "5", "--json"])
        XCTAssertEqual(evaluate.status, 0, evaluate.standardError)
        let evaluated = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(evaluate.standardOutput.utf8)) as? [String: Any])
        XCTAssertEqual(evaluated["sampler"] as? String, "free-energy")

        // Proposals that another step of training drew (their /samples@checkpoint_step differs) are refused.
        let other = scratch.file("other-step.h5")
        try FileManager.default.copyItem(atPath: proposals, toPath: other)
        do {
            let group = try HDF5File(opening: other, mode: .readWrite).root().group("samples")
            let step = try XCTUnwrap(try group.readAttribute("checkpoint_step", as: Int64.self).first)
            try group.writeAttribute("checkpoint_step", [step + 1])
        }
        let refused = try Executables.run(Executables.tbg, command.map { $0 == proposals ? other : $0 } + ["--out", scratch.file("fe3.h5")])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.standardError.contains("log q of the chain states must come from the model that drew the proposals"), refused.standardError)
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.file("fe3.h5")))
        // The same step from another checkpoint file (tbg sample records the file's content): refused too.
        let otherFile = scratch.file("other-file.h5")
        try FileManager.default.copyItem(atPath: proposals, toPath: otherFile)
        do {
            let group = try HDF5File(opening: otherFile, mode: .readWrite).root().group("samples")
            let content = try group.readStringAttribute("checkpoint_content")
            let bytes = try XCTUnwrap(try FileManager.default.attributesOfItem(atPath: Self.model)[.size] as? Int)
            XCTAssertTrue(content.hasPrefix("\(bytes):"), "tbg sample records the checkpoint it read: \(content)")
            try group.writeAttribute("checkpoint_content", string: content + "0")
        }
        let otherModel = try Executables.run(Executables.tbg, command.map { $0 == proposals ? otherFile : $0 } + ["--out", scratch.file("fe3.h5")])
        XCTAssertNotEqual(otherModel.status, 0)
        XCTAssertTrue(otherModel.standardError.contains("is another file than the checkpoint that drew \(otherFile)"), otherModel.standardError)
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.file("fe3.h5")))
        // Its own output is chain states with basin-share weights, not proposals: refused as SAMPLES.
        let own = try Executables.run(Executables.tbg, command.map { $0 == proposals ? scratch.file("fe1.h5") : $0 } + ["--out", scratch.file("fe4.h5")])
        XCTAssertNotEqual(own.status, 0)
        XCTAssertTrue(own.standardError.contains("is the output of tbg free-energy, not proposals"), own.standardError)
        // The output is never an input, and an existing one is refused before any work.
        let existing = try Executables.run(Executables.tbg, command + ["--out", scratch.file("fe1.h5")])
        XCTAssertNotEqual(existing.status, 0)
        XCTAssertTrue(existing.standardError.contains("fe1.h5"), existing.standardError)
    }
    /// `tbg free-energy --flow-chains`: latent pCN chains in the strata with fewer flow samples than
    /// --flow-chains-below; the same states and estimate on 1 and 2 ranks (groups of chains split over
    /// them), their integrations counted (each group's start check included) in the JSON and in the
    /// energy evaluations; a samples file without seeds is refused, naming what is missing.
    func testFreeEnergyLatentChainsAreTheSameOnOneAndTwoRanks() throws {
        let mpirun = try XCTUnwrap(Executables.which("mpirun"), "mpirun not found")
        let scratch = try ScratchDirectory("free-energy-latent")
        defer { scratch.remove() }
        let proposals = try makeProposals(scratch)
        let basin = String(format: "--phi-basin=-3.1415:%.6f", try medianPhiSplit(proposals))
        let base = ["free-energy", proposals, "--checkpoint", Self.model, basin, "--chains-per-basin", "2", "--burn-in", "4",
                    "--thin", "2", "--states-per-chain", "1", "--method", "rk4", "--steps", "4", "--bootstrap", "10", "--seed", "4", "--json"]
        let command = base + ["--flow-chains", "4", "--flow-chain-length", "2", "--flow-chains-below", "100"]
        let one = try Executables.run(Executables.tbg, command + ["--out", scratch.file("fe1.h5")], timeout: 600)
        XCTAssertEqual(one.status, 0, one.standardError)
        XCTAssertTrue(one.standardError.contains("latent chains: 4 in each of 2 sparse strata"), one.standardError)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(one.standardOutput.utf8)) as? [String: Any], one.standardOutput)
        // 2 strata × 4 chains × 2 moves, and one start check per group of 4 chains.
        XCTAssertEqual(json["flow_chain_integrations"] as? Int, 18)
        let strata = try XCTUnwrap(json["strata"] as? [[String: Any]])
        XCTAssertEqual(strata.map { $0["flow_chain_samples"] as? Int }, [8, 8])
        let acceptance = try XCTUnwrap(json["flow_chain_acceptance"] as? Double)
        XCTAssertTrue((0...1).contains(acceptance), "\(acceptance)")
        let settings = try XCTUnwrap(json["flow_chains"] as? [String: Any])
        XCTAssertEqual(settings["chains"] as? Int, 4)
        XCTAssertEqual(settings["pcn_beta"] as? Double, 0.2)
        // The proposals' 12 energy evaluations, the MALA chains' and the latent chains' 18.
        let plain = try Executables.run(Executables.tbg, base + ["--out", scratch.file("plain.h5")], timeout: 600)
        XCTAssertEqual(plain.status, 0, plain.standardError)
        let plainJSON = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(plain.standardOutput.utf8)) as? [String: Any], plain.standardOutput)
        XCTAssertEqual(plainJSON["flow_chain_integrations"] as? Int, 0)
        XCTAssertEqual((json["energy_evaluations"] as? Int).map { $0 - 18 }, plainJSON["energy_evaluations"] as? Int)

        let two = try Executables.run(mpirun, ["-np", "2", Executables.tbg] + command + ["--out", scratch.file("fe2.h5")],
                                      environment: Executables.mpiEnvironment, timeout: 600)
        XCTAssertEqual(two.status, 0, two.standardOutput + two.standardError)
        let twoJSON = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(two.standardOutput.utf8)) as? [String: Any], two.standardOutput)
        for key in ["delta_f_kT", "standard_error_kT", "flow_chain_acceptance"] {
            XCTAssertEqual(twoJSON[key] as? Double, json[key] as? Double, key)
        }
        XCTAssertEqual(twoJSON["flow_chain_integrations"] as? Int, 18)
        let twoStrata = try XCTUnwrap(twoJSON["strata"] as? [[String: Any]])
        XCTAssertEqual(twoStrata.map { $0["bar_delta_f_kT"] as? Double }, strata.map { $0["bar_delta_f_kT"] as? Double })
        // The latent chains' states are kept in OUT: the same on 2 ranks, each state in its chain's stratum.
        let states = { (path: String) throws -> HDF5Group in try HDF5File(opening: path).root().group("flow_chain_states") }
        let a = try states(scratch.file("fe1.h5")), b = try states(scratch.file("fe2.h5"))
        let coordinates: [Float] = try a.dataset("coordinates").read()
        XCTAssertEqual(try a.dataset("coordinates").shape, [16, 22, 3])
        XCTAssertEqual(try b.dataset("coordinates").read(as: Float.self), coordinates)
        XCTAssertEqual(try a.dataset("chain").read(as: Int64.self), (0..<8).flatMap { [Int64($0), Int64($0)] })
        XCTAssertEqual(try a.dataset("move").read(as: Int64.self), [Int64](repeating: 0, count: 8).flatMap { [$0, 1] })
        let stratum: [Int64] = try a.dataset("stratum").read()
        XCTAssertEqual(stratum, [Int64](repeating: 0, count: 8) + [Int64](repeating: 1, count: 8))
        let split = try medianPhiSplit(proposals)
        let phi = BackboneTorsions.dihedrals(coordinates, atoms: 22, quartet: [4, 6, 8, 14])
        for (k, value) in phi.enumerated() {
            XCTAssertEqual(value > -3.1415 && value < split, stratum[k] == 0, "latent-chain state \(k): phi \(value)")
        }
        XCTAssertTrue(try a.dataset("log_weight").read(as: Double.self).allSatisfy(\.isFinite))
        // Each chain's start: a usable sample of the file, in the chain's stratum, the same for all its states.
        let sourceFrames: [Int64] = try a.dataset("source_frame").read()
        let proposalPhi = BackboneTorsions.dihedrals(try read(proposals).coordinates, atoms: 22, quartet: [4, 6, 8, 14])
        for (k, frame) in sourceFrames.enumerated() {
            XCTAssertEqual(proposalPhi[Int(frame)] > -3.1415 && proposalPhi[Int(frame)] < split, stratum[k] == 0, "state \(k) starts at frame \(frame)")
            if k % 2 == 1 { XCTAssertEqual(frame, sourceFrames[k - 1], "one start per chain") }
        }

        // Other ODE settings than the proposals' cannot draw samples of the same q: refused before the chains.
        var otherODE = command
        otherODE[try XCTUnwrap(otherODE.firstIndex(of: "--steps")) + 1] = "5"
        let ode = try Executables.run(Executables.tbg, otherODE + ["--out", scratch.file("fe5.h5"), "--progress-seconds", "0"])
        XCTAssertNotEqual(ode.status, 0)
        XCTAssertTrue(ode.standardError.contains("--flow-chains draws new samples") && ode.standardError.contains("steps 4 → 5"), ode.standardError)
        XCTAssertFalse(ode.standardError.contains("chains: step"), "refused before the MALA chains: \(ode.standardError)")
        // Two usable samples with one (seed, index): refused, naming both.
        let p = try read(proposals)
        let valid: [UInt8] = try p.group.dataset("chirality_ok").read()
        let usable = valid.indices.filter { valid[$0] != 0 && p.energies[$0].isFinite }
        let repeated = scratch.file("repeated.h5")
        try FileManager.default.copyItem(atPath: proposals, toPath: repeated)
        do {
            let index = try HDF5File(opening: repeated, mode: .readWrite).root().group("samples").dataset("index")
            var values: [Int64] = try index.read()
            values[usable[1]] = values[usable[0]]
            try index.write(values)
        }
        let twice = try Executables.run(Executables.tbg, command.map { $0 == proposals ? repeated : $0 } + ["--out", scratch.file("fe6.h5")])
        XCTAssertNotEqual(twice.status, 0)
        XCTAssertTrue(twice.standardError.contains("samples \(usable[0]) and \(usable[1]) have the same seed and index"), twice.standardError)
        // No stratum below the threshold: said, and the run goes on without latent chains.
        let none = try Executables.run(Executables.tbg, base + ["--flow-chains", "4", "--flow-chains-below", "1", "--out", scratch.file("fe7.h5")])
        XCTAssertEqual(none.status, 0, none.standardError)
        XCTAssertTrue(none.standardError.contains("no latent chains run"), none.standardError)

        // Without the seeds the latents cannot be drawn again.
        let seedless = scratch.file("seedless.h5")
        try FileManager.default.copyItem(atPath: proposals, toPath: seedless)
        try HDF5File(opening: seedless, mode: .readWrite).root().group("samples").removeAttribute("seed")
        let refused = try Executables.run(Executables.tbg, command.map { $0 == proposals ? seedless : $0 } + ["--out", scratch.file("fe3.h5")])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.standardError.contains("seedless.h5") && refused.standardError.contains("records no seed"), refused.standardError)
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.file("fe3.h5")))
    }

    /// A stop during the latent chains keeps the finished groups in OUT.logq/ beside the reverse
    /// integrations; --resume (here on 2 ranks, so groups move between ranks) uses them and gives the
    /// uninterrupted run's estimate and latent-chain states.
    func testFreeEnergyStoppedDuringTheLatentChainsResumes() throws {
        let mpirun = try XCTUnwrap(Executables.which("mpirun"), "mpirun not found")
        let scratch = try ScratchDirectory("free-energy-latent-resume")
        defer { scratch.remove() }
        let proposals = try makeProposals(scratch)
        let basin = String(format: "--phi-basin=-3.1415:%.6f", try medianPhiSplit(proposals))
        func command(_ out: String) -> [String] {
            ["free-energy", proposals, "--checkpoint", Self.model, basin, "--chains-per-basin", "2", "--burn-in", "4", "--thin", "2",
             "--states-per-chain", "1", "--method", "rk4", "--steps", "4", "--bootstrap", "10", "--seed", "4", "--flow-chains", "8",
             "--flow-chain-length", "4", "--flow-chains-below", "100", "--progress-seconds", "0", "--out", scratch.file(out)]
        }
        let whole = try Executables.run(Executables.tbg, command("whole.h5") + ["--json"], timeout: 600)
        XCTAssertEqual(whole.status, 0, whole.standardError)
        let stopped = try Executables.interrupt(Executables.tbg, command("resumed.h5"), marker: "tbg free-energy: latent chains: 8 in each of 2 sparse strata",
                                                signal: SIGUSR1, log: scratch.file("stopped.log"))
        XCTAssertEqual(stopped.status, 0, stopped.output)
        XCTAssertTrue(stopped.output.contains("stopped on SIGUSR1 during the latent chains") && stopped.output.contains("--resume"), stopped.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.file("resumed.h5")))
        let kept = try FileManager.default.contentsOfDirectory(atPath: scratch.file("resumed.h5.logq")).filter { $0.hasPrefix("latent-") }
        XCTAssertGreaterThan(kept.count, 0, stopped.output)
        XCTAssertLessThan(kept.count, 4, "the signal must have stopped the run before its last group")
        let inspected = try Executables.run(Executables.tbg, ["inspect", scratch.file("resumed.h5.logq/" + kept.sorted()[0])])
        XCTAssertEqual(inspected.status, 0, inspected.standardError)
        XCTAssertTrue(inspected.standardOutput.contains("\(kept.count) group(s) of latent chains"), inspected.standardOutput)

        let resumed = try Executables.run(mpirun, ["-np", "2", Executables.tbg] + command("resumed.h5") + ["--resume", "--json"],
                                          environment: Executables.mpiEnvironment, timeout: 600)
        XCTAssertEqual(resumed.status, 0, resumed.standardError)
        XCTAssertTrue(resumed.standardError.contains("resumed: \(kept.count) of 4 groups of latent chains"), resumed.standardError)
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.file("resumed.h5.logq")))
        XCTAssertEqual(NSDictionary(dictionary: try Self.estimate(whole.standardOutput)), NSDictionary(dictionary: try Self.estimate(resumed.standardOutput)),
                       "the same estimate and latent-chain budget as the uninterrupted run")
        let states = { (path: String) throws -> [Float] in try HDF5File(opening: path).root().dataset("flow_chain_states/coordinates").read() }
        XCTAssertEqual(try states(scratch.file("resumed.h5")), try states(scratch.file("whole.h5")))
    }

    /// `count` proposals drawn with dopri5 at the default tolerance (seed 3), so that a latent
    /// integrated forward again gives its sample back, and a --phi-basin at their median φ.
    private func dopri5Proposals(_ scratch: ScratchDirectory, count: Int) throws -> (proposals: String, basin: String) {
        let proposals = scratch.file("proposals.h5")
        let sampled = try Executables.run(Executables.tbg, ["sample", "--checkpoint", Self.model, "--peptide", Fixtures.path("ad2_capped.h5"),
                                                            "--count", "\(count)", "--seed", "3", "--out", proposals], timeout: 600)
        XCTAssertEqual(sampled.status, 0, sampled.standardError)
        return (proposals, String(format: "--phi-basin=-3.1415:%.6f", try medianPhiSplit(proposals)))
    }

    /// `tbg free-energy --annealed-chains`: annealed latent trajectories in the sparse strata, forward
    /// from the flow's samples and reverse from the chain states (proposals drawn with dopri5 at the
    /// default tolerance, so that a chain state's latent, integrated forward again, gives the state
    /// back). BAR over their works replaces each stratum's one-step BAR, which the JSON keeps; the
    /// integrations (2 strata × 2 trajectories × 2 directions × 1 move, and one start check per group
    /// of 4) are counted; OUT holds /annealed_trajectories. A stop between the directions keeps the
    /// forward group (`tbg inspect` says so), and --resume on 2 ranks gives the uninterrupted run's
    /// estimate, as does a fresh run on 2 ranks.
    func testFreeEnergyAnnealedChainsAreTheSameOnOneAndTwoRanksAndResume() throws {
        let mpirun = try XCTUnwrap(Executables.which("mpirun"), "mpirun not found")
        let scratch = try ScratchDirectory("free-energy-annealed")
        defer { scratch.remove() }
        let (proposals, basin) = try dopri5Proposals(scratch, count: 12)
        func command(_ out: String) -> [String] {
            ["free-energy", proposals, "--checkpoint", Self.model, basin, "--chains-per-basin", "2", "--burn-in", "4", "--thin", "2",
             "--states-per-chain", "1", "--bootstrap", "10", "--seed", "4", "--annealed-chains", "2", "--annealing-levels", "2",
             "--flow-chains-below", "100", "--progress-seconds", "0", "--json", "--out", scratch.file(out)]
        }
        let whole = try Executables.run(Executables.tbg, command("whole.h5"), timeout: 600)
        XCTAssertEqual(whole.status, 0, whole.standardError)
        XCTAssertTrue(whole.standardError.contains("annealed chains: 4 forward and 4 reverse trajectories in 2 sparse strata"), whole.standardError)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(whole.standardOutput.utf8)) as? [String: Any], whole.standardOutput)
        XCTAssertEqual(json["annealed_integrations"] as? Int, 10)
        let acceptance = try XCTUnwrap(json["annealed_acceptance"] as? [Double])
        XCTAssertEqual(acceptance.count, 2)
        XCTAssertTrue(acceptance.allSatisfy { (0...1).contains($0) }, "\(acceptance)")
        XCTAssertEqual((json["annealed_chains"] as? [String: Any])?["levels"] as? Int, 2)
        let strata = try XCTUnwrap(json["strata"] as? [[String: Any]])
        XCTAssertEqual(strata.map { $0["annealed_forward"] as? Int }, [2, 2])
        XCTAssertEqual(strata.map { $0["annealed_reverse"] as? Int }, [2, 2])
        for part in strata {
            XCTAssertNotNil(part["direct_bar_delta_f_kT"] as? Double, "the one-step BAR is kept beside the annealed one")
            XCTAssertNotNil(part["bar_delta_f_kT"] as? Double)
        }
        let annealed = try HDF5File(opening: scratch.file("whole.h5")).root().group("annealed_trajectories")
        XCTAssertEqual(try annealed.dataset("direction").read(as: Int64.self), [0, 0, 0, 0, 1, 1, 1, 1])
        XCTAssertEqual(try annealed.dataset("stratum").read(as: Int64.self), [0, 0, 1, 1, 0, 0, 1, 1])
        XCTAssertTrue(try annealed.dataset("work").read(as: Double.self).allSatisfy(\.isFinite))

        let stopped = try Executables.interrupt(Executables.tbg, command("resumed.h5"), marker: "tbg free-energy: annealed chains: 4 forward",
                                                signal: SIGUSR1, log: scratch.file("stopped.log"))
        XCTAssertEqual(stopped.status, 0, stopped.output)
        XCTAssertTrue(stopped.output.contains("stopped on SIGUSR1 during the annealed trajectories") && stopped.output.contains("--resume"), stopped.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.file("resumed.h5")))
        let inspected = try Executables.run(Executables.tbg, ["inspect", scratch.file("resumed.h5.logq")])
        XCTAssertEqual(inspected.status, 0, inspected.standardError)
        XCTAssertTrue(inspected.standardOutput.contains("1 forward and 0 reverse group(s) of annealed trajectories"), inspected.standardOutput)
        let resumed = try Executables.run(mpirun, ["-np", "2", Executables.tbg] + command("resumed.h5") + ["--resume"],
                                          environment: Executables.mpiEnvironment, timeout: 600)
        XCTAssertEqual(resumed.status, 0, resumed.standardError)
        XCTAssertTrue(resumed.standardError.contains("resumed: 1 of 1 groups of forward annealed trajectories"), resumed.standardError)
        XCTAssertEqual(NSDictionary(dictionary: try Self.estimate(whole.standardOutput)), NSDictionary(dictionary: try Self.estimate(resumed.standardOutput)),
                       "the same estimate and budget as the uninterrupted run")
        let two = try Executables.run(mpirun, ["-np", "2", Executables.tbg] + command("two.h5"), environment: Executables.mpiEnvironment, timeout: 600)
        XCTAssertEqual(two.status, 0, two.standardOutput + two.standardError)
        XCTAssertEqual(NSDictionary(dictionary: try Self.estimate(whole.standardOutput)), NSDictionary(dictionary: try Self.estimate(two.standardOutput)))
    }

    /// `tbg free-energy --annealed-chains` with `--position-draws`: the forward trajectories start
    /// spread evenly over the proposals in each sparse stratum and then its restricted draws (both
    /// exact draws of the flow restricted to it), so with 3 trajectories per stratum the last starts
    /// from a restricted draw; /annealed_trajectories says which (start_source 1, start = the draw's
    /// index in /restricted_draws/draw). `--annealed-forward-starts proposals` starts from the
    /// proposals only. The restricted draws are known on every rank: 2 ranks give 1 rank's estimate.
    func testFreeEnergyAnnealedForwardStartsIncludeTheRestrictedDraws() throws {
        let mpirun = try XCTUnwrap(Executables.which("mpirun"), "mpirun not found")
        let scratch = try ScratchDirectory("free-energy-annealed-draws")
        defer { scratch.remove() }
        let (proposals, basin) = try dopri5Proposals(scratch, count: 8)
        func command(_ out: String) -> [String] {
            ["free-energy", proposals, "--checkpoint", Self.model, basin, "--chains-per-basin", "2", "--burn-in", "4", "--thin", "2",
             "--states-per-chain", "1", "--bootstrap", "10", "--seed", "4", "--annealed-chains", "3", "--annealing-levels", "2",
             "--position-draws", "60", "--restricted-draws", "2", "--flow-chains-below", "100", "--progress-seconds", "0", "--json",
             "--out", scratch.file(out)]
        }
        let one = try Executables.run(Executables.tbg, command("one.h5"), timeout: 600)
        XCTAssertEqual(one.status, 0, one.standardError)
        let root = try HDF5File(opening: scratch.file("one.h5")).root()
        let annealed = try root.group("annealed_trajectories")
        let direction: [Int64] = try annealed.dataset("direction").read(), source: [Int64] = try annealed.dataset("start_source").read()
        let start: [Int64] = try annealed.dataset("start").read(), stratum: [Int64] = try annealed.dataset("stratum").read()
        XCTAssertEqual(direction, [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
        XCTAssertEqual(source.suffix(6), [2, 2, 2, 2, 2, 2], "reverse trajectories start from chain states")
        let draws: [Int64] = try root.group("restricted_draws").dataset("draw").read()
        let drawStrata: [Int64] = try root.group("restricted_draws").dataset("stratum").read()
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(one.standardOutput.utf8)) as? [String: Any], one.standardOutput)
        let parts = try XCTUnwrap(json["strata"] as? [[String: Any]])
        for s in 0..<2 {
            let forward = (0..<6).filter { stratum[$0] == Int64(s) }
            XCTAssertEqual(forward.count, 3)
            // Members: the stratum's proposals, then its restricted draws; start j of 3 is member j·members/3.
            let proposalsHere = try XCTUnwrap(parts[s]["flow_samples"] as? Int)
            let drawsHere = try XCTUnwrap(parts[s]["restricted_draws"] as? Int)
            XCTAssertEqual(drawsHere, 2, "60 position draws put at least 2 usable ones in each stratum")
            let members = proposalsHere + drawsHere
            for (j, t) in forward.enumerated() {
                let member = j * members / 3
                XCTAssertEqual(source[t], member < proposalsHere ? 0 : 1, "stratum \(s), trajectory \(j) of \(members) members")
                if source[t] == 1 {
                    let k = try XCTUnwrap(draws.firstIndex(of: start[t]), "the start is a restricted draw")
                    XCTAssertEqual(drawStrata[k], Int64(s), "a restricted draw of the trajectory's own stratum")
                }
            }
        }
        XCTAssertTrue(source.prefix(6).contains(1), "some forward trajectory starts from a restricted draw: \(source)")
        XCTAssertEqual(json["annealed_forward_starts"] as? String, "proposals-and-draws")
        let two = try Executables.run(mpirun, ["-np", "2", Executables.tbg] + command("two.h5"), environment: Executables.mpiEnvironment, timeout: 600)
        XCTAssertEqual(two.status, 0, two.standardOutput + two.standardError)
        XCTAssertEqual(NSDictionary(dictionary: try Self.estimate(one.standardOutput)), NSDictionary(dictionary: try Self.estimate(two.standardOutput)))
        let only = try Executables.run(Executables.tbg, command("only.h5") + ["--annealed-forward-starts", "proposals"], timeout: 600)
        XCTAssertEqual(only.status, 0, only.standardError)
        let onlySource: [Int64] = try HDF5File(opening: scratch.file("only.h5")).root().group("annealed_trajectories").dataset("start_source").read()
        XCTAssertEqual(Array(onlySource.prefix(6)), [0, 0, 0, 0, 0, 0])
    }

    /// `tbg free-energy --position-draws`: position-only draws of the flow join Q, and in the sparse
    /// strata the first --restricted-draws of them are integrated again with the divergence for BAR's
    /// flow side. The same estimate, counts and restricted draws on 1 and 2 ranks (chunks and groups
    /// split over them); the counts and integrations in the JSON; /restricted_draws in OUT, each draw
    /// in its stratum; no energy evaluation for a position-only draw. A stop during the draws keeps
    /// the finished chunks in OUT.logq/, and --resume gives the uninterrupted run's estimate.
    func testFreeEnergyPositionDrawsAreTheSameOnOneAndTwoRanksAndResume() throws {
        let mpirun = try XCTUnwrap(Executables.which("mpirun"), "mpirun not found")
        let scratch = try ScratchDirectory("free-energy-draws")
        defer { scratch.remove() }
        let proposals = try makeProposals(scratch)
        let split = try medianPhiSplit(proposals)
        let basin = String(format: "--phi-basin=-3.1415:%.6f", split)
        let base = ["free-energy", proposals, "--checkpoint", Self.model, basin, "--chains-per-basin", "2", "--burn-in", "4",
                    "--thin", "2", "--states-per-chain", "1", "--method", "rk4", "--steps", "4", "--bootstrap", "10", "--seed", "4",
                    "--progress-seconds", "0", "--json"]
        func command(_ out: String, draws: Int = 150) -> [String] {
            base + ["--position-draws", "\(draws)", "--restricted-draws", "3", "--flow-chains-below", "100", "--out", scratch.file(out)]
        }
        let one = try Executables.run(Executables.tbg, command("fe1.h5"), timeout: 600)
        XCTAssertEqual(one.status, 0, one.standardError)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(one.standardOutput.utf8)) as? [String: Any], one.standardOutput)
        XCTAssertEqual(json["position_draws"] as? Int, 150)
        let strata = try XCTUnwrap(json["strata"] as? [[String: Any]])
        let counted = strata.compactMap { $0["position_draws"] as? Int }
        XCTAssertEqual(counted.count, 2)
        XCTAssertGreaterThan(counted.reduce(0, +), 0)
        XCTAssertLessThanOrEqual(counted.reduce(0, +), 150)
        XCTAssertEqual(strata.map { $0["restricted_draws"] as? Int }, [3, 3], "both strata are sparse below 100 and hold 3 usable draws")
        XCTAssertEqual(json["restricted_draw_integrations"] as? Int, 6)
        XCTAssertEqual((json["stratum_draws"] as? [String: Any])?["seed"] as? Int, 4, "--seed 4 seeds the draws")
        XCTAssertEqual(try HDF5File(opening: scratch.file("fe1.h5")).root().group("restricted_draws").readAttribute("seed", as: Int64.self), [4])
        // Without --seed the draws take the proposals' seed (tbg sample --seed 3), so that replicate
        // runs on different proposal files do not share them.
        var unseededCommand = command("unseeded.h5")
        let seedAt = try XCTUnwrap(unseededCommand.firstIndex(of: "--seed"))
        unseededCommand.removeSubrange(seedAt...(seedAt + 1))
        let unseeded = try Executables.run(Executables.tbg, unseededCommand, timeout: 600)
        XCTAssertEqual(unseeded.status, 0, unseeded.standardError)
        XCTAssertTrue(unseeded.standardError.contains("position-only draws seeded by 3, from the samples' own seed"), unseeded.standardError)
        let unseededJSON = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(unseeded.standardOutput.utf8)) as? [String: Any])
        XCTAssertEqual((unseededJSON["stratum_draws"] as? [String: Any])?["seed"] as? Int, 3)
        // Q counts the proposals and the draws together.
        let flowSamples = strata.compactMap { $0["flow_samples"] as? Int }
        let q = try XCTUnwrap(strata[0]["flow_fraction"] as? Double)
        XCTAssertEqual(q, Double(flowSamples[0] + counted[0]) / Double(flowSamples.reduce(0, +) + counted.reduce(0, +)), accuracy: 1e-12)
        // Energy: the restricted draws' 6 evaluations, none for a position-only draw.
        let plain = try Executables.run(Executables.tbg, base + ["--out", scratch.file("plain.h5")], timeout: 600)
        XCTAssertEqual(plain.status, 0, plain.standardError)
        let plainJSON = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(plain.standardOutput.utf8)) as? [String: Any], plain.standardOutput)
        XCTAssertEqual((json["energy_evaluations"] as? Int).map { $0 - 6 }, plainJSON["energy_evaluations"] as? Int)
        XCTAssertNotEqual(json["delta_f_kT"] as? Double, plainJSON["delta_f_kT"] as? Double)

        let two = try Executables.run(mpirun, ["-np", "2", Executables.tbg] + command("fe2.h5"), environment: Executables.mpiEnvironment, timeout: 600)
        XCTAssertEqual(two.status, 0, two.standardOutput + two.standardError)
        XCTAssertEqual(NSDictionary(dictionary: try Self.estimate(one.standardOutput)), NSDictionary(dictionary: try Self.estimate(two.standardOutput)))
        let twoJSON = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(two.standardOutput.utf8)) as? [String: Any], two.standardOutput)
        XCTAssertEqual((twoJSON["strata"] as? [[String: Any]])?.map { $0["position_draws"] as? Int }, counted.map { $0 })
        let draws = { (path: String) throws -> HDF5Group in try HDF5File(opening: path).root().group("restricted_draws") }
        let a = try draws(scratch.file("fe1.h5")), b = try draws(scratch.file("fe2.h5"))
        let coordinates: [Float] = try a.dataset("coordinates").read()
        XCTAssertEqual(try a.dataset("coordinates").shape, [6, 22, 3])
        XCTAssertEqual(try b.dataset("coordinates").read(as: Float.self), coordinates)
        XCTAssertEqual(try b.dataset("draw").read(as: Int64.self), try a.dataset("draw").read(as: Int64.self))
        let stratum: [Int64] = try a.dataset("stratum").read()
        XCTAssertEqual(stratum, [0, 0, 0, 1, 1, 1])
        for (k, value) in BackboneTorsions.dihedrals(coordinates, atoms: 22, quartet: [4, 6, 8, 14]).enumerated() {
            XCTAssertEqual(value > -3.1415 && value < split, stratum[k] == 0, "restricted draw \(k): phi \(value)")
        }
        XCTAssertTrue(try a.dataset("log_weight").read(as: Double.self).allSatisfy(\.isFinite))

        // Stopped during the draws (more of them, so that there are chunks left), resumed on 2 ranks.
        let whole = try Executables.run(Executables.tbg, command("whole.h5", draws: 1_280), timeout: 600)
        XCTAssertEqual(whole.status, 0, whole.standardError)
        let stopped = try Executables.interrupt(Executables.tbg, command("resumed.h5", draws: 1_280),
                                                marker: "tbg free-energy: 1280 position-only draws", signal: SIGUSR1, log: scratch.file("stopped.log"))
        XCTAssertEqual(stopped.status, 0, stopped.output)
        XCTAssertTrue(stopped.output.contains("stopped on SIGUSR1 during the position-only or restricted draws") && stopped.output.contains("--resume"),
                      stopped.output)
        let kept = try FileManager.default.contentsOfDirectory(atPath: scratch.file("resumed.h5.logq")).filter { $0.hasPrefix("draws-") }
        XCTAssertLessThan(kept.count, 20, "the signal must have stopped the run before its last chunk")
        let inspected = try Executables.run(Executables.tbg, ["inspect", scratch.file("resumed.h5.logq")])
        XCTAssertEqual(inspected.status, 0, inspected.standardError)
        XCTAssertTrue(inspected.standardOutput.contains("\(kept.count) chunk(s) of position-only draws") || kept.isEmpty, inspected.standardOutput)
        let resumed = try Executables.run(mpirun, ["-np", "2", Executables.tbg] + command("resumed.h5", draws: 1_280) + ["--resume"],
                                          environment: Executables.mpiEnvironment, timeout: 600)
        XCTAssertEqual(resumed.status, 0, resumed.standardError)
        if !kept.isEmpty { XCTAssertTrue(resumed.standardError.contains("(\(kept.count) of 20 chunks were in"), resumed.standardError) }
        XCTAssertEqual(NSDictionary(dictionary: try Self.estimate(whole.standardOutput)), NSDictionary(dictionary: try Self.estimate(resumed.standardOutput)),
                       "the same estimate as the uninterrupted run")
    }

    /// A stratum that holds no usable proposal (a small pool, or a flow that rarely goes there) is
    /// no dead end when --position-draws is given: its chains start from its restricted draws (i.i.d.
    /// draws of the flow restricted to it, the law of a proposal there), whose integrations also give
    /// BAR's flow side there, and the draws' share of the stratum gives its Q. Without draws the run
    /// stops with an error that says so. The positive basin here is the middle of the widest gap
    /// between the usable proposals' φ, so that it holds none of them. The same estimate on 2 ranks;
    /// /samples/source_frame is −1 for the chains that started from a draw, and they stay in it.
    func testFreeEnergyStartsTheChainsOfAStratumWithoutProposalsFromItsRestrictedDraws() throws {
        let mpirun = try XCTUnwrap(Executables.which("mpirun"), "mpirun not found")
        let scratch = try ScratchDirectory("free-energy-empty-stratum")
        defer { scratch.remove() }
        let proposals = try makeProposals(scratch)
        let p = try read(proposals)
        let valid: [UInt8] = try p.group.dataset("chirality_ok").read()
        let phi = BackboneTorsions.dihedrals(p.coordinates, atoms: 22, quartet: [4, 6, 8, 14])
        let usable = ([-Double.pi] + phi.indices.filter { valid[$0] != 0 && p.energies[$0].isFinite }.map { phi[$0] } + [Double.pi]).sorted()
        let widest = try XCTUnwrap(zip(usable, usable.dropFirst()).max { $0.1 - $0.0 < $1.1 - $1.0 })
        let width = widest.1 - widest.0
        XCTAssertGreaterThan(width, 0.5, "the proposals leave a gap in phi: \(usable)")
        let (lower, upper) = (widest.0 + 0.2 * width, widest.1 - 0.2 * width)
        let base = ["free-energy", proposals, "--checkpoint", Self.model, String(format: "--phi-basin=%.6f:%.6f", lower, upper),
                    "--chains-per-basin", "2", "--burn-in", "4", "--thin", "2", "--states-per-chain", "2", "--method", "rk4", "--steps", "4",
                    "--bootstrap", "10", "--seed", "4", "--progress-seconds", "0", "--json"]
        let refused = try Executables.run(Executables.tbg, base + ["--out", scratch.file("refused.h5")], timeout: 600)
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.standardError.contains("the flow has no usable proposal with ") && refused.standardError.contains("--restricted-draws"),
                      refused.standardError)
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.file("refused.h5")))
        func command(_ out: String) -> [String] {
            base + ["--position-draws", "600", "--restricted-draws", "3", "--flow-chains-below", "100", "--out", scratch.file(out)]
        }
        let one = try Executables.run(Executables.tbg, command("one.h5"), timeout: 600)
        XCTAssertEqual(one.status, 0, one.standardError)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(one.standardOutput.utf8)) as? [String: Any], one.standardOutput)
        let strata = try XCTUnwrap(json["strata"] as? [[String: Any]])
        XCTAssertEqual(strata[0]["flow_samples"] as? Int, 0, "no usable proposal in the positive basin")
        XCTAssertEqual(strata[0]["restricted_draws"] as? Int, 3)
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(strata[0]["position_draws"] as? Int), 3)
        XCTAssertEqual(strata[0]["chain_states"] as? Int, 4)
        XCTAssertNotNil(json["delta_f_kT"] as? Double, one.standardOutput)
        let out = try read(scratch.file("one.h5"))
        let source: [Int64] = try out.group.dataset("source_frame").read(), stratum: [Int64] = try out.group.dataset("stratum").read()
        XCTAssertEqual(stratum, [0, 0, 0, 0, 1, 1, 1, 1])
        XCTAssertEqual(Array(source.prefix(4)), [-1, -1, -1, -1], "the positive basin's chains start from restricted draws")
        XCTAssertTrue(source.suffix(4).allSatisfy { $0 >= 0 }, "the other basin's start from proposals: \(source)")
        for (k, value) in BackboneTorsions.dihedrals(out.coordinates, atoms: 22, quartet: [4, 6, 8, 14]).prefix(4).enumerated() {
            XCTAssertTrue(value > lower && value < upper, "chain state \(k) left its basin: phi \(value)")
        }
        let two = try Executables.run(mpirun, ["-np", "2", Executables.tbg] + command("two.h5"), environment: Executables.mpiEnvironment, timeout: 600)
        XCTAssertEqual(two.status, 0, two.standardOutput + two.standardError)
        XCTAssertEqual(NSDictionary(dictionary: try Self.estimate(one.standardOutput)), NSDictionary(dictionary: try Self.estimate(two.standardOutput)))
    }

    /// A second run of the same output while the first goes (a --resume started too early, a job
    /// array repeating a task) is refused, naming the folder and the holder, and leaves the first
    /// run's kept work alone: the first, stopped, resumes.
    func testFreeEnergyRefusesASecondRunOfTheSameOutput() throws {
        let scratch = try ScratchDirectory("free-energy-lock")
        defer { scratch.remove() }
        let proposals = try makeProposals(scratch)
        let basin = String(format: "--phi-basin=-3.1415:%.6f", try medianPhiSplit(proposals))
        let command = ["free-energy", proposals, "--checkpoint", Self.model, basin, "--chains-per-basin", "2", "--burn-in", "4",
                       "--thin", "2", "--states-per-chain", "1", "--method", "rk4", "--steps", "4", "--bootstrap", "10", "--seed", "4",
                       "--progress-seconds", "0", "--position-draws", "200000", "--out", scratch.file("fe.h5")]
        var second: ProcessResult?
        let first = try Executables.interrupt(Executables.tbg, command, marker: "position-only draws of the flow", signal: SIGUSR1,
                                              log: scratch.file("first.log")) {
            second = try Executables.run(Executables.tbg, command + ["--resume"], timeout: 600)
        }
        XCTAssertEqual(first.status, 0, first.output)
        XCTAssertTrue(first.output.contains("stopped on SIGUSR1 during the position-only or restricted draws"), first.output)
        let refused = try XCTUnwrap(second)
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.standardError.contains("fe.h5.logq is in use by another tbg free-energy run (pid "), refused.standardError)
        XCTAssertTrue(FileManager.default.fileExists(atPath: scratch.file("fe.h5.logq/run.json")), "the first run's folder is intact")
        // The draws run first (before the chains); the chunks the first run finished are still there.
        XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: scratch.file("fe.h5.logq")).filter { $0.hasPrefix("draws-") }.isEmpty)
    }
}
