import Testing
@testable import WeftOSPF

/// Real OSPFv2 packets as published in the holo-routing test suite (holo-ospf/tests/packet/
/// ospfv2.rs), which interoperates with FRR: they pin the wire format and both checksums.
enum Vectors {
    static func hex(_ text: String) -> [UInt8] {
        let digits = text.filter(\.isHexDigit)
        var bytes: [UInt8] = []
        var index = digits.startIndex
        while index < digits.endIndex {
            let next = digits.index(index, offsetBy: 2)
            bytes.append(UInt8(digits[index..<next], radix: 16)!)
            index = next
        }
        return bytes
    }

    static let hello = hex("""
        02 01 00 30 02 02 02 02 00 00 00 01 f6 9e 00 00 00 00 00 00 00 00 00 00
        ff ff ff 00 00 03 02 01 00 00 00 24 00 00 00 00 00 00 00 00 01 01 01 01
        """)
    static let databaseDescription = hex("""
        02 02 00 48 01 01 01 01 00 00 00 01 d8 9e 00 00 00 00 00 00 00 00 00 00
        05 dc 42 00 4e b8 8f 2e
        00 03 02 01 01 01 01 01 01 01 01 01 80 00 00 02 48 d6 00 30
        00 03 02 05 ac 10 01 00 01 01 01 01 80 00 00 01 fc ff 00 24
        """)
    static let linkStateRequest = hex("""
        02 03 00 30 02 02 02 02 00 00 00 01 46 ab 00 00 00 00 00 00 00 00 00 00
        00 00 00 01 01 01 01 01 01 01 01 01
        00 00 00 05 ac 10 01 00 01 01 01 01
        """)
    static let linkStateUpdate = hex("""
        02 04 00 78 02 02 02 02 00 00 00 01 40 a1 00 00 00 00 00 00 00 00 00 00
        00 00 00 03
        00 31 02 01 02 02 02 02 02 02 02 02 80 00 00 02 37 f4 00 24
        01 00 00 01 0a 00 01 00 ff ff ff 00 03 00 00 0a
        00 31 02 03 02 02 02 02 02 02 02 02 80 00 00 01 d2 7a 00 1c
        ff ff ff ff 00 00 00 00
        00 31 02 03 0a 00 02 00 02 02 02 02 80 00 00 01 fa 44 00 1c
        ff ff ff 00 00 00 00 0a
        """)
    static let linkStateAcknowledgment = hex("""
        02 05 00 54 01 01 01 01 00 00 00 01 a0 2e 00 00 00 00 00 00 00 00 00 00
        00 01 02 03 03 03 03 03 02 02 02 02 80 00 00 01 09 36 00 1c
        00 01 02 03 0a 00 03 00 02 02 02 02 80 00 00 01 54 df 00 1c
        00 01 02 03 0a 00 04 00 02 02 02 02 80 00 00 01 49 e9 00 1c
        """)
    /// Hello with RFC 5709 HMAC-SHA-256 authentication: key ID 1, key "HOLO", cryptographic
    /// sequence number 843436052, digest appended after the 52-byte packet.
    static let helloHMACSHA256 = hex("""
        02 01 00 34 01 01 01 01 00 00 00 00 00 00 00 02 00 00 01 20 32 45 d0 14
        ff ff ff 00 00 03 02 01 00 00 00 0c 0a 00 01 03 0a 00 01 02 02 02 02 02
        03 03 03 03
        26 39 ac 92 a3 cc 7e 92 e1 25 3a a2 59 c9 b5 72 bf c2 8f 05 36 a2 cb 0a
        4b 46 66 6a 69 62 6f 04
        """)
}

@Suite("Packets (RFC 2328 §A.3)")
struct PacketTests {
    static let allVectors: [[UInt8]] = [
        Vectors.hello, Vectors.databaseDescription, Vectors.linkStateRequest,
        Vectors.linkStateUpdate, Vectors.linkStateAcknowledgment,
    ]

