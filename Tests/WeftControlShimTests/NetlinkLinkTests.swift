// Links through rtnetlink, checked against ip(8) in a private network namespace.

import Testing
@testable import WeftControlShim
import WeftRouting

@Suite("Netlink links", .needsNetworkNamespaces)
struct NetlinkLinkTests {
    @Test func vethPairUpDownAndMTU() async throws {
        let namespace = try await TestNamespace.make()
        let socket = namespace.socket
        let (a, b) = try socket.addVethPair(named: "weft-a", peerName: "weft-b")

        var link = try socket.link(a)
        #expect(link.name == "weft-a")
        #expect(link.kind == "veth")
        #expect(!link.isUp)
        #expect(link.mtu == 1500)
        #expect(link.address?.bytes.count == 6)
        #expect(try socket.linkID(named: "weft-b") == b)

        try socket.setLink(a, up: true)
        try socket.setMTU(1420, of: a)
        link = try socket.link(named: "weft-a")
        #expect(link.isUp)
        #expect(link.mtu == 1420)
        let shown = try namespace.ip("-o", "link", "show", "weft-a")
        #expect(shown.contains("mtu 1420"))
        #expect(shown.contains("link/ether \(link.address!)"))
        #expect(shown.contains(",UP"))

        try socket.setLink(a, up: false)
        #expect(try !socket.link(a).isUp)
        #expect(try socket.link(a).mtu == 1420)
    }

    @Test func listsLinksInIndexOrder() async throws {
        let namespace = try await TestNamespace.make()
        let socket = namespace.socket
        _ = try namespace.upVethPair("weft-a", "weft-b")
        let links = try socket.links()
        // The kernel registers the veth peer first, so it gets the lower index.
        #expect(links.map(\.name) == ["lo", "weft-b", "weft-a"])
        let loopback = try #require(links.first)
        #expect(loopback.flags.contains([.loopback, .up]))
        #expect(loopback.kind == nil)
        #expect(links.map(\.id) == links.map(\.id).sorted())
    }

    @Test func deletingOneEndRemovesThePair() async throws {
        let namespace = try await TestNamespace.make()
        let socket = namespace.socket
        let (a, _) = try socket.addVethPair(named: "weft-a", peerName: "weft-b")
        try socket.deleteLink(a)
        let error = #expect(throws: NetlinkError.self) { try socket.link(named: "weft-b") }
        #expect(error?.code == .noSuchDevice)
    }

    @Test func errorsNameTheOperationAndTheLink() async throws {
        let namespace = try await TestNamespace.make()
        let socket = namespace.socket
        let (a, _) = try socket.addVethPair(named: "weft-a", peerName: "weft-b")

        let missing = #expect(throws: NetlinkError.self) { try socket.linkID(named: "nope0") }
        #expect(missing?.description == "looking up link nope0: No such device")

        let badIndex = #expect(throws: NetlinkError.self) { try socket.setLink(LinkID(9999), up: true) }
        #expect(badIndex?.code == .noSuchDevice)
        #expect(badIndex?.description.hasPrefix("setting link #9999 up: No such device") == true)

        let tooSmall = #expect(throws: NetlinkError.self) { try socket.setMTU(10, of: a) }
        #expect(tooSmall?.code == .invalidArgument)
        #expect(tooSmall?.description.hasPrefix("setting the MTU of link weft-a to 10: Invalid argument") == true)

        let taken = #expect(throws: NetlinkError.self) { try socket.addVethPair(named: "weft-a", peerName: "weft-c") }
        #expect(taken?.code == .fileExists)

        for name in ["", "has space", "a/b", "sixteen-bytes-xx"] {
            let invalid = #expect(throws: NetlinkError.self) { try socket.link(named: name) }
            guard case .invalidRequest? = invalid?.reason else {
                Issue.record("\"\(name)\" was not refused before sending: \(String(describing: invalid))")
                continue
            }
        }
    }
}
