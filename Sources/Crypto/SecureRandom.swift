import CSodium

/// Cryptographically secure randomness from the kernel (libsodium's `randombytes`, which uses
/// `getrandom(2)` on Linux). Used for keys, ephemeral keys, session indices and cookie secrets.
public enum SecureRandom {
    /// Fills `buffer` with random bytes.
    public static func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        guard let base = buffer.baseAddress else { return }
        Sodium.initialize()
        randombytes_buf(base, buffer.count)
    }

    /// A uniformly random 32-bit value.
    public static func uint32() -> UInt32 {
        Sodium.initialize()
        return randombytes_random()
    }

    /// A uniformly random 64-bit value.
    public static func uint64() -> UInt64 {
        var value: UInt64 = 0
        withUnsafeMutableBytes(of: &value) { fill($0) }
        return value
    }

    /// A uniformly random value in `0..<upperBound`, without modulo bias. Returns 0 when
    /// `upperBound` is below 2 (there is no other answer; this matches `randombytes_uniform`).
    public static func uniform(_ upperBound: UInt32) -> UInt32 {
        Sodium.initialize()
        return randombytes_uniform(upperBound)
    }
}

/// A `RandomNumberGenerator` backed by ``SecureRandom``, for `Int.random(in:using:)`,
/// `shuffled(using:)` and the like where the randomness must be unpredictable.
public struct SecureRandomNumberGenerator: RandomNumberGenerator, Sendable {
    public init() {}

    public mutating func next() -> UInt64 {
        SecureRandom.uint64()
    }
}
