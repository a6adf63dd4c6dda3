import Testing
@testable import WeftCrypto

/// An HMAC test case: key, data, expected 32-byte output.
struct HMACVector: Sendable, CustomTestStringConvertible {
    let name: String
    let key: [UInt8]
    let data: [UInt8]
    let mac: String
    var testDescription: String { name }
}

@Suite("HMAC (RFC 2104)")
struct HMACTests {
    /// RFC 4231 §4.2, §4.3 and §4.7 (key longer than the block).
    static let sha256: [HMACVector] = [
        .init(name: "RFC 4231 test case 1", key: [UInt8](repeating: 0x0b, count: 20), data: Array("Hi There".utf8),
              mac: "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
        .init(name: "RFC 4231 test case 2", key: Array("Jefe".utf8), data: Array("what do ya want for nothing?".utf8),
              mac: "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        .init(name: "RFC 4231 test case 6", key: [UInt8](repeating: 0xaa, count: 131),
              data: Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8),
              mac: "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
    ]

    /// The same inputs through HMAC-BLAKE2s; expected values from CPython's
    /// `hmac.new(key, data, hashlib.blake2s)` (which wraps the reference BLAKE2 code).
    static let blake2s: [HMACVector] = [
        .init(name: "RFC 4231 case 1 inputs", key: sha256[0].key, data: sha256[0].data,
              mac: "65a8b7c5cc9136d424e82c37e2707e74e913c0655b99c75f40edf387453a3260"),
        .init(name: "RFC 4231 case 2 inputs", key: sha256[1].key, data: sha256[1].data,
              mac: "90b6281e2f3038c9056af0b4a7e763cae6fe5d9eb4386a0ec95237890c104ff0"),
        .init(name: "RFC 4231 case 6 inputs (131-byte key)", key: sha256[2].key, data: sha256[2].data,
              mac: "d23d79394f53d536a096e6514447eeaabb05ded01be32c1937da6a8f7103bc4e"),
    ]

    @Test("HMAC-SHA-256 (RFC 4231)", arguments: sha256)
    func hmacSHA256(_ vector: HMACVector) {
        var mac = [UInt8](repeating: 0xee, count: 40)
        vector.key.withUnsafeBytes { k in
            vector.data.withUnsafeBytes { d in mac.withUnsafeMutableBytes { HMACSHA256.authenticate(key: k, d, into: $0) } }
        }
        #expect(hex(mac[..<32]) == vector.mac)
        #expect(mac[32...].allSatisfy { $0 == 0xee }, "writes exactly 32 bytes")
    }

    @Test("HMAC-BLAKE2s known answers", arguments: blake2s)
    func hmacBLAKE2s(_ vector: HMACVector) {
        let mac = vector.key.withUnsafeBytes { k in vector.data.withUnsafeBytes { HMACBLAKE2s.authenticate(key: k, $0) } }
        #expect(mac.hex == vector.mac)
    }

    @Test("HMAC-BLAKE2s equals H((K0 ^ opad) || H((K0 ^ ipad) || m)) built from BLAKE2s by hand",
          arguments: [0, 1, 16, 32, 63, 64, 65, 100, 200])
    func manualComposition(keyLength: Int) {
        var generator = SplitMix64(seed: UInt64(2104 + keyLength))
        let key = generator.bytes(keyLength)
        for dataLength in [0, 1, 33, 64, 65, 150] {
            let data = generator.bytes(dataLength)
            var k0 = keyLength > 64 ? key.withUnsafeBytes { BLAKE2s.hash($0) }.array : key
            k0 += [UInt8](repeating: 0, count: 64 - k0.count)
            let innerInput = k0.map { $0 ^ 0x36 } + data
            let inner = innerInput.withUnsafeBytes { BLAKE2s.hash($0) }.array
            let outerInput = k0.map { $0 ^ 0x5c } + inner
            let expected = outerInput.withUnsafeBytes { BLAKE2s.hash($0) }
            let mac = key.withUnsafeBytes { k in data.withUnsafeBytes { HMACBLAKE2s.authenticate(key: k, $0) } }
            #expect(mac == expected, "key \(keyLength), data \(dataLength)")
            // The internal two-part form used by the KDF agrees with the one-part form.
            let split = dataLength / 2
            let (a, b) = (Array(data[..<split]), Array(data[split...]))
            let twoPart = key.withUnsafeBytes { k in
                a.withUnsafeBytes { a in b.withUnsafeBytes { HMACBLAKE2s.authenticate(key: k, a, $0) } }
            }
            #expect(twoPart == expected)
        }
    }
}
