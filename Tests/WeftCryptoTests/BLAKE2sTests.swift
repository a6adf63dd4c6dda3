import Testing
@testable import WeftCrypto

/// A BLAKE2s known answer: input 00 01 .. (length-1), optional key 00 01 .. 1f.
struct BLAKE2sKnownAnswer: Sendable, CustomTestStringConvertible {
    let length: Int
    let digest: String
    var testDescription: String { "\(length) bytes" }
}

@Suite("BLAKE2s (RFC 7693)")
struct BLAKE2sTests {
    /// BLAKE2/BLAKE2 testvectors/blake2s-kat.txt (keyed, key = 00..1f).
    static let keyedKAT: [BLAKE2sKnownAnswer] = [
        .init(length: 0, digest: "48a8997da407876b3d79c0d92325ad3b89cbb754d86ab71aee047ad345fd2c49"),
        .init(length: 1, digest: "40d15fee7c328830166ac3f918650f807e7e01e177258cdc0a39b11f598066f1"),
        .init(length: 2, digest: "6bb71300644cd3991b26ccd4d274acd1adeab8b1d7914546c1198bbe9fc9d803"),
        .init(length: 3, digest: "1d220dbe2ee134661fdf6d9e74b41704710556f2f6e5a091b227697445dbea6b"),
        .init(length: 31, digest: "b6156f72d380ee9ea6acd190464f2307a5c179ef01fd71f99f2d0f7a57360aea"),
        .init(length: 32, digest: "c03bc642b20959cbe133a0303e0c1abff3e31ec8e1a328ec8565c36decff5265"),
        .init(length: 33, digest: "2c3e08176f760c6264c3a2cd66fec6c3d78de43fc192457b2a4a660a1e0eb22b"),
        .init(length: 63, digest: "c65382513f07460da39833cb666c5ed82e61b9e998f4b0c4287cee56c3cc9bcd"),
        .init(length: 64, digest: "8975b0577fd35566d750b362b0897a26c399136df07bababbde6203ff2954ed4"),
        .init(length: 65, digest: "21fe0ceb0052be7fb0f004187cacd7de67fa6eb0938d927677f2398c132317a8"),
        .init(length: 127, digest: "ddbfea75cc467882eb3483ce5e2e756a4f4701b76b445519e89f22d60fa86e06"),
        .init(length: 128, digest: "0c311f38c35a4fb90d651c289d486856cd1413df9b0677f53ece2cd9e477c60a"),
        .init(length: 129, digest: "46a73a8dd3e70f59d3942c01df599def783c9da82fd83222cd662b53dce7dbdf"),
        .init(length: 255, digest: "3fb735061abc519dfe979e54c1ee5bfad0a9d858b3315bad34bde999efd724dd"),
    ]

    /// BLAKE2/BLAKE2 testvectors/blake2-kat.json, "blake2s" entries with an empty key.
    static let unkeyedKAT: [BLAKE2sKnownAnswer] = [
        .init(length: 0, digest: "69217a3079908094e11121d042354a7c1f55b6482ca1a51e1b250dfd1ed0eef9"),
        .init(length: 1, digest: "e34d74dbaf4ff4c6abd871cc220451d2ea2648846c7757fbaac82fe51ad64bea"),
        .init(length: 2, digest: "ddad9ab15dac4549ba42f49d262496bef6c0bae1dd342a8808f8ea267c6e210c"),
        .init(length: 3, digest: "e8f91c6ef232a041452ab0e149070cdd7dd1769e75b3a5921be37876c45c9900"),
        .init(length: 63, digest: "e57cb79487dd57902432b250733813bd96a84efce59f650fac26e6696aefafc3"),
        .init(length: 64, digest: "56f34e8b96557e90c1f24b52d0c89d51086acf1b00f634cf1dde9233b8eaaa3e"),
        .init(length: 65, digest: "1b53ee94aaf34e4b159d48de352c7f0661d0a40edff95a0b1639b4090e974472"),
        .init(length: 255, digest: "f03f5789d3336b80d002d59fdf918bdb775b00956ed5528e86aa994acb38fe2d"),
    ]

    @Test("RFC 7693 Appendix B: BLAKE2s-256(\"abc\")")
    func appendixB() {
        let digest = Array("abc".utf8).withUnsafeBytes { BLAKE2s.hash($0) }
        #expect(digest.hex == "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982")
    }

    @Test("Keyed reference KAT", arguments: keyedKAT)
    func keyedKnownAnswer(_ vector: BLAKE2sKnownAnswer) {
        let key = sequentialBytes(32)
        let input = sequentialBytes(vector.length)
        var state = key.withUnsafeBytes { BLAKE2s(key: $0) }
        input.withUnsafeBytes { state.update($0) }
        var digest = [UInt8](repeating: 0, count: 32)
        digest.withUnsafeMutableBytes { state.finalize(into: $0) }
        #expect(hex(digest) == vector.digest)
    }

