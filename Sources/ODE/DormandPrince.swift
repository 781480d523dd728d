// Adaptive Dormand–Prince 5(4) with error control per sample (method.md §7.2).
//
// The original (torchdiffeq) shares one step size across the whole batch, so a sample's trajectory
// depends on its batch mates; here every sample keeps its own t, h and accept/reject decision, and
// each batched field evaluation covers the samples still running, each at its own stage time.
// Error norm per sample: the maximum over `normGroups` of the RMS of err/(atol + rtol·max(|x₀|,|x₁|))
// (torchdiffeq's "mixed" norm with x and the log-determinant as separate groups). Step update
// h ← h·min(10, max(0.2, 0.9·ratio^(−1/5))) as torchdiffeq; the initial step by Hairer's heuristic.
// Tableau: Dormand & Prince, J. Comput. Appl. Math. 6, 19 (1980); FSAL.
import Foundation

public struct DormandPrince: Sendable {
    public var absoluteTolerance: Double
    public var relativeTolerance: Double
    public var maximumSteps: Int
    /// Groups of state components normed separately (default: all components together).
    public var normGroups: [Range<Int>]?

    public init(absoluteTolerance: Double = 1e-4, relativeTolerance: Double = 1e-4, maximumSteps: Int = 10_000,
                normGroups: [Range<Int>]? = nil) {
        self.absoluteTolerance = absoluteTolerance
        self.relativeTolerance = relativeTolerance
        self.maximumSteps = maximumSteps
        self.normGroups = normGroups
    }

    static let c: [Double] = [0, 1.0 / 5, 3.0 / 10, 4.0 / 5, 8.0 / 9, 1, 1]
    static let a: [[Double]] = [
        [],
        [1.0 / 5],
        [3.0 / 40, 9.0 / 40],
        [44.0 / 45, -56.0 / 15, 32.0 / 9],
        [19372.0 / 6561, -25360.0 / 2187, 64448.0 / 6561, -212.0 / 729],
        [9017.0 / 3168, -355.0 / 33, 46732.0 / 5247, 49.0 / 176, -5103.0 / 18656],
        [35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84],
    ]
    /// 5th-order weights (= the last row of a, FSAL) minus the embedded 4th-order weights.
    static let errorWeights: [Double] = [35.0 / 384 - 5179.0 / 57600, 0, 500.0 / 1113 - 7571.0 / 16695,
                                         125.0 / 192 - 393.0 / 640, -2187.0 / 6784 + 92097.0 / 339200,
                                         11.0 / 84 - 187.0 / 2100, -1.0 / 40]

