// The local-move settings that resample–move SMC (ResampleMoveSMC.swift) and flow-MCMC
// (FlowMCMCChains.swift) share: the Metropolis-adjusted kernel (MonteCarlo/MALA.swift, HMC.swift),
// its initial step size and the acceptance its adaptation aims at, HMC's trajectory length, the
// energy cut-off and the seed. In the settings JSON of an output file they appear as flat keys
// beside the sampler's own (initial_step_size, leapfrog_steps, target_acceptance, energy_cutoff_kT
// (null: none), kernel, seed).
import MonteCarlo

public struct LocalMoveSettings: Sendable, Encodable, Equatable {
    public var kernel = LocalKernel.mala
    /// Initial ε (position units, nm in production): MALA's proposal standard deviation, HMC's
    /// leapfrog step (unit masses).
    public var stepSize = 5e-4
    /// HMC: leapfrog steps per trajectory.
    public var leapfrogSteps = 10
    /// Target acceptance of the step-size adaptation (≈ 0.6 for MALA, 0.7 for HMC).
    public var targetAcceptance = 0.6
    /// Energy cut-off in kT (reduced energy u = E/kT); +∞ for none: proposals above it get weight 0,
    /// moves above it are rejected.
    public var energyCutoff = Double.infinity
    public var seed: UInt64 = 1

    public init() {}

    enum CodingKeys: String, CodingKey {
        case kernel, seed
        case stepSize = "initial_step_size"
        case leapfrogSteps = "leapfrog_steps"
        case targetAcceptance = "target_acceptance"
        case energyCutoff = "energy_cutoff_kT"
    }

    /// Writes the keys into the encoder's current object (the sampler's settings add theirs beside them).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kernel, forKey: .kernel)
        try c.encode(stepSize, forKey: .stepSize)
        try c.encode(leapfrogSteps, forKey: .leapfrogSteps)
        try c.encode(targetAcceptance, forKey: .targetAcceptance)
        try c.encode(energyCutoff.isFinite ? energyCutoff : nil, forKey: .energyCutoff)
        try c.encode(seed, forKey: .seed)
    }

    /// The kernel's per-step settings at inverse temperature `beta` (1/kJ·mol⁻¹) and step size ε,
    /// with the cut-off converted to the potential's units by `kT`.
    func move(beta: Double, stepSize: Double, kT: Double) -> MoveSettings {
        MoveSettings(beta: beta, stepSize: stepSize, leapfrogSteps: leapfrogSteps, maximumEnergy: energyCutoff * kT)
    }
}
