import CSodium

/// HMAC (RFC 2104) over BLAKE2s-256 with BLAKE2s's 64-byte block: WireGuard's HMAC
/// (whitepaper §5.4), the building block of its KDF.
///
/// This is HMAC proper, not BLAKE2s's keyed mode: WireGuard specifies HMAC here. Keys longer
/// than the block are first hashed, as RFC 2104 §2 requires.
public enum HMACBLAKE2s {
    /// HMAC-BLAKE2s(key, data), 32 bytes.
    public static func authenticate(key: UnsafeRawBufferPointer, _ data: UnsafeRawBufferPointer) -> Bytes32 {
        authenticate(key: key, data, UnsafeRawBufferPointer(start: nil, count: 0))
    }

    /// HMAC-BLAKE2s(key, a || b), without concatenating `a` and `b` first.
    static func authenticate(key: UnsafeRawBufferPointer, _ a: UnsafeRawBufferPointer,
                             _ b: UnsafeRawBufferPointer) -> Bytes32 {
        // K0 (RFC 2104 §2): the key zero-padded to one block, or its hash if longer than a block.
        var pad: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &pad) { block in
            if key.count > BLAKE2s.blockLength {
                var hashedKey = BLAKE2s.hash(key)
                hashedKey.withUnsafeBytes { block.copyMemory(from: $0) }
                hashedKey.zeroize()
            } else {
                block.copyMemory(from: key)
            }
        }
        defer { withUnsafeMutableBytes(of: &pad) { sodium_memzero($0.baseAddress, $0.count) } }

        // Inner hash: H((K0 ^ ipad) || text).
        xor(&pad, with: 0x3636_3636_3636_3636)
        var inner = BLAKE2s()
        withUnsafeBytes(of: &pad) { inner.update($0) }
        inner.update(a)
        inner.update(b)
        var innerDigest = inner.finalizeBytes32()
        defer { innerDigest.zeroize() }

        // Outer hash: H((K0 ^ opad) || inner). One XOR turns ipad into opad.
        xor(&pad, with: 0x3636_3636_3636_3636 ^ 0x5c5c_5c5c_5c5c_5c5c)
        var outer = BLAKE2s()
        withUnsafeBytes(of: &pad) { outer.update($0) }
        innerDigest.withUnsafeBytes { outer.update($0) }
        return outer.finalizeBytes32()
    }

    @inline(__always)
    private static func xor(_ pad: inout (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64),
                            with mask: UInt64) {
        pad.0 ^= mask; pad.1 ^= mask; pad.2 ^= mask; pad.3 ^= mask
        pad.4 ^= mask; pad.5 ^= mask; pad.6 ^= mask; pad.7 ^= mask
    }
}

/// HMAC-SHA-256 (RFC 2104, FIPS 180-4) through libsodium, for OSPFv2 cryptographic
/// authentication (RFC 5709). Keys of any length are accepted, per RFC 2104: longer than
/// 64 bytes are hashed, shorter are zero-padded. (RFC 5709 §3.3's own key preparation, Ks,
/// is the caller's step before this.)
public enum HMACSHA256 {
    /// The length of the authenticator in bytes.
    public static let outputLength = 32

    /// Writes HMAC-SHA-256(key, data) to the first 32 bytes of `output`.
    public static func authenticate(key: UnsafeRawBufferPointer, _ data: UnsafeRawBufferPointer,
                                    into output: UnsafeMutableRawBufferPointer) {
        precondition(output.count >= outputLength, "HMACSHA256: output must hold 32 bytes")
        Sodium.initialize()
        var state = crypto_auth_hmacsha256_state()
        crypto_auth_hmacsha256_init(&state, key.sodiumBytes, key.count)
        crypto_auth_hmacsha256_update(&state, data.sodiumBytes, UInt64(data.count))
        crypto_auth_hmacsha256_final(&state, output.sodiumBytes)
        withUnsafeMutableBytes(of: &state) { sodium_memzero($0.baseAddress, $0.count) }
    }
}
