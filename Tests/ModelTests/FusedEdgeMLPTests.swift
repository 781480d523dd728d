// The fused float32 edge MLP (Model/EGNNFusedLayer.swift, CKernels/EdgeMLPBody.h) against the
// separate passes over BLAS (Model/EGNNLayer.swift, `edgeMLPPath = .separatePasses`) and both against the
// float64 model: velocity, ∂L/∂x and every parameter gradient, at hidden widths that are not a
// multiple of 16 (5, 20, 70: partial vectors, and HP = 128 for 70) and 64 (the AD2 model), on a
// batch of mixed molecule sizes (a single atom, and 140 edges: tiles of 48 that straddle molecules
// and end in a partial tile). Every kernel variant this CPU has, against portable.
import Kernels
import Linalg
import Model
import XCTest

final class FusedEdgeMLPTests: XCTestCase {
    struct Result {
        var velocity: [Double], positionGradient: [Double], gradients: [Double]
    }

    /// Forward and backward of L = Σ v·w (w fixed random) at the given parameters.
    func run<T: BLASScalar & ActivationScalar>(_ model: EGNNVectorField<T>, _ input: TestBatch, weights: [Double]) -> Result {
        let features = input.features.map { T($0) }, times = input.times.map { T($0) }, x = input.positions.map { T($0) }
        var v = [T](repeating: 0, count: x.count), dx = [T](repeating: 0, count: x.count)
        let dv = weights.map { T($0) }
        model.zeroGradients()
        features.withUnsafeBufferPointer { f in times.withUnsafeBufferPointer { t in x.withUnsafeBufferPointer { p in
            v.withUnsafeMutableBufferPointer { model.forward(batch: input.batch, features: f, times: t, positions: p, velocity: $0) }
        } } }
        dv.withUnsafeBufferPointer { g in dx.withUnsafeMutableBufferPointer { model.backward(velocityGradient: g, positionGradient: $0) } }
        return Result(velocity: v.map { Double($0) }, positionGradient: dx.map { Double($0) },
                      gradients: model.gradients.array.map { Double($0) })
    }

    /// max |actual − expected| over each output (velocity, ∂L/∂x, each parameter tensor's gradient),
    /// relative to that output's largest entry in `expected`. A bias's gradient is scaled with its
    /// weight's: it is the sum over edges of the same per-edge factors (∂b_a = Σ_e t_e, ∂w_a = Σ_e t_e m₀),
    /// and a sum with heavy cancellation, such as the last layer's ∂b_a, is no measure of its own rounding.
    func errors(_ actual: Result, _ expected: Result, layout: ParameterLayout) -> [(String, Double)] {
        func largest(_ e: ArraySlice<Double>) -> Double { e.map(abs).max() ?? 0 }
        func error(_ a: ArraySlice<Double>, _ e: ArraySlice<Double>, scale: Double) -> Double {
            (zip(a, e).map { abs($0 - $1) }.max() ?? 0) / max(scale, 1e-30)
        }
        func range(_ entry: ParameterLayout.Entry) -> Range<Int> { entry.offset..<(entry.offset + entry.count) }
        return [("velocity", error(actual.velocity[...], expected.velocity[...], scale: largest(expected.velocity[...]))),
                ("∂L/∂x", error(actual.positionGradient[...], expected.positionGradient[...],
                                scale: largest(expected.positionGradient[...])))]
            + layout.entries.map { entry in
                var scale = largest(expected.gradients[range(entry)])
                if entry.name.hasSuffix(".bias"), let weight = layout.entry(named: entry.name.dropLast(4) + "weight") {
                    scale = max(scale, largest(expected.gradients[range(weight)]))
                }
                return (entry.name, error(actual.gradients[range(entry)], expected.gradients[range(entry)], scale: scale))
            }
    }

    /// Each output's error within max(5·10⁻⁵, `factor` × `allowance`'s for the same output).
    func assertWithin(_ errors: [(String, Double)], factor: Double, of allowance: [(String, Double)], _ what: String) {
        for ((name, error), (_, reference)) in zip(errors, allowance) {
            let bound = max(5e-5, factor * reference)
            XCTAssert(error <= bound, "\(what), \(name): error \(error) of the largest entry > \(bound)")
        }
    }

    func testFusedAgreesWithSeparatePassesAndFloat64() {
        let saved = KernelVariant.active(for: .layer)
        defer { KernelVariant.select(saved, for: .layer) }
        for hidden in [5, 20, 64, 70] {
            let reference = makeModel(hidden: hidden, layers: 3, featureWidth: 4, seed: UInt64(hidden))
            // Every tensor non-zero and O(0.1–1), biases included, so every path carries gradient.
            var random = RandomSource(seed: 7, streams: [UInt64(hidden)])
            for k in 0..<reference.layout.count { reference.parameters.pointer[k] += random.uniform(-0.2, 0.2) }
            let input = makeBatch(atomCounts: [7, 1, 5, 9, 3], featureWidth: 4, seed: 11)
            let weights = (0..<input.positions.count).map { _ in random.uniform(-1, 1) }
            let truth = run(reference, input, weights: weights)
            let model = EGNNVectorField<Float>(config: reference.config)
            for k in 0..<reference.layout.count { model.parameters.pointer[k] = Float(reference.parameters.pointer[k]) }
            var portable: (fused: Result, separateError: [(String, Double)])?
            for variant in KernelVariant.supported {
                XCTAssertTrue(KernelVariant.select(variant, for: .layer))
                model.edgeMLPPath = .separatePasses
                let separate = run(model, input, weights: weights)
                model.edgeMLPPath = .fused
                let fused = run(model, input, weights: weights)
                let what = "H \(hidden), \(variant)"
                // Float32 rounding: the gradients are sums over all edges with cancellation, so the
                // separate passes themselves are off by up to ~5·10⁻⁵ of a tensor's largest entry
                // (the last layer's ∂b_a at H = 5); the fused kernel sums in another order (per tile,
                // then per call) and takes σ and tanh by its own vector functions: up to 4·10⁻⁵ there.
                // It must be about as accurate; a wrong term is off by 10⁻² or more.
                let separateError = errors(separate, truth, layout: model.layout)
                assertWithin(errors(fused, truth, layout: model.layout), factor: 3, of: separateError, what + ": fused vs float64")
                assertWithin(errors(fused, separate, layout: model.layout), factor: 4, of: separateError, what + ": fused vs separate passes")
                if let portable {
                    let allowance = zip(separateError, portable.separateError).map { ($0.0, max($0.1, $1.1)) }
                    assertWithin(errors(fused, portable.fused, layout: model.layout), factor: 4, of: allowance, what + ": fused vs portable")
                }
                if variant == .portable { portable = (fused, separateError) }
            }
        }
        let missing = KernelVariant.allCases.filter { !$0.isSupported }
        if !missing.isEmpty { print("FusedEdgeMLPTests: this CPU lacks \(missing.map(\.description).joined(separator: ", ")): not tested") }
    }

    func testAutomaticPathFusesOnlyInVectorVariants() {
        XCTAssertFalse(EdgeMLPPath.automatic.fuses(variant: .portable))
        XCTAssertTrue(EdgeMLPPath.automatic.fuses(variant: .avx2))
        XCTAssertTrue(EdgeMLPPath.automatic.fuses(variant: .avx512))
        XCTAssertTrue(EdgeMLPPath.fused.fuses(variant: .portable))
        XCTAssertFalse(EdgeMLPPath.separatePasses.fuses(variant: .avx512))
    }
}