    @Test("Unkeyed reference KAT", arguments: unkeyedKAT)
    func unkeyedKnownAnswer(_ vector: BLAKE2sKnownAnswer) {
        let digest = sequentialBytes(vector.length).withUnsafeBytes { BLAKE2s.hash($0) }
        #expect(digest.hex == vector.digest)
    }

    @Test("HASH(a || b) equals hashing the concatenation, for every split point")
    func twoPartHash() {
        let input = sequentialBytes(200)
        let whole = input.withUnsafeBytes { BLAKE2s.hash($0) }
        for split in 0...input.count {
            let parts = (Array(input[..<split]), Array(input[split...]))
            let digest = parts.0.withUnsafeBytes { a in parts.1.withUnsafeBytes { b in BLAKE2s.hash(a, b) } }
            #expect(digest == whole, "split at \(split)")
        }
    }

    @Test("Incremental updates in random chunk sizes equal the one-shot digest", arguments: [false, true])
    func randomChunking(keyed: Bool) {
        var generator = SplitMix64(seed: keyed ? 7693 : 2015)
        let key = generator.bytes(Int.random(in: 1...32, using: &generator))
        for round in 0..<60 {
            let message = generator.bytes(Int.random(in: 0...700, using: &generator))
            let outputLength = Int.random(in: 1...32, using: &generator)
            func fresh() -> BLAKE2s {
                keyed ? key.withUnsafeBytes { BLAKE2s(outputLength: outputLength, key: $0) }
                      : BLAKE2s(outputLength: outputLength)
            }
            var oneShot = fresh()
            message.withUnsafeBytes { oneShot.update($0) }
            var expected = [UInt8](repeating: 0, count: outputLength)
            expected.withUnsafeMutableBytes { oneShot.finalize(into: $0) }

            var chunked = fresh()
            var offset = 0
            while offset < message.count {  // bounded: each step consumes at least one byte
                let size = Int.random(in: 1...130, using: &generator)
                let end = min(offset + size, message.count)
                message[offset..<end].withUnsafeBytes { chunked.update($0) }
                [UInt8]().withUnsafeBytes { chunked.update($0) }  // empty updates change nothing
                offset = end
            }
            var actual = [UInt8](repeating: 0, count: outputLength)
            actual.withUnsafeMutableBytes { chunked.finalize(into: $0) }
            #expect(actual == expected, "round \(round), \(message.count) bytes")
        }
    }

    @Test("16-byte keyed MAC (WireGuard MAC), checked against CPython hashlib.blake2s")
    func mac16() {
        // hashlib.blake2s(b"abc", digest_size=16, key=bytes(range(32))).hexdigest()
        let key = sequentialBytes(32)
        var tag = [UInt8](repeating: 0xee, count: 20)
        key.withUnsafeBytes { k in
            Array("abc".utf8).withUnsafeBytes { d in tag.withUnsafeMutableBytes { BLAKE2s.mac16(key: k, d, into: $0) } }
        }
        #expect(hex(tag[..<16]) == "61ba5f165c194692e09d12520cc4c74a")
        #expect(tag[16...].allSatisfy { $0 == 0xee }, "writes exactly 16 bytes")
    }

    @Test("WireGuard's initial chaining key and hash (boringtun INITIAL_CHAIN_KEY / INITIAL_CHAIN_HASH)")
    func wireGuardConstruction() {
        let construction = Array("Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s".utf8)
        let identifier = Array("WireGuard v1 zx2c4 Jason@zx2c4.com".utf8)
        let chainingKey = construction.withUnsafeBytes { BLAKE2s.hash($0) }
        #expect(chainingKey.hex == "60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36")
        let hash = chainingKey.withUnsafeBytes { c in identifier.withUnsafeBytes { BLAKE2s.hash(c, $0) } }
        #expect(hash.hex == "2211b361081ac566691243db458ad5322d9c6c662293e8b70ee19c65ba079ef3")
    }

    @Test("mac1 key HASH(LABEL_MAC1 || public key), checked against CPython hashlib.blake2s")
    func mac1Key() {
        let label = Array("mac1----".utf8)
        let publicKey = bytes("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
        let key = label.withUnsafeBytes { l in publicKey.withUnsafeBytes { BLAKE2s.hash(l, $0) } }
        #expect(key.hex == "0ec72453412f9befa2f799ea837d0b88429321711dd01f9025163123bd1905be")
    }
}
