import Testing
@testable import WeftControlShim

/// Each bad configuration yields exactly one error line naming file, line, column, field path
/// and problem.
@Suite("Node configuration errors")
struct NodeConfigErrorTests {
    static let privKey = "UNF3Fj/54uA6PjMUdRprS0uv8t/BGc5sGbiBDoYeFGc="
    /// site-a's public key (of `privKey`).
    static let ownPubKey = "hM/31HGaeDCeoJcQ/EkAk10xpAdCaVdyrw/xEjo1Tzc="
    static let hubPubKey = "oeLKfExUCreQuz3AjVR741tuS8z2V8bRWVInVhU2Dzw="
    static let siteBPubKey = "/Z9v++1QMODNhQ47EGnzG/+RdKgToyjXZdTgwH9qpl8="

    /// A valid configuration with `{NODE}` (extra node lines), `{LINK}` (extra lines in the first
    /// link) and `{TAIL}` (extra top-level sections) to fill in.
    static func config(node: String = "", link: String = "", tail: String = "") -> String {
        """
        node:
          name: site-a
          privKey: \(privKey)
          nodeVPNIP: 100.64.255.1/32
        \(node.isEmpty ? "" : node + "\n")links:
          - name: to-hub
            peerPubKey: \(hubPubKey)
            vni: 101
            linkVPNIP: 100.64.100.1/30
            peerLinkVPNIP: 100.64.100.2
        \(link.isEmpty ? "" : link + "\n")\(tail)
        """
    }

    static let secondLink = """
          - name: to-site-b
            peerPubKey: \(siteBPubKey)
            vni: 103
            linkVPNIP: 100.64.100.9/30
            peerLinkVPNIP: 100.64.100.10
        """

    /// A bad configuration and its error, shown in test output by the error alone.
    struct BadConfig: CustomTestStringConvertible, Sendable {
        let yaml: String
        let expected: String
        var testDescription: String { expected }
    }

    static let cases: [BadConfig] = table.map { BadConfig(yaml: $0.0, expected: $0.1) }

