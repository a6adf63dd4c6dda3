import CSodium

/// BLAKE2s (RFC 7693): 32-bit BLAKE2 with 1...32-byte output and an optional 0...32-byte key.
/// WireGuard's HASH, MAC and (through HMAC) KDF are built on it (whitepaper §5.4).
///
/// Pure Swift because libsodium has no BLAKE2s. The compression function keeps the state and
/// the message block in 32 local `UInt32`s with all ten rounds written out, so it compiles to
/// straight-line register code; hashing never allocates. Whole blocks are compressed straight
/// from the caller's memory; only a partial block (or the final one) is buffered inline.
public struct BLAKE2s: Sendable {
    /// Bytes per compressed block (RFC 7693 §2.1, bb = 64).
    public static let blockLength = 64
    /// Largest output and key length (RFC 7693 §2.1, nn and kk at most 32).
    public static let maximumOutputLength = 32, maximumKeyLength = 32

    /// The initialisation vector, the same as SHA-256's (RFC 7693 §2.6).
    private static let iv: ChainValue = ChainValue(
        0x6A09_E667, 0xBB67_AE85, 0x3C6E_F372, 0xA54F_F53A, 0x510E_527F, 0x9B05_688C, 0x1F83_D9AB, 0x5BE0_CD19)

    private var chain: ChainValue
    /// Bytes compressed so far: the message counter t (RFC 7693 §3.2), at most 2^64 - 1.
    private var compressedCount: UInt64 = 0
    /// The pending block, which may be the last one and so cannot be compressed yet.
    private var buffer: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
    private var bufferCount = 0
    private let outputLength: Int

    /// An unkeyed hash with an `outputLength`-byte digest (1...32).
    public init(outputLength: Int = 32) {
        precondition((1...Self.maximumOutputLength).contains(outputLength), "BLAKE2s output length must be 1...32")
        self.outputLength = outputLength
        // Parameter block word 0 (RFC 7693 §2.5): digest length, key length 0, fanout 1, depth 1.
        chain = Self.iv
        chain.h0 ^= 0x0101_0000 ^ UInt32(outputLength)
    }

    /// A keyed hash (a MAC) with an `outputLength`-byte digest (1...32) and a 0...32-byte key.
    public init(outputLength: Int = 32, key: UnsafeRawBufferPointer) {
        precondition((1...Self.maximumOutputLength).contains(outputLength), "BLAKE2s output length must be 1...32")
        precondition(key.count <= Self.maximumKeyLength, "BLAKE2s key length must be 0...32")
        self.outputLength = outputLength
        chain = Self.iv
        chain.h0 ^= 0x0101_0000 ^ UInt32(key.count) << 8 ^ UInt32(outputLength)
        if key.count > 0 {
            // RFC 7693 §3.3: a nonzero key is zero-padded to a full block and hashed first.
            withUnsafeMutableBytes(of: &buffer) { $0.copyMemory(from: key) }
            bufferCount = Self.blockLength
        }
    }

    /// Absorbs `data`.
    public mutating func update(_ data: UnsafeRawBufferPointer) {
        guard var input = data.baseAddress, data.count > 0 else { return }
        var remaining = data.count
        if remaining > Self.blockLength - bufferCount {
            // More input follows, so the buffered block is not the last: complete and compress it.
            if bufferCount > 0 {
                let offset = bufferCount, space = Self.blockLength - bufferCount
                withUnsafeMutableBytes(of: &buffer) { block in
                    (block.baseAddress! + offset).copyMemory(from: input, byteCount: space)
                }
                input += space
                remaining -= space
                bufferCount = Self.blockLength
                compressBuffer(isLastBlock: false)
            }
            // Whole blocks from the caller's memory, holding back the final one (it may be last).
            while remaining > Self.blockLength {
                compressedCount &+= UInt64(Self.blockLength)
                Self.compress(&chain, block: input, counter: compressedCount, isLastBlock: false)
                input += Self.blockLength
                remaining -= Self.blockLength
            }
        }
        let offset = bufferCount
        withUnsafeMutableBytes(of: &buffer) { block in
            (block.baseAddress! + offset).copyMemory(from: input, byteCount: remaining)
        }
        bufferCount += remaining
    }

