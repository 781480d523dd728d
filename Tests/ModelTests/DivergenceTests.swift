// The exact divergence by forward-mode tangents against central differences of the velocity
// (float64) and against PyTorch's autograd Jacobian trace from the parity fixtures.
import HDF5
import Kernels
import Model
import TestSupport
import XCTest

final class DivergenceTests: XCTestCase {
    private func divergence(_ model: EGNNVectorField<Double>, _ input: TestBatch) -> [Double] {
        var v = [Double](repeating: 0, count: input.positions.count)
        return input.features.withUnsafeBufferPointer { f in input.times.withUnsafeBufferPointer { t in
            input.positions.withUnsafeBufferPointer { x in v.withUnsafeMutableBufferPointer {
                model.velocityAndDivergence(batch: input.batch, features: f, times: t, positions: x, velocity: $0)
            } }
        } }
    }

    func testTraceMatchesFiniteDifferences() {
        // One layer is first and last at once (sparse pairs, no ṁ); two has no middle layer; three
        // has all three kinds of tangent layer.
        for layers in [1, 2, 3] { checkTraceAgainstFiniteDifferences(layers: layers) }
    }

    private func checkTraceAgainstFiniteDifferences(layers: Int) {
        let model = makeModel(hidden: 6, layers: layers, seed: 41)
        let input = makeBatch(atomCounts: [5, 5, 5], seed: 42)
        let traces = divergence(model, input)
        // Central differences of v_k along x_k, summed per molecule.
        var numeric = [Double](repeating: 0, count: 3)
        let h = 1e-6
        for k in 0..<input.positions.count {
            var plus = input.positions, minus = input.positions
            plus[k] += h
            minus[k] -= h
            let derivative = (velocity(model, input, positions: plus)[k] - velocity(model, input, positions: minus)[k]) / (2 * h)
            numeric[k / 15] += derivative
        }
        assertClose(traces, numeric, absolute: 1e-6, relative: 1e-6, "tr ∂v/∂x, \(layers) layer(s)")
        XCTAssertGreaterThan(traces.map(abs).max() ?? 0, 1e-2)
        // The velocity it returns is the ordinary forward pass.
        var v = [Double](repeating: 0, count: input.positions.count)
        _ = input.features.withUnsafeBufferPointer { f in input.times.withUnsafeBufferPointer { t in input.positions.withUnsafeBufferPointer { x in
            v.withUnsafeMutableBufferPointer { model.velocityAndDivergence(batch: input.batch, features: f, times: t, positions: x, velocity: $0) }
        } } }
        XCTAssertEqual(v, velocity(model, input))
    }

    /// The float32 path (C kernels, AVX2 where available) against the float64 one, on a model of
    /// the sampled size (H = 64, molecules of 22 atoms), so that the vector loops and several pair
    /// chunks per layer are exercised.
    func testFloatTraceMatchesDouble() {
        let reference = makeModel(hidden: 64, layers: 4, featureWidth: 5, seed: 43)
        let input = makeBatch(atomCounts: [22, 22], featureWidth: 5, seed: 44)
        let single = EGNNVectorField<Float>(config: reference.config)
        for k in 0..<reference.layout.count { single.parameters.pointer[k] = Float(reference.parameters.pointer[k]) }
        var velocity = [Float](repeating: 0, count: input.positions.count)
        let features = input.features.map(Float.init), times = input.times.map(Float.init), positions = input.positions.map(Float.init)
        let traces = features.withUnsafeBufferPointer { f in times.withUnsafeBufferPointer { t in
            positions.withUnsafeBufferPointer { x in velocity.withUnsafeMutableBufferPointer {
                single.velocityAndDivergence(batch: input.batch, features: f, times: t, positions: x, velocity: $0)
            } }
        } }
        let expected = divergence(reference, input)
        assertClose(traces, expected, absolute: 1e-4, relative: 1e-4, "float32 trace")
        XCTAssertGreaterThan(expected.map(abs).max() ?? 0, 1e-2)
    }

    /// One model serves batches of 3, then 2, then 3 molecules (the tangent buffers are sized for
    /// the largest and reused for fewer): each call gives what a fresh model gives for that batch.
    func testSmallerBatchesReuseTheTangentBuffers() {
        let model = makeModel(hidden: 8, layers: 3, seed: 45)
        let three = makeBatch(atomCounts: [5, 5, 5], seed: 46), two = makeBatch(atomCounts: [5, 5], seed: 47)
        for input in [three, two, three, two] {
            let fresh = makeModel(hidden: 8, layers: 3, seed: 45)
            XCTAssertEqual(divergence(model, input), divergence(fresh, input))
        }
    }

    func testTraceMatchesPyTorchAutograd() throws {
        for name in ["egnn_parity.h5", "egnn_parity_tbg_full.h5"] {
            let fixture = try PyTorchParityTests.load(name)
            let model = EGNNVectorField<Double>(config: fixture.config)
            try model.setParameters(fixture.parameters)
            let reference: [Double] = try fixture.root.dataset("outputs/divergence").read()
            let width = fixture.config.featureWidth
            var atom = 0
            for (molecule, count) in fixture.atomCounts.enumerated() {
                let rows = atom..<(atom + count)
                let input = TestBatch(batch: MoleculeBatch(atomCounts: [count]),
                                      features: Array(fixture.features[(rows.lowerBound * width)..<(rows.upperBound * width)]),
                                      times: [fixture.times[molecule]], positions: Array(fixture.xt[(3 * rows.lowerBound)..<(3 * rows.upperBound)]))
                XCTAssertEqual(divergence(model, input)[0], reference[molecule], accuracy: 1e-9 * max(1, abs(reference[molecule])), "\(name) molecule \(molecule)")
                atom += count
            }
        }
    }
}