    static let table: [(String, String)] = [
        // Structure and keys
        ("nodes:\n  name: x\n",
         "site-a.yaml:1:1: nodes: unknown key (did you mean \"node\"?)"),
        (config(node: "  routerId: 100.64.255.1"),
         "site-a.yaml:5:3: node.routerId: unknown key (did you mean \"routerID\"?)"),
        (config(link: "    colour: red"),
         "site-a.yaml:11:5: links[0].colour: unknown key (expected one of: name, peerPubKey, peerEndpoint, psk, pskFile, persistentKeepalive, vni, linkVPNIP, peerLinkVPNIP, underlayIP, peerUnderlayIP, cost, ospf)"),
        (config(node: "  listenPort: 1\n  listenPort: 2"),
         "site-a.yaml:6:3: node.listenPort: duplicate key (first given on line 5)"),
        ("node:\n  privKey: \(privKey)\n  nodeVPNIP: 100.64.255.1/32\n",
         "site-a.yaml:2:3: node.name: required but missing"),
        ("node:\n  name:\n  privKey: \(privKey)\n  nodeVPNIP: 100.64.255.1/32\n",
         "site-a.yaml:2:8: node.name: has no value"),
        ("",
         "site-a.yaml: empty configuration: expected a mapping with a \"node\" section"),
        ("node: [1, 2]\n",
         "site-a.yaml:1:7: node: expected a mapping, got a list"),
        ("node:\n  name: site-a\n  privKey: [\n",
         "site-a.yaml:4:1: YAML syntax error: did not find expected node content (while parsing a flow node at 4:1)"),
        (config(tail: "links2: 1"),
         "site-a.yaml:11:1: links2: unknown key (did you mean \"links\"?)"),
        ("node:\n  name: site-a\n  privKey: \(privKey)\n  nodeVPNIP: 100.64.255.1/32\nlinks:\n  name: to-hub\n",
         "site-a.yaml:6:3: links: expected a list, got a mapping"),
        // node
        (config(node: "  tunName: weft-overlay-zero0"),
         "site-a.yaml:5:12: node.tunName: \"weft-overlay-zero0\" is not a valid interface name (1–15 characters, no \"/\", \":\" or spaces)"),
        ("node:\n  name: Site_A\n",
         "site-a.yaml:2:9: node.name: \"Site_A\" is not a valid name (1–32 characters of a–z, 0–9 and \"-\")"),
        (config(node: "  privKeyFile: /etc/weft/site-a.key"),
         "site-a.yaml:5:3: node.privKeyFile: give either privKey or privKeyFile, not both"),
        ("node:\n  name: site-a\n  nodeVPNIP: 100.64.255.1/32\n",
         "site-a.yaml:2:3: node.privKey: required but missing (or give privKeyFile)"),
        ("node:\n  name: site-a\n  privKey: AAAA\n  nodeVPNIP: 100.64.255.1/32\n",
         "site-a.yaml:3:12: node.privKey: not a valid WireGuard key (decodes to 3 bytes, a key has 32)"),
        ("node:\n  name: site-a\n  privKey: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n  nodeVPNIP: 100.64.255.1/32\n",
         "site-a.yaml:3:12: node.privKey: not a valid WireGuard key (decodes to 33 bytes, a key has 32)"),
        (config(node: "  listenPort: 70000"),
         "site-a.yaml:5:15: node.listenPort: 70000 is out of range 0...65535"),
        (config(node: "  listenPort: \"51820\""),
         "site-a.yaml:5:15: node.listenPort: expected an integer, got the string \"51820\""),
        (config(node: "  tunMTU: 0x500"),
         "site-a.yaml:5:11: node.tunMTU: write integers in plain decimal, got \"0x500\""),
        (config(node: "  tunMTU: 01420"),
         "site-a.yaml:5:11: node.tunMTU: write integers in plain decimal, got \"01420\""),
        (config(node: "  tunMTU: 1000"),
         "site-a.yaml:5:11: node.tunMTU: 1000 is out of range 1280...65535"),
        ("node:\n  name: site-a\n  privKey: \(privKey)\n  nodeVPNIP: 100.64.255.300/32\n",
         "site-a.yaml:4:14: node.nodeVPNIP: invalid prefix \"100.64.255.300/32\": not an IP address"),
        ("node:\n  name: site-a\n  privKey: \(privKey)\n  nodeVPNIP: []\n",
         "site-a.yaml:4:14: node.nodeVPNIP: needs at least one address"),
        ("node:\n  name: site-a\n  privKey: \(privKey)\n  nodeVPNIP: [100.64.255.1/32, 100.64.255.1]\n",
         "site-a.yaml:4:32: node.nodeVPNIP[1]: 100.64.255.1 is given twice (also at index 0)"),
        ("node:\n  name: site-a\n  privKey: \(privKey)\n  nodeVPNIP: 127.0.0.1/32\n",
         "site-a.yaml:4:14: node.nodeVPNIP: 127.0.0.1 is a loopback address"),
        (config(node: "  lanPrefixes: [100.64.1.1/24]"),
         "site-a.yaml:5:17: node.lanPrefixes[0]: 100.64.1.1/24 has host bits set (did you mean 100.64.1.0/24?)"),
        ("node:\n  name: site-a\n  privKey: \(privKey)\n  nodeVPNIP: fd64:ff::1/128\n",
         "site-a.yaml:2:3: node.routerID: required: no nodeVPNIP is an IPv4 address to take the Router ID from"),
        (config(node: "  routerID: 0.0.0.0"),
         "site-a.yaml:5:13: node.routerID: the Router ID must not be 0.0.0.0"),
        (config(node: "  routerID: fd00::1"),
         "site-a.yaml:5:13: node.routerID: \"fd00::1\" is not a Router ID (expected a dotted quad such as 100.64.255.1)"),
        // node.lanInterfaces
        (config(node: "  lanInterfaces: [{name: eth1, ospf: {type: nbma}}]"),
         "site-a.yaml:5:45: node.lanInterfaces[0].ospf.type: unknown network type \"nbma\" (expected \"broadcast\" or \"pointToPoint\")"),
        (config(node: "  lanInterfaces: [{name: eth1, ospf: {type: braodcast}}]"),
         "site-a.yaml:5:45: node.lanInterfaces[0].ospf.type: unknown network type \"braodcast\" (did you mean \"broadcast\"?)"),
        (config(node: "  lanInterfaces: [{name: eth1, ospf: {priority: 256}}]"),
         "site-a.yaml:5:49: node.lanInterfaces[0].ospf.priority: 256 is out of range 0...255"),
        (config(node: "  lanInterfaces: [{name: eth1, ospf: {helloInterval: 5, deadInterval: 5}}]"),
         "site-a.yaml:5:71: node.lanInterfaces[0].ospf.deadInterval: must be greater than helloInterval (5)"),
        (config(node: "  lanInterfaces: [{name: eth1, cost: 0}]"),
         "site-a.yaml:5:38: node.lanInterfaces[0].cost: 0 is out of range 1...65535"),
        (config(node: "  lanInterfaces: [{name: eth1, priority: 5}]"),
         "site-a.yaml:5:32: node.lanInterfaces[0].priority: unknown key (expected one of: name, cost, ospf)"),
        (config(node: "  lanInterfaces: [{cost: 5}]"),
         "site-a.yaml:5:19: node.lanInterfaces[0].name: required but missing"),
        (config(node: "  lanInterfaces: [eth1, {name: eth1, ospf: {}}]"),
         "site-a.yaml:5:25: node.lanInterfaces[1]: eth1 is given twice"),
        (config(node: "  lanInterfaces: [{name: eth1, ospf: {}}]", tail: "ospf: {enabled: false}"),
         "site-a.yaml:5:38: node.lanInterfaces[0].ospf: OSPF is off (ospf.enabled: false); remove this or turn OSPF on"),
        (config(node: "  lanInterfaces: [{name: eth1, ospf: broadcast}]"),
         "site-a.yaml:5:38: node.lanInterfaces[0].ospf: expected a mapping, got the string \"broadcast\""),
        // links
        (config(link: "  - name: to-hub\n    peerPubKey: \(siteBPubKey)\n    vni: 2\n    linkVPNIP: 100.64.100.9/30\n    peerLinkVPNIP: 100.64.100.10"),
         "site-a.yaml:11:11: links[1].name: \"to-hub\" is already the name of links[0]"),
        (config(link: "  - name: to-site-b\n    peerPubKey: \(siteBPubKey.dropLast(4))\n    vni: 2\n    linkVPNIP: 100.64.100.9/30\n    peerLinkVPNIP: 100.64.100.10"),
         "site-a.yaml:12:17: links[1].peerPubKey: not a valid WireGuard key (decodes to 30 bytes, a key has 32)"),
        (config(link: "  - name: to-site-b\n    peerPubKey: \(hubPubKey)\n    vni: 2\n    linkVPNIP: 100.64.100.9/30\n    peerLinkVPNIP: 100.64.100.10"),
         "site-a.yaml:12:17: links[1].peerPubKey: the same peer as links[0] (to-hub); one link per peer"),
        (config(link: "  - name: to-site-b\n    peerPubKey: \(ownPubKey)\n    vni: 2\n    linkVPNIP: 100.64.100.9/30\n    peerLinkVPNIP: 100.64.100.10"),
         "site-a.yaml:12:17: links[1].peerPubKey: is this node's own public key; a link needs the peer's"),
        (config(link: "    peerEndpoint: 198.18.0.2"),
         "site-a.yaml:11:19: links[0].peerEndpoint: \"198.18.0.2\" is not an endpoint (expected a.b.c.d:port or \"[ipv6]:port\"; host names are not resolved)"),
        (config(link: "    peerEndpoint: fd00::2:51820"),
         "site-a.yaml:11:19: links[0].peerEndpoint: \"fd00::2:51820\" is not an endpoint (expected a.b.c.d:port or \"[ipv6]:port\"; host names are not resolved)"),
        (config(link: "    persistentKeepalive: -1"),
         "site-a.yaml:11:26: links[0].persistentKeepalive: -1 is out of range 0...65535"),
        (config(link: "    psk: \(privKey)\n    pskFile: /etc/weft/psk"),
         "site-a.yaml:12:5: links[0].pskFile: give either psk or pskFile, not both"),
        ("node:\n  name: site-a\n  privKey: \(privKey)\n  nodeVPNIP: 100.64.255.1/32\nlinks:\n  - name: to-hub\n    peerPubKey: \(hubPubKey)\n    vni: 0\n",
         "site-a.yaml:8:10: links[0].vni: 0 is out of range 1...16777215"),
        (config(link: "  - name: to-site-b\n    peerPubKey: \(siteBPubKey)\n    vni: 101\n    linkVPNIP: 100.64.100.9/30\n    peerLinkVPNIP: 100.64.100.10"),
         "site-a.yaml:13:10: links[1].vni: VNI 101 is already used by links[0] (to-hub)"),
        (config(link: "  - name: to-site-b\n    peerPubKey: \(siteBPubKey)\n    vni: 2\n    linkVPNIP: 100.64.100.2/29\n    peerLinkVPNIP: 100.64.100.3"),
         "site-a.yaml:14:16: links[1].linkVPNIP: 100.64.100.0/29 overlaps 100.64.100.0/30 of links[0] (to-hub)"),
        (config(node: "  lanPrefixes: 100.64.100.0/24"),
         "site-a.yaml:10:16: links[0].linkVPNIP: 100.64.100.0/30 overlaps node.lanPrefixes[0] 100.64.100.0/24"),
        (config(link: "  - name: to-site-b\n    peerPubKey: \(siteBPubKey)\n    vni: 2\n    linkVPNIP: 100.64.100.8/30\n    peerLinkVPNIP: 100.64.100.10"),
         "site-a.yaml:14:16: links[1].linkVPNIP: 100.64.100.8 is the network address of 100.64.100.8/30"),
        (config(link: "  - name: to-site-b\n    peerPubKey: \(siteBPubKey)\n    vni: 2\n    linkVPNIP: 100.64.100.9/30\n    peerLinkVPNIP: 100.64.100.13"),
         "site-a.yaml:15:20: links[1].peerLinkVPNIP: 100.64.100.13 is not inside the link prefix 100.64.100.8/30"),
        (config(link: "  - name: to-site-b\n    peerPubKey: \(siteBPubKey)\n    vni: 2\n    linkVPNIP: 100.64.100.9/30\n    peerLinkVPNIP: 100.64.100.9"),
         "site-a.yaml:15:20: links[1].peerLinkVPNIP: 100.64.100.9 is this node's own address on the link"),
        (config(link: "  - name: to-site-b\n    peerPubKey: \(siteBPubKey)\n    vni: 2\n    linkVPNIP: [100.64.100.9/30, fd64:100::1/64]\n    peerLinkVPNIP: 100.64.100.10"),
         "site-a.yaml:15:20: links[1].peerLinkVPNIP: no IPv6 address for the peer on fd64:100::/64 (links[1].linkVPNIP[1])"),
        (config(link: "  - name: to-site-b\n    peerPubKey: \(siteBPubKey)\n    vni: 2\n    linkVPNIP: [100.64.100.9/30, 100.64.100.13/30]\n    peerLinkVPNIP: 100.64.100.10"),
         "site-a.yaml:14:34: links[1].linkVPNIP[1]: a second IPv4 address; a link has at most one per family"),
        (config(link: "  - name: to-site-b\n    peerPubKey: \(siteBPubKey)\n    vni: 2\n    linkVPNIP: fd64:100::1/64\n    peerLinkVPNIP: fd64:100::2"),
         "site-a.yaml:14:16: links[1].linkVPNIP: OSPF needs an IPv4 address on every link (OSPFv2 is IPv4 only); add one or set ospf.enabled: false"),
        (config(node: "  tunMTU: 1300", link: "  - name: to-site-b\n    peerPubKey: \(siteBPubKey)\n    vni: 2\n    linkVPNIP: [100.64.100.9/30, fd64:100::1/64]\n    peerLinkVPNIP: [100.64.100.10, fd64:100::2]"),
         "site-a.yaml:15:34: links[1].linkVPNIP[1]: an IPv6 link needs an MTU of at least 1280 (RFC 8200 §5), but tunMTU 1300 leaves 1250 over an IPv4 underlay"),
        (config(link: "    underlayIP: 100.64.200.1"),
         "site-a.yaml:11:17: links[0].underlayIP: give peerUnderlayIP too (the underlay has two ends)"),
        (config(link: "    underlayIP: 100.64.200.1\n    peerUnderlayIP: fd00::2"),
         "site-a.yaml:12:21: links[0].peerUnderlayIP: fd00::2 is IPv6 but underlayIP is IPv4"),
        (config(link: "    underlayIP: 100.64.200.1\n    peerUnderlayIP: 100.64.100.10\n" + secondLink),
         "site-a.yaml:17:20: links[1].peerLinkVPNIP: 100.64.100.10 is already the peer's underlay address on links[0] (to-hub); each peer's AllowedIPs must be its own"),
        (config(link: "    cost: 0"),
         "site-a.yaml:11:11: links[0].cost: 0 is out of range 1...65535"),
        (config(link: "    ospf: {helloInterval: 10, deadInterval: 10}"),
         "site-a.yaml:11:45: links[0].ospf.deadInterval: must be greater than helloInterval (10)"),
        (config(link: "    ospf: {auth: {type: hmac-sha-256, keyID: 1, key: x}}"),
         "site-a.yaml:11:25: links[0].ospf.auth.type: unknown authentication type \"hmac-sha-256\" (did you mean \"hmac-sha256\"?)"),
        (config(link: "    ospf: {auth: {type: hmac-sha256, keyID: 256, key: x}}"),
         "site-a.yaml:11:45: links[0].ospf.auth.keyID: 256 is out of range 0...255"),
        (config(link: "    ospf: {auth: {type: hmac-sha256, keyID: 1}}"),
         "site-a.yaml:11:18: links[0].ospf.auth.key: required but missing (or give keyFile)"),
        (config(link: "    ospf: {auth: password}"),
         "site-a.yaml:11:18: links[0].ospf.auth: expected \"none\" or a mapping with type, keyID and key (or keyFile)"),
        (config(link: "    ospf: {hello: 1}"),
         "site-a.yaml:11:12: links[0].ospf.hello: unknown key (expected one of: helloInterval, deadInterval, auth)"),
        // static routes
        (config(tail: "staticRoutes:\n  - prefix: 100.64.2.0/24\n    via: 100.64.100.3"),
         "site-a.yaml:13:10: staticRoutes[0].via: 100.64.100.3 is not the peer address (peerLinkVPNIP) of any link"),
        (config(tail: "staticRoutes:\n  - prefix: 100.64.2.0/24\n    link: to-hbu"),
         "site-a.yaml:13:11: staticRoutes[0].link: no link is named \"to-hbu\" (did you mean \"to-hub\"?)"),
        (config(tail: "staticRoutes:\n  - prefix: 100.64.2.1/24\n    via: 100.64.100.2"),
         "site-a.yaml:12:13: staticRoutes[0].prefix: 100.64.2.1/24 has host bits set (did you mean 100.64.2.0/24?)"),
        (config(tail: "staticRoutes:\n  - prefix: fd64:2::/64\n    via: 100.64.100.2"),
         "site-a.yaml:13:10: staticRoutes[0].via: 100.64.100.2 is IPv4 but the prefix fd64:2::/64 is IPv6"),
        (config(tail: "staticRoutes:\n  - prefix: fd64:2::/64\n    link: to-hub"),
         "site-a.yaml:13:11: staticRoutes[0].link: link \"to-hub\" has no IPv6 peer address to route fd64:2::/64 through"),
        (config(tail: "staticRoutes:\n  - prefix: 100.64.2.0/24\n    via: 100.64.100.2\n  - prefix: 100.64.2.0/24\n    link: to-hub"),
         "site-a.yaml:14:5: staticRoutes[1]: a second route to 100.64.2.0/24 (first at staticRoutes[0])"),
        (config(tail: "staticRoutes:\n  - prefix: 100.64.2.0/24"),
         "site-a.yaml:12:5: staticRoutes[0].via: required but missing (or give link)"),
        (config(link: secondLink, tail: "staticRoutes:\n  - prefix: 100.64.2.0/24\n    via: 100.64.100.10\n    link: to-hub"),
         "site-a.yaml:18:10: staticRoutes[0].via: 100.64.100.10 is the peer of link \"to-site-b\", not of \"to-hub\""),
        // ospf
        (config(tail: "ospf:\n  enabled: maybe"),
         "site-a.yaml:12:12: ospf.enabled: expected true or false, got the string \"maybe\""),
        (config(tail: "ospf:\n  area: backbone"),
         "site-a.yaml:12:9: ospf.area: \"backbone\" is not an area ID (expected a dotted quad such as 0.0.0.0)"),
        (config(tail: "ospf:\n  area: 4294967296"),
         "site-a.yaml:12:9: ospf.area: 4294967296 is out of range 0...4294967295"),
    ]

