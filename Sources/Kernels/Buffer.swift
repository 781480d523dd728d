// An owned, fixed-size, zero-initialised buffer with stable addresses, so kernels can hold raw
// pointers into it for a whole forward/backward pass without `withUnsafe…` nesting. Hot loops
// allocate nothing: workspaces are Buffers sized once and reused.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public final class Buffer<T: Numeric> {
    public let pointer: UnsafeMutablePointer<T>
    public let count: Int

    /// `count` zeros. The memory comes from calloc: large buffers are fresh zero pages that take no
    /// physical memory until written, so a buffer a pass never touches (the separate edge-MLP
    /// path's E × H activations while the fused path runs, EGNNWorkspace.swift) costs nothing.
    public init(count: Int) {
        self.count = count
        guard let raw = calloc(max(count, 1), MemoryLayout<T>.stride) else {
            fatalError("Buffer: cannot allocate \(count) × \(MemoryLayout<T>.stride) bytes")
        }
        pointer = raw.bindMemory(to: T.self, capacity: max(count, 1))
    }

    public convenience init(_ values: [T]) {
        self.init(count: values.count)
        values.withUnsafeBufferPointer { source in
            if let start = source.baseAddress { pointer.update(from: start, count: source.count) }
        }
    }

    deinit { free(pointer) }

    public var buffer: UnsafeMutableBufferPointer<T> { UnsafeMutableBufferPointer(start: pointer, count: count) }
    public var readOnly: UnsafeBufferPointer<T> { UnsafeBufferPointer(start: pointer, count: count) }
    public var array: [T] { Array(readOnly) }

    public func zero() { pointer.update(repeating: 0, count: count) }

    /// A read-only window of `count` elements starting at `offset`.
    public func slice(_ offset: Int, _ length: Int) -> UnsafeBufferPointer<T> {
        precondition(offset >= 0 && offset + length <= count, "slice \(offset)+\(length) outside a buffer of \(count)")
        return UnsafeBufferPointer(start: pointer + offset, count: length)
    }

    public func mutableSlice(_ offset: Int, _ length: Int) -> UnsafeMutableBufferPointer<T> {
        precondition(offset >= 0 && offset + length <= count, "slice \(offset)+\(length) outside a buffer of \(count)")
        return UnsafeMutableBufferPointer(start: pointer + offset, count: length)
    }
}
