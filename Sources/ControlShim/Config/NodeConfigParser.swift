// Reading and validating a node configuration file. The schema is documented field by field in
// examples/site-a.yaml; the rules that span fields are listed on `NodeConfigParser`.

internal import Yams
import WeftCrypto
import WeftDataPlane
import WeftOSPF
import WeftRouting

extension NodeConfig {
    /// Reads and validates the YAML file at `path`. Errors name `path` as given.
    public static func load(path: String) throws(ConfigError) -> NodeConfig {
        switch ConfigFile.read(path, limit: ConfigFile.configSizeLimit) {
        case .failure(let failure):
            throw ConfigError(fileName: path, line: nil, column: nil, path: "", message: "cannot read: \(failure.reason)")
        case .success(var bytes):
            // The file may hold private keys inline.
            defer { ConfigFile.wipe(&bytes) }
            guard let text = String(validating: bytes, as: UTF8.self) else {
                throw ConfigError(fileName: path, line: nil, column: nil, path: "", message: "not UTF-8 text")
            }
            return try parse(yaml: text, fileName: path)
        }
    }

    /// Validates YAML text. `fileName` is used in errors and as the base of relative key-file
    /// paths (`privKeyFile: keys/a.key` next to `conf/site-a.yaml` is `conf/keys/a.key`).
    public static func parse(yaml: String, fileName: String) throws(ConfigError) -> NodeConfig {
        try NodeConfigParser(fileName: fileName).parse(yaml)
    }
}

/// Turns the YAML tree into a `NodeConfig`, stopping at the first problem.
///
/// Besides types and ranges of single fields it checks:
/// - exactly one of `privKey`/`privKeyFile`; at most one of `psk`/`pskFile`, `key`/`keyFile`;
/// - unique link names, VNIs and peer public keys, and no link to this node's own key;
/// - per link at most one address per family; the peer's address of each family inside our
///   prefix of that family, different from ours, and not the subnet's network or broadcast
///   address; no link prefix overlapping another link's, a `nodeVPNIP` or a `lanPrefix`;
/// - `underlayIP` and `peerUnderlayIP` given together, of one family, and a peer underlay
///   address used by one link only (it is that peer's AllowedIPs);
/// - with OSPF on, an IPv4 address on every link (OSPFv2 is IPv4 only) and
///   deadInterval > helloInterval; an IPv6 link with an MTU of at least 1280 (RFC 8200 §5);
/// - unique LAN interface names, and `ospf` on a LAN interface only with OSPF on;
/// - static routes to canonical, distinct prefixes, whose `via` is the peer address of a link in
///   the prefix's family (or whose `link` names a link with such an address).
struct NodeConfigParser {
    let reader: ConfigReader

    init(fileName: String) {
        reader = ConfigReader(fileName: fileName)
    }

    static let topKeys = ["node", "links", "staticRoutes", "ospf"]
    static let nodeKeys = ["name", "routerID", "privKey", "privKeyFile", "listenPort", "tunName", "tunMTU",
                           "nodeVPNIP", "lanPrefixes", "lanInterfaces"]
    static let linkKeys = ["name", "peerPubKey", "peerEndpoint", "psk", "pskFile", "persistentKeepalive", "vni",
                           "linkVPNIP", "peerLinkVPNIP", "underlayIP", "peerUnderlayIP", "cost", "ospf"]
    static let linkOSPFKeys = ["helloInterval", "deadInterval", "auth"]
    static let lanInterfaceKeys = ["name", "cost", "ospf"]
    static let lanOSPFKeys = ["type", "priority", "helloInterval", "deadInterval", "auth"]
    /// The YAML names of the network types a LAN interface can have.
    static let lanNetworkTypes: [(name: String, type: OSPFNetworkType)] = [("broadcast", .broadcast),
                                                                           ("pointToPoint", .pointToPoint)]
    static let authKeys = ["type", "keyID", "key", "keyFile"]
    static let staticRouteKeys = ["prefix", "via", "link"]
    static let ospfKeys = ["enabled", "area"]

    /// The smallest WireGuard tunnel MTU accepted: the IPv6 minimum link MTU (RFC 8200 §5),
    /// since the tunnel may run over IPv6.
    static let minimumTunMTU = LinkMTU.minimumIPv6MTU
    /// The largest: an IP packet's length field.
    static let maximumTunMTU = 65535

