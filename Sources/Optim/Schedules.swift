// Learning-rate schedules (in optimizer steps), gradient clipping and the exponential moving
// average of the weights.
import Foundation

/// The kinds of learning-rate schedule. All but `epochs` are functions of the optimizer step and of
/// the schedule's total `T`, which a run fixes at its start (so a resumed or extended run keeps it).
public enum ScheduleKind: String, Codable, Sendable, CaseIterable {
    /// lr = base throughout.
    case constant
    /// Step decay at fractions of T: lr = base · factor^(number of fractions f with step ≥ ⌊f·T⌋).
    /// The original TBG recipes: AD2 [1/2], 2AA [1/3, 2/3] (method.md §5.3), factor 0.1.
    case step
    /// Step decay at epoch milestones (the original's code; epoch length depends on the data set,
    /// so this is only an explicit choice).
    case epochs
    /// PyTorch's OneCycleLR with cosine annealing (the ECNF++ recipe, method.md §5.4): from
    /// base/div up to base over the first `warmup_fraction` of T, then down to base/div·final.
    case onecycle
    /// Warm-up–stable–decay: linear warm-up over `warmup_steps`, then base, then a cosine decay to
    /// base·`final_lr_fraction` over `decay_steps` steps from `decay_start`. With no decay start the
    /// run stays at base, so a campaign of unknown length can set the start later (`--set`).
    case wsd
}

/// A learning-rate schedule over optimizer steps (0-based: `learningRate(step: s)` is the rate of
/// the update that completes step s + 1).
public struct LearningRateSchedule: Equatable, Sendable {
    public var kind: ScheduleKind
    public var base: Double
    /// T: the schedule's total in steps (step, onecycle).
    public var totalSteps: Int
    public var decayFractions: [Double] = []
    public var decayEpochs: [Int] = []
    public var stepsPerEpoch: Int = 1
    public var factor: Double = 0.1
    /// onecycle: fraction of T spent warming up (PyTorch's pct_start).
    public var warmupFraction: Double = 0.05
    /// onecycle: initial lr = base / divFactor (ECNF++: 500); final lr = initial / finalDivFactor.
    public var divFactor: Double = 500
    public var finalDivFactor: Double = 1
    /// wsd.
    public var warmupSteps: Int = 0
    public var decayStart: Int?
    public var decaySteps: Int = 0
    public var finalFraction: Double = 0.002

    public init(kind: ScheduleKind, base: Double, totalSteps: Int) {
        self.kind = kind
        self.base = base
        self.totalSteps = totalSteps
    }

    public func learningRate(step: Int) -> Double {
        switch kind {
        case .constant:
            return base
        case .step:
            var lr = base
            for fraction in decayFractions where step >= Int((fraction * Double(totalSteps)).rounded(.down)) { lr *= factor }
            return lr
        case .epochs:
            let epoch = step / max(1, stepsPerEpoch)
            var lr = base
            for milestone in decayEpochs where epoch >= milestone { lr *= factor }
            return lr
        case .onecycle:
            // torch.optim.lr_scheduler.OneCycleLR(anneal_strategy="cos", three_phase=False):
            // phase ends at pct_start·T − 1 and T − 1; cos annealing from start to end of a phase.
            let initial = base / divFactor, minimum = initial / finalDivFactor
            let warmupEnd = warmupFraction * Double(totalSteps) - 1, end = Double(totalSteps) - 1
            let s = Double(min(step, totalSteps - 1))
            if s <= warmupEnd {
                return Self.cosine(from: initial, to: base, fraction: warmupEnd > 0 ? s / warmupEnd : 1)
            }
            return Self.cosine(from: base, to: minimum, fraction: end > warmupEnd ? (s - warmupEnd) / (end - warmupEnd) : 1)
        case .wsd:
            if step < warmupSteps { return base * Double(step + 1) / Double(warmupSteps) }
            guard let start = decayStart, step >= start else { return base }
            let fraction = decaySteps > 0 ? min(1, Double(step - start) / Double(decaySteps)) : 1
            return Self.cosine(from: base, to: base * finalFraction, fraction: fraction)
        }
    }

    /// end + (start − end)·(1 + cos πp)/2: start at p = 0, end at p = 1.
    static func cosine(from start: Double, to end: Double, fraction: Double) -> Double {
        end + (start - end) * (1 + cos(Double.pi * fraction)) / 2
    }
}

public enum GradientClipping {
    /// The global L2 norm of `gradients`, accumulated in Double (NaN or ∞ when any entry is).
    public static func norm(_ gradients: UnsafePointer<Float>, count: Int) -> Double {
        var sum = 0.0
        for k in 0..<count { sum += Double(gradients[k]) * Double(gradients[k]) }
        return sum.squareRoot()
    }

    /// Scales `gradients` so that their norm is at most `maxNorm`; returns the norm before.
    /// A non-finite norm leaves the gradients as they are and is returned, so the caller can skip
    /// the step (`!(total <= maxNorm)` is how NaN is caught: NaN compares false with everything).
    @discardableResult
    public static func clip(_ gradients: UnsafeMutablePointer<Float>, count: Int, maxNorm: Double) -> Double {
        let total = norm(gradients, count: count)
        guard total.isFinite else { return total }
        if total > maxNorm {
            let scale = Float(maxNorm / (total + 1e-6))
            for k in 0..<count { gradients[k] *= scale }
        }
        return total
    }
}

/// θ_EMA ← d_t θ_EMA + (1 − d_t) θ after every update, with the warm-up
/// d_t = min(d, (1 + t)/(10 + t)) (t = updates before this one), as timm's and TensorFlow's
/// `ExponentialMovingAverage(num_updates=…)`: early averages are not dominated by the random
/// initialisation. TS/ECNF++ uses d = 0.999 (method.md §5.4); TBG has none.
public final class ExponentialMovingAverage {
    public let decay: Double
    public let warmup: Bool
    public private(set) var values: [Float]
    /// Updates so far (t).
    public private(set) var updates: Int

    public init(initial: [Float], decay: Double, warmup: Bool = true, updates: Int = 0) {
        self.decay = decay
        self.warmup = warmup
        values = initial
        self.updates = updates
    }

    /// The decay used by update number t (0-based).
    public static func effectiveDecay(_ decay: Double, update t: Int, warmup: Bool) -> Double {
        warmup ? min(decay, Double(1 + t) / Double(10 + t)) : decay
    }

    public func restore(_ values: [Float], updates: Int) {
        precondition(values.count == self.values.count, "EMA state of the wrong size")
        self.values = values
        self.updates = updates
    }

    public func update(_ parameters: UnsafePointer<Float>) {
        let d = Float(Self.effectiveDecay(decay, update: updates, warmup: warmup))
        values.withUnsafeMutableBufferPointer { ema in
            for k in 0..<ema.count { ema[k] = d * ema[k] + (1 - d) * parameters[k] }
        }
        updates += 1
    }
}
