// Failures name the file and the object, and atomic writes never leave a partial file behind.
import Foundation
import HDF5
import TestSupport
import XCTest

final class ErrorAndAtomicWriteTests: XCTestCase {
    private var scratch: ScratchDirectory!

    override func setUpWithError() throws { scratch = try ScratchDirectory("hdf5-errors") }
    override func tearDown() { scratch.remove() }

    private func assertThrows(_ expression: @autoclosure () throws -> Any, containing fragments: [String],
                              file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try expression(), file: file, line: line) { error in
            let text = "\(error)"
            for fragment in fragments {
                XCTAssertTrue(text.contains(fragment), "'\(text)' does not mention '\(fragment)'", file: file, line: line)
            }
        }
    }

    func testMissingAndNonHDF5FilesAreNamed() throws {
        let missing = scratch.file("missing.h5")
        assertThrows(try HDF5File(opening: missing), containing: [missing, "no such file"])
        let text = scratch.file("notes.h5")
        try "not hdf5".write(toFile: text, atomically: true, encoding: .utf8)
        assertThrows(try HDF5File(opening: text), containing: [text, "not an HDF5 file"])
        // A directory (a run's chunk folder given by mistake) says so rather than "not an HDF5 file".
        let folder = scratch.file("run.h5.chunks")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        assertThrows(try HDF5File(opening: folder), containing: [folder, "is a directory, not an HDF5 file"])
        let empty = scratch.file("empty.h5")
        try Data().write(to: URL(fileURLWithPath: empty))
        assertThrows(try HDF5File(opening: empty), containing: [empty, "is empty (0 bytes)"])
        // A file cut short (an interrupted copy) says so, with both sizes.
        let whole = scratch.file("whole.h5")
        try HDF5File(creating: whole).root().writeDataset("values", [Double](repeating: 1, count: 4096), shape: [4096])
        let bytes = try Data(contentsOf: URL(fileURLWithPath: whole))
        let cut = scratch.file("cut.h5")
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: cut))
        assertThrows(try HDF5File(opening: cut), containing: [cut, "is truncated: it has \(bytes.count / 2) bytes, its HDF5 superblock says \(bytes.count)"])
        // Cut inside the superblock, libhdf5 only says it cannot read it; the size says why.
        for length in [8, 9, 40] {
            let stub = scratch.file("stub-\(length).h5")
            try bytes.prefix(length).write(to: URL(fileURLWithPath: stub))
            assertThrows(try HDF5File(opening: stub), containing: [stub, "is truncated: it has \(length) bytes, fewer than the"])
        }
    }

    func testWrongObjectsAndShapesAreNamed() throws {
        let path = scratch.file("objects.h5")
        let root = try HDF5File(creating: path).root()
        try root.writeDataset("values", [Float(1), 2, 3, 4], shape: [2, 2])
        try root.writeStringDataset("label", ["x"])
        try root.createGroup("group")
        assertThrows(try root.dataset("absent"), containing: [path, "/absent", "no such dataset"])
        assertThrows(try root.dataset("group"), containing: ["/group", "found a group where a dataset was expected"])
        assertThrows(try root.group("values"), containing: ["/values", "found a dataset where a group was expected"])
        let values = try root.dataset("values")
        assertThrows(try values.readRows(1..<3, as: Float.self), containing: ["/values", "outside the shape [2, 2]"])
        assertThrows(try values.readStrings(), containing: ["/values", "expected a string dataset, found float32"])
        assertThrows(try root.dataset("label").read(as: Float.self), containing: ["/label", "expected numeric data"])
        assertThrows(try values.write([Float(1)]), containing: ["writing 1 values into a slab of 4"])
        assertThrows(try root.readStringAttribute("nothing"), containing: ["no attribute 'nothing'"])
        assertThrows(try HDF5File(creating: path), containing: [path, "cannot create"])
    }

    func testAtomicWriteLeavesNothingOnFailureAndKeepsTheOldFile() throws {
        let path = scratch.file("output.h5")
        try HDF5File.writeAtomically(to: path) { root in try root.writeDataset("version", [Int32(1)], shape: [1]) }
        struct Interrupted: Error {}
        XCTAssertThrowsError(try HDF5File.writeAtomically(to: path) { root in
            try root.writeDataset("version", [Int32(2)], shape: [1])
            throw Interrupted()
        })
        XCTAssertEqual(scratch.contents(), ["output.h5"], "no temporary file may remain")
        XCTAssertEqual(try HDF5File(opening: path).root().dataset("version").read(as: Int32.self), [1])

        try HDF5File.writeAtomically(to: path) { root in try root.writeDataset("version", [Int32(3)], shape: [1]) }
        XCTAssertEqual(try HDF5File(opening: path).root().dataset("version").read(as: Int32.self), [3])
        XCTAssertEqual(scratch.contents(), ["output.h5"])
    }

    func testPartialFilesAreNamedByHostAndProcess() throws {
        let path = scratch.file("output.h5")
        XCTAssertEqual(HDF5File.partialPath(for: path, host: "node-7", pid: 42), path + ".partial-node-7-42")
        XCTAssertEqual(HDF5File.partialPath(for: path), "\(path).partial-\(HDF5File.hostName)-\(ProcessInfo.processInfo.processIdentifier)")
        XCTAssertFalse(HDF5File.hostName.isEmpty)
    }

    func testOnlyThisHostsPartialFilesOfFinishedProcessesAreRemoved() throws {
        let path = scratch.file("output.h5")
        let finished = Process()
        finished.executableURL = URL(fileURLWithPath: "/bin/true")
        try finished.run()
        finished.waitUntilExit()   // gone and collected: its id names no running process
        let sleeper = Process()
        sleeper.executableURL = URL(fileURLWithPath: "/bin/sleep")
        sleeper.arguments = ["60"]
        try sleeper.run()
        defer { sleeper.terminate(); sleeper.waitUntilExit() }
        let host = HDF5File.hostName, me = ProcessInfo.processInfo.processIdentifier
        let stale = HDF5File.partialPath(for: path, pid: finished.processIdentifier)
        let mine = HDF5File.partialPath(for: path, pid: me)          // a reused id: this process is not writing
        let live = HDF5File.partialPath(for: path, pid: sleeper.processIdentifier)
        let otherHost = HDF5File.partialPath(for: path, host: host + "-elsewhere", pid: finished.processIdentifier)
        let otherOutput = HDF5File.partialPath(for: scratch.file("other.h5"), pid: finished.processIdentifier)
        let oldName = path + ".partial-\(finished.processIdentifier)"
        for file in [stale, mine, live, otherHost, otherOutput, oldName] {
            XCTAssertTrue(FileManager.default.createFile(atPath: file, contents: Data("cut off".utf8)))
        }
        XCTAssertEqual(Set(HDF5File.removeStalePartials(for: path)), [stale, mine])
        for file in [live, otherHost, otherOutput, oldName] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: file), "\(file) must be left alone")
        }
        XCTAssertEqual(HDF5File.removeStalePartials(for: path), [])
        // The next atomic write of the same output cleans up too, once the writer is gone.
        sleeper.terminate()
        sleeper.waitUntilExit()
        try HDF5File.writeAtomically(to: path) { root in try root.writeDataset("version", [Int32(1)], shape: [1]) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: live))
        XCTAssertEqual(scratch.contents().filter { $0.hasPrefix("output.h5") }, ["output.h5", "output.h5.partial-\(finished.processIdentifier)",
                                                                                  "output.h5.partial-\(host)-elsewhere-\(finished.processIdentifier)"])
    }
}
