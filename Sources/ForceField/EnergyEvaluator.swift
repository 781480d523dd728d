// Energies (per term and total) and forces for a batch of frames, split over threads.
//
// Frames are evaluated independently, so the batch is cut into one contiguous block per thread
// (DispatchQueue.concurrentPerform with exactly `threads` iterations, i.e. at most that many
// threads). A frame whose energy is not finite — overlapping atoms in a generated sample — gets
// energy +∞ (importance weight 0) in its total and in every non-finite term, and NaN forces;
// it never produces a NaN energy and never stops the batch.
import Dispatch

public struct EnergyBatch: Sendable {
    public let frameCount: Int
    public let atomCount: Int
    public let termNames: [String]
    /// frames × terms, kJ/mol.
    public var termEnergies: [Double]
    /// kJ/mol; +∞ for frames with a non-finite energy.
    public var totals: [Double]
    /// frames × atoms × 3, kJ/mol/nm (−dE/dx), when requested.
    public var forces: [Double]?

    /// The energies of term `term` over all frames.
    public func energies(ofTerm term: Int) -> [Double] {
        (0..<frameCount).map { termEnergies[$0 * termNames.count + term] }
    }
}

private struct SendablePointer<T>: @unchecked Sendable {
    let base: UnsafeMutablePointer<T>
}

public struct EnergyEvaluator: Sendable {
    public let system: ForceFieldSystem

    public init(system: ForceFieldSystem) { self.system = system }

    /// Evaluates `frameCount` frames of `positions` (frames × atoms × 3, nm; Float or Double).
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func evaluate<T: BinaryFloatingPoint & Sendable>(
        _ positions: UnsafeBufferPointer<T>, frameCount: Int, forces computeForces: Bool, threads: Int = 1
    ) -> EnergyBatch {
        let atoms = system.particleCount, termCount = system.terms.count, stride = atoms * 3
        precondition(positions.count >= frameCount * stride,
                     "positions hold \(positions.count) values, expected \(frameCount) frames × \(atoms) atoms × 3")
        var batch = EnergyBatch(
            frameCount: frameCount, atomCount: atoms, termNames: system.termNames,
            termEnergies: [Double](repeating: 0, count: frameCount * termCount),
            totals: [Double](repeating: 0, count: frameCount),
            forces: computeForces ? [Double](repeating: 0, count: frameCount * stride) : nil)
        guard frameCount > 0 else { return batch }
        let workers = max(1, min(threads, frameCount))
        let input = SendablePointer(base: UnsafeMutablePointer(mutating: positions.baseAddress!))
        batch.termEnergies.withUnsafeMutableBufferPointer { termBuffer in
            batch.totals.withUnsafeMutableBufferPointer { totalBuffer in
                let terms = SendablePointer(base: termBuffer.baseAddress!), totals = SendablePointer(base: totalBuffer.baseAddress!)
                let run = { (forceOutput: SendablePointer<Double>?) in
                    DispatchQueue.concurrentPerform(iterations: workers) { worker in
                        let first = frameCount * worker / workers, last = frameCount * (worker + 1) / workers
                        withUnsafeTemporaryAllocation(of: Double.self, capacity: stride) { frame in
                            for index in first..<last {
                                for k in 0..<stride { frame[k] = Double(input.base[index * stride + k]) }
                                evaluateFrame(UnsafeBufferPointer(frame), terms: terms.base + index * termCount,
                                              total: totals.base + index, gradient: forceOutput.map { $0.base + index * stride })
                            }
                        }
                    }
                }
                if computeForces {
                    batch.forces!.withUnsafeMutableBufferPointer { run(SendablePointer(base: $0.baseAddress!)) }
                } else {
                    run(nil)
                }
            }
        }
        return batch
    }

    /// One frame: writes term energies and the total; turns the gradient into forces in place.
    private func evaluateFrame(_ x: UnsafeBufferPointer<Double>, terms: UnsafeMutablePointer<Double>,
                               total: UnsafeMutablePointer<Double>, gradient: UnsafeMutablePointer<Double>?) {
        let stride = x.count
        gradient?.initialize(repeating: 0, count: stride)
        var sum = 0.0
        for (index, term) in system.terms.enumerated() {
            var energy = term.energy(positions: x, gradient: gradient)
            if !energy.isFinite { energy = .infinity }
            terms[index] = energy
            sum += energy
        }
        total.pointee = sum.isFinite ? sum : .infinity
        guard let gradient else { return }
        if sum.isFinite {
            for k in 0..<stride { gradient[k] = -gradient[k] }
        } else {
            gradient.update(repeating: .nan, count: stride)
        }
    }
}
