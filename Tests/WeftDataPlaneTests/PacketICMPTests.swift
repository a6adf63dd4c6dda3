import Testing
import WeftRouting
@testable import WeftDataPlane

@Suite struct PacketICMPTests {
    typealias F = PacketFixture

    static let router4 = F.v4("10.255.0.1")
    static let router6 = F.v6("fd00:1::1")

    /// A DF UDP packet of `length` bytes from 192.0.2.10 to `destination`.
    static func ipv4Datagram(length: Int, destination: IPv4Address = F.v4("198.51.100.20"),
                             source: IPv4Address = F.v4("192.0.2.10"), protocolNumber: UInt8 = 17,
                             flags: UInt16 = 0x4000, payloadStart: [UInt8] = []) -> [UInt8] {
        let fill = (0..<(length - 20 - payloadStart.count)).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        return F.ipv4Packet(source: source, destination: destination, protocolNumber: protocolNumber,
                            flags: flags, payload: payloadStart + fill)
    }

    static func ipv6Datagram(length: Int, source: IPv6Address = F.v6("2001:db8::10"),
                             destination: IPv6Address = F.v6("2001:db8:1::20"), nextHeader: UInt8 = 17,
                             payloadStart: [UInt8] = []) -> [UInt8] {
        let fill = (0..<(length - 40 - payloadStart.count)).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        return F.ipv6Packet(source: source, destination: destination, nextHeader: nextHeader, payload: payloadStart + fill)
    }

    static func write(_ error: ICMPv4Error, about packet: [UInt8], headroom: Int = ICMPv4Error.headroom,
                      tailroom: Int = 0) -> Result<[UInt8], ICMPErrorSuppression> {
        let (result, storage) = F.withBuffer(headroom: headroom, packet, tailroom: tailroom) { buffer, range in
            Result { () throws(ICMPErrorSuppression) in
                try error.write(aboutPacket: range, in: buffer, routerAddress: Self.router4)
            }
        }
        return result.map { Array(storage[$0]) }
    }

    static func write(_ error: ICMPv6Error, about packet: [UInt8],
                      headroom: Int = ICMPv6Error.headroom) -> Result<[UInt8], ICMPErrorSuppression> {
        let (result, storage) = F.withBuffer(headroom: headroom, packet) { buffer, range in
            Result { () throws(ICMPErrorSuppression) in
                try error.write(aboutPacket: range, in: buffer, routerAddress: Self.router6)
            }
        }
        return result.map { Array(storage[$0]) }
    }

    // MARK: ICMPv4

    @Test func fragmentationNeededQuotesUpTo576Bytes() throws {
        let original = Self.ipv4Datagram(length: 1400)
        let message = try Self.write(.fragmentationNeeded(nextHopMTU: 1370), about: original).get()
        // RFC 1812 §4.3.2.3: 576 bytes in all; RFC 1191 §4: unused word, then the MTU.
        var expectedIP: [UInt8] = [0x45, 0xC0] + F.bytes(UInt16(576)) + [0, 0, 0x40, 0x00, 64, 1, 0, 0]
            + F.bytes(Self.router4) + F.bytes(F.v4("192.0.2.10"))
        F.setWord(&expectedIP, at: 10, F.referenceChecksum(expectedIP))
        var expectedICMP: [UInt8] = [3, 4, 0, 0, 0, 0] + F.bytes(UInt16(1370)) + Array(original[0..<548])
        F.setWord(&expectedICMP, at: 2, F.referenceChecksum(expectedICMP))
        #expect(message == expectedIP + expectedICMP)
        #expect(F.referenceChecksum(Array(message[20...])) == 0)
    }

    @Test func smallPacketsAreQuotedWholeWithoutLinkPadding() throws {
        let original = Self.ipv4Datagram(length: 60)
        let message = try Self.write(.timeExceeded, about: original + [0xEE, 0xEE, 0xEE]).get()
        #expect(message.count == 28 + 60)
        #expect(Array(message[20..<28]) == [11, 0] + F.bytes(F.word(message, at: 22)) + [0, 0, 0, 0])
        #expect(Array(message[28...]) == original)
        #expect(F.referenceChecksum(Array(message[0..<20])) == 0)
        #expect(F.referenceChecksum(Array(message[20...])) == 0)
    }