    @Test func baseConfigIsValid() throws {
        _ = try NodeConfig.parse(yaml: Self.config(), fileName: "site-a.yaml")
        _ = try NodeConfig.parse(yaml: Self.config(link: Self.secondLink), fileName: "site-a.yaml")
    }

    @Test(arguments: cases)
    func reportsTheProblem(_ bad: BadConfig) {
        do {
            _ = try NodeConfig.parse(yaml: bad.yaml, fileName: "site-a.yaml")
            Issue.record("accepted, expected: \(bad.expected)")
        } catch {
            #expect(error.description == bad.expected)
        }
    }
}

/// Inputs built to break the parser: deep nesting, alias chains, random damage.
@Suite("Node configuration robustness")
struct NodeConfigRobustnessTests {
    static func problem(_ yaml: String) -> String? {
        do {
            _ = try NodeConfig.parse(yaml: yaml, fileName: "x.yaml")
            return nil
        } catch {
            return error.description
        }
    }

    @Test func deepFlowNestingIsRefusedNotACrash() {
        let depth = 200_000
        let yaml = "node: " + String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        #expect(Self.problem(yaml) == "x.yaml:1:70: YAML nested deeper than 64 levels")
    }

    @Test func deepBlockNestingIsRefused() {
        let yaml = "node:\n" + String(repeating: "- ", count: 100) + "x\n"
        #expect(Self.problem(yaml) == "x.yaml:2:127: YAML nested deeper than 64 levels")
    }

