import Testing
@testable import WeftCrypto

@Suite("ChaCha20-Poly1305 (RFC 8439)")
struct ChaChaPolyTests {
    // RFC 8439 §2.8.2.
    static let key = bytes("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f")
    static let nonce = bytes("070000004041424344454647")
    static let additionalData = bytes("50515253c0c1c2c3c4c5c6c7")
    static let ciphertext = bytes("""
        d31a8d34648e60db7b86afbc53ef7ec2 a4aded51296e08fea9e2b5a736ee62d6
        3dbea45e8ca9671282fafb69da92728b 1a71de0a9e060b2905d6a5b67ecd3b36
        92ddbd7f2d778b8c9803aee328091b58 fab324e4fad675945585808b4831d7bc
        3ff4def08e4b7a9de576d26586cec64b 6116
        """)
    static let tag = bytes("1ae10b594f09e26a7e902ecbd0600691")

    @Test("RFC 8439 §2.8.2: seal in place gives the published ciphertext and tag")
    func sealVector() {
        var message = sunscreen
        var tag = [UInt8](repeating: 0, count: 16)
        message.withUnsafeMutableBytes { m in
            tag.withUnsafeMutableBytes { t in
                Self.additionalData.withUnsafeBytes { ad in
                    Self.nonce.withUnsafeBytes { n in
                        Self.key.withUnsafeBytes { k in
                            ChaChaPoly.sealInPlace(m, tag: t, additionalData: ad, nonce: n, key: k)
                        }
                    }
                }
            }
        }
        #expect(message == Self.ciphertext)
        #expect(tag == Self.tag)
    }

    @Test("RFC 8439 §2.8.2: open in place recovers the plaintext")
    func openVector() {
        var message = Self.ciphertext
        let opened = open(&message, tag: Self.tag, additionalData: Self.additionalData)
        #expect(opened)
        #expect(message == sunscreen)
    }

    @Test("Tampering with ciphertext, tag or additional data fails and leaves the message untouched",
          arguments: ["ciphertext", "tag", "additional data", "nonce"])
    func tamper(_ part: String) {
        var message = Self.ciphertext
        var tag = Self.tag
        var additionalData = Self.additionalData
        var nonce = Self.nonce
        switch part {
        case "ciphertext": message[57] ^= 0x01
        case "tag": tag[15] ^= 0x80
        case "additional data": additionalData[0] ^= 0x01
        default: nonce[11] ^= 0x01
        }
        let before = message
        let opened = open(&message, tag: tag, additionalData: additionalData, nonce: nonce)
        #expect(!opened)
        #expect(message == before)
    }

