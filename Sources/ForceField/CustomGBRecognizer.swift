// Recognises the CustomGBForce that OpenMM's `implicit/obc1.xml` and `implicit/obc2.xml` create and
// turns it into the closed-form `GeneralizedBorn` term. A CustomGBForce is a program in Lepton
// expressions; evaluating arbitrary ones is out of scope, so anything that is not exactly one of the
// known forms (up to its numeric constants) is refused with the offending expression named —
// never evaluated approximately.
import Foundation

enum CustomGBRecognizer {
    private static let number = #"([-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?)"#

    /// The Born integral of obc1/obc2.xml (no engulfed-sphere term).
    private static let integralTemplate =
        "select(step(r+sr2-or1),0.5*(1/L-1/U+0.25*(r-sr2^2/r)*(1/(U^2)-1/(L^2))+0.5*log(L/U)/r),0);U=r+sr2;L=max(or1,D);D=abs(r-sr2)"

    static func recognize(_ force: XMLElement, particleCount: Int, context: String) throws -> GeneralizedBorn {
        func refuse(_ what: String) -> ForceFieldError {
            ForceFieldError("\(context): unsupported CustomGBForce: \(what). Only the OBC forms of OpenMM's implicit/obc1.xml and implicit/obc2.xml are evaluated exactly")
        }
        let parameterNames = force.items("PerParticleParameters", "Parameter").compactMap { $0.attributes["name"] }
        guard parameterNames == ["charge", "or", "sr"] else { throw refuse("per-particle parameters \(parameterNames), expected [charge, or, sr]") }
        guard force.items("Functions", "Function").isEmpty else { throw refuse("tabulated functions are not supported") }
        var globals: [String: Double] = [:]
        for parameter in force.items("GlobalParameters", "Parameter") {
            if let name = parameter.attributes["name"], let value = parameter.attributes["default"].flatMap(Double.init) { globals[name] = value }
        }

        let values = force.items("ComputedValues", "Value")
        guard values.count == 2, values[0].attributes["name"] == "I", values[0].attributes["type"] == "2",
              values[1].attributes["name"] == "B", values[1].attributes["type"] == "0" else {
            throw refuse("computed values \(values.map { $0.attributes["name"] ?? "?" }), expected I (pair) then B (single)")
        }
        guard normalize(values[0].attributes["expression"] ?? "") == integralTemplate else {
            throw refuse("Born integral expression '\(values[0].attributes["expression"] ?? "")'")
        }
        let bornText = normalize(values[1].attributes["expression"] ?? "")
        let bornPattern = try Regex(#"1/\(1/or-tanh\((.+)\)/radius\);psi=I\*or;radius=or\+offset;offset="# + number)
        guard let born = try bornPattern.wholeMatch(in: bornText), let polynomial = born.output[1].substring,
              let bornOffset = born.output[2].substring.flatMap({ Double($0) }),
              let (alpha, beta, gamma) = parsePolynomial(String(polynomial)) else {
            throw refuse("Born radius expression '\(values[1].attributes["expression"] ?? "")'")
        }

        var selfConstant: Double?, pair: (constant: Double, shift: Double)?, ace: (c: Double, probe: Double, offset: Double)?
        var dielectric: Double?
        for term in force.items("EnergyTerms", "Term") {
            let text = normalize(term.attributes["expression"] ?? "")
            var parts = text.split(separator: ";").map(String.init)
            let main = parts.isEmpty ? "" : parts.removeFirst()
            var definitions = globals
            for part in parts {
                let pieces = part.split(separator: "=", maxSplits: 1).map(String.init)
                if pieces.count == 2, let value = Double(pieces[1]) { definitions[pieces[0]] = value }
            }
            if let kappa = definitions["kappa"], kappa != 0 { throw refuse("salt screening (kappa = \(kappa))") }
            let screen: Double? = definitions["soluteDielectric"].flatMap { solute in
                definitions["solventDielectric"].map { 1 / solute - 1 / $0 }
            }
            let type = term.attributes["type"] ?? ""
            if type == "0", let match = try Regex(#"-0\.5\*"# + number + #"\*\(1/soluteDielectric-1/solventDielectric\)\*charge\^2/B"#).wholeMatch(in: main),
               let constant = match.output[1].substring.flatMap({ Double($0) }), let screen {
                selfConstant = constant
                dielectric = screen
            } else if type == "0", parts.contains("radius=or+offset"),
                      let match = try Regex(number + #"\*\(radius\+"# + number + #"\)\^2\*\(radius/B\)\^6"#).wholeMatch(in: main),
                      let c = match.output[1].substring.flatMap({ Double($0) }), let probe = match.output[2].substring.flatMap({ Double($0) }),
                      let offset = definitions["offset"] {
                ace = (c, probe, offset)
            } else if type == "2", parts.first == "f=sqrt(r^2+B1*B2*exp(-r^2/(4*B1*B2)))", let screen {
                let prefix = #"-"# + number + #"\*\(1/soluteDielectric-1/solventDielectric\)\*charge1\*charge2"#
                if let match = try Regex(prefix + #"\*\(1/f-"# + number + #"\)"#).wholeMatch(in: main),
                   let constant = match.output[1].substring.flatMap({ Double($0) }), let shift = match.output[2].substring.flatMap({ Double($0) }) {
                    pair = (constant, shift)
                } else if let match = try Regex(prefix + "/f").wholeMatch(in: main), let constant = match.output[1].substring.flatMap({ Double($0) }) {
                    pair = (constant, 0)
                } else {
                    throw refuse("energy term '\(term.attributes["expression"] ?? "")'")
                }
                if let dielectric, dielectric != screen { throw refuse("energy terms with different dielectrics") }
                dielectric = screen
            } else {
                throw refuse("energy term '\(term.attributes["expression"] ?? "")' (type \(type))")
            }
        }
        guard let selfConstant, let pair, let dielectric else { throw refuse("missing the self or the pair energy term") }

        let method = force.attributes["method"].flatMap(Int.init) ?? 0
        guard method == 0 || method == 1 else { throw refuse("periodic nonbonded method \(method)") }
        let cutoff = method == 1 ? try force.double("cutoff", in: context) : nil
        let particles = force.items("Particles", "Particle")
        guard particles.count == particleCount else {
            throw ForceFieldError("\(context): CustomGBForce has \(particles.count) particles, the System has \(particleCount)")
        }
        let rows = try particles.map { particle in
            try (1...3).map { try particle.double("param\($0)", in: context) }
        }
        return GeneralizedBorn(
            forceName: "CustomGBForce", charges: rows.map { $0[0] }, offsetRadii: rows.map { $0[1] },
            scaledRadii: rows.map { $0[2] }, alpha: alpha, beta: beta, gamma: gamma, bornOffset: bornOffset,
            selfCoefficient: -0.5 * selfConstant * dielectric, pairCoefficient: -pair.constant * dielectric,
            pairShift: pair.shift, aceCoefficient: ace?.c, aceProbeRadius: ace?.probe ?? 0, aceOffset: ace?.offset ?? bornOffset,
            engulfTerm: false, cutoff: cutoff)
    }

    private static func normalize(_ expression: String) -> String {
        expression.filter { !$0.isWhitespace }
    }

    /// Parses `a*psi ± b*psi^2 ± c*psi^3` (terms optional, coefficient 1 implicit) into (α, β, γ)
    /// of tanh(αψ − βψ² + γψ³).
    static func parsePolynomial(_ text: String) -> (Double, Double, Double)? {
        let unsigned = #"((?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?)"#
        guard let term = try? Regex(#"([-+]?)(?:"# + unsigned + #"\*)?psi(?:\^([23]))?"#) else { return nil }
        var coefficients = [0.0, 0.0, 0.0]
        var position = text.startIndex
        while position < text.endIndex {
            guard let match = try? term.prefixMatch(in: text[position...]) else { return nil }
            let sign: Double = match.output[1].substring == "-" ? -1 : 1
            let magnitude = match.output[2].substring.flatMap { Double($0) } ?? 1
            let power = match.output[3].substring.flatMap { Int($0) } ?? 1
            coefficients[power - 1] += sign * magnitude
            position = match.range.upperBound
            if match.range.isEmpty { return nil }
        }
        return (coefficients[0], -coefficients[1], coefficients[2])
    }
}
