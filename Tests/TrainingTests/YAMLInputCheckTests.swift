// Regression tests from Tools/fuzz.sh (run-config target): Yams.load traps on a mapping key that is
// not a plain scalar, so such configuration text must be refused before RunConfig loads it.
import Foundation
import FlowModel
import Training
import XCTest

final class YAMLInputCheckTests: XCTestCase {
    func testNonScalarMappingKeysAreRefusedWithTheirPlace() {
        let cases: [(String, [String])] = [
            ("model:\n  hidden: 8\n? [a, b]\n: 1\n", ["config.yaml", "under top level (line 3) is a sequence"]),
            ("{[1]: 2}", ["under top level (line 1) is a sequence"]),
            ("training:\n  adam:\n    ? {x: 1}\n    : 2\n", ["under training.adam (line 3) is a mapping"]),
            ("data:\n  splits:\n    - ? [1]\n      : 3\n", ["under data.splits[0]", "is a sequence"]),
        ]
        for (text, fragments) in cases {
            XCTAssertThrowsError(try YAMLInputCheck.check(text, source: "config.yaml"), text) { error in
                XCTAssertTrue(error is ConfigError, "\(error)")
                for fragment in fragments { XCTAssertTrue("\(error)".contains(fragment), "'\(error)' lacks '\(fragment)'") }
            }
        }
    }

    func testOrdinaryConfigurationsPass() throws {
        for text in ["model:\n  hidden: 64\n  layers: 5\ntraining:\n  lr_decay_epochs: [800, 1600]\n", "{\"model\": {\"hidden\": 8}}",
                     "8", "[1, 2]", "not: [valid", ""] {
            XCTAssertNoThrow(try YAMLInputCheck.check(text, source: "config.yaml"), text)
        }
        XCTAssertNoThrow(try RunConfig.resolve(file: nil, overrides: ["model.hidden=8"]))
    }

    func testRunConfigResolveRefusesTheTrappingTextForEveryCaller() throws {
        // The text that crashed `tbg train` resolves to a clear error, in a --set value and in a file.
        XCTAssertThrowsError(try RunConfig.resolve(file: nil, overrides: ["model.hidden={[1]: 2}"])) {
            XCTAssertTrue("\($0)".contains("override 'model.hidden={[1]: 2}'"), "\($0)")
        }
        let file = NSTemporaryDirectory() + "tbg-yaml-\(getpid()).yaml"
        try "model:\n  hidden: 8\n? [a, b]\n: 1\n".write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        XCTAssertThrowsError(try RunConfig.resolve(file: file, overrides: [])) {
            XCTAssertTrue("\($0)".contains(file) && "\($0)".contains("is a sequence"), "\($0)")
        }
    }
}
