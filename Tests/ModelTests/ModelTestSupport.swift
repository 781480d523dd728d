// Small random models and batches for the model tests (float64).
import Kernels
import Model
import XCTest

struct TestBatch {
    var batch: MoleculeBatch
    var features: [Double]
    var times: [Double]
    var positions: [Double]
}

func makeModel(hidden: Int = 5, layers: Int = 2, featureWidth: Int = 3, seed: UInt64 = 1, coordinateScale: Double = 0.3) -> EGNNVectorField<Double> {
    let model = EGNNVectorField<Double>(config: EGNNConfig(hidden: hidden, layers: layers, featureWidth: featureWidth))
    model.initializeParameters(seed: seed)
    // Make the coordinate head non-negligible so every path carries gradient.
    var random = RandomSource(seed: seed, streams: [99])
    for offsets in model.layout.layers {
        for o in 0..<hidden { model.parameters.pointer[offsets.coord2Weight + o] = random.uniform(-coordinateScale, coordinateScale) }
    }
    return model
}

func makeBatch(atomCounts: [Int], featureWidth: Int = 3, seed: UInt64 = 2, spread: Double = 1.5) -> TestBatch {
    var random = RandomSource(seed: seed)
    let batch = MoleculeBatch(atomCounts: atomCounts)
    let features = (0..<batch.atomCount).flatMap { _ -> [Double] in
        var row = [Double](repeating: 0, count: featureWidth)
        row[random.integer(below: featureWidth)] = 1
        return row
    }
    let times = atomCounts.map { _ in random.uniform() }
    let positions = (0..<(batch.atomCount * 3)).map { _ in spread * random.gaussian() }
    return TestBatch(batch: batch, features: features, times: times, positions: positions)
}

func velocity(_ model: EGNNVectorField<Double>, _ input: TestBatch, positions: [Double]? = nil) -> [Double] {
    var v = [Double](repeating: 0, count: input.batch.atomCount * 3)
    input.features.withUnsafeBufferPointer { features in
        input.times.withUnsafeBufferPointer { times in
            (positions ?? input.positions).withUnsafeBufferPointer { x in
                v.withUnsafeMutableBufferPointer {
                    model.forward(batch: input.batch, features: features, times: times, positions: x, velocity: $0)
                }
            }
        }
    }
    return v
}

/// Central differences (h = 1e-6) of `loss` with respect to every parameter of `model`.
func parameterFiniteDifferences(_ model: EGNNVectorField<Double>, h: Double = 1e-6, loss: () -> Double) -> [Double] {
    (0..<model.layout.count).map { k in
        let saved = model.parameters.pointer[k]
        model.parameters.pointer[k] = saved + h
        let plus = loss()
        model.parameters.pointer[k] = saved - h
        let minus = loss()
        model.parameters.pointer[k] = saved
        return (plus - minus) / (2 * h)
    }
}
