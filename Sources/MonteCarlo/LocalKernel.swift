// The local Metropolis kernels of the drivers, chosen by name (`--kernel mala|hmc`).

public enum LocalKernel: String, Sendable, CaseIterable, Codable {
    case mala, hmc

    /// Default target acceptance: ≈ 0.6 for MALA (field.md §5, after Roberts & Rosenthal's
    /// 0.574), 0.7 for HMC (between the 0.651 asymptote of Beskos et al. 2013 and the 0.8 of
    /// Stan's dual averaging).
    public var defaultTargetAcceptance: Double {
        switch self {
        case .mala: return 0.6
        case .hmc: return 0.7
        }
    }

    /// The stream purpose this kernel draws from.
    public var purpose: StreamPurpose {
        switch self {
        case .mala: return .mala
        case .hmc: return .hmc
        }
    }

    /// One step of this kernel over `batch` (see `MALA.step`, `HMC.step`).
    public func step(_ batch: inout ParticleBatch, settings: MoveSettings, streams: ParticleStreams,
                     potential: BatchPotential) -> MoveStatistics {
        switch self {
        case .mala: return MALA.step(&batch, settings: settings, streams: streams, potential: potential)
        case .hmc: return HMC.step(&batch, settings: settings, streams: streams, potential: potential)
        }
    }
}
