// The hand-written backward pass against central finite differences in float64: every parameter
// of a small model, and the input coordinates, for a batch that mixes molecule sizes.
// L(θ, x) = Σ w · v(x; θ) with fixed random w, so ∂L/∂v = w.
import Kernels
import Model
import TestSupport
import XCTest

final class GradientTests: XCTestCase {
    private func loss(_ model: EGNNVectorField<Double>, _ input: TestBatch, weights: [Double], positions: [Double]? = nil) -> Double {
        zip(velocity(model, input, positions: positions), weights).map(*).reduce(0, +)
    }

    func testEveryParameterGradientMatchesFiniteDifferences() {
        let model = makeModel()
        let input = makeBatch(atomCounts: [4, 3, 5])
        var random = RandomSource(seed: 5)
        let weights = (0..<(input.batch.atomCount * 3)).map { _ in random.gaussian() }
        _ = velocity(model, input)
        model.zeroGradients()
        weights.withUnsafeBufferPointer { model.backward(velocityGradient: $0) }
        let analytic = model.gradients.array
        let numeric = parameterFiniteDifferences(model) { loss(model, input, weights: weights) }
        for entry in model.layout.entries {
            let range = entry.offset..<(entry.offset + entry.count)
            assertClose(Array(analytic[range]), Array(numeric[range]), absolute: 1e-7, relative: 1e-6, entry.name)
        }
        XCTAssertGreaterThan(analytic.map(abs).max() ?? 0, 1e-3, "gradients must not be trivially zero")
    }

    func testPositionGradientMatchesFiniteDifferences() {
        let model = makeModel(seed: 3)
        let input = makeBatch(atomCounts: [5, 2], seed: 4)
        var random = RandomSource(seed: 6)
        let weights = (0..<(input.batch.atomCount * 3)).map { _ in random.gaussian() }
        _ = velocity(model, input)
        model.zeroGradients()
        var analytic = [Double](repeating: 0, count: weights.count)
        weights.withUnsafeBufferPointer { w in analytic.withUnsafeMutableBufferPointer { model.backward(velocityGradient: w, positionGradient: $0) } }
        var x = input.positions
        let h = 1e-6
        var numeric = [Double](repeating: 0, count: x.count)
        for k in 0..<x.count {
            let saved = x[k]
            x[k] = saved + h
            let plus = loss(model, input, weights: weights, positions: x)
            x[k] = saved - h
            let minus = loss(model, input, weights: weights, positions: x)
            x[k] = saved
            numeric[k] = (plus - minus) / (2 * h)
        }
        assertClose(analytic, numeric, absolute: 1e-7, relative: 1e-6, "∂L/∂x")
    }
}

final class LossGradientTests: XCTestCase {
    /// The whole flow-matching loss gradient (loss → velocity → every parameter) against central
    /// differences of the loss itself, float64, on a batch mixing molecule sizes.
    func testFlowMatchingLossGradientMatchesFiniteDifferences() {
        let model = makeModel(hidden: 4, layers: 2, seed: 21)
        let input = makeBatch(atomCounts: [3, 5], seed: 22)
        var random = RandomSource(seed: 23)
        let target = (0..<(input.batch.atomCount * 3)).map { _ in random.gaussian() }
        func loss(gradient: UnsafeMutablePointer<Double>? = nil) -> Double {
            let v = velocity(model, input)
            var scratch = [Double](repeating: 0, count: v.count)
            var total = 0.0
            for molecule in 0..<input.batch.moleculeCount {
                let offset = 3 * input.batch.atomOffsets[molecule]
                total += v.withUnsafeBufferPointer { vp in target.withUnsafeBufferPointer { tp in scratch.withUnsafeMutableBufferPointer { sp in
                    FlowMatching.moleculeLoss(velocity: vp.baseAddress! + offset, target: tp.baseAddress! + offset,
                                              atoms: input.batch.atomCounts[molecule], weight: 0.5, gradient: sp.baseAddress! + offset)
                } } } * 0.5
            }
            if let gradient { for k in 0..<scratch.count { gradient[k] = scratch[k] } }
            return total
        }
        var dv = [Double](repeating: 0, count: input.batch.atomCount * 3)
        _ = dv.withUnsafeMutableBufferPointer { loss(gradient: $0.baseAddress!) }
        model.zeroGradients()
        dv.withUnsafeBufferPointer { model.backward(velocityGradient: $0) }
        let analytic = model.gradients.array
        let numeric = parameterFiniteDifferences(model) { loss() }
        assertClose(analytic, numeric, absolute: 1e-7, relative: 1e-6, "∂L/∂θ of the flow-matching loss")
    }

    /// Workspaces are reused across batch shapes: a smaller batch after a larger one gives the
    /// same velocity as a fresh model.
    func testWorkspaceReuseAcrossBatchShapes() {
        let model = makeModel(seed: 31), fresh = makeModel(seed: 31)
        _ = velocity(model, makeBatch(atomCounts: [7, 6, 5], seed: 32))
        let small = makeBatch(atomCounts: [4], seed: 33)
        XCTAssertEqual(velocity(model, small), velocity(fresh, small))
    }
}