    func parse(_ yaml: String) throws(ConfigError) -> NodeConfig {
        guard let root = try reader.compose(yaml), !ConfigReader.isNull(root) else {
            throw reader.error(at: nil, "", "empty configuration: expected a mapping with a \"node\" section")
        }
        let top = try reader.mapping(ConfigValue(node: root, path: ""), keys: Self.topKeys)
        // OSPF first: whether it runs decides what a link needs.
        let ospf = try top["ospf"].map { value throws(ConfigError) in try ospfSettings(value) } ?? OSPFSettings()
        var config = try node(reader.required(top, "node"), ospf: ospf)
        if let value = top["links"] {
            var context = LinkContext()
            for element in try reader.list(value) {
                config.links.append(try link(element, node: config, context: &context))
            }
        }
        if let value = top["staticRoutes"] {
            var seen: [IPPrefix: String] = [:]
            for element in try reader.list(value) {
                let route = try staticRoute(element, links: config.links)
                if let first = seen[route.prefix] {
                    throw reader.error(element, "a second route to \(route.prefix) (first at \(first))")
                }
                seen[route.prefix] = element.path
                config.staticRoutes.append(route)
            }
        }
        return config
    }

    // MARK: node

    private func node(_ value: ConfigValue, ospf: OSPFSettings) throws(ConfigError) -> NodeConfig {
        let fields = try reader.mapping(value, keys: Self.nodeKeys)
        let name = try self.name(reader.required(fields, "name"))
        let privKey = try privateKey(fields)
        let listenPort = try fields["listenPort"].map { value throws(ConfigError) in
            UInt16(try reader.integer(value, in: 0...65535))
        } ?? NodeConfig.defaultListenPort
        let tunName = try fields["tunName"].map { value throws(ConfigError) in try interfaceName(value) }
            ?? NodeConfig.defaultTunName
        let tunMTU = try fields["tunMTU"].map { value throws(ConfigError) in
            try reader.integer(value, in: Self.minimumTunMTU...Self.maximumTunMTU)
        } ?? NodeConfig.defaultTunMTU

        var nodeVPNIPs: [IPPrefix] = []
        var nodeIndexes: [IPAddress: Int] = [:]
        let nodeVPNIPValue = try reader.required(fields, "nodeVPNIP")
        for element in try reader.scalarOrList(nodeVPNIPValue) {
            let prefix = try self.prefix(element)
            try requireUnicast(prefix.address, element)
            if let index = nodeIndexes[prefix.address] {
                throw reader.error(element, "\(prefix.address) is given twice (also at index \(index))")
            }
            nodeIndexes[prefix.address] = nodeVPNIPs.count
            nodeVPNIPs.append(prefix)
        }
        if nodeVPNIPs.isEmpty { throw reader.error(nodeVPNIPValue, "needs at least one address") }

        var lanPrefixes: [IPPrefix] = []
        var lanIndexes: [IPPrefix: Int] = [:]
        if let lanValue = fields["lanPrefixes"] {
            for element in try reader.scalarOrList(lanValue) {
                let prefix = try canonicalPrefix(element)
                if let index = lanIndexes[prefix] {
                    throw reader.error(element, "\(prefix) is given twice (also at index \(index))")
                }
                lanIndexes[prefix] = lanPrefixes.count
                lanPrefixes.append(prefix)
            }
        }

        var lanInterfaces: [LANInterfaceConfig] = []
        if let value = fields["lanInterfaces"] {
            // One interface may be written without the list, as a name or a mapping.
            let elements = if case .mapping = value.node { [value] } else { try reader.scalarOrList(value) }
            for element in elements {
                let lan = try lanInterface(element, ospf: ospf)
                if lanInterfaces.contains(where: { $0.name == lan.name }) {
                    throw reader.error(element, "\(lan.name) is given twice")
                }
                lanInterfaces.append(lan)
            }
        }

        let routerID: IPv4Address
        if let routerValue = fields["routerID"] {
            routerID = try ipv4Address(routerValue, what: "a Router ID", example: "100.64.255.1")
            if routerID.isUnspecified { throw reader.error(routerValue, "the Router ID must not be 0.0.0.0") }
        } else if case .v4(let first)? = nodeVPNIPs.first(where: { $0.family == .ipv4 })?.address {
            routerID = first
        } else {
            throw reader.error(at: fields.mark, fields.path("routerID"),
                               "required: no nodeVPNIP is an IPv4 address to take the Router ID from")
        }

        return NodeConfig(name: name, routerID: routerID, privKey: privKey, listenPort: listenPort, tunName: tunName,
                          tunMTU: tunMTU, nodeVPNIPs: nodeVPNIPs, lanPrefixes: lanPrefixes, ospf: ospf)
            .with(lanInterfaces: lanInterfaces)
    }

