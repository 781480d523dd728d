// Real multi-process checks: `mpirun -np N tbg selftest communicator` runs every collective across
// N separate processes and each rank verifies closed-form answers (CommunicatorSelfCheck).
import TestSupport
import XCTest

final class MPIRunTests: XCTestCase {
    private func runSelfCheck(ranks: Int) throws {
        guard let mpirun = Executables.which("mpirun") else {
            XCTFail("mpirun not found: install openmpi-bin (README set-up)")
            return
        }
        let result = try Executables.run(
            mpirun, ["-np", "\(ranks)", Executables.tbg, "selftest", "communicator"],
            environment: Executables.mpiEnvironment, timeout: 120)
        XCTAssertEqual(result.status, 0, "stdout:\n\(result.standardOutput)\nstderr:\n\(result.standardError)")
        for rank in 0..<ranks {
            XCTAssertTrue(result.standardOutput.contains("rank \(rank) of \(ranks): "), result.standardOutput)
        }
        XCTAssertTrue(result.standardOutput.contains("communicator self-check passed on \(ranks) rank(s), MPI"),
                      result.standardOutput)
        XCTAssertFalse(result.standardOutput.contains("FAILED"))
    }

    func testCollectivesOnTwoRanks() throws { try runSelfCheck(ranks: 2) }

    func testCollectivesOnThreeRanks() throws { try runSelfCheck(ranks: 3) }

    func testCollectivesOnFourRanks() throws { try runSelfCheck(ranks: 4) }

    func testSingleRankUnderMPI() throws { try runSelfCheck(ranks: 1) }

    func testWithoutLauncherRunsSerially() throws {
        let result = try Executables.run(Executables.tbg, ["selftest", "communicator"])
        XCTAssertEqual(result.status, 0, result.standardError)
        XCTAssertTrue(result.standardOutput.contains("passed on 1 rank(s), serial"), result.standardOutput)
    }
}
