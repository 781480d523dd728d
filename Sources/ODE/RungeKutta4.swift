// Classical fixed-step Runge–Kutta of order 4 (the fixed-step option of `tbg sample`).
//   k₁ = f(t, x), k₂ = f(t + h/2, x + h k₁/2), k₃ = f(t + h/2, x + h k₂/2), k₄ = f(t + h, x + h k₃)
//   x ← x + h (k₁ + 2k₂ + 2k₃ + k₄)/6

public enum RungeKutta4 {
    /// Integrates every sample from t0 to t1 (either direction) in `steps` equal steps.
    public static func integrate(states: inout [Double], dimension: Int, from t0: Double, to t1: Double, steps: Int,
                                 field: BatchedField) -> IntegrationStatistics {
        precondition(steps >= 1 && dimension >= 1 && states.count % dimension == 0)
        let samples = states.count / dimension
        let active = Array(0..<samples)
        let h = (t1 - t0) / Double(steps)
        var k1 = [Double](repeating: 0, count: states.count), k2 = k1, k3 = k1, k4 = k1, stage = k1
        var evaluations = 0
        func evaluate(_ t: Double, _ x: [Double], _ k: inout [Double]) {
            x.withUnsafeBufferPointer { xp in k.withUnsafeMutableBufferPointer { field([Double](repeating: t, count: samples), xp, $0, active) } }
            evaluations += 1
        }
        for step in 0..<steps {
            let t = t0 + Double(step) * h
            evaluate(t, states, &k1)
            for i in 0..<states.count { stage[i] = states[i] + 0.5 * h * k1[i] }
            evaluate(t + 0.5 * h, stage, &k2)
            for i in 0..<states.count { stage[i] = states[i] + 0.5 * h * k2[i] }
            evaluate(t + 0.5 * h, stage, &k3)
            for i in 0..<states.count { stage[i] = states[i] + h * k3[i] }
            evaluate(t + h, stage, &k4)
            for i in 0..<states.count { states[i] += h * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]) / 6 }
        }
        return IntegrationStatistics(acceptedSteps: [Int](repeating: steps, count: samples),
                                     rejectedSteps: [Int](repeating: 0, count: samples), fieldEvaluations: evaluations,
                                     sampleEvaluations: [Int](repeating: 4 * steps, count: samples))
    }
}
