// One flow-matching loss and gradient on a rank's share of a batch (method.md §5.1).
//
// Every sample's x₀, ε and t come from a generator seeded by (seed, purpose, epoch, step, global
// sample index): the same on every rank layout. The loss of each molecule is weighted by 1/B (B
// the global batch), so the sum over ranks of the local losses and gradients is the batch mean.
import Kernels
import Model

struct FlowMatchingInputs {
    var atomCounts: [Int] = []
    var features: [Float] = []
    var times: [Float] = []
    var positions: [Float] = []   // x_t
    var targets: [Float] = []     // u = x₁ − x₀
}

enum RandomPurpose: UInt64 {
    case training = 0x7EA1
    case validation = 0x7A11
}

extension FlowMatchingInputs {
    /// Builds x_t and u for `molecules` given their coordinates in nm (concatenated, atoms × 3).
    static func make(molecules: [(peptide: TrainingPeptide, key: [UInt64])], coordinates: [Float], config: RunConfig) -> FlowMatchingInputs {
        var inputs = FlowMatchingInputs()
        var cursor = 0
        let scaling = config.model.scaling, sigma = config.training.sigma
        for (peptide, key) in molecules {
            let atoms = peptide.atomCount
            var random = RandomSource(seed: config.training.seed, streams: key)
            let t = random.uniform()
            var x0 = [Double](repeating: 0, count: atoms * 3), noise = x0
            x0.withUnsafeMutableBufferPointer { FlowMatching.meanFreeGaussian($0.baseAddress!, atoms: atoms, random: &random) }
            noise.withUnsafeMutableBufferPointer { FlowMatching.meanFreeGaussian($0.baseAddress!, atoms: atoms, random: &random) }
            // x₁: centred (unweighted mean, method.md §2.3) and scaled to model units.
            var mean = SIMD3<Double>(repeating: 0)
            for atom in 0..<atoms {
                for axis in 0..<3 {
                    let value = Double(coordinates[cursor + 3 * atom + axis])
                    mean[axis] += value / Double(atoms)
                }
            }
            for atom in 0..<atoms {
                for axis in 0..<3 {
                    let x1 = (Double(coordinates[cursor + 3 * atom + axis]) - mean[axis]) * scaling
                    let k = 3 * atom + axis
                    inputs.positions.append(Float((1 - t) * x0[k] + t * x1 + sigma * noise[k]))
                    inputs.targets.append(Float(x1 - x0[k]))
                }
            }
            cursor += atoms * 3
            inputs.atomCounts.append(atoms)
            inputs.features += peptide.features
            inputs.times.append(Float(t))
        }
        return inputs
    }

    /// Σ_m loss_m · weight over the molecules, accumulating weight·∂loss/∂θ into the model's
    /// gradients (when `backward`), in micro-batches of at most `microBatch` molecules.
    func evaluate(model: EGNNVectorField<Float>, weight: Double, microBatch: Int, backward: Bool) -> Double {
        var total = 0.0
        var first = 0, atomStart = 0
        let width = model.config.featureWidth
        while first < atomCounts.count {
            let last = min(atomCounts.count, first + max(1, microBatch))
            let counts = Array(atomCounts[first..<last])
            let atoms = counts.reduce(0, +)
            let batch = MoleculeBatch(atomCounts: counts)
            var velocity = [Float](repeating: 0, count: atoms * 3)
            // Views into the step's arrays: no copies per micro-batch.
            features.withUnsafeBufferPointer { allFeatures in
                times.withUnsafeBufferPointer { allTimes in
                    positions.withUnsafeBufferPointer { allPositions in
                        velocity.withUnsafeMutableBufferPointer {
                            model.forward(batch: batch,
                                          features: UnsafeBufferPointer(rebasing: allFeatures[(atomStart * width)..<((atomStart + atoms) * width)]),
                                          times: UnsafeBufferPointer(rebasing: allTimes[first..<last]),
                                          positions: UnsafeBufferPointer(rebasing: allPositions[(atomStart * 3)..<((atomStart + atoms) * 3)]),
                                          velocity: $0)
                        }
                    }
                }
            }
            var gradient = [Float](repeating: 0, count: atoms * 3)
            targets.withUnsafeBufferPointer { target in
                velocity.withUnsafeBufferPointer { v in
                    gradient.withUnsafeMutableBufferPointer { g in
                        for (index, count) in counts.enumerated() {
                            let offset = (batch.atomOffsets[index]) * 3
                            total += weight * FlowMatching.moleculeLoss(
                                velocity: v.baseAddress! + offset, target: target.baseAddress! + atomStart * 3 + offset,
                                atoms: count, weight: weight, gradient: g.baseAddress! + offset)
                        }
                    }
                }
            }
            if backward { gradient.withUnsafeBufferPointer { model.backward(velocityGradient: $0) } }
            first = last
            atomStart += atoms
        }
        return total
    }
}