    @Test func nestingWithinTheLimitReachesTheSchema() {
        let yaml = "node: " + String(repeating: "[", count: 63) + String(repeating: "]", count: 63)
        #expect(Self.problem(yaml) == "x.yaml:1:7: node: expected a mapping, got a list")
    }

    /// Each anchor nests the previous one by aliasing it: shallow in the text, deep as a tree.
    @Test func aliasChainsCountTheirTargetsHeight() {
        var yaml = "chain:\n  - &a0 [x]\n"
        for index in 1...40 {
            yaml += "  - &a\(index) [[*a\(index - 1)]]\n"
        }
        #expect(Self.problem(yaml) == "x.yaml:33:12: YAML nested deeper than 64 levels")
    }

    /// Random byte damage to a valid file (deterministic SplitMix64): every result is a config
    /// or a one-line error, never a crash.
    @Test func damagedFilesNeverCrash() throws {
        let original = Array(NodeConfigErrorTests.config(link: NodeConfigErrorTests.secondLink,
                                                         tail: "staticRoutes:\n  - {prefix: 100.64.2.0/24, via: 100.64.100.10}").utf8)
        var state: UInt64 = 0x5EED
        func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        let alphabet = Array(" \n\t:-[]{},#&*!|>'\"?%@`0123456789abcdefABCDEF./=+".utf8)
        var errors = 0
        for _ in 0..<400 {
            var bytes = original
            for _ in 0..<(1 + Int(next() % 4)) {
                let position = Int(next() % UInt64(bytes.count))
                switch next() % 3 {
                case 0: bytes.remove(at: position)
                case 1: bytes.insert(alphabet[Int(next() % UInt64(alphabet.count))], at: position)
                default: bytes[position] = alphabet[Int(next() % UInt64(alphabet.count))]
                }
            }
            if let message = Self.problem(String(decoding: bytes, as: UTF8.self)) {
                errors += 1
                #expect(message.hasPrefix("x.yaml"))
                #expect(!message.contains("\n"))
            }
        }
        #expect(errors > 100, "most damage is caught")
    }
}
