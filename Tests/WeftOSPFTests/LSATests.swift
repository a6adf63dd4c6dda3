import Testing
@testable import WeftOSPF

@Suite("LSAs (RFC 2328 §12)")
struct LSATests {
    /// LSAs taken from the LSU vector, with their published Fletcher checksums.
    static let vectors: [(bytes: [UInt8], checksum: UInt16)] = [
        (Vectors.hex("00 31 02 01 02 02 02 02 02 02 02 02 80 00 00 02 37 f4 00 24 01 00 00 01 0a 00 01 00 ff ff ff 00 03 00 00 0a"), 0x37F4),
        (Vectors.hex("00 31 02 03 02 02 02 02 02 02 02 02 80 00 00 01 d2 7a 00 1c ff ff ff ff 00 00 00 00"), 0xD27A),
        (Vectors.hex("00 31 02 03 0a 00 02 00 02 02 02 02 80 00 00 01 fa 44 00 1c ff ff ff 00 00 00 00 0a"), 0xFA44),
        (Vectors.hex("00 01 42 09 03 00 00 00 06 06 06 06 80 00 00 01 7e f4 00 24 00 01 00 04 00 00 00 78 00 02 00 01 00 00 00 00"), 0x7EF4),
    ]

    @Test("Fletcher checksum (§12.1.7, RFC 905 Annex C) matches published LSAs")
    func fletcherVectors() {
        for vector in Self.vectors {
            #expect(OSPFFletcher.verify(lsa: vector.bytes))
            var zeroed = vector.bytes
            #expect(OSPFFletcher.checksum(lsa: &zeroed) == vector.checksum)
            #expect(zeroed == vector.bytes)
            // The age is outside the checksum: aging never invalidates an LSA.
            var aged = vector.bytes
            aged.write16(3600, at: 0)
            #expect(OSPFFletcher.verify(lsa: aged))
        }
    }

    @Test("Fletcher checksum detects every single-byte corruption of random LSAs")
    func fletcherRandomized() {
        var rng = SplitMix64(seed: 2328)
        for _ in 0..<200 {
            let count = 20 + Int(rng.below(60)) * 4
            var lsa = (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let checksum = OSPFFletcher.checksum(lsa: &lsa)
            #expect(checksum >> 8 != 0 && checksum & 0xFF != 0)
            #expect(OSPFFletcher.verify(lsa: lsa))
            let index = 2 + Int(rng.below(UInt64(count - 2)))
            let delta = UInt8(1 + rng.below(254))
            lsa[index] = lsa[index] &+ delta
            // A change by ±255 would alias mod 255; a byte change never spans that much
            // except 0x00 <-> 0xFF, which the generator may hit, so only check other cases.
            if !(lsa[index] == 0xFF && lsa[index] &- delta == 0) && !(lsa[index] == 0 && lsa[index] &- delta == 0xFF) {
                #expect(!OSPFFletcher.verify(lsa: lsa))
            }
        }
    }

    @Test("Built LSAs carry a valid checksum and parse back")
    func buildAndParse() throws {
        let body = OSPFRouterLSA(flags: [], links: [
            .init(linkID: OSPFAddress(2, 2, 2, 2), linkData: OSPFAddress(10, 0, 0, 1), type: .pointToPoint, metric: 5),
            .init(linkID: OSPFAddress(10, 0, 0, 0), linkData: OSPFAddress(255, 255, 255, 252), type: .stub, metric: 5),
            .init(linkID: OSPFAddress(10, 1, 0, 1), linkData: OSPFAddress(10, 1, 0, 7), type: .transit, metric: 1),
        ])
        let lsa = OSPFLSA(type: .router, linkStateID: OSPFAddress(1, 1, 1, 1), advertisingRouter: OSPFAddress(1, 1, 1, 1),
                          sequenceNumber: OSPFConstants.initialSequenceNumber, options: .externalRouting, body: body.encoded)
        #expect(lsa.hasValidChecksum)
        #expect(lsa.header.length == 24 + 36)
        var reader = WireReader(lsa.serialized())
        let parsed = try #require(OSPFLSA.read(from: &reader))
        #expect(parsed == lsa)
        #expect(OSPFRouterLSA(body: parsed.body) == body)
        // TOS entries are skipped; a link count that disagrees with the length is malformed.
        var withTOS = body.encoded
        withTOS[4 + 9] = 1
        withTOS.insert(contentsOf: [0, 0, 0, 7], at: 4 + 12)
        #expect(OSPFRouterLSA(body: withTOS) == body)
        var wrongCount = body.encoded
        wrongCount[3] = 4
        #expect(OSPFRouterLSA(body: wrongCount) == nil)
        #expect(OSPFNetworkLSA(body: [255, 255, 255, 0]) == nil)
        let external = OSPFASExternalLSA(networkMask: OSPFAddress(255, 255, 0, 0), isType2: true, metric: 20,
                                         forwardingAddress: .unspecified, routeTag: 7)
        #expect(OSPFASExternalLSA(body: external.encoded) == external)
    }

    static func header(sequence: Int32 = 10, checksum: UInt16 = 0x1000, age: UInt16 = 0) -> OSPFLSAHeader {
        OSPFLSAHeader(age: age, options: .externalRouting, type: .router, linkStateID: OSPFAddress(1, 1, 1, 1),
                      advertisingRouter: OSPFAddress(1, 1, 1, 1), sequenceNumber: sequence, checksum: checksum,
                      length: 24)
    }

    /// (a, b, expected order of a relative to b), one row per rule of §13.1.
    static let comparisonTable: [(OSPFLSAHeader, OSPFLSAHeader, OSPFLSAOrder)] = [
        (header(sequence: 11), header(sequence: 10), .newer),
        (header(sequence: 10), header(sequence: 11), .older),
        // Sequence numbers are signed: 0x80000001 is the oldest, 0x7FFFFFFF the newest.
        (header(sequence: OSPFConstants.initialSequenceNumber), header(sequence: 0), .older),
        (header(sequence: OSPFConstants.maxSequenceNumber), header(sequence: -5), .newer),
        // Same sequence: the larger checksum wins, even against MaxAge.
        (header(checksum: 0x2000), header(checksum: 0x1000, age: 3600), .newer),
        (header(checksum: 0x0FFF), header(checksum: 0x1000), .older),
        // Same sequence and checksum: a MaxAge instance wins.
        (header(age: 3600), header(age: 10), .newer),
        (header(age: 3599), header(age: 3600), .older),
        // Ages more than MaxAgeDiff (900 s) apart: the younger wins.
        (header(age: 100), header(age: 1001), .newer),
        (header(age: 1001), header(age: 100), .older),
        // Otherwise the instances are the same.
        (header(age: 100), header(age: 1000), .same),
        (header(age: 0), header(age: 0), .same),
        (header(age: 3600), header(age: 3600), .same),
    ]

    @Test("Which instance is newer (§13.1)")
    func comparison() {
        for (index, row) in Self.comparisonTable.enumerated() {
            #expect(OSPFLSAComparison.compare(row.0, row.1) == row.2, "row \(index)")
        }
    }
}
