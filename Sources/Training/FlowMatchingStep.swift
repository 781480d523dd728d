// One flow-matching loss and gradient on a rank's share of a batch (method.md §5.1).
//
// Every sample's x₀, ε and t come from a generator seeded by (seed, purpose, epoch, step, global
// sample index): the same on every rank layout. A coupling (Coupling.swift) may pair the sample
// with another sample's x₀ of the same step. The loss of each molecule is weighted by 1/B (B
// the global batch), so the sum over ranks of the local losses and gradients is the batch mean.
import FlowModel
import Kernels
import Model
import Transport

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
    /// `pairedPrior[m]`, when given, replaces molecule m's own prior draw x₀ (a coupling's choice,
    /// model units); t and ε are always the molecule's own.
    static func make(molecules: [(peptide: TrainingPeptide, key: [UInt64])], coordinates: [Float], config: RunConfig,
                     pairedPrior: [[Double]?]? = nil) -> FlowMatchingInputs {
        var inputs = FlowMatchingInputs()
        var cursor = 0
        let sigma = config.training.sigma
        for (m, (peptide, key)) in molecules.enumerated() {
            let atoms = peptide.atomCount
            let draw = Draw(atoms: atoms, key: key, config: config)
            let x0 = pairedPrior?[m] ?? draw.x0
            let x1 = modelCoordinates(coordinates[cursor..<(cursor + atoms * 3)], atoms: atoms, key: key, config: config)
            for k in 0..<(atoms * 3) {
                inputs.positions.append(Float((1 - draw.t) * x0[k] + draw.t * x1[k] + sigma * draw.noise[k]))
                inputs.targets.append(Float(x1[k] - x0[k]))
            }
            cursor += atoms * 3
            inputs.atomCounts.append(atoms)
            inputs.features += peptide.features
            inputs.times.append(Float(draw.t))
        }
        return inputs
    }

    /// A sample's own randomness, from the generator seeded by (seed, key): t, then x₀, then ε
    /// (mean-free standard normals, atoms × 3).
    struct Draw {
        var t: Double
        var x0: [Double]
        var noise: [Double]

        init(atoms: Int, key: [UInt64], config: RunConfig) {
            var random = RandomSource(seed: config.training.seed, streams: key)
            t = random.uniform()
            var x0 = [Double](repeating: 0, count: atoms * 3), noise = x0
            x0.withUnsafeMutableBufferPointer { MeanFreePrior.draw($0.baseAddress!, atoms: atoms, random: &random) }
            noise.withUnsafeMutableBufferPointer { MeanFreePrior.draw($0.baseAddress!, atoms: atoms, random: &random) }
            self.x0 = x0
            self.noise = noise
        }
    }

    /// x₁ in model units: centred (unweighted mean, method.md §2.3), scaled, and rotated by a
    /// uniform random rotation from the stream (seed, key, 0x2071) when the run rotates its data.
    static func modelCoordinates(_ nm: ArraySlice<Float>, atoms: Int, key: [UInt64], config: RunConfig) -> [Double] {
        var x1 = config.model.units.modelCoordinates(nanometres: nm, atoms: atoms)
        guard config.training.rotatesData else { return x1 }
        var random = RandomSource(seed: config.training.seed, streams: key + [0x2071])
        let r = uniformRotation(&random)
        for atom in 0..<atoms {
            let p = SIMD3(x1[3 * atom], x1[3 * atom + 1], x1[3 * atom + 2])
            for row in 0..<3 { x1[3 * atom + row] = r[3 * row] * p.x + r[3 * row + 1] * p.y + r[3 * row + 2] * p.z }
        }
        return x1
    }

    /// A rotation matrix (row-major) uniform on SO(3): the unit quaternion of four standard normals.
    static func uniformRotation(_ random: inout RandomSource) -> [Double] {
        let q = (0..<4).map { _ in random.gaussian() }
        let norm = q.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return RigidAlignment.rotationMatrix(q.map { $0 / norm })
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
