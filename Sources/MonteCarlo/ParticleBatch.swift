// The state every Monte Carlo kernel of this module works on: a batch of particles (configurations)
// with their energies and forces, and the callback that evaluates a batch.
//
// Units are the callback's: in production positions are nm, energies kJ/mol and forces kJ/mol/nm
// (ForceField's EnergyEvaluator, double precision), and a kernel's `beta` is β_k / kT in mol/kJ; the
// pure-math tests use a dimensionless potential with kT = 1. The target of a kernel is always
//   π_β(x) ∝ exp(−beta · E(x)) · 1[E(x) ≤ maximumEnergy]
// (the optional energy cut-off truncates the target; see `MoveSettings.maximumEnergy`).

/// Energies and forces of `count` configurations, evaluated together.
///
/// - Parameters: `positions` is count × dimension, row-major.
/// - Returns: `energies` (count) and `forces` = −∇E (count × dimension). A configuration whose
///   energy is not finite must report energy +∞ (its forces may then be anything, e.g. NaN);
///   the kernels reject moves to it.
public typealias BatchPotential = (_ positions: [Double], _ count: Int) -> (energies: [Double], forces: [Double])

/// Particles with their energies and forces at the current positions.
public struct ParticleBatch: Sendable, Equatable {
    /// Number of particles.
    public let count: Int
    /// Coordinates per particle (3 × atoms for a molecule).
    public let dimension: Int
    /// count × dimension.
    public var positions: [Double]
    /// count; +∞ where the energy is not finite.
    public var energies: [Double]
    /// count × dimension, −∇E.
    public var forces: [Double]

    public init(count: Int, dimension: Int, positions: [Double], energies: [Double], forces: [Double]) {
        precondition(positions.count == count * dimension && forces.count == count * dimension && energies.count == count,
                     "a batch of \(count) particles of dimension \(dimension) needs \(count * dimension) positions and forces and \(count) energies")
        (self.count, self.dimension, self.positions, self.energies, self.forces) = (count, dimension, positions, energies, forces)
    }

    /// Evaluates `potential` at `positions` (count × dimension).
    public init(positions: [Double], dimension: Int, potential: BatchPotential) {
        precondition(dimension > 0 && positions.count % dimension == 0, "positions must hold whole particles of dimension \(dimension)")
        let count = positions.count / dimension
        let evaluated = potential(positions, count)
        self.init(count: count, dimension: dimension, positions: positions, energies: evaluated.energies.map { $0.isFinite ? $0 : .infinity },
                  forces: evaluated.forces)
    }

    /// The particles `indices` (in that order, repeats allowed): what resampling produces.
    public func selecting(_ indices: [Int]) -> ParticleBatch {
        var positions = [Double](), forces = [Double]()
        positions.reserveCapacity(indices.count * dimension)
        forces.reserveCapacity(indices.count * dimension)
        for index in indices {
            positions += self.positions[(index * dimension)..<((index + 1) * dimension)]
            forces += self.forces[(index * dimension)..<((index + 1) * dimension)]
        }
        return ParticleBatch(count: indices.count, dimension: dimension, positions: positions, energies: indices.map { energies[$0] },
                             forces: forces)
    }
}

/// What one kernel step is asked to do.
public struct MoveSettings: Sendable, Equatable {
    /// Inverse temperature of the target in the callback's inverse energy units (β_k / kT).
    public var beta: Double
    /// MALA: the proposal's standard deviation ε; HMC: the leapfrog step ε (position units, unit
    /// masses). Must be positive.
    public var stepSize: Double
    /// HMC: leapfrog steps per trajectory (ignored by MALA).
    public var leapfrogSteps: Int
    /// Energy cut-off (callback units): moves to E > maximumEnergy are rejected, i.e. the kernels
    /// target π truncated to {E ≤ maximumEnergy}; exact for that target, whose missing mass is
    /// π(E > maximumEnergy). +∞ (default) for no cut-off.
    public var maximumEnergy: Double

    public init(beta: Double, stepSize: Double, leapfrogSteps: Int = 10, maximumEnergy: Double = .infinity) {
        precondition(beta > 0 && stepSize > 0 && leapfrogSteps >= 1, "beta and the step size must be positive, leapfrog steps at least 1")
        (self.beta, self.stepSize, self.leapfrogSteps, self.maximumEnergy) = (beta, stepSize, leapfrogSteps, maximumEnergy)
    }
}

/// The outcome of one kernel step over a batch.
public struct MoveStatistics: Sendable, Equatable {
    /// Whether each particle's proposal was accepted.
    public var accepted: [Bool]
    /// Potential evaluations (energy and forces of one configuration) spent.
    public var evaluations: Int

    public var acceptedCount: Int { accepted.filter { $0 }.count }
}
