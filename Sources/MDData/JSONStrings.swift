// Small JSON helpers shared by the format readers.
import Foundation

enum JSONStrings {
    /// Decodes a JSON array of strings.
    static func decode(_ json: String, what: String, file: String) throws -> [String] {
        do {
            return try JSONDecoder().decode([String].self, from: Data(json.utf8))
        } catch {
            throw DataFormatError(file: file, "\(what) is not a JSON list of strings: \(error)")
        }
    }
}
