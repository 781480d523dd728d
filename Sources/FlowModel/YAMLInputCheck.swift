// A guard in front of `Yams.load`, which traps (a force unwrap in Yams' Constructor,
// `Dictionary.private_construct_mapping`) instead of throwing when a mapping key is not a plain
// scalar, e.g. the complex key `? [a, b]: 1` or `{[1]: 2}`. Found by Tools/fuzz.sh (run-config target);
// `RunConfig.resolve` checks the configuration file and every `--set` value with this before it
// loads them, so such text is an error naming its source, not a crash, for every caller.
import Yams

public enum YAMLInputCheck {
    /// - Throws: `ConfigError` naming `source` and the key's position when `text` is YAML with a
    ///   mapping key that is not a plain scalar. Text that is not YAML at all is left to the loader,
    ///   whose error message says so.
    public static func check(_ text: String, source: String) throws {
        guard let root = try? Yams.compose(yaml: text) else { return }
        // Iterative walk: nesting depth is the input's to choose.
        var pending: [(node: Node, path: String)] = [(root, "top level")]
        while let (node, path) = pending.popLast() {
            switch node {
            case .scalar, .alias:
                continue
            case .sequence(let sequence):
                for (index, element) in sequence.enumerated() { pending.append((element, "\(path)[\(index)]")) }
            case .mapping(let mapping):
                for (key, value) in mapping {
                    guard case .scalar(let scalar) = key else {
                        let line = key.mark.map { " (line \($0.line))" } ?? ""
                        throw ConfigError("\(source): a mapping key under \(path)\(line) is a \(kind(of: key)), expected a plain name such as 'training' or 'steps'")
                    }
                    pending.append((value, path == "top level" ? scalar.string : "\(path).\(scalar.string)"))
                }
            }
        }
    }

    private static func kind(of node: Node) -> String {
        switch node {
        case .scalar: "scalar"
        case .mapping: "mapping"
        case .sequence: "sequence"
        case .alias: "alias"
        }
    }
}
