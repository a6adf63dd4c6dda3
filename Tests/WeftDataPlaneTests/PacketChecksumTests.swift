import Testing
import WeftRouting
@testable import WeftDataPlane

@Suite struct PacketChecksumTests {
    typealias F = PacketFixture

    @Test func rfc1071Example() {
        // RFC 1071 §3: the bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2.
        let data: [UInt8] = [0x00, 0x01, 0xF2, 0x03, 0xF4, 0xF5, 0xF6, 0xF7]
        var sum = InternetChecksum()
        data.withUnsafeBytes { sum.add($0) }
        #expect(sum.sum16 == 0xDDF2)
        #expect(sum.checksum == 0x220D)
    }

    @Test func matchesTheReferenceForAnyLengthAndSplit() {
        var generator = F.Generator(seed: 1071)
        for _ in 0..<2000 {
            let length = Int.random(in: 0...300, using: &generator)
            let data = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let expected = F.referenceChecksum(data)
            #expect(data.withUnsafeBytes { InternetChecksum.checksum($0) } == expected)
            // The same bytes in up to four pieces at arbitrary (odd or even) boundaries.
            var cuts = (0..<3).map { _ in Int.random(in: 0...length, using: &generator) }
            cuts.sort()
            let bounds = [0] + cuts + [length]
            var pieces = InternetChecksum()
            data.withUnsafeBytes { bytes in
                for index in 0..<bounds.count - 1 {
                    pieces.add(UnsafeRawBufferPointer(rebasing: bytes[bounds[index]..<bounds[index + 1]]))
                }
            }
            #expect(pieces.checksum == expected, "length \(length) cuts \(cuts)")
        }
    }

    @Test func wordsAndAddressesEqualTheirBytes() {
        let source = F.v6("2001:db8::1"), destination = F.v6("fe80::abcd:1234")
        var fields = InternetChecksum()
        fields.addPseudoHeader(source: source, destination: destination, nextHeader: 58, upperLayerLength: 0x1_0203)
        let bytes = F.bytes(source) + F.bytes(destination) + [0, 1, 2, 3, 0, 0, 0, 58]
        #expect(fields.checksum == F.referenceChecksum(bytes))

        var fields4 = InternetChecksum()
        fields4.addPseudoHeader(source: F.v4("192.0.2.1"), destination: F.v4("198.51.100.2"), protocolNumber: 17,
                                upperLayerLength: 1234)
        #expect(fields4.checksum == F.referenceChecksum(F.ipv4PseudoHeader(
            source: F.v4("192.0.2.1"), destination: F.v4("198.51.100.2"), protocolNumber: 17, length: 1234)))
    }

    @Test func validityOfAReceivedHeader() {
        let packet = F.ipv4Packet(source: F.v4("10.0.0.1"), destination: F.v4("10.0.0.2"), protocolNumber: 6, payload: [])
        var sum = InternetChecksum()
        packet.withUnsafeBytes { sum.add($0) }
        #expect(sum.isValid)
        var broken = packet
        broken[8] ^= 1
        var brokenSum = InternetChecksum()
        broken.withUnsafeBytes { brokenSum.add($0) }
        #expect(!brokenSum.isValid)
    }

    @Test func incrementalUpdateRFC1624Example() {
        // RFC 1624 §4: the other header words sum to 0xCD7A, and m changes from 0x5555 to
        // 0x3285. Eqn. 3 gives 0x0000, as a full recomputation does; RFC 1141's eqn. 2 would
        // give the "-0" 0xFFFF.
        let oldChecksum: UInt16 = 0xDD2F
        #expect(InternetChecksum.updated(oldChecksum, replacing: 0x5555, with: 0x3285) == 0x0000)
    }

    @Test func incrementalUpdateMatchesRecomputation() {
        var generator = F.Generator(seed: 1624)
        for _ in 0..<5000 {
            var words = (0..<10).map { _ in UInt16.random(in: 0...UInt16.max, using: &generator) }
            words[5] = 0
            let bytesOf = { (words: [UInt16]) in words.flatMap { F.bytes($0) } }
            words[5] = F.referenceChecksum(bytesOf(words))
            let index = Int.random(in: 0..<10, using: &generator)
            guard index != 5 else { continue }
            let old = words[index]
            let new = UInt16.random(in: 0...UInt16.max, using: &generator)
            let updated = InternetChecksum.updated(words[5], replacing: old, with: new)
            words[index] = new
            words[5] = 0
            #expect(updated == F.referenceChecksum(bytesOf(words)))
        }
    }
}