    /// A LAN interface: just its name, or a mapping with `name`, `cost` and `ospf`.
    private func lanInterface(_ value: ConfigValue, ospf: OSPFSettings) throws(ConfigError) -> LANInterfaceConfig {
        guard case .mapping = value.node else { return LANInterfaceConfig(name: try interfaceName(value)) }
        let fields = try reader.mapping(value, keys: Self.lanInterfaceKeys)
        var lan = LANInterfaceConfig(name: try interfaceName(reader.required(fields, "name")))
        if let costValue = fields["cost"] { lan.cost = UInt16(try reader.integer(costValue, in: 1...65535)) }
        if let ospfValue = fields["ospf"] {
            guard ospf.enabled else {
                throw reader.error(ospfValue, "OSPF is off (ospf.enabled: false); remove this or turn OSPF on")
            }
            lan.ospf = try lanOSPF(ospfValue)
        }
        return lan
    }

    private func privateKey(_ fields: ConfigMapping) throws(ConfigError) -> PrivateKey {
        let text: String
        let value: ConfigValue
        let source: String?
        switch (fields["privKey"], fields["privKeyFile"]) {
        case (.some, .some(let file)):
            throw reader.error(at: fields.keyMark("privKeyFile"), file.path, "give either privKey or privKeyFile, not both")
        case (.some(let inline), nil):
            (text, value, source) = (try reader.string(inline), inline, nil)
        case (nil, .some(let file)):
            let path = try reader.string(file)
            (text, value, source) = (try keyFile(path, file), file, path)
        case (nil, nil):
            throw reader.error(at: fields.mark, fields.path("privKey"), "required but missing (or give privKeyFile)")
        }
        do throws(CryptoError) {
            return try PrivateKey(base64: text)
        } catch {
            throw reader.error(value, keyProblem(error, source: source))
        }
    }

    // MARK: links

    /// What earlier links claimed, for the uniqueness and overlap checks.
    private struct LinkContext {
        var names: [String: String] = [:]
        var vnis: [UInt32: String] = [:]
        var peers: [PublicKey: String] = [:]
        var prefixes: [(prefix: IPPrefix, owner: String)] = []
        var peerUnderlays: [IPAddress: String] = [:]
    }

