// `tbg nll`: the likelihood of given trajectory frames under the flow, split over MPI ranks
// (Sampling/Likelihood.swift); rank 0 prints. Needs the checkpoint and the frames only: no
// temperature, no force field.
import ArgumentParser
import Communication
import Foundation
import MDData
import Sampling

struct NLLCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nll",
        abstract: "Negative log-likelihood of trajectory frames under the flow (reverse ODE with the exact divergence).")

    @Option(help: "Training checkpoint (.h5).") var checkpoint: String
    @Option(help: "Trajectory file with the frames (its topology and System define the peptide).") var data: String
    @Option(help: "Frames, A:B (default: all).") var frames: FrameRange?
    @Option(help: "Evaluate every k-th frame of the range.") var every = 1
    @Flag(help: "One JSON object per frame.") var json = false
    @OptionGroup var sampler: SamplerOptions
    @OptionGroup var distributed: DistributedOptions

    func validate() throws {
        if every < 1 { throw ValidationError("--every must be at least 1") }
        try sampler.validateMethod()
    }

    func run() throws {
        try distributed.withCommunicator { comm in
            do {
                let runner = try LikelihoodRunner(checkpointPath: checkpoint, dataPath: data, settings: sampler.settings, communicator: comm)
                let trajectory = runner.data
                let range = try (frames ?? FrameRange()).resolve(frameCount: trajectory.frameCount, file: data)
                let selected = Array(stride(from: range.lowerBound, to: range.upperBound, by: max(1, every)))
                if comm.isRoot, let trained = try runner.trainingData?.trainingFrames(ofFileAt: data) {
                    let seen = selected.filter { trained.contains($0) }.count
                    if seen > 0 {
                        writeError("tbg nll: warning: \(seen) of the \(selected.count) frames are frames \(checkpoint) trained on (\(trained.lowerBound)..<\(trained.upperBound) of \(data)); their NLL is optimistic")
                    }
                }
                guard let result = try runner.negativeLogLikelihood(frames: selected) else { return }
                if json {
                    for (frame, value) in zip(result.frames, result.negativeLogLikelihood) {
                        writeLine("{\"frame\": \(frame), \"nll\": \(value), \"nll_per_dimension\": \(value / Double(result.degreesOfFreedom))}")
                    }
                } else {
                    // One frame has no standard error: say so rather than "± nan".
                    let dimensions = Double(result.degreesOfFreedom)
                    let (error, errorPerDimension) = result.frames.count > 1
                        ? (String(format: " ± %.4f", result.standardError), String(format: " ± %.5f", result.standardError / dimensions))
                        : (" (one frame: no standard error)", "")
                    let frames = result.frames.count == 1 ? "1 frame" : "\(result.frames.count) frames"
                    writeLine("tbg nll: \(frames), NLL " + String(format: "%.4f", result.mean) + error
                              + String(format: " (normalised, model units ×%g, %d dimensions), %.5f", result.scaling, result.degreesOfFreedom, result.mean / dimensions)
                              + errorPerDimension + String(format: " per dimension; bgflow convention %.4f; in nm %.4f", result.meanBgflow, result.meanNanometres))
                    writeLine("tbg nll: model: \(runner.weightsDescription)")
                }
            } catch {
                if comm.size > 1 { comm.abort(code: 1, message: "tbg nll: error: \(error)") }
                throw error
            }
        }
    }
}
