import Testing
@testable import WeftOSPF

@Suite("Cryptographic authentication (RFC 2328 §D.4.3, RFC 5709)")
struct AuthenticationTests {
    static let holo = OSPFAuthentication.cryptographic([OSPFAuthenticationKey(keyID: 1, secret: Array("HOLO".utf8))])

    @Test("HMAC-SHA-256 vector: verifies, and re-sealing reproduces it byte for byte")
    func vector() throws {
        let bytes = Vectors.helloHMACSHA256
        let header = try OSPFPacketHeader.parse(bytes)
        #expect(header.authenticationType == 2)
        #expect(header.keyID == 1 && header.authenticationDataLength == 32)
        #expect(header.cryptographicSequenceNumber == 843_436_052)
        #expect(header.checksum == 0)
        #expect(Self.holo.verify(bytes, header: header) == nil)
        let body = try OSPFPacketBody.parse(bytes, header: header)
        let packet = OSPFPacket(routerID: header.routerID, areaID: header.areaID, body: body)
        #expect(packet.serialized(authentication: Self.holo, sequenceNumber: 843_436_052) == bytes)
    }

    @Test("Wrong key, unknown key ID, truncated trailer, replayed sequence number")
    func failures() throws {
        let bytes = Vectors.helloHMACSHA256
        let header = try OSPFPacketHeader.parse(bytes)
        let wrongSecret = OSPFAuthentication.cryptographic([OSPFAuthenticationKey(keyID: 1, secret: Array("HOLA".utf8))])
        #expect(wrongSecret.verify(bytes, header: header) == .authenticationFailure)
        let otherID = OSPFAuthentication.cryptographic([OSPFAuthenticationKey(keyID: 2, secret: Array("HOLO".utf8))])
        #expect(otherID.verify(bytes, header: header) == .authenticationFailure)
        #expect(OSPFAuthentication.cryptographic([]).verify(bytes, header: header) == .authenticationFailure)
        #expect(Self.holo.verify(Array(bytes.dropLast()), header: header) == .authenticationFailure)
        var tampered = bytes
        tampered[30] ^= 1
        #expect(Self.holo.verify(tampered, header: try OSPFPacketHeader.parse(tampered)) == .authenticationFailure)
        #expect(Self.holo.verify(bytes, header: header, lastSequenceNumber: 843_436_053) == .cryptographicSequenceRegressed)
        #expect(Self.holo.verify(bytes, header: header, lastSequenceNumber: 843_436_052) == nil)
        #expect(OSPFAuthentication.none.verify(bytes, header: header) == .authenticationTypeMismatch)
        // Key rollover: any listed key is accepted.
        let rolled = OSPFAuthentication.cryptographic([OSPFAuthenticationKey(keyID: 7, secret: [1, 2, 3]),
                                                       OSPFAuthenticationKey(keyID: 1, secret: Array("HOLO".utf8))])
        #expect(rolled.verify(bytes, header: header) == nil)
    }

    @Test("Two routers with HMAC-SHA-256 reach Full; a wrong key never does")
    func adjacency() {
        let key = OSPFAuthentication.cryptographic([OSPFAuthenticationKey(keyID: 3, secret: Array("0123456789abcdef".utf8))])
        let good = AdjacencyTests.pointToPointPair(authenticationA: key, authenticationB: key)
        good.recordedPackets = []
        good.run(for: .seconds(15))
        #expect(good.routers[0].neighborStates(on: AdjacencyTests.link)[OSPFAddress(2, 2, 2, 2)] == .full)
        #expect(good.routers[0].routingTable.count == 3)
        // Every packet carries the 32-byte trailer outside the OSPF length, and no checksum.
        for packet in good.recordedPackets ?? [] {
            let header = try? OSPFPacketHeader.parse(packet.bytes)
            #expect(header.map { Int($0.length) + 32 == packet.bytes.count && $0.checksum == 0 } == true)
        }
        let other = OSPFAuthentication.cryptographic([OSPFAuthenticationKey(keyID: 3, secret: Array("different".utf8))])
        let bad = AdjacencyTests.pointToPointPair(authenticationA: key, authenticationB: other)
        bad.run(for: .seconds(15))
        #expect(bad.routers[0].neighborStates(on: AdjacencyTests.link).isEmpty)
        #expect(bad.routers[0].counters[.authenticationFailure] > 0)
    }

    @Test("A replayed packet with an old sequence number is dropped")
    func replay() throws {
        let key = OSPFAuthentication.cryptographic([OSPFAuthenticationKey(keyID: 3, secret: Array("replay".utf8))])
        let network = AdjacencyTests.pointToPointPair(authenticationA: key, authenticationB: key)
        network.recordedPackets = []
        network.run(for: .seconds(10))
        let old = try #require(network.recordedPackets?.first { $0.type == .hello && $0.interface == AdjacencyTests.link })
        let sender = try #require(network.routers.firstIndex { router in
            (try? OSPFPacketHeader.parse(old.bytes).routerID) == router.routerID
        })
        let receiver = 1 - sender
        let before = network.routers[receiver].counters[.cryptographicSequenceRegressed]
        _ = network.routers[receiver].receive(old.bytes, on: AdjacencyTests.link,
                                              from: OSPFAddress(10, 0, 0, UInt8(sender + 1)), to: .allSPFRouters,
                                              now: network.now)
        #expect(network.routers[receiver].counters[.cryptographicSequenceRegressed] == before + 1)
    }
}