    private func link(_ value: ConfigValue, node: NodeConfig, context: inout LinkContext) throws(ConfigError) -> LinkConfig {
        let fields = try reader.mapping(value, keys: Self.linkKeys)
        let nameValue = try reader.required(fields, "name")
        let name = try self.name(nameValue)
        if let first = context.names[name] {
            throw reader.error(nameValue, "\"\(name)\" is already the name of \(first)")
        }
        let label = "\(value.path) (\(name))"
        context.names[name] = value.path

        let peerValue = try reader.required(fields, "peerPubKey")
        let peerText = try reader.string(peerValue)
        let peerPubKey: PublicKey
        do throws(CryptoError) {
            peerPubKey = try PublicKey(base64: peerText)
        } catch {
            throw reader.error(peerValue, keyProblem(error, source: nil))
        }
        if peerPubKey == node.pubKey {
            throw reader.error(peerValue, "is this node's own public key; a link needs the peer's")
        }
        if let first = context.peers[peerPubKey] {
            throw reader.error(peerValue, "the same peer as \(first); one link per peer")
        }
        context.peers[peerPubKey] = label

        let peerEndpoint = try fields["peerEndpoint"].map { value throws(ConfigError) in try endpoint(value) }
        let psk = try presharedKey(fields)
        let persistentKeepalive = try fields["persistentKeepalive"].map { value throws(ConfigError) in
            UInt16(try reader.integer(value, in: 0...65535))
        } ?? 0

        let vniValue = try reader.required(fields, "vni")
        let vniNumber = UInt32(try reader.integer(vniValue, in: 1...Int(VXLANNetworkIdentifier.maximum)))
        if let first = context.vnis[vniNumber] {
            throw reader.error(vniValue, "VNI \(vniNumber) is already used by \(first)")
        }
        context.vnis[vniNumber] = label
        let vni = VXLANNetworkIdentifier(rawValue: vniNumber)!

        // Our addresses on the segment.
        var linkVPNIPs: [IPPrefix] = []
        var linkElements: [ConfigValue] = []
        let linkValue = try reader.required(fields, "linkVPNIP")
        for element in try reader.scalarOrList(linkValue) {
            let prefix = try self.prefix(element)
            try requireUnicast(prefix.address, element)
            if linkVPNIPs.contains(where: { $0.family == prefix.family }) {
                throw reader.error(element, "a second \(prefix.family) address; a link has at most one per family")
            }
            if let problem = subnetEdgeProblem(prefix.address, in: prefix) {
                throw reader.error(element, "\(prefix.address) is \(problem) of \(prefix.canonical)")
            }
            try checkOverlap(prefix, element, node: node, context: context)
            linkVPNIPs.append(prefix)
            linkElements.append(element)
        }
        if linkVPNIPs.isEmpty { throw reader.error(linkValue, "needs at least one address") }
        for prefix in linkVPNIPs { context.prefixes.append((prefix.canonical, label)) }

        // The peer's addresses: one per family we have, inside our prefix.
        var peerLinkVPNIPs: [IPAddress] = []
        var peerElements: [ConfigValue] = []
        let peerLinkValue = try reader.required(fields, "peerLinkVPNIP")
        for element in try reader.scalarOrList(peerLinkValue) {
            let address = try ipAddress(element)
            guard let ours = linkVPNIPs.first(where: { $0.family == address.family }) else {
                throw reader.error(element, "\(address) is \(address.family) but linkVPNIP has no \(address.family) prefix")
            }
            if peerLinkVPNIPs.contains(where: { $0.family == address.family }) {
                throw reader.error(element, "a second \(address.family) address; a link has one peer")
            }
            guard ours.contains(address) else {
                throw reader.error(element, "\(address) is not inside the link prefix \(ours.canonical)")
            }
            guard address != ours.address else {
                throw reader.error(element, "\(address) is this node's own address on the link")
            }
            try requireUnicast(address, element)
            if let problem = subnetEdgeProblem(address, in: ours) {
                throw reader.error(element, "\(address) is \(problem) of \(ours.canonical)")
            }
            peerLinkVPNIPs.append(address)
            peerElements.append(element)
        }
        for (prefix, element) in zip(linkVPNIPs, linkElements)
        where !peerLinkVPNIPs.contains(where: { $0.family == prefix.family }) {
            throw reader.error(at: peerLinkValue.mark, peerLinkValue.path,
                               "no \(prefix.family) address for the peer on \(prefix.canonical) (\(element.path))")
        }

        let underlay = try self.underlay(fields, linkVPNIPs: linkVPNIPs, peerLinkVPNIPs: peerLinkVPNIPs)
        let remote: IPAddress
        switch underlay {
        case .ipv4(_, let address): remote = .v4(address)
        case .ipv6(_, let address): remote = .v6(address)
        }
        if let first = context.peerUnderlays[remote] {
            let culprit = fields["peerUnderlayIP"] ?? peerElements[peerLinkVPNIPs.firstIndex(of: remote) ?? 0]
            throw reader.error(culprit, "\(remote) is already the peer's underlay address on \(first); "
                + "each peer's AllowedIPs must be its own")
        }
        context.peerUnderlays[remote] = label

        let vxlanMTU = LinkMTU.vxlanMTU(tunnelMTU: node.tunMTU, outer: underlay.family)
        if let index = linkVPNIPs.firstIndex(where: { $0.family == .ipv6 }), vxlanMTU < LinkMTU.minimumIPv6MTU {
            throw reader.error(linkElements[index],
                               "an IPv6 link needs an MTU of at least \(LinkMTU.minimumIPv6MTU) (RFC 8200 §5), "
                                   + "but tunMTU \(node.tunMTU) leaves \(vxlanMTU) over an \(underlay.family) underlay")
        }
        if node.ospf.enabled && !linkVPNIPs.contains(where: { $0.family == .ipv4 }) {
            throw reader.error(linkValue, "OSPF needs an IPv4 address on every link (OSPFv2 is IPv4 only); "
                + "add one or set ospf.enabled: false")
        }

        let cost = try fields["cost"].map { value throws(ConfigError) in UInt16(try reader.integer(value, in: 1...65535)) }
            ?? LinkConfig.defaultCost
        let ospf = try fields["ospf"].map { value throws(ConfigError) in try linkOSPF(value) } ?? LinkOSPFSettings()

        return LinkConfig(name: name, peerPubKey: peerPubKey, peerEndpoint: peerEndpoint, psk: psk,
                          persistentKeepalive: persistentKeepalive, vni: vni, linkVPNIPs: linkVPNIPs,
                          peerLinkVPNIPs: peerLinkVPNIPs, underlay: underlay, cost: cost, ospf: ospf, vxlanMTU: vxlanMTU)
    }

