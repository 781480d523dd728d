// A self-check of every collective against closed-form answers, run on any communicator.
//
// `tbg selftest communicator` runs it under `mpirun -np 2` (and more) in the test suite and in CI;
// the unit tests run it on the serial communicator. Each rank's contribution depends on its rank,
// so a collective that mixed up ranks, roots, counts or offsets gives a wrong answer somewhere.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public struct CommunicatorCheckReport: Sendable {
    public var checks = 0
    public var failures: [String] = []
    /// Failures summed over all ranks (every rank agrees on the verdict).
    public var failuresOnAllRanks = 0

    public var passed: Bool { failuresOnAllRanks == 0 }
}

public enum CommunicatorSelfCheck {
    /// Runs all checks; collective, so every rank must call it. `largeCount` sets the size of the
    /// big in-place allreduce (a gradient-sized buffer).
    public static func run(on comm: any Communicator, largeCount: Int = 1_000_003) -> CommunicatorCheckReport {
        var report = CommunicatorCheckReport()
        let rank = comm.rank, size = comm.size
        let rankSum = size * (size + 1) / 2  // Σ_r (r + 1)

        func expect(_ condition: Bool, _ message: @autoclosure () -> String) {
            report.checks += 1
            if !condition { report.failures.append("rank \(rank): \(message())") }
        }

        // Allreduce sum, in place, on a gradient-sized float buffer: element i is (rank+1)(i mod 97).
        var large = (0..<largeCount).map { Float((rank + 1) * ($0 % 97)) }
        comm.allreduce(&large, .sum)
        let wrongLarge = large.indices.first { large[$0] != Float(rankSum * ($0 % 97)) }
        expect(wrongLarge == nil, "allreduce(sum) of \(largeCount) Float: element \(wrongLarge ?? -1) wrong")

        var doubles = (0..<7).map { Double(rank + 1) * (Double($0) + 0.25) }
        comm.allreduce(&doubles, .sum)
        expect(doubles == (0..<7).map { Double(rankSum) * (Double($0) + 0.25) }, "allreduce(sum) Double: \(doubles)")

        var ints32 = (0..<5).map { Int32(rank + 1) * Int32($0 - 2) }
        comm.allreduce(&ints32, .sum)
        expect(ints32 == (0..<5).map { Int32(rankSum) * Int32($0 - 2) }, "allreduce(sum) Int32: \(ints32)")

        var ints64 = [Int64(rank + 1) << 33]
        comm.allreduce(&ints64, .sum)
        expect(ints64 == [Int64(rankSum) << 33], "allreduce(sum) Int64: \(ints64)")

        var bytes = [UInt8(rank + 1)]
        comm.allreduce(&bytes, .sum)
        expect(bytes == [UInt8(rankSum)], "allreduce(sum) UInt8: \(bytes)")

        var maxima = (0..<4).map { Double(rank * 10 + $0) }
        comm.allreduce(&maxima, .max)
        expect(maxima == (0..<4).map { Double((size - 1) * 10 + $0) }, "allreduce(max): \(maxima)")

        var minima = (0..<4).map { Float(rank * 10 + $0) }
        comm.allreduce(&minima, .min)
        expect(minima == (0..<4).map { Float($0) }, "allreduce(min): \(minima)")

        expect(comm.allreduce(Int64(rank), .sum) == Int64(size * (size - 1) / 2), "scalar allreduce")

        // Broadcast from every root in turn; non-roots start from zeros.
        for root in 0..<size {
            let pattern = (0..<11).map { Double(root * 1000 + $0) }
            var buffer = rank == root ? pattern : [Double](repeating: 0, count: 11)
            buffer.withUnsafeMutableBufferPointer { comm.broadcast($0, root: root) }
            expect(buffer == pattern, "broadcast from root \(root): \(buffer)")
        }

        // Broadcast of a length only the root knows, and of a string (the resolved config path).
        let lastRank = size - 1
        var sized: [Int32] = rank == lastRank ? Array(0..<Int32(17)) : []
        comm.broadcast(&sized, root: lastRank)
        expect(sized == Array(0..<Int32(17)), "broadcast of unknown length: \(sized.count) elements")
        var text = rank == 0 ? "configuration ✓ {\"seed\": 1}" : ""
        comm.broadcast(&text, root: 0)
        expect(text == "configuration ✓ {\"seed\": 1}", "broadcast of a string: '\(text)'")

        // Gather and allgather with counts that differ per rank: rank r sends r + 1 values.
        let mine = (0...rank).map { Float(rank * 100 + $0) }
        let expectedAll = (0..<size).map { r in (0...r).map { Float(r * 100 + $0) } }
        let gathered = comm.gather(mine, root: lastRank)
        expect(rank == lastRank ? gathered == expectedAll : gathered.isEmpty, "gather to rank \(lastRank): \(gathered)")
        let everyone = comm.allgather(mine)
        expect(everyone == expectedAll, "allgather: \(everyone)")

        // The work counter: ranks draw until it runs past `items`; every item is drawn exactly once.
        // Rank 0 draws slowly, so the other ranks take more (the point of a counter).
        let items = 40 * size
        let counter = comm.makeWorkCounter()
        var drawn: [Int64] = []
        while true {
            let item = counter.next()
            if item >= items { break }
            drawn.append(Int64(item))
            if rank == 0 && size > 1 { usleep(2000) }
        }
        counter.close()
        let allDrawn = comm.allgather(drawn)
        expect(allDrawn.flatMap { $0 }.sorted() == (0..<Int64(items)).map { $0 }, "work counter: items drawn \(allDrawn.map(\.count)) per rank, not each of 0..<\(items) once")
        expect(allDrawn.allSatisfy { $0 == $0.sorted() }, "work counter: a rank's items are not increasing")

        comm.barrier()
        report.failuresOnAllRanks = Int(comm.allreduce(Int64(report.failures.count), .sum))
        return report
    }
}
