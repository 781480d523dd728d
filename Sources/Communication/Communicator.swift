// The communicator: the one interface through which the program does collective operations.
//
// Drivers receive a `Communicator` value and never touch MPI directly; kernels and models never see
// one at all. `SerialCommunicator` gives single-process semantics (size 1) for tests and for runs
// without a launcher; `MPICommunicator` (MPICommunicator.swift) is the only code that calls MPI.
// Every operation is collective: all ranks must call it in the same order with matching counts.

/// Element types that can travel through a communicator.
public protocol CommunicatorScalar: Numeric & Comparable & Sendable {
    static var scalarKind: CommunicatorScalarKind { get }
}

public enum CommunicatorScalarKind: Sendable {
    case float32, float64, int32, int64, uint8
}

extension Float: CommunicatorScalar { public static var scalarKind: CommunicatorScalarKind { .float32 } }
extension Double: CommunicatorScalar { public static var scalarKind: CommunicatorScalarKind { .float64 } }
extension Int32: CommunicatorScalar { public static var scalarKind: CommunicatorScalarKind { .int32 } }
extension Int64: CommunicatorScalar { public static var scalarKind: CommunicatorScalarKind { .int64 } }
extension UInt8: CommunicatorScalar { public static var scalarKind: CommunicatorScalarKind { .uint8 } }

/// Element-wise reductions.
public enum ReductionOperation: Sendable {
    case sum, max, min
}

public protocol Communicator: AnyObject {
    /// This process's rank, 0 ..< size.
    var rank: Int { get }
    /// The number of ranks.
    var size: Int { get }

    /// Reduces `buffer` element-wise over all ranks, in place; every rank gets the result.
    func allreduce<T: CommunicatorScalar>(_ buffer: UnsafeMutableBufferPointer<T>, _ operation: ReductionOperation)

    /// Copies `buffer` from rank `root` into every other rank's `buffer` (same count on all ranks).
    func broadcast<T: CommunicatorScalar>(_ buffer: UnsafeMutableBufferPointer<T>, root: Int)

    /// Collects each rank's `values` (counts may differ) on rank `root`, in rank order.
    /// Returns the per-rank arrays on `root` and an empty array elsewhere.
    func gather<T: CommunicatorScalar>(_ values: [T], root: Int) -> [[T]]

    /// Collects each rank's `values` (counts may differ) on every rank, in rank order.
    func allgather<T: CommunicatorScalar>(_ values: [T]) -> [[T]]

    /// Waits until every rank has arrived.
    func barrier()

    /// A new shared work counter (WorkCounter.swift). Collective; its `next()` is not.
    func makeWorkCounter() -> any WorkCounter

    /// Ends the whole job: prints `message` with this rank's number to stderr and terminates every
    /// rank with `code`. Used when one rank cannot continue, so that no other rank hangs in a
    /// collective waiting for it.
    func abort(code: Int32, message: String) -> Never
}

extension Communicator {
    public var isRoot: Bool { rank == 0 }

    /// Array form of `allreduce`.
    public func allreduce<T: CommunicatorScalar>(_ values: inout [T], _ operation: ReductionOperation) {
        values.withUnsafeMutableBufferPointer { allreduce($0, operation) }
    }

    /// Reduces one value over all ranks.
    public func allreduce<T: CommunicatorScalar>(_ value: T, _ operation: ReductionOperation) -> T {
        var buffer = [value]
        allreduce(&buffer, operation)
        return buffer[0]
    }

    /// Broadcasts an array whose length only `root` knows: the other ranks' arrays are resized.
    public func broadcast<T: CommunicatorScalar>(_ values: inout [T], root: Int) {
        var count = [Int64(values.count)]
        count.withUnsafeMutableBufferPointer { broadcast($0, root: root) }
        if rank != root { values = [T](repeating: 0, count: Int(count[0])) }
        values.withUnsafeMutableBufferPointer { broadcast($0, root: root) }
    }

    /// Broadcasts a string (e.g. a resolved configuration) from `root`.
    public func broadcast(_ string: inout String, root: Int) {
        var bytes = Array(string.utf8)
        broadcast(&bytes, root: root)
        if rank != root { string = String(decoding: bytes, as: UTF8.self) }
    }
}
