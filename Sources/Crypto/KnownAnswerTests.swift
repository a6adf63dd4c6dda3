/// Power-on known-answer tests: the primitives checked against published vectors on this
/// machine's libsodium and CPU. `weft selftest` prints them; an embedder may run them at start.
public enum KnownAnswerTests {
    public struct Result: Sendable {
        public let name: String
        public let passed: Bool
    }

    public static func run() -> [Result] {
        [
            Result(name: "BLAKE2s-256 \"abc\" (RFC 7693 Appendix B)", passed: blake2s()),
            Result(name: "ChaCha20-Poly1305 AEAD (RFC 8439 §2.8.2)", passed: chaChaPoly()),
            Result(name: "X25519 Diffie-Hellman (RFC 7748 §6.1)", passed: x25519()),
            Result(name: "HMAC-SHA-256 test case 2 (RFC 4231)", passed: hmacSHA256()),
            Result(name: "Noise_IKpsk2 chaining key (WireGuard whitepaper §5.4)", passed: construction()),
        ]
    }

    private static func blake2s() -> Bool {
        let digest = Array("abc".utf8).withUnsafeBytes { BLAKE2s.hash($0) }
        return digest.hex == "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982"
    }

    private static func chaChaPoly() -> Bool {
        let key = bytes("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f")
        let nonce = bytes("070000004041424344454647")
        let additionalData = bytes("50515253c0c1c2c3c4c5c6c7")
        let expected = bytes("""
            d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6\
            3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36\
            92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc\
            3ff4def08e4b7a9de576d26586cec64b6116\
            1ae10b594f09e26a7e902ecbd0600691
            """)
        let plaintext = Array(("Ladies and Gentlemen of the class of '99: If I could offer you only one tip "
            + "for the future, sunscreen would be it.").utf8)
        var sealed = [UInt8](repeating: 0, count: plaintext.count + ChaChaPoly.tagLength)
        var opened = [UInt8](repeating: 0, count: plaintext.count)
        plaintext.withUnsafeBytes { input in
            sealed.withUnsafeMutableBytes { output in
                additionalData.withUnsafeBytes { ad in
                    nonce.withUnsafeBytes { n in
                        key.withUnsafeBytes { k in
                            ChaChaPoly.seal(input, into: output, additionalData: ad, nonce: n, key: k)
                        }
                    }
                }
            }
        }
        let ok = sealed.withUnsafeBytes { input in
            opened.withUnsafeMutableBytes { output in
                additionalData.withUnsafeBytes { ad in
                    nonce.withUnsafeBytes { n in
                        key.withUnsafeBytes { k in
                            ChaChaPoly.open(input, into: output, additionalData: ad, nonce: n, key: k)
                        }
                    }
                }
            }
        }
        return sealed == expected && ok && opened == plaintext
    }

    private static func x25519() -> Bool {
        guard let alice = Bytes32(hex: "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"),
              let bobPublic = Bytes32(hex: "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
        else { return false }
        let shared = try? PrivateKey(rawBytes: alice).sharedSecret(with: PublicKey(raw: bobPublic))
        return shared?.hex == "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"
    }

    private static func hmacSHA256() -> Bool {
        var mac = [UInt8](repeating: 0, count: 32)
        let key = Array("Jefe".utf8), data = Array("what do ya want for nothing?".utf8)
        key.withUnsafeBytes { k in
            data.withUnsafeBytes { d in
                mac.withUnsafeMutableBytes { HMACSHA256.authenticate(key: k, d, into: $0) }
            }
        }
        return mac == bytes("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    private static func construction() -> Bool {
        let chainingKey = Array("Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s".utf8).withUnsafeBytes { BLAKE2s.hash($0) }
        return chainingKey.hex == "60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36"
    }

    private static func bytes(_ hex: String) -> [UInt8] {
        var result: [UInt8] = []
        var high: UInt8?
        for c in hex.utf8 {
            let nibble: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = c - UInt8(ascii: "a") + 10
            default: continue
            }
            if let h = high { result.append(h << 4 | nibble); high = nil } else { high = nibble }
        }
        return result
    }
}
