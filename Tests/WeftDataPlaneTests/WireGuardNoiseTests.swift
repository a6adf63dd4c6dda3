import Testing
import WeftCrypto
import WeftRouting
@testable import WeftDataPlane

/// The handshake checked against an independent, line-by-line transcription of whitepaper §5.4:
/// the test plays the responder with the formulas below (on the crypto primitives only) against
/// a real initiating `Device`, so the message layout, every Noise step, the MACs and the transport
/// keys must agree byte for byte.
@Suite struct WireGuardNoiseTests {
    /// §5.4's primitives over byte arrays, as the whitepaper writes them.
    enum Paper {
        static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

        /// HASH(input): BLAKE2s-256.
        static func hash(_ input: [UInt8]) -> [UInt8] {
            input.withUnsafeBytes { BLAKE2s.hash($0).array }
        }

        /// MAC(key, input): keyed BLAKE2s, 16 bytes.
        static func mac(_ key: [UInt8], _ input: [UInt8]) -> [UInt8] {
            var out = [UInt8](repeating: 0, count: 16)
            key.withUnsafeBytes { k in input.withUnsafeBytes { i in out.withUnsafeMutableBytes { BLAKE2s.mac16(key: k, i, into: $0) } } }
            return out
        }

        /// HMAC(key, input): HMAC-BLAKE2s.
        static func hmac(_ key: [UInt8], _ input: [UInt8]) -> [UInt8] {
            key.withUnsafeBytes { k in input.withUnsafeBytes { HMACBLAKE2s.authenticate(key: k, $0).array } }
        }

        /// KDF_n(key, input): τ0 = HMAC(key, input), τ1 = HMAC(τ0, 0x1), τi = HMAC(τ0, τi−1 || i).
        static func kdf(_ n: Int, _ key: [UInt8], _ input: [UInt8]) -> [[UInt8]] {
            let tau0 = hmac(key, input)
            var outputs: [[UInt8]] = []
            var previous: [UInt8] = []
            for i in 1 ... n {
                previous = hmac(tau0, previous + [UInt8(i)])
                outputs.append(previous)
            }
            return outputs
        }

        /// AEAD(key, counter, plaintext, authtext): ChaCha20-Poly1305, nonce 32 zero bits || LE64 counter.
        static func aead(_ key: [UInt8], _ counter: UInt64, _ plaintext: [UInt8], _ authtext: [UInt8]) -> [UInt8] {
            var out = [UInt8](repeating: 0, count: plaintext.count + 16)
            key.withUnsafeBytes { k in plaintext.withUnsafeBytes { p in authtext.withUnsafeBytes { a in
                out.withUnsafeMutableBytes { ChaChaPoly.seal(p, into: $0, additionalData: a, counter: counter, key: k) }
            } } }
            return out
        }

        static func aeadOpen(_ key: [UInt8], _ counter: UInt64, _ ciphertext: [UInt8], _ authtext: [UInt8]) -> [UInt8]? {
            var out = [UInt8](repeating: 0, count: ciphertext.count - 16)
            let ok = key.withUnsafeBytes { k in ciphertext.withUnsafeBytes { c in authtext.withUnsafeBytes { a in
                out.withUnsafeMutableBytes { ChaChaPoly.open(c, into: $0, additionalData: a, counter: counter, key: k) }
            } } }
            return ok ? out : nil
        }

        static func dh(_ privateKey: PrivateKey, _ publicKey: [UInt8]) throws -> [UInt8] {
            try privateKey.sharedSecret(with: PublicKey(raw: Bytes32(publicKey)!)).array
        }