    private func checkOverlap(_ prefix: IPPrefix, _ element: ConfigValue, node: NodeConfig,
                              context: LinkContext) throws(ConfigError) {
        let network = prefix.canonical
        for (other, owner) in context.prefixes where network.contains(other) || other.contains(network) {
            throw reader.error(element, "\(network) overlaps \(other) of \(owner)")
        }
        for (index, other) in node.nodeVPNIPs.enumerated() where network.contains(other.address) {
            throw reader.error(element, "\(network) contains node.nodeVPNIP[\(index)] \(other.address)")
        }
        for (index, other) in node.lanPrefixes.enumerated() where network.contains(other) || other.contains(network) {
            throw reader.error(element, "\(network) overlaps node.lanPrefixes[\(index)] \(other)")
        }
    }

    private func presharedKey(_ fields: ConfigMapping) throws(ConfigError) -> PresharedKey? {
        let text: String
        let value: ConfigValue
        let source: String?
        switch (fields["psk"], fields["pskFile"]) {
        case (.some, .some(let file)):
            throw reader.error(at: fields.keyMark("pskFile"), file.path, "give either psk or pskFile, not both")
        case (.some(let inline), nil):
            (text, value, source) = (try reader.string(inline), inline, nil)
        case (nil, .some(let file)):
            let path = try reader.string(file)
            (text, value, source) = (try keyFile(path, file), file, path)
        case (nil, nil):
            return nil
        }
        do throws(CryptoError) {
            return try PresharedKey(base64: text)
        } catch {
            throw reader.error(value, keyProblem(error, source: source))
        }
    }

    /// The outer VXLAN addresses: given explicitly as a pair, or the link addresses of the
    /// first family of IPv4, IPv6 that the link has (see `LinkConfig.underlay`).
    private func underlay(_ fields: ConfigMapping, linkVPNIPs: [IPPrefix],
                          peerLinkVPNIPs: [IPAddress]) throws(ConfigError) -> VXLANUnderlay {
        switch (fields["underlayIP"], fields["peerUnderlayIP"]) {
        case (.some(let localValue), .some(let remoteValue)):
            let local = try ipAddress(localValue)
            try requireUnicast(local, localValue)
            let remote = try ipAddress(remoteValue)
            try requireUnicast(remote, remoteValue)
            switch (local, remote) {
            case (.v4(let local), .v4(let remote)) where local != remote:
                return .ipv4(local: local, remote: remote)
            case (.v6(let local), .v6(let remote)) where local != remote:
                return .ipv6(local: local, remote: remote)
            default:
                if local == remote { throw reader.error(remoteValue, "must differ from underlayIP") }
                throw reader.error(remoteValue, "\(remote) is \(remote.family) but underlayIP is \(local.family)")
            }
        case (.some(let localValue), nil):
            throw reader.error(localValue, "give peerUnderlayIP too (the underlay has two ends)")
        case (nil, .some(let remoteValue)):
            throw reader.error(remoteValue, "give underlayIP too (the underlay has two ends)")
        case (nil, nil):
            for family in [IPFamily.ipv4, .ipv6] {
                guard let local = linkVPNIPs.first(where: { $0.family == family })?.address,
                      let remote = peerLinkVPNIPs.first(where: { $0.family == family }) else { continue }
                switch (local, remote) {
                case (.v4(let local), .v4(let remote)): return .ipv4(local: local, remote: remote)
                case (.v6(let local), .v6(let remote)): return .ipv6(local: local, remote: remote)
                default: continue
                }
            }
            // Unreachable: every link prefix has a peer address of its family by now.
            throw reader.error(at: fields.mark, fields.path, "no link address pair to derive the VXLAN underlay from")
        }
    }

