// Learning-rate schedule, gradient clipping and the exponential moving average of the weights.

/// Step decay (method.md §5.3): lr = base · factor^(number of milestones ≤ epoch).
/// TBG 2AA: base 5e-4, milestones epochs 4 and 8, factor 0.1; AD2: milestone epoch 500.
public struct StepSchedule: Codable, Equatable, Sendable {
    public var base: Double
    public var milestones: [Int]
    public var factor: Double

    public init(base: Double, milestones: [Int] = [], factor: Double = 0.1) {
        self.base = base
        self.milestones = milestones
        self.factor = factor
    }

    public func learningRate(epoch: Int) -> Double {
        var lr = base
        for milestone in milestones where epoch >= milestone { lr *= factor }
        return lr
    }
}

public enum GradientClipping {
    /// The global L2 norm of `gradients`, accumulated in Double.
    public static func norm(_ gradients: UnsafePointer<Float>, count: Int) -> Double {
        var sum = 0.0
        for k in 0..<count { sum += Double(gradients[k]) * Double(gradients[k]) }
        return sum.squareRoot()
    }

    /// Scales `gradients` so that their norm is at most `maxNorm`; returns the norm before.
    @discardableResult
    public static func clip(_ gradients: UnsafeMutablePointer<Float>, count: Int, maxNorm: Double) -> Double {
        let total = norm(gradients, count: count)
        if total > maxNorm {
            let scale = Float(maxNorm / (total + 1e-6))
            for k in 0..<count { gradients[k] *= scale }
        }
        return total
    }
}

/// θ_EMA ← d θ_EMA + (1 − d) θ after every step (TS/ECNF++ uses d = 0.999; TBG has none).
public final class ExponentialMovingAverage {
    public let decay: Double
    public private(set) var values: [Float]

    public init(initial: [Float], decay: Double) {
        self.decay = decay
        values = initial
    }

    public func restore(_ values: [Float]) {
        precondition(values.count == self.values.count, "EMA state of the wrong size")
        self.values = values
    }

    public func update(_ parameters: UnsafePointer<Float>) {
        let d = Float(decay)
        values.withUnsafeMutableBufferPointer { ema in
            for k in 0..<ema.count { ema[k] = d * ema[k] + (1 - d) * parameters[k] }
        }
    }
}
