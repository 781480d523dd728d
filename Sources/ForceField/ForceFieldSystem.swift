// An OpenMM System (its XmlSerializer text) turned into typed, evaluable energy terms.
//
// Supported exactly: HarmonicBondForce, HarmonicAngleForce, PeriodicTorsionForce, NonbondedForce
// (NoCutoff, CutoffNonPeriodic; exceptions), GBSAOBCForce, and the CustomGBForce of OpenMM's
// implicit/obc1.xml and obc2.xml. CMMotionRemover has no energy and is skipped. Anything else —
// another force class, periodic boundaries, switching functions, parameter offsets — is an error
// naming the force: a reweighting energy that silently omits a term would be wrong, not approximate.

public struct ForceFieldSystem: Sendable {
    public let particleCount: Int
    public let masses: [Double]
    /// The energy terms, in System order (forces without energy omitted).
    public let terms: [any EnergyTerm]

    /// OpenMM's GBSAOBCForce dielectric offset (nm) and ACE probe radius (nm).
    static let obcDielectricOffset = 0.009
    static let aceProbeRadius = 0.14

    public init(xml: String) throws {
        let root = try XMLElement.parse(xml)
        guard root.name == "System" else { throw ForceFieldError("expected an OpenMM <System>, found <\(root.name)>") }
        let particles = root.items("Particles", "Particle")
        let particleCount = particles.count
        self.particleCount = particleCount
        masses = try particles.map { try $0.double("mass", in: "System particle") }
        guard root.items("Constraints", "Constraint").isEmpty else {
            throw ForceFieldError("the System has constraints; TBG models unconstrained molecules (data.md §3)")
        }
        var terms: [any EnergyTerm] = []
        for (index, force) in root.items("Forces", "Force").enumerated() {
            let type = force.attributes["type"] ?? "unknown"
            let context = "force \(index) (\(type))"
            if force.attributes["usesPeriodic"] == "1" {
                throw ForceFieldError("\(context): periodic boundary conditions are not supported")
            }
            switch type {
            case "CMMotionRemover":
                continue
            case "HarmonicBondForce":
                let bonds = force.items("Bonds", "Bond")
                terms.append(HarmonicBonds(
                    atoms: try bonds.flatMap { try $0.particles(2, of: particleCount, in: context) },
                    parameters: try bonds.flatMap { [try $0.double("d", in: context), try $0.double("k", in: context)] }))
            case "HarmonicAngleForce":
                let angles = force.items("Angles", "Angle")
                terms.append(HarmonicAngles(
                    atoms: try angles.flatMap { try $0.particles(3, of: particleCount, in: context) },
                    parameters: try angles.flatMap { [try $0.double("a", in: context), try $0.double("k", in: context)] }))
            case "PeriodicTorsionForce":
                let torsions = force.items("Torsions", "Torsion")
                terms.append(PeriodicTorsions(
                    atoms: try torsions.flatMap { try $0.particles(4, of: particleCount, in: context) },
                    parameters: try torsions.flatMap {
                        [Double(try $0.int("periodicity", in: context)), try $0.double("phase", in: context), try $0.double("k", in: context)]
                    }))
            case "NonbondedForce":
                terms.append(try Self.nonbonded(force, particleCount: particleCount, context: context))
            case "GBSAOBCForce":
                terms.append(try Self.gbsaOBC(force, particleCount: particleCount, context: context))
            case "CustomGBForce":
                terms.append(try CustomGBRecognizer.recognize(force, particleCount: particleCount, context: context))
            default:
                throw ForceFieldError("\(context): unsupported force \(type); tbg evaluates HarmonicBondForce, HarmonicAngleForce, PeriodicTorsionForce, NonbondedForce, GBSAOBCForce and the OBC CustomGBForce exactly, and refuses anything else rather than compute a wrong energy")
            }
        }
        self.terms = terms
    }

    /// The names of the terms, in order ("NonbondedForce", …).
    public var termNames: [String] { terms.map(\.forceName) }

    private static func cutoff(of force: XMLElement, context: String) throws -> Double? {
        let method = force.attributes["method"].flatMap(Int.init) ?? 0
        switch method {
        case 0: return nil
        case 1: return try force.double("cutoff", in: context)
        default: throw ForceFieldError("\(context): nonbonded method \(method) (periodic) is not supported; use NoCutoff or CutoffNonPeriodic")
        }
    }

    private static func nonbonded(_ force: XMLElement, particleCount: Int, context: String) throws -> Nonbonded {
        if force.attributes["useSwitchingFunction"] == "1" {
            throw ForceFieldError("\(context): the Lennard-Jones switching function is not supported")
        }
        if !force.items("ParticleOffsets", "Offset").isEmpty || !force.items("ExceptionOffsets", "Offset").isEmpty {
            throw ForceFieldError("\(context): parameter offsets are not supported")
        }
        let particles = force.items("Particles", "Particle")
        guard particles.count == particleCount else {
            throw ForceFieldError("\(context): \(particles.count) particles, the System has \(particleCount)")
        }
        let exceptions = try force.items("Exceptions", "Exception").map { exception -> (Int32, Int32, Double, Double, Double) in
            let pair = try exception.particles(2, of: particleCount, in: context)
            return (pair[0], pair[1], try exception.double("q", in: context), try exception.double("sig", in: context),
                    try exception.double("eps", in: context))
        }
        return Nonbonded(
            charges: try particles.map { try $0.double("q", in: context) },
            sigmas: try particles.map { try $0.double("sig", in: context) },
            epsilons: try particles.map { try $0.double("eps", in: context) },
            exceptions: exceptions, cutoff: try cutoff(of: force, context: context),
            reactionFieldDielectric: try force.attributes["rfDielectric"] == nil ? 78.3 : force.double("rfDielectric", in: context))
    }

    private static func gbsaOBC(_ force: XMLElement, particleCount: Int, context: String) throws -> GeneralizedBorn {
        let particles = force.items("Particles", "Particle")
        guard particles.count == particleCount else {
            throw ForceFieldError("\(context): \(particles.count) particles, the System has \(particleCount)")
        }
        let solute = try force.double("soluteDielectric", in: context)
        let solvent = try force.double("solventDielectric", in: context)
        let screen = 1 / solute - 1 / solvent
        let offsetRadii = try particles.map { try $0.double("r", in: context) - obcDielectricOffset }
        let scales = try particles.map { try $0.double("scale", in: context) }
        let surfaceEnergy = try force.double("surfaceAreaEnergy", in: context)
        // OBC2 (Onufriev, Bashford, Case 2004): α = 1, β = 0.8, γ = 4.85; ACE factor 4π·surfaceAreaEnergy.
        return GeneralizedBorn(
            forceName: "GBSAOBCForce", charges: try particles.map { try $0.double("q", in: context) },
            offsetRadii: offsetRadii, scaledRadii: zip(offsetRadii, scales).map { $0 * $1 },
            alpha: 1, beta: 0.8, gamma: 4.85, bornOffset: obcDielectricOffset,
            selfCoefficient: -0.5 * Nonbonded.coulombConstant * screen, pairCoefficient: -Nonbonded.coulombConstant * screen,
            pairShift: try cutoff(of: force, context: context).map { 1 / $0 } ?? 0,
            aceCoefficient: surfaceEnergy == 0 ? nil : 4 * Double.pi * surfaceEnergy,
            aceProbeRadius: aceProbeRadius, aceOffset: obcDielectricOffset, engulfTerm: true,
            cutoff: try cutoff(of: force, context: context))
    }
}
