// Dataset folders: the index lists every peptide once in one split, every file must exist, and the
// dataset report checks each file and its agreement with the index.
import Foundation
import MDData
import TestSupport
import XCTest

final class DatasetIndexTests: XCTestCase {
    private var scratch: ScratchDirectory!

    override func setUpWithError() throws {
        scratch = try ScratchDirectory("dataset")
        for name in ["ad2_capped.h5", "ks_zwitterion.h5"] {
            try FileManager.default.copyItem(atPath: Fixtures.path(name), toPath: scratch.file(name))
        }
    }

    override func tearDown() { scratch.remove() }

    private func writeIndex(_ peptides: [[String: Any]]) throws {
        let index: [String: Any] = ["format": "tbg-dataset", "format_version": 1, "peptides": peptides]
        try JSONSerialization.data(withJSONObject: index).write(to: URL(fileURLWithPath: scratch.file("index.json")))
    }

    private let ad: [String: Any] = ["name": "AD", "sequence": "A", "file": "ad2_capped.h5", "split": "train", "n_atoms": 22, "n_frames": 20]
    private let ks: [String: Any] = ["name": "KS", "sequence": "KS", "file": "ks_zwitterion.h5", "split": "test", "n_atoms": 36, "n_frames": 20]

    func testLoadsFromFolderOrIndexPath() throws {
        try writeIndex([ad, ks])
        for location in [scratch.path, scratch.file("index.json")] {
            let (index, directory) = try DatasetIndex.load(location)
            XCTAssertEqual(directory, scratch.path)
            XCTAssertEqual(index.entries(inSplit: "train").map(\.name), ["AD"])
            XCTAssertEqual(index.entries(inSplit: "test").map(\.name), ["KS"])
            XCTAssertTrue(index.entries(inSplit: "validation").isEmpty)
        }
        let report = try DatasetReport(location: scratch.path)
        XCTAssertEqual(report.failures, [])
        XCTAssertEqual(report.members.compactMap { $0.report?.atoms }, [22, 36])
    }

    func testIndexErrorsNameTheProblem() throws {
        var badSplit = ad
        badSplit["split"] = "holdout"
        try writeIndex([badSplit])
        XCTAssertThrowsError(try DatasetIndex.load(scratch.path)) { XCTAssertTrue("\($0)".contains("split 'holdout'"), "\($0)") }
        try writeIndex([ad, ad])
        XCTAssertThrowsError(try DatasetIndex.load(scratch.path)) { XCTAssertTrue("\($0)".contains("AD is listed twice"), "\($0)") }
        var missing = ks
        missing["file"] = "gone.h5"
        try writeIndex([missing])
        XCTAssertThrowsError(try DatasetIndex.load(scratch.path)) { XCTAssertTrue("\($0)".contains("gone.h5 is missing"), "\($0)") }
        XCTAssertThrowsError(try DatasetIndex.load(scratch.file("nowhere"))) { XCTAssertTrue("\($0)".contains("no such dataset index"), "\($0)") }
    }

    func testReportFlagsIndexFileDisagreement() throws {
        var wrong = ad
        wrong["n_frames"] = 999
        try writeIndex([wrong, ks])
        let report = try DatasetReport(location: scratch.path)
        XCTAssertEqual(report.failures.count, 1)
        XCTAssertTrue(report.failures[0].contains("n_frames 999 in the index, 20 in the file"), report.failures[0])
    }
}