    @Test("Combined seal/open (ciphertext || tag), in place and into a separate buffer")
    func combined() {
        var output = [UInt8](repeating: 0, count: sunscreen.count + 16)
        Self.with { ad, n, k in
            sunscreen.withUnsafeBytes { input in
                output.withUnsafeMutableBytes { ChaChaPoly.seal(input, into: $0, additionalData: ad, nonce: n, key: k) }
            }
        }
        #expect(output == Self.ciphertext + Self.tag)

        // Open into a separate buffer, then in place (output aliasing input).
        var plaintext = [UInt8](repeating: 0, count: sunscreen.count)
        var sealed = output
        let separate = Self.with { ad, n, k in
            sealed.withUnsafeBytes { input in
                plaintext.withUnsafeMutableBytes { ChaChaPoly.open(input, into: $0, additionalData: ad, nonce: n, key: k) }
            }
        }
        let inPlace = Self.with { ad, n, k in
            sealed.withUnsafeMutableBytes { buffer in
                ChaChaPoly.open(UnsafeRawBufferPointer(buffer), into: buffer, additionalData: ad, nonce: n, key: k)
            }
        }
        #expect(separate && inPlace)
        #expect(plaintext == sunscreen)
        #expect(Array(sealed[..<sunscreen.count]) == sunscreen)

        // In-place seal: the plaintext already sits at the start of the output buffer.
        var buffer = sunscreen + [UInt8](repeating: 0, count: 16)
        Self.with { ad, n, k in
            buffer.withUnsafeMutableBytes { b in
                let input = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(b)[..<sunscreen.count])
                ChaChaPoly.seal(input, into: b, additionalData: ad, nonce: n, key: k)
            }
        }
        #expect(buffer == Self.ciphertext + Self.tag)
    }

    @Test("Combined open rejects inputs shorter than a tag without touching the output")
    func shortInput() {
        for length in 0..<16 {
            let input = [UInt8](repeating: 0xab, count: length)
            var output = [UInt8](repeating: 0x5a, count: 16)
            let opened = input.withUnsafeBytes { i in
                output.withUnsafeMutableBytes { o in
                    Self.key.withUnsafeBytes { ChaChaPoly.open(i, into: o, additionalData: .init(start: nil, count: 0), counter: 0, key: $0) }
                }
            }
            #expect(!opened)
            #expect(output.allSatisfy { $0 == 0x5a })
        }
    }

    @Test("Counter nonce is 4 zero bytes || little-endian 64-bit counter (whitepaper §5.4.6)",
          arguments: [UInt64(0), 1, 0xff, 0x1_0000_0000, 0x0123_4567_89ab_cdef, UInt64.max - 1])
    func counterNonce(_ counter: UInt64) {
        var explicitNonce = [UInt8](repeating: 0, count: 4)
        explicitNonce += withUnsafeBytes(of: counter.littleEndian) { Array($0) }
        var viaCounter = sunscreen, viaNonce = sunscreen
        var tagCounter = [UInt8](repeating: 0, count: 16), tagNonce = tagCounter
        Self.key.withUnsafeBytes { k in
            Self.additionalData.withUnsafeBytes { ad in
                viaCounter.withUnsafeMutableBytes { m in
                    tagCounter.withUnsafeMutableBytes { ChaChaPoly.sealInPlace(m, tag: $0, additionalData: ad, counter: counter, key: k) }
                }
                viaNonce.withUnsafeMutableBytes { m in
                    tagNonce.withUnsafeMutableBytes { t in
                        explicitNonce.withUnsafeBytes { ChaChaPoly.sealInPlace(m, tag: t, additionalData: ad, nonce: $0, key: k) }
                    }
                }
                #expect(viaCounter == viaNonce)
                #expect(tagCounter == tagNonce)
                let opened = viaCounter.withUnsafeMutableBytes { m in
                    tagCounter.withUnsafeBytes { ChaChaPoly.openInPlace(m, tag: $0, additionalData: ad, counter: counter, key: k) }
                }
                #expect(opened)
                #expect(viaCounter == sunscreen)
                // The neighbouring counter must not open it.
                var sealed = viaNonce
                let wrongCounter = sealed.withUnsafeMutableBytes { m in
                    tagNonce.withUnsafeBytes { ChaChaPoly.openInPlace(m, tag: $0, additionalData: ad, counter: counter &+ 1, key: k) }
                }
                #expect(!wrongCounter)
            }
        }
    }

    @Test("Empty message and empty additional data (a WireGuard keepalive) round-trip")
    func keepalive() {
        let empty = UnsafeMutableRawBufferPointer(start: nil, count: 0)
        var tag = [UInt8](repeating: 0, count: 16)
        Self.key.withUnsafeBytes { k in
            tag.withUnsafeMutableBytes {
                ChaChaPoly.sealInPlace(empty, tag: $0, additionalData: UnsafeRawBufferPointer(empty), counter: 42, key: k)
            }
        }
        #expect(tag != [UInt8](repeating: 0, count: 16))
        let opened = Self.key.withUnsafeBytes { k in
            tag.withUnsafeBytes { ChaChaPoly.openInPlace(empty, tag: $0, additionalData: UnsafeRawBufferPointer(empty), counter: 42, key: k) }
        }
        #expect(opened)
        // The combined form: a packet that is just the tag.
        var packet = [UInt8](repeating: 0, count: 16)
        Self.key.withUnsafeBytes { k in
            packet.withUnsafeMutableBytes {
                ChaChaPoly.seal(UnsafeRawBufferPointer(empty), into: $0, additionalData: UnsafeRawBufferPointer(empty), counter: 42, key: k)
            }
        }
        #expect(packet == tag)
        let openedCombined = Self.key.withUnsafeBytes { k in
            packet.withUnsafeBytes { ChaChaPoly.open($0, into: empty, additionalData: UnsafeRawBufferPointer(empty), counter: 42, key: k) }
        }
        #expect(openedCombined)
    }

    @Test("Random messages round-trip for every length up to two ChaCha20 blocks and beyond")
    func randomRoundTrip() {
        var generator = SplitMix64(seed: 8439)
        let key = generator.bytes(32)
        for length in Array(0...140) + [1420, 1500, 9000] {
            let plaintext = generator.bytes(length)
            let additionalData = generator.bytes(Int.random(in: 0...40, using: &generator))
            let counter = UInt64.random(in: 0...UInt64.max, using: &generator)
            var packet = [UInt8](repeating: 0, count: length + 16)
            key.withUnsafeBytes { k in
                additionalData.withUnsafeBytes { ad in
                    plaintext.withUnsafeBytes { p in
                        packet.withUnsafeMutableBytes { ChaChaPoly.seal(p, into: $0, additionalData: ad, counter: counter, key: k) }
                    }
                }
            }
            var recovered = [UInt8](repeating: 0, count: length)
            let opened = key.withUnsafeBytes { k in
                additionalData.withUnsafeBytes { ad in
                    packet.withUnsafeBytes { p in
                        recovered.withUnsafeMutableBytes { ChaChaPoly.open(p, into: $0, additionalData: ad, counter: counter, key: k) }
                    }
                }
            }
            #expect(opened && recovered == plaintext, "length \(length)")
        }
    }

    private func open(_ message: inout [UInt8], tag: [UInt8], additionalData: [UInt8],
                      nonce: [UInt8] = ChaChaPolyTests.nonce) -> Bool {
        message.withUnsafeMutableBytes { m in
            tag.withUnsafeBytes { t in
                additionalData.withUnsafeBytes { ad in
                    nonce.withUnsafeBytes { n in
                        Self.key.withUnsafeBytes { ChaChaPoly.openInPlace(m, tag: t, additionalData: ad, nonce: n, key: $0) }
                    }
                }
            }
        }
    }

    private static func with<R>(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> R) -> R {
        additionalData.withUnsafeBytes { ad in nonce.withUnsafeBytes { n in key.withUnsafeBytes { body(ad, n, $0) } } }
    }
}
