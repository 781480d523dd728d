// Adam (Kingma & Ba) with optional decoupled weight decay (AdamW), over one flat parameter arena.
//
//   m ← β₁ m + (1 − β₁) g,   v ← β₂ v + (1 − β₂) g²
//   θ ← θ − lr · ( m/(1 − β₁ᵗ) / (√(v/(1 − β₂ᵗ)) + ε) + λ θ )
// TBG uses plain Adam, lr 5e-4, β = (0.9, 0.999), ε = 1e-8, λ = 0 (method.md §5.3). The moments
// use the parameter layout, so checkpoints store them by parameter name.

public struct AdamSettings: Codable, Equatable, Sendable {
    public var beta1: Double = 0.9
    public var beta2: Double = 0.999
    public var epsilon: Double = 1e-8
    public var weightDecay: Double = 0

    public init() {}

    enum CodingKeys: String, CodingKey {
        case beta1, beta2, epsilon
        case weightDecay = "weight_decay"
    }
}

public final class Adam {
    public let settings: AdamSettings
    public let count: Int
    public private(set) var firstMoment: [Float]
    public private(set) var secondMoment: [Float]
    /// Number of updates taken (t).
    public private(set) var stepCount: Int = 0

    public init(count: Int, settings: AdamSettings = AdamSettings()) {
        self.count = count
        self.settings = settings
        firstMoment = [Float](repeating: 0, count: count)
        secondMoment = [Float](repeating: 0, count: count)
    }

    /// Restores the state from a checkpoint.
    public func restore(firstMoment: [Float], secondMoment: [Float], stepCount: Int) {
        precondition(firstMoment.count == count && secondMoment.count == count, "Adam state of the wrong size")
        self.firstMoment = firstMoment
        self.secondMoment = secondMoment
        self.stepCount = stepCount
    }

    /// One update of `parameters` with `gradients` at learning rate `learningRate`.
    public func step(parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>, learningRate: Double) {
        stepCount += 1
        let beta1 = Float(settings.beta1), beta2 = Float(settings.beta2)
        let correction1 = Float(1 - pow(settings.beta1, Double(stepCount)))
        let correction2 = Float(1 - pow(settings.beta2, Double(stepCount)))
        let lr = Float(learningRate), eps = Float(settings.epsilon), decay = Float(settings.weightDecay)
        firstMoment.withUnsafeMutableBufferPointer { m in
            secondMoment.withUnsafeMutableBufferPointer { v in
                for k in 0..<count {
                    let g = gradients[k]
                    m[k] = beta1 * m[k] + (1 - beta1) * g
                    v[k] = beta2 * v[k] + (1 - beta2) * g * g
                    let mHat = m[k] / correction1, vHat = v[k] / correction2
                    parameters[k] -= lr * (mHat / (vHat.squareRoot() + eps) + decay * parameters[k])
                }
            }
        }
    }
}

private func pow(_ base: Double, _ exponent: Double) -> Double {
    var result = 1.0
    var remaining = Int(exponent)
    var factor = base
    while remaining > 0 {
        if remaining & 1 == 1 { result *= factor }
        factor *= factor
        remaining >>= 1
    }
    return result
}
