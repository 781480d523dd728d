// Step-size adaptation toward a target acceptance rate, during a burn-in only.
//
// After each step the step size is multiplied by exp(rate · (a − a*)), with a the acceptance rate of
// that step over all particles (or chains) of all ranks and a* the target: a stochastic
// approximation (Robbins–Monro) of the step size at which the acceptance is a* (Andrieu & Thoms
// 2008, "A tutorial on adaptive MCMC", Statistics and Computing 18, §3 and §5).
//
// Why only during a burn-in: a kernel whose step size keeps changing with the chain's own history
// is no longer a fixed π-invariant Markov kernel, and the chain can converge to the wrong
// distribution unless the adaptation diminishes (Andrieu & Thoms §2). So the drivers adapt during
// the burn-in and then freeze ε; MCMC samples of the burn-in are discarded. In SMC the step size of
// later stages is a function of earlier populations only, which keeps the particle approximation
// consistent (adaptive SMC: Beskos, Jasra, Kantas & Thiery 2016, Ann. Appl. Probab. 26(2)); the
// SMC driver likewise adapts only in its first `burnIn` steps.
import Foundation

public struct StepSizeAdaptation: Sendable, Equatable {
    /// Current step size ε (> 0).
    public private(set) var stepSize: Double
    /// a*, in (0, 1).
    public let targetAcceptance: Double
    /// Steps (counted from the first) during which ε is adapted; afterwards it is frozen.
    public let burnIn: Int
    /// The gain `rate` of the multiplicative update.
    public let rate: Double
    /// Steps observed so far.
    public private(set) var steps = 0

    public init(stepSize: Double, targetAcceptance: Double, burnIn: Int, rate: Double = 1.0) {
        precondition(stepSize > 0 && targetAcceptance > 0 && targetAcceptance < 1 && burnIn >= 0 && rate > 0,
                     "step size and rate must be positive, the target acceptance in (0, 1), the burn-in not negative")
        (self.stepSize, self.targetAcceptance, self.burnIn, self.rate) = (stepSize, targetAcceptance, burnIn, rate)
    }

    /// Whether the next step still adapts.
    public var isAdapting: Bool { steps < burnIn }

    /// Records a step's acceptance rate (accepted / proposed over all ranks) and, during the burn-in,
    /// updates ε.
    public mutating func observe(acceptanceRate: Double) {
        if isAdapting && acceptanceRate.isFinite {
            stepSize *= exp(rate * (acceptanceRate - targetAcceptance))
        }
        steps += 1
    }
}