    /// Integrates every sample from t0 to t1 (either direction). A sample whose state or error
    /// becomes non-finite, whose step size underflows (h < 10⁻¹²·|t1 − t0|) or that exceeds
    /// `maximumSteps` stops there and is reported in `failures`; the others go on.
    public func integrate(states: inout [Double], dimension d: Int, from t0: Double, to t1: Double,
                          field: BatchedField) throws -> IntegrationStatistics {
        precondition(d >= 1 && states.count % d == 0)
        let samples = states.count / d, direction: Double = t1 >= t0 ? 1 : -1
        let groups = normGroups ?? [0..<d]
        var times = [Double](repeating: t0, count: samples)
        var k = [[Double]](repeating: [Double](repeating: 0, count: states.count), count: 7)
        var stage = states, proposal = states
        var statistics = IntegrationStatistics(acceptedSteps: [Int](repeating: 0, count: samples),
                                               rejectedSteps: [Int](repeating: 0, count: samples), fieldEvaluations: 0,
                                               failures: [String?](repeating: nil, count: samples))
        /// `stageTimes(s)` gives sample s's time; the field receives times indexed by sample.
        var fieldTimes = times
        func evaluate(_ stageTimes: (Int) -> Double, _ x: [Double], into index: Int, _ active: [Int]) {
            for s in active { fieldTimes[s] = stageTimes(s) }
            x.withUnsafeBufferPointer { xp in k[index].withUnsafeMutableBufferPointer { field(fieldTimes, xp, $0, active) } }
            statistics.fieldEvaluations += 1
        }
        func norm(_ sample: Int, error: (Int) -> Double, scaleFrom: [Double], scaleTo: [Double]) -> Double {
            var worst = 0.0
            for group in groups where !group.isEmpty {
                var sum = 0.0
                for component in group {
                    let i = sample * d + component
                    let scale = absoluteTolerance + relativeTolerance * max(abs(scaleFrom[i]), abs(scaleTo[i]))
                    let ratio = error(i) / scale
                    sum += ratio * ratio
                }
                let rms = (sum / Double(group.count)).squareRoot()
                if rms.isNaN { return .nan }   // Swift's max would drop a NaN
                worst = max(worst, rms)
            }
            return worst
        }
        // Initial derivatives and Hairer's initial step (per sample).
        var active = Array(0..<samples)
        func finite(_ array: [Double], _ s: Int) -> Bool { (0..<d).allSatisfy { array[s * d + $0].isFinite } }
        active = active.filter { s in
            if finite(states, s) { return true }
            statistics.failures[s] = "non-finite initial state"
            return false
        }
        evaluate({ times[$0] }, states, into: 0, active)
        active = active.filter { s in
            if finite(k[0], s) { return true }
            statistics.failures[s] = "non-finite velocity at t = \(times[s])"
            return false
        }
        var steps = [Double](repeating: 0, count: samples)
        do {
            var d1 = [Double](repeating: 0, count: samples)
            for s in active {
                let d0 = norm(s, error: { states[$0] }, scaleFrom: states, scaleTo: states)
                d1[s] = norm(s, error: { k[0][$0] }, scaleFrom: states, scaleTo: states)
                steps[s] = (d0 < 1e-5 || d1[s] < 1e-5) ? 1e-6 : 0.01 * d0 / d1[s]
            }
            for s in active { for c in 0..<d { stage[s * d + c] = states[s * d + c] + direction * steps[s] * k[0][s * d + c] } }
            evaluate({ times[$0] + direction * steps[$0] }, stage, into: 1, active)
            for s in active {
                let d2 = norm(s, error: { (k[1][$0] - k[0][$0]) }, scaleFrom: states, scaleTo: states) / steps[s]
                let larger = max(d2, d1[s])
                let h1 = larger <= 1e-15 || !larger.isFinite ? max(1e-6, steps[s] * 1e-3) : pow(0.01 / larger, 1.0 / 5)
                steps[s] = min(100 * steps[s], h1, abs(t1 - t0))
            }
        }
        while !active.isEmpty {
            // Clip the last step of each sample to land on t1.
            for s in active { steps[s] = min(steps[s], abs(t1 - times[s])) }
            for stageIndex in 1..<7 {
                for s in active {
                    for c in 0..<d {
                        var sum = 0.0
                        for (j, coefficient) in Self.a[stageIndex].enumerated() where coefficient != 0 { sum += coefficient * k[j][s * d + c] }
                        stage[s * d + c] = states[s * d + c] + direction * steps[s] * sum
                    }
                }
                if stageIndex == 6 { for s in active { for c in 0..<d { proposal[s * d + c] = stage[s * d + c] } } }
                evaluate({ times[$0] + direction * Self.c[stageIndex] * steps[$0] }, stage, into: stageIndex, active)
            }
            var stillActive: [Int] = []
            for s in active {
                let ratio = norm(s, error: { i in
                    var sum = 0.0
                    for (j, w) in Self.errorWeights.enumerated() where w != 0 { sum += w * k[j][i] }
                    return steps[s] * sum
                }, scaleFrom: states, scaleTo: proposal)
                guard ratio.isFinite else {
                    statistics.failures[s] = "the state became non-finite at t = \(times[s])"
                    continue
                }
                if ratio <= 1 {
                    for c in 0..<d {
                        states[s * d + c] = proposal[s * d + c]
                        k[0][s * d + c] = k[6][s * d + c]   // FSAL
                    }
                    times[s] += direction * steps[s]
                    statistics.acceptedSteps[s] += 1
                } else {
                    statistics.rejectedSteps[s] += 1
                }
                let factor = ratio == 0 ? 10 : min(10, max(ratio <= 1 ? 1 : 0.2, 0.9 * pow(ratio, -0.2)))
                steps[s] *= factor
                let reached = abs(times[s] - t1) <= 1e-12 * max(1, abs(t1))
                if !reached {
                    guard statistics.acceptedSteps[s] + statistics.rejectedSteps[s] < maximumSteps else {
                        statistics.failures[s] = "more than \(maximumSteps) steps before reaching t = \(t1) (at t = \(times[s]))"
                        continue
                    }
                    guard steps[s] >= 1e-12 * abs(t1 - t0) else {
                        statistics.failures[s] = "step size underflow (h = \(steps[s])) at t = \(times[s])"
                        continue
                    }
                    stillActive.append(s)
                }
            }
            active = stillActive
        }
        statistics.sampleEvaluations = zip(statistics.acceptedSteps, statistics.rejectedSteps).map { 6 * ($0 + $1) + 2 }
        return statistics
    }
}
