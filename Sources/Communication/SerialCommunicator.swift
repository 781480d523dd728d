// Single-process communicator: size 1, every collective is the identity.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public final class SerialCommunicator: Communicator {
    public init() {}

    public var rank: Int { 0 }
    public var size: Int { 1 }

    public func allreduce<T: CommunicatorScalar>(_ buffer: UnsafeMutableBufferPointer<T>, _ operation: ReductionOperation) {}

    public func broadcast<T: CommunicatorScalar>(_ buffer: UnsafeMutableBufferPointer<T>, root: Int) {
        precondition(root == 0, "broadcast root \(root) out of range for 1 rank")
    }

    public func gather<T: CommunicatorScalar>(_ values: [T], root: Int) -> [[T]] {
        precondition(root == 0, "gather root \(root) out of range for 1 rank")
        return [values]
    }

    public func allgather<T: CommunicatorScalar>(_ values: [T]) -> [[T]] { [values] }

    public func barrier() {}

    public func makeWorkCounter() -> any WorkCounter { LocalWorkCounter() }

    public func abort(code: Int32, message: String) -> Never {
        writeToStandardError("rank 0 of 1: \(message)\n")
        exit(code)
    }
}
