// OSPF's raw IP socket (RFC 2328 §A.1) between two private network namespaces joined by a veth
// pair: what goes on the wire (protocol 89, TTL 1, TOS 0xC0, the interface's address as
// source), what IP_PKTINFO reports, and which multicast groups reach the socket.

import Foundation
import Glibc
import Testing
@testable import WeftControlShim
import WeftDataPlane
import WeftRouting

@Suite("OSPF raw socket", .needsNetworkNamespaces)
struct OSPFRawSocketTests {
    static let addressA = IPv4Address(198, 18, 60, 1), addressB = IPv4Address(198, 18, 60, 2)

    /// Router A and router B on one segment, each in its own namespace, each with a socket.
    struct Segment {
        let namespaces: [TestNamespace]
        let a: OSPFRawSocket
        let b: OSPFRawSocket
    }

    static func segment() async throws -> Segment {
        let nsA = try await TestNamespace.make(), nsB = try await TestNamespace.make()
        // Two namespaces: a packet whose source is one of the receiver's own addresses would be
        // dropped as a martian.
        try nsA.socket.addVethPair(named: "ospf-a", peerName: "ospf-b")
        try nsA.ip("link", "set", "ospf-b", "netns", nsB.path)
        try nsA.ip("addr", "add", "198.18.60.1/24", "dev", "ospf-a")
        try nsB.ip("addr", "add", "198.18.60.2/24", "dev", "ospf-b")
        try nsA.ip("link", "set", "ospf-a", "up")
        try nsB.ip("link", "set", "ospf-b", "up")
        let indexA = try nsA.socket.linkID(named: "ospf-a"), indexB = try nsB.socket.linkID(named: "ospf-b")
        let a = try await nsA.run { try OSPFRawSocket(interfaceName: "ospf-a", interface: indexA, address: addressA) }
        let b = try await nsB.run { try OSPFRawSocket(interfaceName: "ospf-b", interface: indexB, address: addressB) }
        for socket in [a, b] { try socket.setMembership(OSPFRawSocket.allSPFRouters, true) }
        return Segment(namespaces: [nsA, nsB], a: a, b: b)
    }

    /// The next datagram on `socket` within about a second, with its bytes.
    static func receive(_ socket: OSPFRawSocket, within seconds: Double = 1) throws -> (OSPFRawSocket.Datagram, [UInt8])? {
        var buffer = [UInt8](repeating: 0, count: 2048)
        for _ in 0..<Int(seconds * 100) {
            let datagram = try buffer.withUnsafeMutableBytes { raw throws(OSPFSocketError) in try socket.receive(into: raw) }
            if let datagram { return (datagram, Array(buffer[..<datagram.length])) }
            usleep(10_000)
        }
        return nil
    }

    static let payload: [UInt8] = [2, 1, 0, 44] + Array(repeating: 0xA5, count: 40)

    @Test func multicastToAllSPFRoutersLooksAsRFC2328SaysAndIsNotLoopedBack() async throws {
        let segment = try await Self.segment()
        try segment.a.send(Self.payload, to: OSPFRawSocket.allSPFRouters)
        let (datagram, bytes) = try #require(try Self.receive(segment.b))
        #expect(datagram.interface == segment.b.interface)
        #expect(datagram.destination == OSPFRawSocket.allSPFRouters)
        // The IP header the raw socket hands up: version 4, no options, TOS 0xC0, TTL 1, protocol 89.
        try #require(bytes.count == 20 + Self.payload.count)
        #expect(bytes[0] == 0x45)
        #expect(bytes[1] == 0xC0)
        #expect(bytes[8] == 1)
        #expect(bytes[9] == 89)
        #expect(Array(bytes[12..<16]) == [198, 18, 60, 1])
        #expect(Array(bytes[16..<20]) == [224, 0, 0, 5])
        #expect(Array(bytes[20...]) == Self.payload)
        // IP_MULTICAST_LOOP is off: the sender, although a member, never sees its own packet.
        #expect(try Self.receive(segment.a, within: 0.2) == nil)
    }

    @Test func allDRoutersArriveOnlyWhileJoined() async throws {
        let segment = try await Self.segment()
        try segment.a.send(Self.payload, to: OSPFRawSocket.allDRouters)
        #expect(try Self.receive(segment.b, within: 0.3) == nil, "AllDRouters delivered without membership")

        try segment.b.setMembership(OSPFRawSocket.allDRouters, true)
        try segment.b.setMembership(OSPFRawSocket.allDRouters, true)  // idempotent
        #expect(segment.b.memberships == [OSPFRawSocket.allSPFRouters, OSPFRawSocket.allDRouters])
        try segment.a.send(Self.payload, to: OSPFRawSocket.allDRouters)
        let (datagram, _) = try #require(try Self.receive(segment.b))
        #expect(datagram.destination == OSPFRawSocket.allDRouters)

        try segment.b.setMembership(OSPFRawSocket.allDRouters, false)
        #expect(segment.b.memberships == [OSPFRawSocket.allSPFRouters])
        try segment.a.send(Self.payload, to: OSPFRawSocket.allDRouters)
        #expect(try Self.receive(segment.b, within: 0.3) == nil, "AllDRouters delivered after leaving")
    }

    @Test func unicastToANeighborHasTTL1() async throws {
        let segment = try await Self.segment()
        try segment.b.send(Self.payload, to: Self.addressA)
        let (datagram, bytes) = try #require(try Self.receive(segment.a))
        #expect(datagram.destination == Self.addressA)
        #expect(bytes[8] == 1)
        #expect(bytes[1] == 0xC0)
        #expect(Array(bytes[12..<16]) == [198, 18, 60, 2])
    }

    @Test func openingOnAMissingInterfaceSaysWhich() async throws {
        let namespace = try await TestNamespace.make()
        let error = try await namespace.run { () -> OSPFSocketError? in
            do throws(OSPFSocketError) {
                _ = try OSPFRawSocket(interfaceName: "nosuch0", interface: LinkID(999), address: Self.addressA)
                return nil
            } catch {
                return error
            }
        }
        let failure = try #require(error)
        #expect(failure.operation == "open" && failure.errno == .noSuchDevice)
        #expect(failure.description.hasPrefix("OSPF socket on nosuch0: open: "))
    }
}
