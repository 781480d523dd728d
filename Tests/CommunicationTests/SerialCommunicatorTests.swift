// The serial communicator has size-1 semantics, and the launcher detection picks MPI only when an
// MPI launcher's variables are present.
import Communication
import TestSupport
import XCTest

final class SerialCommunicatorTests: XCTestCase {
    func testSelfCheckPassesSerially() {
        let report = CommunicatorSelfCheck.run(on: SerialCommunicator(), largeCount: 10_001)
        XCTAssertTrue(report.passed, "\(report.failures)")
        XCTAssertEqual(report.checks, 15)
    }

    func testCollectivesAreIdentities() {
        let comm = SerialCommunicator()
        XCTAssertEqual(comm.rank, 0)
        XCTAssertEqual(comm.size, 1)
        var values: [Float] = [1, 2, 3]
        comm.allreduce(&values, .sum)
        XCTAssertEqual(values, [1, 2, 3])
        XCTAssertEqual(comm.gather([4.0, 5.0], root: 0), [[4.0, 5.0]])
        XCTAssertEqual(comm.allgather([Int32(9)]), [[9]])
        var text = "config"
        comm.broadcast(&text, root: 0)
        XCTAssertEqual(text, "config")
    }

    func testLauncherDetection() {
        XCTAssertFalse(MPIEnvironment.launchedByMPI(environment: [:]))
        XCTAssertFalse(MPIEnvironment.launchedByMPI(environment: ["SLURM_PROCID": "0", "SLURM_NTASKS": "4"]),
                       "a batch script has SLURM_PROCID but is not an MPI rank")
        XCTAssertTrue(MPIEnvironment.launchedByMPI(environment: ["OMPI_COMM_WORLD_SIZE": "2"]))
        XCTAssertTrue(MPIEnvironment.launchedByMPI(environment: ["PMIX_RANK": "1"]))
        XCTAssertTrue(MPIEnvironment.launchedByMPI(environment: ["PMI_RANK": "0"]))
    }
}
