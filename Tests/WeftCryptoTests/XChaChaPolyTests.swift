import Testing
@testable import WeftCrypto

@Suite("XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha)")
struct XChaChaPolyTests {
    // draft-irtf-cfrg-xchacha-03 Appendix A.3.1.
    static let key = bytes("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f")
    static let nonce = bytes("404142434445464748494a4b4c4d4e4f5051525354555657")
    static let additionalData = bytes("50515253c0c1c2c3c4c5c6c7")
    static let ciphertext = bytes("""
        bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb
        731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452
        2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9
        21f9664c97637da9768812f615c68b13b52e
        """)
    static let tag = bytes("c0875924c1c7987947deafd8780acf49")

    @Test("A.3.1: seal gives the published ciphertext || tag, open recovers the plaintext")
    func vector() {
        var sealed = [UInt8](repeating: 0, count: sunscreen.count + 16)
        Self.with { ad, n, k in
            sunscreen.withUnsafeBytes { p in
                sealed.withUnsafeMutableBytes { XChaChaPoly.seal(p, into: $0, additionalData: ad, nonce: n, key: k) }
            }
        }
        #expect(sealed == Self.ciphertext + Self.tag)

        var opened = [UInt8](repeating: 0, count: sunscreen.count)
        let ok = Self.with { ad, n, k in
            sealed.withUnsafeBytes { s in
                opened.withUnsafeMutableBytes { XChaChaPoly.open(s, into: $0, additionalData: ad, nonce: n, key: k) }
            }
        }
        #expect(ok)
        #expect(opened == sunscreen)
    }

    @Test("Detached in-place variants agree with the combined form")
    func detached() {
        var message = sunscreen
        var tag = [UInt8](repeating: 0, count: 16)
        Self.with { ad, n, k in
            message.withUnsafeMutableBytes { m in
                tag.withUnsafeMutableBytes { XChaChaPoly.sealInPlace(m, tag: $0, additionalData: ad, nonce: n, key: k) }
            }
        }
        #expect(message == Self.ciphertext)
        #expect(tag == Self.tag)
        let opened = Self.with { ad, n, k in
            message.withUnsafeMutableBytes { m in
                tag.withUnsafeBytes { XChaChaPoly.openInPlace(m, tag: $0, additionalData: ad, nonce: n, key: k) }
            }
        }
        #expect(opened)
        #expect(message == sunscreen)
    }

    @Test("Tampering fails and leaves the buffers untouched")
    func tamper() {
        var message = Self.ciphertext
        message[3] ^= 0x40
        let before = message
        let opened = Self.with { ad, n, k in
            message.withUnsafeMutableBytes { m in
                Self.tag.withUnsafeBytes { XChaChaPoly.openInPlace(m, tag: $0, additionalData: ad, nonce: n, key: k) }
            }
        }
        #expect(!opened)
        #expect(message == before)

        var sealed = Self.ciphertext + Self.tag
        sealed[sealed.count - 1] ^= 0x01
        var output = [UInt8](repeating: 0x77, count: sunscreen.count)
        let combined = Self.with { ad, n, k in
            sealed.withUnsafeBytes { s in
                output.withUnsafeMutableBytes { XChaChaPoly.open(s, into: $0, additionalData: ad, nonce: n, key: k) }
            }
        }
        #expect(!combined)
        #expect(output.allSatisfy { $0 == 0x77 })
    }

    @Test("A WireGuard cookie reply: 16-byte cookie sealed with a 24-byte nonce round-trips")
    func cookieSized() {
        var generator = SplitMix64(seed: 547)
        let key = generator.bytes(32), nonce = generator.bytes(24), cookie = generator.bytes(16), mac1 = generator.bytes(16)
        var sealed = [UInt8](repeating: 0, count: 32)
        key.withUnsafeBytes { k in
            nonce.withUnsafeBytes { n in
                mac1.withUnsafeBytes { ad in
                    cookie.withUnsafeBytes { c in
                        sealed.withUnsafeMutableBytes { XChaChaPoly.seal(c, into: $0, additionalData: ad, nonce: n, key: k) }
                    }
                }
            }
        }
        var recovered = [UInt8](repeating: 0, count: 16)
        let ok = key.withUnsafeBytes { k in
            nonce.withUnsafeBytes { n in
                mac1.withUnsafeBytes { ad in
                    sealed.withUnsafeBytes { s in
                        recovered.withUnsafeMutableBytes { XChaChaPoly.open(s, into: $0, additionalData: ad, nonce: n, key: k) }
                    }
                }
            }
        }
        #expect(ok && recovered == cookie)
    }

    private static func with<R>(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> R) -> R {
        additionalData.withUnsafeBytes { ad in nonce.withUnsafeBytes { n in key.withUnsafeBytes { body(ad, n, $0) } } }
    }
}