    /// Writes the digest to the first `outputLength` bytes of `output` (which must hold that
    /// many) and wipes the state; hash something else with a new `BLAKE2s`.
    public mutating func finalize(into output: UnsafeMutableRawBufferPointer) {
        precondition(output.count >= outputLength, "BLAKE2s.finalize: output shorter than the digest")
        // RFC 7693 §3.3: zero-pad the last block, count only its real bytes, set the final flag.
        let offset = bufferCount
        withUnsafeMutableBytes(of: &buffer) { block in
            _ = (block.baseAddress! + offset).initializeMemory(as: UInt8.self, repeating: 0, count: Self.blockLength - offset)
        }
        compressBuffer(isLastBlock: true)
        let digest = (chain.h0.littleEndian, chain.h1.littleEndian, chain.h2.littleEndian, chain.h3.littleEndian,
                      chain.h4.littleEndian, chain.h5.littleEndian, chain.h6.littleEndian, chain.h7.littleEndian)
        withUnsafeBytes(of: digest) { bytes in
            output.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[0..<outputLength]))
        }
        // The state holds key material in keyed mode (MAC and HMAC keys): do not leave it behind.
        withUnsafeMutableBytes(of: &buffer) { sodium_memzero($0.baseAddress, $0.count) }
        withUnsafeMutableBytes(of: &chain) { sodium_memzero($0.baseAddress, $0.count) }
        bufferCount = 0
    }

    // MARK: One-shot helpers

    /// HASH(data): the 32-byte unkeyed BLAKE2s digest.
    public static func hash(_ data: UnsafeRawBufferPointer) -> Bytes32 {
        var state = BLAKE2s()
        state.update(data)
        return state.finalizeBytes32()
    }

    /// HASH(a || b) without concatenating (WireGuard's `Hash(h || x)` mixing, whitepaper §5.4).
    public static func hash(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bytes32 {
        var state = BLAKE2s()
        state.update(a)
        state.update(b)
        return state.finalizeBytes32()
    }

    /// WireGuard's MAC(key, input) (whitepaper §5.4): keyed BLAKE2s with a 16-byte digest,
    /// written to the first 16 bytes of `output`. `key` is 0...32 bytes.
    public static func mac16(key: UnsafeRawBufferPointer, _ data: UnsafeRawBufferPointer,
                             into output: UnsafeMutableRawBufferPointer) {
        var state = BLAKE2s(outputLength: 16, key: key)
        state.update(data)
        state.finalize(into: output)
    }

    /// The 32-byte digest as a value. Only for states created with the default output length.
    mutating func finalizeBytes32() -> Bytes32 {
        var digest = Bytes32()
        digest.withUnsafeMutableBytes { finalize(into: $0) }
        return digest
    }

    // MARK: Compression

    private mutating func compressBuffer(isLastBlock: Bool) {
        compressedCount &+= UInt64(bufferCount)
        // Work on a local copy of the chain value: `buffer` and `chain` are both parts of self.
        var state = chain
        let counter = compressedCount
        withUnsafeBytes(of: &buffer) { block in
            Self.compress(&state, block: block.baseAddress!, counter: counter, isLastBlock: isLastBlock)
        }
        chain = state
        bufferCount = 0
    }

    /// The compression function F (RFC 7693 §3.2) on one 64-byte block at `block`.
    private static func compress(_ h: inout ChainValue, block: UnsafeRawPointer, counter: UInt64, isLastBlock: Bool) {
        let m0 = UInt32(littleEndian: block.loadUnaligned(fromByteOffset: 0, as: UInt32.self))
        let m1 = UInt32(littleEndian: block.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
        let m2 = UInt32(littleEndian: block.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
        let m3 = UInt32(littleEndian: block.loadUnaligned(fromByteOffset: 12, as: UInt32.self))
        let m4 = UInt32(littleEndian: block.loadUnaligned(fromByteOffset: 16, as: UInt32.self))
        let m5 = UInt32(littleEndian: block.loadUnaligned(fromByteOffset: 20, as: UInt32.self))
        let m6 = UInt32(littleEndian: block.loadUnaligned(fromByteOffset: 24, as: UInt32.self))
        let m7 = UInt32(littleEndian: block.loadUnaligned(fromByteOffset: 28, as: UInt32.self))
        let m8 = UInt32(littleEndian: block.loadUnaligned(fromByteOffset: 32, as: UInt32.self))
        let m9 = UInt32(littleEndian: block.loadUnaligned(fromByteOffset: 36, as: UInt32.self))
        let m10 = UInt32(littleEndian: block.loadUnaligned(fromByteOffset: 40, as: UInt32.self))
        let m11 = UInt32(littleEndian: block.loadUnaligned(fromByteOffset: 44, as: UInt32.self))
        let m12 = UInt32(littleEndian: block.loadUnaligned(fromByteOffset: 48, as: UInt32.self))
        let m13 = UInt32(littleEndian: block.loadUnaligned(fromByteOffset: 52, as: UInt32.self))
        let m14 = UInt32(littleEndian: block.loadUnaligned(fromByteOffset: 56, as: UInt32.self))
        let m15 = UInt32(littleEndian: block.loadUnaligned(fromByteOffset: 60, as: UInt32.self))

        var v0 = h.h0, v1 = h.h1, v2 = h.h2, v3 = h.h3, v4 = h.h4, v5 = h.h5, v6 = h.h6, v7 = h.h7
        var v8 = iv.h0, v9 = iv.h1, v10 = iv.h2, v11 = iv.h3
        var v12 = iv.h4 ^ UInt32(truncatingIfNeeded: counter)
        var v13 = iv.h5 ^ UInt32(truncatingIfNeeded: counter >> 32)
        var v14 = isLastBlock ? ~iv.h6 : iv.h6
        var v15 = iv.h7

        // Round 0: SIGMA[0] = 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15
        g(&v0, &v4, &v8, &v12, m0, m1)
        g(&v1, &v5, &v9, &v13, m2, m3)
        g(&v2, &v6, &v10, &v14, m4, m5)
        g(&v3, &v7, &v11, &v15, m6, m7)
        g(&v0, &v5, &v10, &v15, m8, m9)
        g(&v1, &v6, &v11, &v12, m10, m11)
        g(&v2, &v7, &v8, &v13, m12, m13)
        g(&v3, &v4, &v9, &v14, m14, m15)
        // Round 1: SIGMA[1] = 14 10 4 8 9 15 13 6 1 12 0 2 11 7 5 3
        g(&v0, &v4, &v8, &v12, m14, m10)
        g(&v1, &v5, &v9, &v13, m4, m8)
        g(&v2, &v6, &v10, &v14, m9, m15)
        g(&v3, &v7, &v11, &v15, m13, m6)
        g(&v0, &v5, &v10, &v15, m1, m12)
        g(&v1, &v6, &v11, &v12, m0, m2)
        g(&v2, &v7, &v8, &v13, m11, m7)
        g(&v3, &v4, &v9, &v14, m5, m3)
        // Round 2: SIGMA[2] = 11 8 12 0 5 2 15 13 10 14 3 6 7 1 9 4
        g(&v0, &v4, &v8, &v12, m11, m8)
        g(&v1, &v5, &v9, &v13, m12, m0)
        g(&v2, &v6, &v10, &v14, m5, m2)
        g(&v3, &v7, &v11, &v15, m15, m13)
        g(&v0, &v5, &v10, &v15, m10, m14)
        g(&v1, &v6, &v11, &v12, m3, m6)
        g(&v2, &v7, &v8, &v13, m7, m1)
        g(&v3, &v4, &v9, &v14, m9, m4)
        // Round 3: SIGMA[3] = 7 9 3 1 13 12 11 14 2 6 5 10 4 0 15 8
        g(&v0, &v4, &v8, &v12, m7, m9)
        g(&v1, &v5, &v9, &v13, m3, m1)
        g(&v2, &v6, &v10, &v14, m13, m12)
        g(&v3, &v7, &v11, &v15, m11, m14)
        g(&v0, &v5, &v10, &v15, m2, m6)
        g(&v1, &v6, &v11, &v12, m5, m10)
        g(&v2, &v7, &v8, &v13, m4, m0)
        g(&v3, &v4, &v9, &v14, m15, m8)
        // Round 4: SIGMA[4] = 9 0 5 7 2 4 10 15 14 1 11 12 6 8 3 13
        g(&v0, &v4, &v8, &v12, m9, m0)
        g(&v1, &v5, &v9, &v13, m5, m7)
        g(&v2, &v6, &v10, &v14, m2, m4)
        g(&v3, &v7, &v11, &v15, m10, m15)
        g(&v0, &v5, &v10, &v15, m14, m1)
        g(&v1, &v6, &v11, &v12, m11, m12)
        g(&v2, &v7, &v8, &v13, m6, m8)
        g(&v3, &v4, &v9, &v14, m3, m13)
        // Round 5: SIGMA[5] = 2 12 6 10 0 11 8 3 4 13 7 5 15 14 1 9
        g(&v0, &v4, &v8, &v12, m2, m12)
        g(&v1, &v5, &v9, &v13, m6, m10)
        g(&v2, &v6, &v10, &v14, m0, m11)
        g(&v3, &v7, &v11, &v15, m8, m3)
        g(&v0, &v5, &v10, &v15, m4, m13)
        g(&v1, &v6, &v11, &v12, m7, m5)
        g(&v2, &v7, &v8, &v13, m15, m14)
        g(&v3, &v4, &v9, &v14, m1, m9)
        // Round 6: SIGMA[6] = 12 5 1 15 14 13 4 10 0 7 6 3 9 2 8 11
        g(&v0, &v4, &v8, &v12, m12, m5)
        g(&v1, &v5, &v9, &v13, m1, m15)
        g(&v2, &v6, &v10, &v14, m14, m13)
        g(&v3, &v7, &v11, &v15, m4, m10)
        g(&v0, &v5, &v10, &v15, m0, m7)
        g(&v1, &v6, &v11, &v12, m6, m3)
        g(&v2, &v7, &v8, &v13, m9, m2)
        g(&v3, &v4, &v9, &v14, m8, m11)
        // Round 7: SIGMA[7] = 13 11 7 14 12 1 3 9 5 0 15 4 8 6 2 10
        g(&v0, &v4, &v8, &v12, m13, m11)
        g(&v1, &v5, &v9, &v13, m7, m14)
        g(&v2, &v6, &v10, &v14, m12, m1)
        g(&v3, &v7, &v11, &v15, m3, m9)
        g(&v0, &v5, &v10, &v15, m5, m0)
        g(&v1, &v6, &v11, &v12, m15, m4)
        g(&v2, &v7, &v8, &v13, m8, m6)
        g(&v3, &v4, &v9, &v14, m2, m10)
        // Round 8: SIGMA[8] = 6 15 14 9 11 3 0 8 12 2 13 7 1 4 10 5
        g(&v0, &v4, &v8, &v12, m6, m15)
        g(&v1, &v5, &v9, &v13, m14, m9)
        g(&v2, &v6, &v10, &v14, m11, m3)
        g(&v3, &v7, &v11, &v15, m0, m8)
        g(&v0, &v5, &v10, &v15, m12, m2)
        g(&v1, &v6, &v11, &v12, m13, m7)
        g(&v2, &v7, &v8, &v13, m1, m4)
        g(&v3, &v4, &v9, &v14, m10, m5)
        // Round 9: SIGMA[9] = 10 2 8 4 7 6 1 5 15 11 9 14 3 12 13 0
        g(&v0, &v4, &v8, &v12, m10, m2)
        g(&v1, &v5, &v9, &v13, m8, m4)
        g(&v2, &v6, &v10, &v14, m7, m6)
        g(&v3, &v7, &v11, &v15, m1, m5)
        g(&v0, &v5, &v10, &v15, m15, m11)
        g(&v1, &v6, &v11, &v12, m9, m14)
        g(&v2, &v7, &v8, &v13, m3, m12)
        g(&v3, &v4, &v9, &v14, m13, m0)

        h.h0 ^= v0 ^ v8
        h.h1 ^= v1 ^ v9
        h.h2 ^= v2 ^ v10
        h.h3 ^= v3 ^ v11
        h.h4 ^= v4 ^ v12
        h.h5 ^= v5 ^ v13
        h.h6 ^= v6 ^ v14
        h.h7 ^= v7 ^ v15
    }

    /// The mixing function G (RFC 7693 §3.1) with BLAKE2s's rotations R1..R4 = 16, 12, 8, 7.
    @inline(__always)
    private static func g(_ a: inout UInt32, _ b: inout UInt32, _ c: inout UInt32, _ d: inout UInt32,
                          _ x: UInt32, _ y: UInt32) {
        a = a &+ b &+ x
        d = rotateRight(d ^ a, 16)
        c = c &+ d
        b = rotateRight(b ^ c, 12)
        a = a &+ b &+ y
        d = rotateRight(d ^ a, 8)
        c = c &+ d
        b = rotateRight(b ^ c, 7)
    }

    @inline(__always)
    private static func rotateRight(_ x: UInt32, _ n: UInt32) -> UInt32 {
        x &>> n | x &<< (32 &- n)
    }

    /// The eight-word state h[0..7] (RFC 7693 §3.2).
    private struct ChainValue: Sendable {
        var h0, h1, h2, h3, h4, h5, h6, h7: UInt32

        init(_ h0: UInt32, _ h1: UInt32, _ h2: UInt32, _ h3: UInt32,
             _ h4: UInt32, _ h5: UInt32, _ h6: UInt32, _ h7: UInt32) {
            (self.h0, self.h1, self.h2, self.h3, self.h4, self.h5, self.h6, self.h7) = (h0, h1, h2, h3, h4, h5, h6, h7)
        }
    }
}