    private func linkOSPF(_ value: ConfigValue) throws(ConfigError) -> LinkOSPFSettings {
        try ospfTimersAndAuthentication(reader.mapping(value, keys: Self.linkOSPFKeys))
    }

    private func lanOSPF(_ value: ConfigValue) throws(ConfigError) -> LANOSPFSettings {
        let fields = try reader.mapping(value, keys: Self.lanOSPFKeys)
        let common = try ospfTimersAndAuthentication(fields)
        var settings = LANOSPFSettings(helloInterval: common.helloInterval, deadInterval: common.deadInterval,
                                       authentication: common.authentication)
        if let typeValue = fields["type"] {
            let name = try reader.string(typeValue)
            guard let type = Self.lanNetworkTypes.first(where: { $0.name == name })?.type else {
                let names = Self.lanNetworkTypes.map(\.name)
                let hint = Suggestion.closest(to: name, among: names).map { "did you mean \"\($0)\"?" }
                    ?? "expected " + names.map { "\"\($0)\"" }.joined(separator: " or ")
                throw reader.error(typeValue, "unknown network type \"\(name.prefix(40))\" (\(hint))")
            }
            settings.type = type
        }
        if let priorityValue = fields["priority"] {
            settings.priority = UInt8(try reader.integer(priorityValue, in: 0...255))
        }
        return settings
    }

    /// helloInterval, deadInterval and auth, which links and LAN interfaces share.
    private func ospfTimersAndAuthentication(_ fields: ConfigMapping) throws(ConfigError) -> LinkOSPFSettings {
        var settings = LinkOSPFSettings()
        if let helloValue = fields["helloInterval"] {
            settings = LinkOSPFSettings(helloInterval: UInt16(try reader.integer(helloValue, in: 1...65535)))
        }
        if let deadValue = fields["deadInterval"] {
            settings.deadInterval = UInt32(try reader.integer(deadValue, in: 1...Int(UInt32.max)))
            // RFC 2328 §C.3: "some multiple of the HelloInterval"; equal or less would declare
            // neighbors dead between two Hellos.
            guard settings.deadInterval > UInt32(settings.helloInterval) else {
                throw reader.error(deadValue, "must be greater than helloInterval (\(settings.helloInterval))")
            }
        }
        if let authValue = fields["auth"] {
            settings.authentication = try authentication(authValue)
        }
        return settings
    }

    private func authentication(_ value: ConfigValue) throws(ConfigError) -> OSPFAuthentication {
        if case .scalar = value.node {
            let text = try reader.string(value)
            guard text == "none" else {
                throw reader.error(value, "expected \"none\" or a mapping with type, keyID and key (or keyFile)")
            }
            return .none
        }
        let fields = try reader.mapping(value, keys: Self.authKeys)
        let typeValue = try reader.required(fields, "type")
        let type = try reader.string(typeValue)
        let types = ["hmac-sha256"]
        guard types.contains(type) else {
            let hint = Suggestion.closest(to: type, among: types).map { "did you mean \"\($0)\"?" }
                ?? "the one supported type is \"hmac-sha256\" (RFC 5709)"
            throw reader.error(typeValue, "unknown authentication type \"\(type)\" (\(hint))")
        }
        let keyID = UInt8(try reader.integer(reader.required(fields, "keyID"), in: 0...255))
        var secret: [UInt8]
        switch (fields["key"], fields["keyFile"]) {
        case (.some, .some(let file)):
            throw reader.error(at: fields.keyMark("keyFile"), file.path, "give either key or keyFile, not both")
        case (.some(let inline), nil):
            secret = Array(try reader.string(inline).utf8)
            if secret.isEmpty { throw reader.error(inline, "is empty") }
        case (nil, .some(let file)):
            secret = Array(try keyFile(reader.string(file), file).utf8)
        case (nil, nil):
            throw reader.error(at: fields.mark, fields.path("key"), "required but missing (or give keyFile)")
        }
        return .cryptographic([OSPFAuthenticationKey(keyID: keyID, secret: secret)])
    }

    // MARK: static routes

