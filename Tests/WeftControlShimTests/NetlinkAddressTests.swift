// Interface addresses through rtnetlink, in a private network namespace.

import Testing
@testable import WeftControlShim
import WeftRouting

@Suite("Netlink interface addresses", .needsNetworkNamespaces)
struct NetlinkAddressTests {
    @Test func addingTwiceIsIdempotent() async throws {
        let namespace = try await TestNamespace.make()
        let socket = namespace.socket
        let (a, _) = try namespace.upVethPair("weft-a", "weft-b")

        #expect(try socket.addAddress(prefix("198.18.0.1/24"), to: a) == true)
        #expect(try socket.addAddress(prefix("198.18.0.1/24"), to: a) == false)
        #expect(try socket.addAddress(prefix("fd00:1::1/64"), to: a, flags: .noDAD) == true)
        #expect(try socket.addAddress(prefix("fd00:1::1/64"), to: a, flags: .noDAD) == false)

        let shown = try namespace.ip("-o", "address", "show", "dev", "weft-a")
        #expect(shown.contains("inet 198.18.0.1/24"))
        #expect(shown.contains("inet6 fd00:1::1/64"))
    }

    @Test func sameAddressWithAnotherLengthIsAClearError() async throws {
        let namespace = try await TestNamespace.make()
        let socket = namespace.socket
        let (a, _) = try namespace.upVethPair("weft-a", "weft-b")
        try socket.addAddress(prefix("fd00:1::1/64"), to: a, flags: .noDAD)
        // IPv6 allows one prefix length per address on a link; EEXIST here is not success.
        let error = #expect(throws: NetlinkError.self) {
            try socket.addAddress(prefix("fd00:1::1/80"), to: a, flags: .noDAD)
        }
        #expect(error?.code == .fileExists)
        #expect(error?.description ==
            "adding address fd00:1::1/80 to dev weft-a: File exists (already configured as fd00:1::1/64)")
    }

    @Test func listsAddressesWithTheirNetworks() async throws {
        let namespace = try await TestNamespace.make()
        let socket = namespace.socket
        let (a, b) = try namespace.upVethPair("weft-a", "weft-b")
        try socket.addAddress(prefix("198.18.0.1/24"), to: a)
        try socket.addAddress(prefix("198.18.0.77/24"), to: a)
        try socket.addAddress(prefix("fd00:1::1/64"), to: a, flags: .noDAD)
        try socket.addAddress(prefix("100.64.0.1/32"), to: b, peer: address("100.64.0.2"))

        let onA = try socket.addresses(of: a).filter { $0.scope == .universe }
        #expect(onA.map(\.prefix) == [prefix("198.18.0.1/24"), prefix("198.18.0.77/24"), prefix("fd00:1::1/64")])
        #expect(onA.map(\.network) == [prefix("198.18.0.0/24"), prefix("198.18.0.0/24"), prefix("fd00:1::/64")])
        #expect(onA[1].flags.contains(.secondary))
        #expect(onA[2].flags.contains(.noDAD))
        #expect(!onA[2].flags.contains(.tentative))

        let pointToPoint = try #require(try socket.addresses(of: b, family: .ipv4).first)
        #expect(pointToPoint.address == address("100.64.0.1"))
        #expect(pointToPoint.peer == address("100.64.0.2"))
        #expect(pointToPoint.network == prefix("100.64.0.2/32"))

        // The kernel's own: 127.0.0.1/8 and ::1/128 on lo, with host scope. (The veths' fe80::
        // addresses appear only once link-watch has seen carrier, too late to test reliably.)
        let all = try socket.addresses()
        #expect(all.contains { $0.prefix == prefix("127.0.0.1/8") && $0.scope == .host })
        #expect(all.contains { $0.prefix == prefix("::1/128") && $0.scope == .host })
        #expect(try socket.addresses(family: .ipv4).allSatisfy { $0.family == .ipv4 })
    }

    @Test func removingIsIdempotent() async throws {
        let namespace = try await TestNamespace.make()
        let socket = namespace.socket
        let (a, _) = try namespace.upVethPair("weft-a", "weft-b")
        try socket.addAddress(prefix("198.18.0.1/24"), to: a)
        try socket.addAddress(prefix("fd00:1::1/64"), to: a, flags: .noDAD)
        #expect(try socket.removeAddress(prefix("198.18.0.1/24"), from: a) == true)
        #expect(try socket.removeAddress(prefix("198.18.0.1/24"), from: a) == false)
        #expect(try socket.removeAddress(prefix("fd00:1::1/64"), from: a) == true)
        #expect(try socket.removeAddress(prefix("fd00:1::1/64"), from: a) == false)
        #expect(try socket.addresses(of: a).filter { $0.scope == .universe }.isEmpty)
    }

    @Test func refusesAPeerOfTheOtherFamily() async throws {
        let namespace = try await TestNamespace.make()
        let error = #expect(throws: NetlinkError.self) {
            try namespace.socket.addAddress(prefix("198.18.0.1/24"), to: LinkID(1), peer: address("fd00::2"))
        }
        guard case .invalidRequest? = error?.reason else {
            Issue.record("expected an invalid-request error, got \(String(describing: error))")
            return
        }
    }

    @Test func addressOnAMissingLinkNamesIt() async throws {
        let namespace = try await TestNamespace.make()
        let error = #expect(throws: NetlinkError.self) {
            try namespace.socket.addAddress(prefix("198.18.0.1/24"), to: LinkID(4242))
        }
        #expect(error?.code == .noSuchDevice)
        #expect(error?.operation == "adding address 198.18.0.1/24 to dev #4242")
    }
}
