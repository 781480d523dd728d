// A minimal DOM for OpenMM's serialized System XML (tens of kB): elements with attributes and
// children, built with FoundationXML's SAX parser. The force-field builder walks it.
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

final class XMLElement {
    let name: String
    let attributes: [String: String]
    var children: [XMLElement] = []

    init(name: String, attributes: [String: String]) {
        self.name = name
        self.attributes = attributes
    }

    /// The first child named `name`.
    func child(_ name: String) -> XMLElement? { children.first { $0.name == name } }

    /// The children of the child `container` that are named `name` (e.g. Bonds → Bond).
    func items(_ container: String, _ name: String) -> [XMLElement] {
        child(container)?.children.filter { $0.name == name } ?? []
    }

    static func parse(_ text: String) throws -> XMLElement {
        let parser = XMLParser(data: Data(text.utf8))
        let builder = TreeBuilder()
        parser.delegate = builder
        // libxml2 accepts a document that simply stops; an unclosed element means it was truncated.
        guard parser.parse(), let root = builder.root, builder.isComplete else {
            let reason = parser.parserError.map { "\($0.localizedDescription)" } ?? "empty or truncated document"
            throw ForceFieldError("the OpenMM System is not well-formed XML: \(reason)")
        }
        return root
    }
}

private final class TreeBuilder: NSObject, XMLParserDelegate {
    var root: XMLElement?
    private var stack: [XMLElement] = []
    var isComplete: Bool { stack.isEmpty }

    func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                qualifiedName: String?, attributes: [String: String] = [:]) {
        let element = XMLElement(name: elementName, attributes: attributes)
        if let parent = stack.last { parent.children.append(element) } else { root = element }
        stack.append(element)
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?) {
        stack.removeLast()
    }
}

/// A System the force field cannot evaluate exactly, or one that is malformed.
public struct ForceFieldError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension XMLElement {
    /// A required numeric attribute, with an error naming the element and the attribute.
    func double(_ key: String, in context: String) throws -> Double {
        guard let text = attributes[key], let value = Double(text) else {
            throw ForceFieldError("\(context): <\(name)> lacks a numeric '\(key)' attribute")
        }
        return value
    }

    func int(_ key: String, in context: String) throws -> Int {
        guard let text = attributes[key], let value = Int(text) else {
            throw ForceFieldError("\(context): <\(name)> lacks an integer '\(key)' attribute")
        }
        return value
    }

    /// Particle indices p1…pn, checked against the particle count.
    func particles(_ count: Int, of particleCount: Int, in context: String) throws -> [Int32] {
        try (1...count).map { position in
            let index = try int("p\(position)", in: context)
            guard index >= 0 && index < particleCount else {
                throw ForceFieldError("\(context): particle index \(index) out of range 0..<\(particleCount)")
            }
            return Int32(index)
        }
    }
}
