import Testing
@testable import WeftCrypto

@Suite("WireGuard KDF (whitepaper §5.4)")
struct KDFTests {
    /// KDF3(Ck0, Alice's RFC 7748 public key), where Ck0 is WireGuard's initial chaining key:
    /// the first step of a handshake. Expected values from the whitepaper formulas evaluated with
    /// CPython's `hmac` and `hashlib.blake2s`.
    static let chainingKey = bytes32("60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36")
    static let input = bytes(Curve25519Tests.alicePublic)
    static let expected = (
        "354bb2ffe6e5ab22a00e1131aa1cc55ccaa5a90624d163853dc2da76da62ac92",
        "c3185508ce23547de1a5fb6f2c86704bf829565895423f1ad862c1c18df23ff4",
        "327b0f0bc544fe600a5fdfb0e14f1c7500cc4979528f55bff484c5bd6d6f2346")

    @Test("KDF3 known answer")
    func knownAnswer() {
        let (t1, t2, t3) = Self.input.withUnsafeBytes { KDF.kdf3(key: Self.chainingKey, input: $0) }
        #expect(t1.hex == Self.expected.0)
        #expect(t2.hex == Self.expected.1)
        #expect(t3.hex == Self.expected.2)
    }

    @Test("KDF1 = first of KDF2 = first of KDF3; KDF2 = first two of KDF3")
    func prefixes() {
        var generator = SplitMix64(seed: 54)
        for length in [0, 1, 32, 64, 65, 200] {
            let key = Bytes32(generator.bytes(32))!
            let input = generator.bytes(length)
            input.withUnsafeBytes { input in
                let one = KDF.kdf1(key: key, input: input)
                let two = KDF.kdf2(key: key, input: input)
                let three = KDF.kdf3(key: key, input: input)
                #expect(one == two.0 && one == three.0)
                #expect(two.1 == three.1)
                #expect(three.0 != three.1 && three.1 != three.2)
            }
        }
    }

    @Test("KDF outputs equal the whitepaper's HMAC chain")
    func hmacChain() {
        let key = Self.chainingKey
        let (t1, t2, t3) = Self.input.withUnsafeBytes { KDF.kdf3(key: key, input: $0) }
        let t0 = key.withUnsafeBytes { k in Self.input.withUnsafeBytes { HMACBLAKE2s.authenticate(key: k, $0) } }
        func hmac(_ data: [UInt8]) -> Bytes32 {
            t0.withUnsafeBytes { k in data.withUnsafeBytes { HMACBLAKE2s.authenticate(key: k, $0) } }
        }
        #expect(t1 == hmac([0x01]))
        #expect(t2 == hmac(t1.array + [0x02]))
        #expect(t3 == hmac(t2.array + [0x03]))
    }
}
