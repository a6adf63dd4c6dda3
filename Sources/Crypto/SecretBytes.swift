import CSodium

/// Heap-allocated secret bytes, zeroed (`sodium_memzero`) in `deinit`. Not to be allocated per packet.
///
/// Long-lived secrets (private keys, pre-shared keys) live here rather than in a value type so
/// that exactly one copy exists and it is wiped when the last reference goes away; value types
/// get copied freely by the compiler and their old copies are never cleared.
///
/// `@unchecked Sendable`: the class has no Swift-visible mutable state; the bytes behind the
/// pointer are only written through ``withUnsafeMutableBytes(_:)``, whose callers own the
/// synchronisation (the key types in this module never write after initialisation).
public final class SecretBytes: @unchecked Sendable {
    @usableFromInline let storage: UnsafeMutableRawPointer

    /// The number of bytes.
    public let count: Int

    /// `count` zero bytes.
    public init(count: Int) {
        precondition(count >= 0, "SecretBytes(count:) needs a non-negative count")
        self.count = count
        // Never allocate zero bytes so that `storage` is always a real, freeable pointer.
        storage = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 16)
        storage.initializeMemory(as: UInt8.self, repeating: 0, count: max(count, 1))
    }

    /// A copy of `bytes`.
    public convenience init(copying bytes: UnsafeRawBufferPointer) {
        self.init(count: bytes.count)
        if let source = bytes.baseAddress, bytes.count > 0 {
            storage.copyMemory(from: source, byteCount: bytes.count)
        }
    }

    deinit {
        sodium_memzero(storage, max(count, 1))
        storage.deallocate()
    }

    /// Calls `body` with the secret bytes.
    // Inlinable: WireGuard transport keys are read through it for every packet, and a call
    // through a closure context costs ~50 instructions a packet.
    @inlinable public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: storage, count: count))
    }

    /// Calls `body` with the secret bytes, writable.
    public func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeMutableRawBufferPointer(start: storage, count: count))
    }
}