    private func staticRoute(_ value: ConfigValue, links: [LinkConfig]) throws(ConfigError) -> StaticRouteConfig {
        let fields = try reader.mapping(value, keys: Self.staticRouteKeys)
        let prefix = try canonicalPrefix(reader.required(fields, "prefix"))

        var named: (link: LinkConfig, value: ConfigValue)?
        if let linkValue = fields["link"] {
            let name = try reader.string(linkValue)
            guard let link = links.first(where: { $0.name == name }) else {
                let hint = Suggestion.closest(to: name, among: links.map(\.name)).map { " (did you mean \"\($0)\"?)" } ?? ""
                throw reader.error(linkValue, "no link is named \"\(name)\"\(hint)")
            }
            named = (link, linkValue)
        }
        guard let viaValue = fields["via"] else {
            guard let (link, linkValue) = named else {
                throw reader.error(at: fields.mark, fields.path("via"), "required but missing (or give link)")
            }
            guard let gateway = link.peerLinkVPNIP(prefix.family) else {
                throw reader.error(linkValue, "link \"\(link.name)\" has no \(prefix.family) peer address to route \(prefix) through")
            }
            return StaticRouteConfig(prefix: prefix, link: link.name, gateway: gateway)
        }
        let via = try ipAddress(viaValue)
        guard via.family == prefix.family else {
            throw reader.error(viaValue, "\(via) is \(via.family) but the prefix \(prefix) is \(prefix.family)")
        }
        guard let link = links.first(where: { $0.peerLinkVPNIPs.contains(via) }) else {
            throw reader.error(viaValue, "\(via) is not the peer address (peerLinkVPNIP) of any link")
        }
        if let named, named.link.name != link.name {
            throw reader.error(viaValue, "\(via) is the peer of link \"\(link.name)\", not of \"\(named.link.name)\"")
        }
        return StaticRouteConfig(prefix: prefix, link: link.name, gateway: via)
    }

    // MARK: ospf

    private func ospfSettings(_ value: ConfigValue) throws(ConfigError) -> OSPFSettings {
        let fields = try reader.mapping(value, keys: Self.ospfKeys)
        var settings = OSPFSettings()
        if let enabledValue = fields["enabled"] { settings.enabled = try reader.bool(enabledValue) }
        if let areaValue = fields["area"] {
            // An area ID is 32 bits, written as a dotted quad or, as BIRD allows, a number.
            if areaValue.node.tag == Tag(.int) {
                settings.area = IPv4Address(UInt32(try reader.integer(areaValue, in: 0...Int(UInt32.max))))
            } else {
                settings.area = try ipv4Address(areaValue, what: "an area ID", example: "0.0.0.0")
            }
        }
        return settings
    }

    // MARK: Field types

    private func name(_ value: ConfigValue) throws(ConfigError) -> String {
        let text = try reader.string(value)
        let allowed = text.utf8.allSatisfy {
            ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9"))
                || $0 == UInt8(ascii: "-")
        }
        guard allowed, (1...32).contains(text.utf8.count) else {
            throw reader.error(value, "\"\(text.prefix(40))\" is not a valid name (1–32 characters of a–z, 0–9 and \"-\")")
        }
        return text
    }

    /// A Linux interface name as `dev_valid_name` accepts it: 1–15 bytes, not "." or "..",
    /// no "/", ":" or whitespace.
    private func interfaceName(_ value: ConfigValue) throws(ConfigError) -> String {
        let text = try reader.string(value)
        let forbidden: Set<UInt8> = [UInt8(ascii: "/"), UInt8(ascii: ":"), UInt8(ascii: " "), UInt8(ascii: "\t"),
                                     UInt8(ascii: "\n"), UInt8(ascii: "\r")]
        guard (1...15).contains(text.utf8.count), text != ".", text != "..",
              !text.utf8.contains(where: { forbidden.contains($0) }) else {
            throw reader.error(value, "\"\(text.prefix(40))\" is not a valid interface name "
                + "(1–15 characters, no \"/\", \":\" or spaces)")
        }
        return text
    }

    private func prefix(_ value: ConfigValue) throws(ConfigError) -> IPPrefix {
        let text = try reader.string(value)
        do throws(PrefixParseError) {
            return try IPPrefix(parsing: text)
        } catch {
            throw reader.error(value, error.description)
        }
    }

