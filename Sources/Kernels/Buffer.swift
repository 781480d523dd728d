// An owned, fixed-size, zero-initialised buffer with stable addresses, so kernels can hold raw
// pointers into it for a whole forward/backward pass without `withUnsafe…` nesting. Hot loops
// allocate nothing: workspaces are Buffers sized once and reused.

public final class Buffer<T: Numeric> {
    public let pointer: UnsafeMutablePointer<T>
    public let count: Int

    public init(count: Int) {
        self.count = count
        pointer = UnsafeMutablePointer<T>.allocate(capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
    }

    public convenience init(_ values: [T]) {
        self.init(count: values.count)
        values.withUnsafeBufferPointer { source in
            if let start = source.baseAddress { pointer.update(from: start, count: source.count) }
        }
    }

    deinit { pointer.deallocate() }

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