        static func le32(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value.littleEndian, Array.init) }
        static func le64(_ value: UInt64) -> [UInt8] { withUnsafeBytes(of: value.littleEndian, Array.init) }
    }

    static func key(_ fill: UInt8) -> PrivateKey {
        PrivateKey(rawBytes: Bytes32([UInt8](repeating: fill, count: 32))!)
    }

    /// Published values: HASH(CONSTRUCTION) and HASH(C || IDENTIFIER), as other implementations
    /// hard-code them.
    @Test func initialChainingKeyAndHash() {
        let chainingKey = Paper.hash(Paper.bytes(WireGuard.construction))
        #expect(Bytes32(chainingKey)!.hex == "60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36")
        #expect(WireGuard.Noise.initialChainingKey.array == chainingKey)
        let hash = Paper.hash(chainingKey + Paper.bytes(WireGuard.identifier))
        #expect(Bytes32(hash)!.hex == "2211b361081ac566691243db458ad5322d9c6c662293e8b70ee19c65ba079ef3")
        #expect(WireGuard.Noise.initialHash.array == hash)
    }

    @Test(arguments: [false, true])
    func handshakeAgainstWhitepaperTranscription(withPresharedKey: Bool) throws {
        let clock = ManualClock()
        let initiator = Node(host: 1, seed: 21, clock: clock)
        let responderKey = Self.key(0x42)
        let responderPublic = responderKey.publicKey.raw.array
        let initiatorPublic = initiator.publicKey.raw.array
        let psk = withPresharedKey ? PresharedKey(rawBytes: Bytes32([UInt8](repeating: 0x5A, count: 32))!) : .zero
        let pskBytes = psk.withUnsafeBytes(Array.init)
        let responderEndpoint = TestEndpoint(host: 2)
        let responderTunnel = IPv4Address(10, 100, 0, 2)
        _ = try initiator.device.addPeer(WireGuard.PeerConfiguration(
            publicKey: responderKey.publicKey, presharedKey: psk, endpoint: responderEndpoint,
            allowedIPs: [.v4(IPv4Prefix(host: responderTunnel))]), now: clock.now)

        let packet = ipv4Packet(from: initiator.tunnelAddress, to: responderTunnel, payload: Array(1 ... 13))
        _ = initiator.send(packet, now: clock.now)
        let sent = initiator.takeOutbox()
        try #require(sent.count == 1)
        let msg = sent[0].bytes

        // §5.4.2 layout: type, reserved, sender, ephemeral, static, timestamp, mac1, mac2.
        try #require(msg.count == 148)
        #expect(Array(msg[0 ..< 4]) == [1, 0, 0, 0])
        let sender = Array(msg[4 ..< 8])
        let ephemeral = Array(msg[8 ..< 40])
        let encryptedStatic = Array(msg[40 ..< 88])
        let encryptedTimestamp = Array(msg[88 ..< 116])
        #expect(Array(msg[116 ..< 132]) == Paper.mac(Paper.hash(Paper.bytes("mac1----") + responderPublic), Array(msg[0 ..< 116])))
        #expect(Array(msg[132 ..< 148]) == [UInt8](repeating: 0, count: 16))   // no cookie yet

        // Responder: C, H from the construction, then e, es, s, ss, {t}.
        var c = Paper.hash(Paper.bytes(WireGuard.construction))
        var h = Paper.hash(c + Paper.bytes(WireGuard.identifier))
        h = Paper.hash(h + responderPublic)
        c = Paper.kdf(1, c, ephemeral)[0]
        h = Paper.hash(h + ephemeral)
        var ck = Paper.kdf(2, c, try Paper.dh(responderKey, ephemeral))
        c = ck[0]
        let staticPlain = try #require(Paper.aeadOpen(ck[1], 0, encryptedStatic, h))
        #expect(staticPlain == initiatorPublic)
        h = Paper.hash(h + encryptedStatic)
        ck = Paper.kdf(2, c, try Paper.dh(responderKey, initiatorPublic))
        c = ck[0]
        let timestamp = try #require(Paper.aeadOpen(ck[1], 0, encryptedTimestamp, h))
        h = Paper.hash(h + encryptedTimestamp)
        // TAI64N: label 2^62 + 10 + Unix seconds, nanoseconds rounded down to 2^24.
        let label = timestamp[0 ..< 8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let nanoseconds = timestamp[8 ..< 12].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        #expect(label == 0x4000_0000_0000_000A + 1_700_000_000)
        #expect(nanoseconds & ((1 << 24) - 1) == 0)

        // Responder builds the response (§5.4.3): e, ee, se, psk, {}.
        let responderEphemeral = Self.key(0x77)
        let ephemeralPublic = responderEphemeral.publicKey.raw.array
        let responderIndex: UInt32 = 0xA1B2_C3D4
        var response: [UInt8] = [2, 0, 0, 0] + Paper.le32(responderIndex) + sender
        c = Paper.kdf(1, c, ephemeralPublic)[0]
        response += ephemeralPublic
        h = Paper.hash(h + ephemeralPublic)
        c = Paper.kdf(1, c, try Paper.dh(responderEphemeral, ephemeral))[0]
        c = Paper.kdf(1, c, try Paper.dh(responderEphemeral, initiatorPublic))[0]
        let psk3 = Paper.kdf(3, c, pskBytes)
        c = psk3[0]
        h = Paper.hash(h + psk3[1])
        let empty = Paper.aead(psk3[2], 0, [], h)
        response += empty
        h = Paper.hash(h + empty)
        response += Paper.mac(Paper.hash(Paper.bytes("mac1----") + initiatorPublic), response)
        response += [UInt8](repeating: 0, count: 16)
        try #require(response.count == 92)

        // §5.4.5: (T_send_i, T_recv_i) = KDF2(C, ε).
        let transport = Paper.kdf(2, c, [])
        let (initiatorSending, initiatorReceiving) = (transport[0], transport[1])

        let result = initiator.receive(Datagram(bytes: response, from: responderEndpoint, to: initiator.endpoint), now: clock.now)
        #expect(result == .done)

        // The staged packet follows on the new session: header, counter 0, padded to 16.
        let flushed = initiator.takeOutbox()
        try #require(flushed.count == 1)
        let data = flushed[0].bytes
        #expect(Array(data[0 ..< 16]) == [4, 0, 0, 0] + Paper.le32(responderIndex) + Paper.le64(0))
        #expect(data.count == 16 + 48 + 16)     // 33-byte packet padded to 48
        let plain = try #require(Paper.aeadOpen(initiatorSending, 0, Array(data[16...]), []))
        #expect(plain == packet + [UInt8](repeating: 0, count: 48 - packet.count))

        // And the initiator decrypts what the transcription encrypts.
        let answer = ipv4Packet(from: responderTunnel, to: initiator.tunnelAddress, payload: [0xAB])
        let reply = [4, 0, 0, 0] + sender + Paper.le64(0) + Paper.aead(initiatorReceiving, 0, answer, [])
        #expect(initiator.receive(Datagram(bytes: reply, from: responderEndpoint, to: initiator.endpoint), now: clock.now)
            == .writeToTunnel(16 ..< 16 + answer.count, peer: try #require(initiator.device.peers.first)))
        #expect(initiator.takeTunnel() == [answer])
    }
}
