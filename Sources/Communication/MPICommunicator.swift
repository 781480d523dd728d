// MPI_COMM_WORLD behind the `Communicator` interface. This file and MPIEnvironment.swift are the
// only places in the program that call MPI.
//
// Error handling: MPI's default handler (MPI_ERRORS_ARE_FATAL) aborts the job on a failed call, so a
// broken collective ends every rank instead of returning a code that could be ignored; the
// preconditions below catch our own misuse (bad root, oversize counts) before MPI sees it.
import CMPI

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public final class MPICommunicator: Communicator {
    public let rank: Int
    public let size: Int
    private let comm: MPI_Comm?

    /// The world communicator; starts MPI if needed (see `MPIEnvironment`).
    public static func world() -> MPICommunicator {
        MPIEnvironment.start()
        return MPICommunicator(comm: swmpi_comm_world())
    }

    private init(comm: MPI_Comm?) {
        self.comm = comm
        var rank: Int32 = 0, size: Int32 = 0
        MPI_Comm_rank(comm, &rank)
        MPI_Comm_size(comm, &size)
        self.rank = Int(rank)
        self.size = Int(size)
    }

    public func allreduce<T: CommunicatorScalar>(_ buffer: UnsafeMutableBufferPointer<T>, _ operation: ReductionOperation) {
        guard buffer.count > 0 else { return }
        MPI_Allreduce(swmpi_in_place(), buffer.baseAddress, count32(buffer.count), datatype(T.self), mpiOperation(operation), comm)
    }

    public func broadcast<T: CommunicatorScalar>(_ buffer: UnsafeMutableBufferPointer<T>, root: Int) {
        checkRoot(root)
        guard buffer.count > 0 else { return }
        MPI_Bcast(buffer.baseAddress, count32(buffer.count), datatype(T.self), Int32(root), comm)
    }

    public func gather<T: CommunicatorScalar>(_ values: [T], root: Int) -> [[T]] {
        checkRoot(root)
        var counts = [Int32](repeating: 0, count: size)
        var myCount = count32(values.count)
        MPI_Gather(&myCount, 1, swmpi_int32(), &counts, 1, swmpi_int32(), Int32(root), comm)
        let displacements = offsets(counts)
        var received = [T](repeating: 0, count: rank == root ? Int(counts.reduce(0, +)) : 0)
        _ = values.withUnsafeBufferPointer { send in
            received.withUnsafeMutableBufferPointer { receive in
                MPI_Gatherv(send.baseAddress, myCount, datatype(T.self), receive.baseAddress, counts, displacements,
                            datatype(T.self), Int32(root), comm)
            }
        }
        return rank == root ? split(received, counts: counts, offsets: displacements) : []
    }

    public func allgather<T: CommunicatorScalar>(_ values: [T]) -> [[T]] {
        var counts = [Int32](repeating: 0, count: size)
        var myCount = count32(values.count)
        MPI_Allgather(&myCount, 1, swmpi_int32(), &counts, 1, swmpi_int32(), comm)
        let displacements = offsets(counts)
        var received = [T](repeating: 0, count: Int(counts.reduce(0, +)))
        _ = values.withUnsafeBufferPointer { send in
            received.withUnsafeMutableBufferPointer { receive in
                MPI_Allgatherv(send.baseAddress, myCount, datatype(T.self), receive.baseAddress, counts, displacements,
                               datatype(T.self), comm)
            }
        }
        return split(received, counts: counts, offsets: displacements)
    }

    public func barrier() { MPI_Barrier(comm) }

    public func makeWorkCounter() -> any WorkCounter { MPIWorkCounter(comm: comm) }

    public func abort(code: Int32, message: String) -> Never {
        writeToStandardError("rank \(rank) of \(size): \(message)\n")
        MPI_Abort(comm, code)
        exit(code)  // MPI_Abort does not return; this satisfies the type checker.
    }

    private func checkRoot(_ root: Int) {
        precondition(root >= 0 && root < size, "root \(root) out of range for \(size) ranks")
    }

    private func count32(_ count: Int) -> Int32 {
        precondition(count <= Int(Int32.max), "MPI message of \(count) elements exceeds the 32-bit count limit")
        return Int32(count)
    }

    private func offsets(_ counts: [Int32]) -> [Int32] {
        var running: Int32 = 0
        return counts.map { count in
            defer { running += count }
            return running
        }
    }

    private func split<T>(_ flat: [T], counts: [Int32], offsets: [Int32]) -> [[T]] {
        zip(counts, offsets).map { count, offset in Array(flat[Int(offset)..<Int(offset + count)]) }
    }

    private func datatype<T: CommunicatorScalar>(_ type: T.Type) -> MPI_Datatype? {
        switch T.scalarKind {
        case .float32: return swmpi_float()
        case .float64: return swmpi_double()
        case .int32: return swmpi_int32()
        case .int64: return swmpi_int64()
        case .uint8: return swmpi_uint8()
        }
    }

    private func mpiOperation(_ operation: ReductionOperation) -> MPI_Op? {
        switch operation {
        case .sum: return swmpi_sum()
        case .max: return swmpi_max()
        case .min: return swmpi_min()
        }
    }
}

/// The counter lives in an MPI window on rank 0 (one Int64); `next()` is a one-sided
/// MPI_Fetch_and_op(+1) on it inside a passive-target epoch (MPI_Win_lock_all) that stays open from
/// creation to `close()`, so rank 0 need not take part in any call to hand out numbers.
final class MPIWorkCounter: WorkCounter {
    private var window: MPI_Win?
    private let comm: MPI_Comm?
    private var closed = false

    init(comm: MPI_Comm?) {
        self.comm = comm
        var rank: Int32 = 0
        MPI_Comm_rank(comm, &rank)
        var base: UnsafeMutableRawPointer?
        let bytes = rank == 0 ? MPI_Aint(MemoryLayout<Int64>.size) : 0
        MPI_Win_allocate(bytes, Int32(MemoryLayout<Int64>.size), swmpi_info_null(), comm, &base, &window)
        if rank == 0 { base!.storeBytes(of: Int64(0), as: Int64.self) }
        MPI_Barrier(comm)   // the zero is in place before anyone increments it
        MPI_Win_lock_all(0, window)
    }

    func next() -> Int {
        precondition(!closed, "WorkCounter.next() after close()")
        var one: Int64 = 1, previous: Int64 = 0
        MPI_Fetch_and_op(&one, &previous, swmpi_int64(), 0, 0, swmpi_sum(), window)
        MPI_Win_flush(0, window)
        return Int(previous)
    }

    func close() {
        guard !closed else { return }
        closed = true
        MPI_Win_unlock_all(window)
        MPI_Win_free(&window)
    }
}