    /// A prefix used as a route: host bits must be clear, so that "100.64.1.1/24" (probably
    /// meant as an address) is not silently widened.
    private func canonicalPrefix(_ value: ConfigValue) throws(ConfigError) -> IPPrefix {
        let prefix = try self.prefix(value)
        guard prefix.isCanonical else {
            throw reader.error(value, "\(prefix) has host bits set (did you mean \(prefix.canonical)?)")
        }
        return prefix
    }

    private func ipAddress(_ value: ConfigValue) throws(ConfigError) -> IPAddress {
        let text = try reader.string(value)
        guard let address = IPAddress(text) else {
            throw reader.error(value, "\"\(text.prefix(60))\" is not an IP address")
        }
        return address
    }

    private func ipv4Address(_ value: ConfigValue, what: String, example: String) throws(ConfigError) -> IPv4Address {
        let text = try reader.string(value)
        guard let address = IPv4Address(text) else {
            throw reader.error(value, "\"\(text.prefix(60))\" is not \(what) (expected a dotted quad such as \(example))")
        }
        return address
    }

    private func endpoint(_ value: ConfigValue) throws(ConfigError) -> Endpoint {
        let text = try reader.string(value)
        guard let endpoint = Endpoint(text) else {
            throw reader.error(value, "\"\(text.prefix(60))\" is not an endpoint "
                + "(expected a.b.c.d:port or \"[ipv6]:port\"; host names are not resolved)")
        }
        guard endpoint.port != 0 else { throw reader.error(value, "port 0 cannot be sent to") }
        return endpoint
    }

    /// Addresses a node can own or talk to: not unspecified, loopback, multicast or broadcast.
    private func requireUnicast(_ address: IPAddress, _ value: ConfigValue) throws(ConfigError) {
        let problem: String?
        switch address {
        case .v4(let v4):
            problem = v4.isUnspecified ? "the unspecified address" : v4.isLoopback ? "a loopback address"
                : v4.isMulticast ? "a multicast address" : v4 == .broadcast ? "the broadcast address" : nil
        case .v6(let v6):
            problem = v6.isUnspecified ? "the unspecified address" : v6.isLoopback ? "a loopback address"
                : v6.isMulticast ? "a multicast address" : nil
        }
        if let problem { throw reader.error(value, "\(address) is \(problem)") }
    }

    /// The network and broadcast addresses of an IPv4 subnet of /30 or wider are not host
    /// addresses (RFC 1812 §5.3.5); a /31 has neither (RFC 3021).
    private func subnetEdgeProblem(_ address: IPAddress, in prefix: IPPrefix) -> String? {
        guard case .v4(let v4) = address, case .v4(let subnet) = prefix, subnet.length <= 30 else { return nil }
        if v4 == subnet.canonical.address { return "the network address" }
        if v4.value == subnet.canonical.address.value | ~subnet.netmask.value { return "the broadcast address" }
        return nil
    }

    // MARK: Keys

    /// The text of a key file: its bytes less trailing line ends, so a file written by
    /// `weft genkey > file` (or `echo`) reads the same as the key itself.
    private func keyFile(_ path: String, _ value: ConfigValue) throws(ConfigError) -> String {
        let resolved = ConfigFile.resolve(path, relativeTo: reader.fileName)
        switch ConfigFile.read(resolved, limit: ConfigFile.keySizeLimit) {
        case .failure(let failure):
            throw reader.error(value, "cannot read \(resolved): \(failure.reason)")
        case .success(var bytes):
            defer { ConfigFile.wipe(&bytes) }
            var end = bytes.count
            while end > 0, bytes[end - 1] == UInt8(ascii: "\n") || bytes[end - 1] == UInt8(ascii: "\r") { end -= 1 }
            guard end > 0 else { throw reader.error(value, "\(resolved) is empty") }
            guard let text = String(validating: bytes[0..<end], as: UTF8.self) else {
                throw reader.error(value, "\(resolved) is not UTF-8 text")
            }
            return text
        }
    }

    /// Why a key did not decode, without repeating the key.
    private func keyProblem(_ error: CryptoError, source: String?) -> String {
        let subject = source.map { "\(ConfigFile.resolve($0, relativeTo: reader.fileName)) does not hold" } ?? "not"
        switch error {
        case .invalidKeyLength(let count):
            return "\(subject) a valid WireGuard key (decodes to \(count) bytes, a key has 32)"
        default:
            return "\(subject) a valid WireGuard key (expected 44 characters of base64 ending in \"=\", as `weft genkey` prints)"
        }
    }
}
