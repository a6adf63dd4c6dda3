import Testing
@testable import WeftCrypto

/// An X25519 input/output triple.
struct X25519Vector: Sendable, CustomTestStringConvertible {
    let name: String
    let scalar: String
    let u: String
    let output: String
    var testDescription: String { name }
}

@Suite("X25519 (RFC 7748)")
struct Curve25519Tests {
    static let alicePrivate = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"
    static let alicePublic = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
    static let bobPrivate = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"
    static let bobPublic = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"
    static let shared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"

    /// RFC 7748 §5.2. The scalars are not clamped; X25519 clamps them (as `PrivateKey` does).
    static let section52: [X25519Vector] = [
        .init(name: "§5.2 vector 1",
              scalar: "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
              u: "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
              output: "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"),
        .init(name: "§5.2 vector 2",
              scalar: "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
              u: "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
              output: "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957"),
    ]

    /// Low-order points (the zero point, order 2/4 and 8 points, and non-canonical encodings
    /// of them); every one gives an all-zero shared secret, which must be refused.
    static let lowOrderPoints = [
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0100000000000000000000000000000000000000000000000000000000000000",
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
        "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    ]

    @Test("RFC 7748 §5.2 scalar multiplication", arguments: section52)
    func scalarMultiplication(_ vector: X25519Vector) throws {
        let key = PrivateKey(rawBytes: bytes32(vector.scalar))
        let output = try key.sharedSecret(with: PublicKey(raw: bytes32(vector.u)))
        #expect(output.hex == vector.output)
    }

    @Test("RFC 7748 §5.2 iterated: after 1 and 1000 iterations")
    func iterated() throws {
        var k = bytes32("0900000000000000000000000000000000000000000000000000000000000000")
        var u = k
        for iteration in 1...1000 {
            let next = try PrivateKey(rawBytes: k).sharedSecret(with: PublicKey(raw: u))
            u = k
            k = next
            if iteration == 1 {
                #expect(k.hex == "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079")
            }
        }
        #expect(k.hex == "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51")
    }

    @Test("RFC 7748 §6.1 Diffie-Hellman: Alice and Bob")
    func diffieHellman() throws {
        let alice = PrivateKey(rawBytes: bytes32(Self.alicePrivate))
        let bob = PrivateKey(rawBytes: bytes32(Self.bobPrivate))
        #expect(alice.publicKey.raw.hex == Self.alicePublic)
        #expect(bob.publicKey.raw.hex == Self.bobPublic)
        #expect(try alice.sharedSecret(with: bob.publicKey).hex == Self.shared)
        #expect(try bob.sharedSecret(with: alice.publicKey).hex == Self.shared)
    }

    @Test("Low-order peer keys are refused (RFC 7748 §6.1)", arguments: lowOrderPoints)
    func lowOrder(_ point: String) {
        let key = PrivateKey()
        #expect(throws: CryptoError.weakSharedSecret) {
            try key.sharedSecret(with: PublicKey(raw: bytes32(point)))
        }
    }

    @Test("Keys are clamped like wg genkey: low 3 bits and bit 255 cleared, bit 254 set")
    func clamping() {
        let allOnes = PrivateKey(rawBytes: Bytes32([UInt8](repeating: 0xff, count: 32))!)
        allOnes.withUnsafeBytes { scalar in
            #expect(scalar[0] == 0xf8)
            #expect(scalar[31] == 0x7f)
            #expect(scalar[1..<31].allSatisfy { $0 == 0xff })
        }
        let allZeros = PrivateKey(rawBytes: .zero)
        allZeros.withUnsafeBytes { scalar in
            #expect(scalar[31] == 0x40)
        }
        for _ in 0..<32 {
            PrivateKey().withUnsafeBytes { scalar in
                #expect(scalar[0] & 7 == 0)
                #expect(scalar[31] & 0xc0 == 0x40)
            }
        }
    }

    @Test("Random key pairs agree on the shared secret")
    func randomAgreement() throws {
        for _ in 0..<16 {
            let a = PrivateKey(), b = PrivateKey()
            #expect(a.publicKey != b.publicKey)
            #expect(try a.sharedSecret(with: b.publicKey) == b.sharedSecret(with: a.publicKey))
        }
    }

    @Test("Base64 forms round-trip and match wg's output for the RFC keys")
    func base64Forms() throws {
        let alice = PrivateKey(rawBytes: bytes32(Self.alicePrivate))
        // `echo dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo= | wg pubkey` prints this.
        #expect(alice.publicKey.base64 == "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=")
        let parsed = try PrivateKey(base64: "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=")
        #expect(parsed.publicKey == alice.publicKey)
        // The RFC's scalar is not clamped; the key keeps (and prints) its clamped form.
        #expect(parsed.base64 == alice.base64)
        #expect(parsed.base64 != "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=")
        #expect(try PrivateKey(base64: parsed.base64).base64 == parsed.base64)
        #expect(try PublicKey(base64: alice.publicKey.base64) == alice.publicKey)
        #expect(alice.publicKey.description == alice.publicKey.base64)
    }

    @Test("Pre-shared keys: zero, random, base64")
    func presharedKey() throws {
        #expect(PresharedKey.zero.isZero)
        #expect(PresharedKey.zero.base64 == "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
        let random = PresharedKey()
        #expect(!random.isZero)
        let parsed = try PresharedKey(base64: random.base64)
        let same = parsed.withUnsafeBytes { a in random.withUnsafeBytes { b in ConstantTime.equal(a, b) } }
        #expect(same)
        let fromRaw = PresharedKey(rawBytes: bytes32(Self.shared))
        fromRaw.withUnsafeBytes { #expect(hex($0) == Self.shared) }
        #expect(throws: CryptoError.invalidBase64) { try PresharedKey(base64: "not a key") }
    }
}
