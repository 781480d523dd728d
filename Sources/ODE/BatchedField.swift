// The right-hand side of many independent ODEs evaluated together: sample s has its own time t_s
// and state x_s (all states of one dimension D, stored S × D row-major). The sampler passes the
// model here, so one network call serves every sample at its own stage time; the integrators
// know nothing of the model and are tested on analytic fields.

/// f(times, states, derivatives, active): write dx/dt for the samples in `active` (indices into
/// 0..<S); rows of other samples must not be touched.
public typealias BatchedField = (_ times: [Double], _ states: UnsafeBufferPointer<Double>,
                                 _ derivatives: UnsafeMutableBufferPointer<Double>, _ active: [Int]) -> Void

/// Per-sample integration statistics.
public struct IntegrationStatistics: Sendable, Equatable {
    public var acceptedSteps: [Int]
    public var rejectedSteps: [Int]
    /// Batched field evaluations (each may cover many samples).
    public var fieldEvaluations: Int
    /// Field evaluations each sample received (RK4: 4 per step; Dormand–Prince: 2 for the initial
    /// step size, then 6 per accepted or rejected step thanks to first-same-as-last).
    public var sampleEvaluations: [Int] = []
    /// Why each sample's integration failed (nil: it reached the end time). A failed sample stops
    /// where it failed; the others go on.
    public var failures: [String?] = []

    /// Whether sample `s` reached the end time.
    public func succeeded(_ s: Int) -> Bool { failures.isEmpty || failures[s] == nil }
}

public struct IntegrationError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
