// What an OpenMM System (the `XmlSerializer` text in `/openmm_system`) contains, at the level of
// detail `tbg inspect` shows and the format checks need: particles, constraints and the list of
// forces with their attributes. The full typed parse of force terms belongs to the energy module.
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

public struct OpenMMSystemSummary: Sendable, Equatable {
    public struct Force: Sendable, Equatable {
        /// The OpenMM class name, e.g. "NonbondedForce".
        public var type: String
        /// The force's own attributes (method, cutoff, dielectrics, …) as written.
        public var attributes: [String: String]

        /// A readable description, e.g. "NonbondedForce (CutoffNonPeriodic, 2 nm)".
        public var label: String {
            guard type == "NonbondedForce" || type == "GBSAOBCForce" || type == "CustomGBForce",
                  let method = attributes["method"].flatMap(Int.init) else { return type }
            let methods = ["NoCutoff", "CutoffNonPeriodic", "CutoffPeriodic", "Ewald", "PME", "LJPME"]
            let name = method < methods.count ? methods[method] : "method \(method)"
            if method == 0 { return "\(type) (\(name))" }
            return "\(type) (\(name), \(attributes["cutoff"] ?? "?") nm)"
        }
    }

    public var openmmVersion: String?
    public var particleCount = 0
    public var masses: [Double] = []
    public var constraintCount = 0
    public var forces: [Force] = []
    /// Atom pairs the System binds: HarmonicBondForce bonds and constraints (p1, p2), in file
    /// order, duplicates kept. The bonds of a topology that lists none (`TrajectoryFile.checkedBonds`).
    public var bondedPairs: [[Int]] = []

    public static func parse(xml: String, file: String) throws -> OpenMMSystemSummary {
        let parser = XMLParser(data: Data(xml.utf8))
        let reader = SystemXMLReader()
        parser.delegate = reader
        guard parser.parse(), reader.sawSystem else {
            let reason = parser.parserError.map { "\($0.localizedDescription)" } ?? "no <System> element"
            throw DataFormatError(file: file, "/openmm_system is not an OpenMM System XML document: \(reason)")
        }
        return reader.summary
    }
}

/// SAX reader that tracks the element path, so that `<Particle>` of the System is not confused with
/// the per-particle parameters of a force.
private final class SystemXMLReader: NSObject, XMLParserDelegate {
    var summary = OpenMMSystemSummary()
    var sawSystem = false
    private var path: [String] = []

    func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                qualifiedName: String?, attributes: [String: String] = [:]) {
        switch (path, elementName) {
        case ([], "System"):
            sawSystem = true
            summary.openmmVersion = attributes["openmmVersion"]
        case (["System", "Particles"], "Particle"):
            summary.particleCount += 1
            summary.masses.append(Double(attributes["mass"] ?? "") ?? .nan)
        case (["System", "Constraints"], "Constraint"):
            summary.constraintCount += 1
            appendPair(attributes)
        case (["System", "Forces"], "Force"):
            summary.forces.append(.init(type: attributes["type"] ?? "unknown", attributes: attributes))
        case (["System", "Forces", "Force", "Bonds"], "Bond") where summary.forces.last?.type == "HarmonicBondForce":
            appendPair(attributes)
        default:
            break
        }
        path.append(elementName)
    }

    private func appendPair(_ attributes: [String: String]) {
        if let a = attributes["p1"].flatMap(Int.init), let b = attributes["p2"].flatMap(Int.init) { summary.bondedPairs.append([a, b]) }
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?) {
        path.removeLast()
    }
}