    @Test(arguments: [(ICMPv4Error.networkUnreachable, UInt8(3), UInt8(0)), (.hostUnreachable, 3, 1),
                      (.administrativelyProhibited, 3, 13), (.timeExceeded, 11, 0),
                      (.fragmentationNeeded(nextHopMTU: 1280), 3, 4)])
    func icmpv4TypesAndCodes(_ error: ICMPv4Error, _ type: UInt8, _ code: UInt8) throws {
        let message = try Self.write(error, about: Self.ipv4Datagram(length: 100)).get()
        #expect(message[20] == type && message[21] == code)
        #expect(message[9] == 1)
        #expect(Array(message[12..<16]) == F.bytes(Self.router4))
        #expect(Array(message[16..<20]) == F.bytes(F.v4("192.0.2.10")))
    }

    @Test func icmpv4Suppression() {
        let cases: [(String, [UInt8], ICMPErrorSuppression)] = [
            ("about an ICMP error", Self.ipv4Datagram(length: 56, protocolNumber: 1, payloadStart: [3, 1, 0, 0]), .aboutICMPError),
            ("about a redirect", Self.ipv4Datagram(length: 56, protocolNumber: 1, payloadStart: [5, 1, 0, 0]), .aboutICMPError),
            ("ICMP without header", Self.ipv4Datagram(length: 20, protocolNumber: 1), .aboutICMPError),
            ("non-initial fragment", Self.ipv4Datagram(length: 100, flags: 0x00B9), .nonInitialFragment),
            ("to multicast", Self.ipv4Datagram(length: 100, destination: F.v4("224.0.0.5")), .toGroupAddress),
            ("to broadcast", Self.ipv4Datagram(length: 100, destination: .broadcast), .toGroupAddress),
            ("from 0.0.0.0", Self.ipv4Datagram(length: 100, source: .any), .sourceNotUnicast),
            ("from loopback", Self.ipv4Datagram(length: 100, source: F.v4("127.0.0.1")), .sourceNotUnicast),
            ("from multicast", Self.ipv4Datagram(length: 100, source: F.v4("239.1.1.1")), .sourceNotUnicast),
            ("from class E", Self.ipv4Datagram(length: 100, source: F.v4("240.0.0.1")), .sourceNotUnicast),
            ("IPv6 packet", Self.ipv6Datagram(length: 60), .malformed),
            ("too short", Array(Self.ipv4Datagram(length: 60)[0..<19]), .malformed),
            ("IHL beyond the buffer", { var p = Self.ipv4Datagram(length: 24); p[0] = 0x47; return p }(), .malformed),
        ]
        for (name, packet, reason) in cases {
            #expect(Self.write(.hostUnreachable, about: packet) == .failure(reason), "\(name)")
        }
        #expect(Self.write(.hostUnreachable, about: Self.ipv4Datagram(length: 60), headroom: 27) == .failure(.insufficientHeadroom))
        // Queries (echo request) and the first fragment get errors.
        #expect((try? Self.write(.timeExceeded, about: Self.ipv4Datagram(length: 60, protocolNumber: 1,
                                                                           payloadStart: [8, 0, 0, 0])).get()) != nil)
        #expect((try? Self.write(.timeExceeded, about: Self.ipv4Datagram(length: 60, flags: 0x2000)).get()) != nil)
    }

    // MARK: ICMPv6

    @Test func packetTooBigQuotesUpTo1280Bytes() throws {
        let original = Self.ipv6Datagram(length: 1500)
        let message = try Self.write(.packetTooBig(mtu: 1350), about: original).get()
        var icmp: [UInt8] = [2, 0, 0, 0] + F.bytes(UInt32(1350)) + Array(original[0..<1232])
        F.setWord(&icmp, at: 2, F.referenceChecksum(
            F.ipv6PseudoHeader(source: Self.router6, destination: F.v6("2001:db8::10"), nextHeader: 58, length: icmp.count)
            + icmp))
        let ip: [UInt8] = [0x60, 0, 0, 0] + F.bytes(UInt16(1240)) + [58, 64] + F.bytes(Self.router6)
            + F.bytes(F.v6("2001:db8::10"))
        #expect(message == ip + icmp)
        #expect(message.count == 1280)
    }

    @Test(arguments: [(ICMPv6Error.noRouteToDestination, UInt8(1), UInt8(0)), (.administrativelyProhibited, 1, 1),
                      (.addressUnreachable, 1, 3), (.hopLimitExceeded, 3, 0), (.packetTooBig(mtu: 1280), 2, 0)])
    func icmpv6TypesAndCodes(_ error: ICMPv6Error, _ type: UInt8, _ code: UInt8) throws {
        let original = Self.ipv6Datagram(length: 100)
        let message = try Self.write(error, about: original).get()
        #expect(message[40] == type && message[41] == code)
        #expect(Array(message[48...]) == original)
        let pseudo = F.ipv6PseudoHeader(source: Self.router6, destination: F.v6("2001:db8::10"), nextHeader: 58,
                                        length: message.count - 40)
        #expect(F.referenceChecksum(pseudo + Array(message[40...])) == 0)
    }

    @Test func icmpv6Suppression() {
        // Destination Options (8 bytes) then ICMPv6 type 1: still an error message.
        let optionsThenError = Self.ipv6Datagram(length: 80, nextHeader: 60, payloadStart: [58, 0, 1, 4, 0, 0, 0, 0, 1, 0, 0, 0])
        let cases: [(String, ICMPv6Error, [UInt8], ICMPErrorSuppression)] = [
            ("about an ICMPv6 error", .hopLimitExceeded, Self.ipv6Datagram(length: 80, nextHeader: 58, payloadStart: [1, 0]), .aboutICMPError),
            ("about an error behind options", .hopLimitExceeded, optionsThenError, .aboutICMPError),
            ("to multicast", .hopLimitExceeded, Self.ipv6Datagram(length: 80, destination: F.v6("ff05::2")), .toGroupAddress),
            ("from ::", .noRouteToDestination, Self.ipv6Datagram(length: 80, source: .any), .sourceNotUnicast),
            ("from multicast", .noRouteToDestination, Self.ipv6Datagram(length: 80, source: F.v6("ff02::1")), .sourceNotUnicast),
            ("IPv4 packet", .noRouteToDestination, Self.ipv4Datagram(length: 60), .malformed),
            ("too short", .noRouteToDestination, Array(Self.ipv6Datagram(length: 60)[0..<39]), .malformed),
        ]
        for (name, error, packet, reason) in cases {
            #expect(Self.write(error, about: packet) == .failure(reason), "\(name)")
        }
        #expect(Self.write(.hopLimitExceeded, about: Self.ipv6Datagram(length: 60), headroom: 47) == .failure(.insufficientHeadroom))
        // §2.4(e.3): Packet Too Big is sent even for multicast; echo requests get errors.
        #expect((try? Self.write(.packetTooBig(mtu: 1280), about: Self.ipv6Datagram(length: 80, destination: F.v6("ff05::2"))).get()) != nil)
        #expect((try? Self.write(.hopLimitExceeded, about: Self.ipv6Datagram(length: 80, nextHeader: 58, payloadStart: [128, 0])).get()) != nil)
    }

    @Test func rateLimiterAllowsABurstThenTheRate() {
        var limiter = ICMPRateLimiter(messagesPerSecond: 1000, burst: 50)
        var allowed = 0
        for _ in 0..<100 where limiter.allow(now: 10) { allowed += 1 }
        #expect(allowed == 50)
        let early = limiter.allow(now: 10 + 999_999)
        let refilled = limiter.allow(now: 10 + 1_000_000)
        let again = limiter.allow(now: 10 + 1_000_000)
        #expect(!early && refilled && !again)
        // A long pause refills to the burst, not beyond.
        allowed = 0
        for _ in 0..<100 where limiter.allow(now: 60_000_000_000) { allowed += 1 }
        #expect(allowed == 50)
        // Time going backwards neither refills nor traps.
        let backwards = limiter.allow(now: 5)
        #expect(!backwards)
    }
}
