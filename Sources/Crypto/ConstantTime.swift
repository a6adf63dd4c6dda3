import CSodium

/// Comparisons whose running time does not depend on the bytes compared, for MACs, tags and keys
/// (a data-dependent early exit would let an attacker learn a valid tag byte by byte).
public enum ConstantTime {
    /// True when `a` and `b` hold the same bytes. Lengths are treated as public: different
    /// lengths return false at once; equal lengths are compared in full (`sodium_memcmp`).
    public static func equal(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        guard a.count == b.count else { return false }
        guard let left = a.baseAddress, let right = b.baseAddress else { return true }  // both empty
        Sodium.initialize()
        return sodium_memcmp(left, right, a.count) == 0
    }

    /// True when every byte of `a` is zero (an empty buffer counts as zero).
    public static func isZero(_ a: UnsafeRawBufferPointer) -> Bool {
        guard let base = a.baseAddress else { return true }
        Sodium.initialize()
        return sodium_is_zero(base.assumingMemoryBound(to: UInt8.self), a.count) == 1
    }
}