    @Test("Vectors decode and re-encode byte-exact, checksum included", arguments: allVectors)
    func roundTrip(bytes: [UInt8]) throws {
        let (header, packet) = try OSPFPacket.parse(bytes)
        #expect(OSPFAuthentication.none.verify(bytes, header: header) == nil)
        #expect(packet.serialized() == bytes)
    }

    @Test func helloFields() throws {
        let (header, packet) = try OSPFPacket.parse(Vectors.hello)
        #expect(header.checksum == 0xF69E)
        #expect(packet.routerID == OSPFAddress(2, 2, 2, 2))
        #expect(packet.areaID == OSPFAddress(0, 0, 0, 1))
        guard case .hello(let hello) = packet.body else { Issue.record("not a hello"); return }
        #expect(hello == OSPFHello(networkMask: OSPFAddress(255, 255, 255, 0), helloInterval: 3,
                                   options: .externalRouting, routerPriority: 1, routerDeadInterval: 36,
                                   designatedRouter: .unspecified, backupDesignatedRouter: .unspecified,
                                   neighbors: [OSPFAddress(1, 1, 1, 1)]))
    }

    @Test func databaseDescriptionFields() throws {
        let (_, packet) = try OSPFPacket.parse(Vectors.databaseDescription)
        guard case .databaseDescription(let dd) = packet.body else { Issue.record("not a DD"); return }
        #expect(dd.interfaceMTU == 1500)
        #expect(dd.options == [.externalRouting, .opaque])
        #expect(dd.flags == [])
        #expect(dd.sequenceNumber == 1_320_718_126)
        #expect(dd.lsaHeaders.count == 2)
        #expect(dd.lsaHeaders[0].key == OSPFLSAKey(type: .router, linkStateID: OSPFAddress(1, 1, 1, 1),
                                                   advertisingRouter: OSPFAddress(1, 1, 1, 1)))
        #expect(dd.lsaHeaders[0].sequenceNumber == Int32(bitPattern: 0x8000_0002))
        #expect(dd.lsaHeaders[0].checksum == 0x48D6 && dd.lsaHeaders[0].length == 48)
        #expect(dd.lsaHeaders[1].type == .asExternal && dd.lsaHeaders[1].age == 3)
    }

    @Test func requestUpdateAckFields() throws {
        let (_, request) = try OSPFPacket.parse(Vectors.linkStateRequest)
        #expect(request.body == .linkStateRequest(OSPFLinkStateRequest(requests: [
            OSPFLSAKey(type: .router, linkStateID: OSPFAddress(1, 1, 1, 1), advertisingRouter: OSPFAddress(1, 1, 1, 1)),
            OSPFLSAKey(type: .asExternal, linkStateID: OSPFAddress(172, 16, 1, 0),
                       advertisingRouter: OSPFAddress(1, 1, 1, 1)),
        ])))
        let (_, update) = try OSPFPacket.parse(Vectors.linkStateUpdate)
        guard case .linkStateUpdate(let lsu) = update.body else { Issue.record("not an LSU"); return }
        #expect(lsu.lsas.map(\.header.checksum) == [0x37F4, 0xD27A, 0xFA44])
        #expect(lsu.lsas.allSatisfy { $0.hasValidChecksum })
        #expect(lsu.lsas.allSatisfy { $0.hasWellFormedBody })
        let router = try #require(OSPFRouterLSA(body: lsu.lsas[0].body))
        #expect(router.flags == .areaBorder)
        #expect(router.links == [.init(linkID: OSPFAddress(10, 0, 1, 0), linkData: OSPFAddress(255, 255, 255, 0),
                                       type: .stub, metric: 10)])
        let (_, ack) = try OSPFPacket.parse(Vectors.linkStateAcknowledgment)
        guard case .linkStateAcknowledgment(let acknowledgment) = ack.body else { Issue.record("not an ack"); return }
        #expect(acknowledgment.lsaHeaders.map(\.checksum) == [0x0936, 0x54DF, 0x49E9])
    }

    @Test("Every body type round-trips through serialize/parse")
    func synthesizedRoundTrips() throws {
        let header = OSPFLSAHeader(age: 7, options: .externalRouting, type: .network,
                                   linkStateID: OSPFAddress(10, 0, 0, 1), advertisingRouter: OSPFAddress(9, 9, 9, 9),
                                   sequenceNumber: OSPFConstants.initialSequenceNumber, checksum: 0x1234, length: 32)
        let network = OSPFLSA(type: .network, linkStateID: OSPFAddress(10, 0, 0, 1),
                              advertisingRouter: OSPFAddress(9, 9, 9, 9), sequenceNumber: 5,
                              options: .externalRouting,
                              body: OSPFNetworkLSA(networkMask: OSPFAddress(255, 255, 255, 0),
                                                   attachedRouters: [OSPFAddress(9, 9, 9, 9), OSPFAddress(8, 8, 8, 8)]).encoded)
        let bodies: [OSPFPacketBody] = [
            .hello(OSPFHello(networkMask: OSPFAddress(255, 255, 255, 252), helloInterval: 1, options: .externalRouting,
                             routerPriority: 0, routerDeadInterval: 4, designatedRouter: OSPFAddress(10, 0, 0, 1),
                             backupDesignatedRouter: OSPFAddress(10, 0, 0, 2), neighbors: [])),
            .databaseDescription(OSPFDatabaseDescription(interfaceMTU: 1420, options: .externalRouting,
                                                         flags: [.initial, .more, .master], sequenceNumber: .max,
                                                         lsaHeaders: [header, header])),
            .linkStateRequest(OSPFLinkStateRequest(requests: [header.key])),
            .linkStateUpdate(OSPFLinkStateUpdate(lsas: [network, network])),
            .linkStateAcknowledgment(OSPFLinkStateAcknowledgment(lsaHeaders: [])),
        ]
        for body in bodies {
            let packet = OSPFPacket(routerID: OSPFAddress(1, 2, 3, 4), areaID: .backbone, body: body)
            for authentication in [OSPFAuthentication.none, .simplePassword(Array("secret".utf8))] {
                let bytes = packet.serialized(authentication: authentication)
                let (parsedHeader, parsed) = try OSPFPacket.parse(bytes)
                #expect(parsed == packet)
                #expect(authentication.verify(bytes, header: parsedHeader) == nil)
                #expect(Int(parsedHeader.length) == bytes.count)
            }
        }
    }

    @Test("Malformed packets are rejected with a reason, never a crash")
    func strictLengths() {
        func reason(_ bytes: [UInt8]) -> OSPFDropReason? {
            do {
                _ = try OSPFPacket.parse(bytes)
                return nil
            } catch {
                return error
            }
        }
        let hello = Vectors.hello
        #expect(reason(Array(hello.prefix(23))) == .badLength)
        var wrongVersion = hello
        wrongVersion[0] = 3
        #expect(reason(wrongVersion) == .badVersion)
        var wrongType = hello
        wrongType[1] = 9
        #expect(reason(wrongType) == .unknownPacketType)
        var longer = hello
        longer.write16(UInt16(hello.count + 4), at: 2)
        #expect(reason(longer) == .badLength)
        var unaligned = hello + [0, 0]
        unaligned.write16(UInt16(hello.count + 2), at: 2)
        #expect(reason(unaligned) == .badLength)
        var shortHello = Array(hello.prefix(40))
        shortHello.write16(40, at: 2)
        #expect(reason(shortHello) == .badLength)
        // An LSU whose count promises more LSAs than the packet holds.
        var update = Vectors.linkStateUpdate
        update[27] = 4
        #expect(reason(update) == .badLength)
        // An LSU with an LSA length running past the packet.
        var overrun = Vectors.linkStateUpdate
        overrun.write16(0x0100, at: 28 + 18)
        #expect(reason(overrun) == .badLength)
        // An LSA of an unknown LS type is skipped by its length, not fatal (§13 step 2).
        var opaque = Vectors.linkStateUpdate
        opaque[28 + 3] = 10
        if case .linkStateUpdate(let update)? = try? OSPFPacket.parse(opaque).packet.body {
            #expect(update.lsas.count == 2 && update.skippedUnknownTypes == 1)
        } else {
            Issue.record("update with an opaque LSA rejected")
        }
        // Trailing bytes after the counted LSAs.
        var trailing = Vectors.linkStateUpdate + [0, 0, 0, 0]
        trailing.write16(UInt16(trailing.count), at: 2)
        #expect(reason(trailing) == .badLength)
        // An LSA header with an unknown LS type in an acknowledgment.
        var unknownType = Vectors.linkStateAcknowledgment
        unknownType[24 + 3] = 42
        #expect(reason(unknownType) == .badLSA)
        // A DD whose LSA header area is not a multiple of 20 bytes.
        var ragged = Vectors.databaseDescription + [0, 0, 0, 0]
        ragged.write16(UInt16(ragged.count), at: 2)
        #expect(reason(ragged) == .badLength)
        // Trailing IP padding beyond the OSPF length is tolerated.
        #expect(reason(hello + [0, 0, 0]) == nil)
    }

    @Test("Checksum and password verification")
    func verification() throws {
        var corrupted = Vectors.hello
        corrupted[30] ^= 0x01
        let header = try OSPFPacketHeader.parse(corrupted)
        #expect(OSPFAuthentication.none.verify(corrupted, header: header) == .badChecksum)
        // Changing only the Authentication field does not affect the checksum (§D.4.1)…
        var authChanged = Vectors.hello
        authChanged[20] = 0x55
        let authHeader = try OSPFPacketHeader.parse(authChanged)
        #expect(OSPFPacketChecksum.verify(authChanged, length: authChanged.count))
        // …but a password mismatch is an authentication failure, and AuType must agree.
        #expect(OSPFAuthentication.simplePassword([1]).verify(authChanged, header: authHeader) == .authenticationTypeMismatch)
        let packet = OSPFPacket(routerID: OSPFAddress(1, 1, 1, 1), areaID: .backbone,
                                body: .linkStateAcknowledgment(OSPFLinkStateAcknowledgment(lsaHeaders: [])))
        let sealed = packet.serialized(authentication: .simplePassword(Array("right".utf8)))
        let sealedHeader = try OSPFPacketHeader.parse(sealed)
        #expect(OSPFAuthentication.simplePassword(Array("right".utf8)).verify(sealed, header: sealedHeader) == nil)
        #expect(OSPFAuthentication.simplePassword(Array("wrong".utf8)).verify(sealed, header: sealedHeader)
                == .authenticationFailure)
        #expect(OSPFAuthentication.none.verify(sealed, header: sealedHeader) == .authenticationTypeMismatch)
    }

    @Test func addressesAndPrefixes() throws {
        #expect(OSPFAddress("10.1.2.3") == OSPFAddress(10, 1, 2, 3))
        #expect(OSPFAddress("10.1.2") == nil)
        #expect(OSPFAddress("10.1.2.256") == nil)
        #expect(OSPFAddress("1..2.3") == nil)
        #expect(OSPFAddress(224, 0, 0, 5).description == "224.0.0.5")
        let prefix = OSPFPrefix(address: OSPFAddress(10, 1, 2, 3), length: 24)
        #expect(prefix.description == "10.1.2.0/24")
        #expect(prefix.contains(OSPFAddress(10, 1, 2, 200)) && !prefix.contains(OSPFAddress(10, 1, 3, 1)))
        #expect(OSPFPrefix(address: OSPFAddress(10, 0, 0, 0), mask: OSPFAddress(255, 0, 255, 0)) == nil)
        #expect(OSPFPrefix(address: OSPFAddress(10, 9, 0, 0), mask: .unspecified)?.length == 0)
    }
}
