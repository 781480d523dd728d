// Integrates the learned ODE dx/dt = v_θ(x, t) together with the exact log-determinant
// da/dt = tr ∂v/∂x (method.md §7) for many samples of one peptide.
//
// The state (x in model units, a) is kept in float64 by the integrator; the network is evaluated in
// float32. Forward from t = 0: a(1) = log|det ∂x₁/∂x₀| and log q(x₁) = log p(z) − a(1). Reverse from
// t = 1 with a(1) = 0: a(0) = −Δ and log q(x) = log p(z) + a(0). Each sample keeps its own step
// size (DormandPrince), so a sample does not depend on its batch mates.
import Foundation
import Kernels
import Linalg
import Model
import ODE

public struct SamplerSettings: Codable, Equatable, Sendable {
    /// "dopri5" (adaptive, per-sample error control) or "rk4" (fixed steps).
    public var method = "dopri5"
    public var absoluteTolerance = 1e-4
    public var relativeTolerance = 1e-4
    public var steps = 20
    /// Molecules per network call (bounds the tangent buffers: 3N tangents per molecule).
    public var microBatch = 8
    /// Samples integrated together (each keeps its own steps).
    public var chunk = 64
    /// dopri5: accepted plus rejected steps after which a sample's integration is given up.
    public var maximumSteps = 10_000

    public init() {}

    enum CodingKeys: String, CodingKey {
        case method, steps, chunk
        case maximumSteps = "max_steps"
        case absoluteTolerance = "atol"
        case relativeTolerance = "rtol"
        case microBatch = "micro_batch"
    }

    /// The settings that shape the samples and their log q where these differ from `other`, as
    /// (name, other's value, this one's value): the method, then rk4's "steps" or dopri5's "atol",
    /// "rtol" and "max steps". The other method's settings are not compared (nor named) when the
    /// methods differ; the micro-batch and chunk size never are (they change no sample's distribution).
    public func integrationDifferences(from other: SamplerSettings) -> [(name: String, other: String, this: String)] {
        var found: [(name: String, other: String, this: String)] = []
        func compare<V: Equatable>(_ name: String, _ a: V, _ b: V) { if a != b { found.append((name, "\(b)", "\(a)")) } }
        compare("method", method, other.method)
        guard method == other.method else { return found }
        if method == "rk4" {
            compare("steps", steps, other.steps)
        } else {
            compare("atol", absoluteTolerance, other.absoluteTolerance)
            compare("rtol", relativeTolerance, other.relativeTolerance)
            compare("max steps", maximumSteps, other.maximumSteps)
        }
        return found
    }
}

public final class FlowSampler {
    let model: EGNNVectorField<Float>
    let features: [Float]
    public let atoms: Int

    public init(model: EGNNVectorField<Float>, features: [Float], atoms: Int) {
        precondition(features.count == atoms * model.config.featureWidth, "features must be atoms × feature width")
        self.model = model
        self.features = features
        self.atoms = atoms
    }

    /// Integrates states (S × (3N + 1): x then a) from t0 to t1.
    public func integrate(states: inout [Double], from t0: Double, to t1: Double, settings: SamplerSettings) throws -> IntegrationStatistics {
        try integrate(states: &states, from: t0, to: t1, settings: settings, logDeterminant: true)
    }

    /// Integrates positions only (S × 3N, model units) from t0 to t1: the flow's map x₁(z) without
    /// log q. Each network evaluation is one forward pass, without the 3(N − 1) tangent passes of the
    /// exact divergence (alanine dipeptide: `tbg bench sample` reports the ratio). dopri5 controls
    /// the error of the positions alone, so its steps (and x₁, within the tolerance) differ from
    /// `integrate`'s, whose error norm also holds a.
    public func integratePositions(states: inout [Double], from t0: Double, to t1: Double, settings: SamplerSettings) throws -> IntegrationStatistics {
        try integrate(states: &states, from: t0, to: t1, settings: settings, logDeterminant: false)
    }

    private func integrate(states: inout [Double], from t0: Double, to t1: Double, settings: SamplerSettings,
                           logDeterminant: Bool) throws -> IntegrationStatistics {
        let dimension = 3 * atoms + (logDeterminant ? 1 : 0)
        let field: BatchedField = { [self] times, x, dx, active in
            var start = 0
            while start < active.count {
                let group = Array(active[start..<min(active.count, start + max(1, settings.microBatch))])
                evaluate(group: group, times: times, x: x, dx: dx, dimension: dimension, logDeterminant: logDeterminant)
                start += group.count
            }
        }
        switch settings.method {
        case "rk4":
            var statistics = RungeKutta4.integrate(states: &states, dimension: dimension, from: t0, to: t1, steps: settings.steps, field: field)
            statistics.failures = (0..<(states.count / dimension)).map { s in
                (0..<dimension).allSatisfy { states[s * dimension + $0].isFinite } ? nil : "the state became non-finite"
            }
            return statistics
        case "dopri5":
            let solver = DormandPrince(absoluteTolerance: settings.absoluteTolerance, relativeTolerance: settings.relativeTolerance,
                                       maximumSteps: settings.maximumSteps,
                                       normGroups: logDeterminant ? [0..<(3 * atoms), (3 * atoms)..<dimension] : [0..<dimension])
            return try solver.integrate(states: &states, dimension: dimension, from: t0, to: t1, field: field)
        default:
            throw IntegrationError("unknown ODE method '\(settings.method)' (dopri5 or rk4)")
        }
    }

    private func evaluate(group: [Int], times: [Double], x: UnsafeBufferPointer<Double>, dx: UnsafeMutableBufferPointer<Double>,
                          dimension: Int, logDeterminant: Bool) {
        let batch = MoleculeBatch(atomCounts: [Int](repeating: atoms, count: group.count))
        var positions = [Float](repeating: 0, count: group.count * atoms * 3)
        for (row, sample) in group.enumerated() {
            for k in 0..<(atoms * 3) { positions[row * atoms * 3 + k] = Float(x[sample * dimension + k]) }
        }
        let groupTimes = group.map { Float(times[$0]) }
        let groupFeatures = [[Float]](repeating: features, count: group.count).flatMap { $0 }
        var velocity = [Float](repeating: 0, count: positions.count)
        let divergence = groupFeatures.withUnsafeBufferPointer { f in groupTimes.withUnsafeBufferPointer { t in
            positions.withUnsafeBufferPointer { p in velocity.withUnsafeMutableBufferPointer { v -> [Double] in
                guard logDeterminant else {
                    model.forward(batch: batch, features: f, times: t, positions: p, velocity: v)
                    return []
                }
                return model.velocityAndDivergence(batch: batch, features: f, times: t, positions: p, velocity: v)
            } }
        } }
        for (row, sample) in group.enumerated() {
            for k in 0..<(atoms * 3) { dx[sample * dimension + k] = Double(velocity[row * atoms * 3 + k]) }
            if logDeterminant { dx[sample * dimension + 3 * atoms] = divergence[row] }
        }
    }
}
