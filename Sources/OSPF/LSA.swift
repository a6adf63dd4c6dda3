// Link state advertisements: the common header (RFC 2328 §12.1, §A.4.1), the LS checksum
// (§12.1.7, the Fletcher checksum of RFC 905 Annex B/C as used by ISO 8473), and the bodies of
// router-LSAs (§12.4.1, §A.4.2), network-LSAs (§12.4.2, §A.4.3), summary-LSAs (§A.4.4) and
// AS-external-LSAs (§A.4.5).
//
// An LSA is kept as its parsed header plus the raw body bytes, so that LSAs of any known type
// are flooded byte-exact; bodies are decoded on demand (the database caches the decoding).

/// The OSPF Options field (RFC 2328 §A.2; N/P from RFC 3101, O from RFC 5250).
public struct OSPFOptions: OptionSet, Hashable, Sendable, Codable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// MT (formerly T): multi-topology capability.
    public static let multiTopology = OSPFOptions(rawValue: 0x01)
    /// E: AS-external-LSAs are flooded into the area; must be set in area 0.
    public static let externalRouting = OSPFOptions(rawValue: 0x02)
    /// MC: multicast extensions (MOSPF).
    public static let multicast = OSPFOptions(rawValue: 0x04)
    /// N/P: NSSA handling (RFC 3101).
    public static let nssa = OSPFOptions(rawValue: 0x08)
    /// EA: external-attributes-LSAs.
    public static let externalAttributes = OSPFOptions(rawValue: 0x10)
    /// DC: demand circuits (RFC 1793).
    public static let demandCircuits = OSPFOptions(rawValue: 0x20)
    /// O: opaque LSAs (RFC 5250).
    public static let opaque = OSPFOptions(rawValue: 0x40)
}

/// The LS types this implementation stores and floods (RFC 2328 §A.4.1). Opaque LSAs
/// (RFC 5250) are never received because the O option is never advertised.
public enum OSPFLSAType: UInt8, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case router = 1
    case network = 2
    case summaryNetwork = 3
    case summaryASBR = 4
    case asExternal = 5

    public var description: String {
        switch self {
        case .router: "router"
        case .network: "network"
        case .summaryNetwork: "summary-net"
        case .summaryASBR: "summary-asbr"
        case .asExternal: "external"
        }
    }
}

/// The identity of an LSA: LS type, Link State ID and Advertising Router (§12.1).
public struct OSPFLSAKey: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public var type: OSPFLSAType
    public var linkStateID: OSPFAddress
    public var advertisingRouter: OSPFAddress

    public init(type: OSPFLSAType, linkStateID: OSPFAddress, advertisingRouter: OSPFAddress) {
        self.type = type
        self.linkStateID = linkStateID
        self.advertisingRouter = advertisingRouter
    }

    public static func < (lhs: OSPFLSAKey, rhs: OSPFLSAKey) -> Bool {
        if lhs.type != rhs.type { return lhs.type.rawValue < rhs.type.rawValue }
        if lhs.linkStateID != rhs.linkStateID { return lhs.linkStateID < rhs.linkStateID }
        return lhs.advertisingRouter < rhs.advertisingRouter
    }

    public var description: String { "\(type) \(linkStateID) adv \(advertisingRouter)" }
}

/// The 20-byte LSA header (RFC 2328 §A.4.1).
public struct OSPFLSAHeader: Hashable, Sendable {
    public static let size = 20

    /// LS age in seconds (§12.1.1); never above MaxAge once parsed.
    public var age: UInt16
    public var options: OSPFOptions
    public var type: OSPFLSAType
    public var linkStateID: OSPFAddress
    public var advertisingRouter: OSPFAddress
    /// LS sequence number, a signed 32-bit value (§12.1.6).
    public var sequenceNumber: Int32
    /// Fletcher checksum of the LSA except the age field (§12.1.7).
    public var checksum: UInt16
    /// Length of the whole LSA including this header.
    public var length: UInt16

    public init(age: UInt16, options: OSPFOptions, type: OSPFLSAType, linkStateID: OSPFAddress,
                advertisingRouter: OSPFAddress, sequenceNumber: Int32, checksum: UInt16, length: UInt16) {
        self.age = age
        self.options = options
        self.type = type
        self.linkStateID = linkStateID
        self.advertisingRouter = advertisingRouter
        self.sequenceNumber = sequenceNumber
        self.checksum = checksum
        self.length = length
    }

    public var key: OSPFLSAKey {
        OSPFLSAKey(type: type, linkStateID: linkStateID, advertisingRouter: advertisingRouter)
    }

    /// Reads a header; nil on truncation or an unknown LS type. Ages beyond MaxAge (which only a
    /// broken or DoNotAge-capable peer sends) are clamped to MaxAge.
    static func read(from reader: inout WireReader) -> OSPFLSAHeader? {
        guard let age = reader.u16(), let options = reader.u8(), let rawType = reader.u8(),
              let linkStateID = reader.address(), let advertisingRouter = reader.address(),
              let sequence = reader.u32(), let checksum = reader.u16(), let length = reader.u16(),
              let type = OSPFLSAType(rawValue: rawType) else { return nil }
        return OSPFLSAHeader(age: min(age, OSPFConstants.maxAge), options: OSPFOptions(rawValue: options),
                             type: type, linkStateID: linkStateID, advertisingRouter: advertisingRouter,
                             sequenceNumber: Int32(bitPattern: sequence), checksum: checksum, length: length)
    }

    func write(into writer: inout WireWriter) {
        writer.u16(age)
        writer.u8(options.rawValue)
        writer.u8(type.rawValue)
        writer.address(linkStateID)
        writer.address(advertisingRouter)
        writer.u32(UInt32(bitPattern: sequenceNumber))
        writer.u16(checksum)
        writer.u16(length)
    }
}

/// A complete LSA: header plus raw body.
public struct OSPFLSA: Hashable, Sendable {
    public var header: OSPFLSAHeader
    /// The bytes after the 20-byte header; `header.length == 20 + body.count`.
    public var body: [UInt8]

    public init(header: OSPFLSAHeader, body: [UInt8]) {
        self.header = header
        self.body = body
    }

    /// Builds a new LSA instance with age 0, the correct length and a fresh LS checksum.
    public init(type: OSPFLSAType, linkStateID: OSPFAddress, advertisingRouter: OSPFAddress,
                sequenceNumber: Int32, options: OSPFOptions, body: [UInt8]) {
        header = OSPFLSAHeader(age: 0, options: options, type: type, linkStateID: linkStateID,
                               advertisingRouter: advertisingRouter, sequenceNumber: sequenceNumber,
                               checksum: 0, length: UInt16(truncatingIfNeeded: OSPFLSAHeader.size + body.count))
        self.body = body
        var bytes = serialized()
        header.checksum = OSPFFletcher.checksum(lsa: &bytes)
    }

    public var key: OSPFLSAKey { header.key }

    /// The LSA as carried in Link State Update packets.
    public func serialized() -> [UInt8] {
        var writer = WireWriter(capacity: OSPFLSAHeader.size + body.count)
        header.write(into: &writer)
        writer.append(body)
        return writer.bytes
    }

    /// Whether the LS checksum verifies (§12.1.7). A zero checksum is never valid.
    public var hasValidChecksum: Bool {
        header.checksum != 0 && OSPFFletcher.verify(lsa: serialized())
    }

    /// Reads one LSA (header and body) with a strict length check; nil when malformed.
    static func read(from reader: inout WireReader) -> OSPFLSA? {
        guard let header = OSPFLSAHeader.read(from: &reader),
              Int(header.length) >= OSPFLSAHeader.size,
              let body = reader.take(Int(header.length) - OSPFLSAHeader.size) else { return nil }
        return OSPFLSA(header: header, body: body)
    }

    /// Whether the body is well formed for its LS type (used to drop malformed LSAs on receipt).
    public var hasWellFormedBody: Bool {
        switch header.type {
        case .router: OSPFRouterLSA(body: body) != nil
        case .network: OSPFNetworkLSA(body: body) != nil
        case .summaryNetwork, .summaryASBR: OSPFSummaryLSA(body: body) != nil
        case .asExternal: OSPFASExternalLSA(body: body) != nil
        }
    }
}

/// The LS checksum (RFC 2328 §12.1.7): the Fletcher checksum of ISO 8473 / RFC 905 Annex C,
/// computed over the LSA from the Options field on (the LS age is excluded so that aging does
/// not invalidate it), with the two checksum octets at LSA offset 16.
public enum OSPFFletcher {
    /// Offset of the checksum within the LSA.
    static let checksumOffset = 16
    /// The checksummed region starts after the 2-byte LS age.
    static let start = 2

    /// Computes the checksum of `lsa` (a serialized LSA), writes it into the checksum field and
    /// returns it.
    @discardableResult
    public static func checksum(lsa: inout [UInt8]) -> UInt16 {
        guard lsa.count >= OSPFLSAHeader.size else { return 0 }
        lsa[checksumOffset] = 0
        lsa[checksumOffset + 1] = 0
        var c0 = 0
        var c1 = 0
        for index in start..<lsa.count {
            c0 = (c0 + Int(lsa[index])) % 255
            c1 = (c1 + c0) % 255
        }
        // RFC 905 Annex C.2: with n octets and the first checksum octet at 1-based position k,
        // X = (n - k) * C0 - C1 and Y = C1 - (n - k + 1) * C0 (mod 255); 0 is written as 255.
        let n = lsa.count - start
        let k = checksumOffset - start + 1
        var x = ((n - k) * c0 - c1) % 255
        if x <= 0 { x += 255 }
        var y = (c1 - (n - k + 1) * c0) % 255
        if y <= 0 { y += 255 }
        lsa[checksumOffset] = UInt8(x)
        lsa[checksumOffset + 1] = UInt8(y)
        return UInt16(x) << 8 | UInt16(y)
    }

    /// Verifies a serialized LSA: both running sums are zero mod 255 (RFC 905 Annex C.1).
    public static func verify(lsa: [UInt8]) -> Bool {
        guard lsa.count >= OSPFLSAHeader.size else { return false }
        var c0 = 0
        var c1 = 0
        for index in start..<lsa.count {
            c0 = (c0 + Int(lsa[index])) % 255
            c1 = (c1 + c0) % 255
        }
        return c0 == 0 && c1 == 0
    }
}

/// A router-LSA body (RFC 2328 §A.4.2).
public struct OSPFRouterLSA: Hashable, Sendable {
    /// The V, E and B bits.
    public struct Flags: OptionSet, Hashable, Sendable {
        public var rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        /// B: area border router.
        public static let areaBorder = Flags(rawValue: 0x01)
        /// E: AS boundary router.
        public static let asBoundary = Flags(rawValue: 0x02)
        /// V: endpoint of a fully adjacent virtual link.
        public static let virtualLinkEndpoint = Flags(rawValue: 0x04)
    }

    /// Router link types (§A.4.2).
    public enum LinkType: UInt8, Sendable, Codable {
        case pointToPoint = 1
        case transit = 2
        case stub = 3
        case virtual = 4
    }

    /// One router link. TOS-specific metrics (§A.4.2, deprecated by RFC 2328 itself) are
    /// skipped on input and never emitted.
    public struct Link: Hashable, Sendable {
        /// Neighbor router ID (ptp, virtual), DR interface address (transit), or network (stub).
        public var linkID: OSPFAddress
        /// Own interface address (ptp, transit), or network mask (stub).
        public var linkData: OSPFAddress
        public var type: LinkType
        public var metric: UInt16

        public init(linkID: OSPFAddress, linkData: OSPFAddress, type: LinkType, metric: UInt16) {
            self.linkID = linkID
            self.linkData = linkData
            self.type = type
            self.metric = metric
        }
    }

    public var flags: Flags
    public var links: [Link]

    public init(flags: Flags = [], links: [Link]) {
        self.flags = flags
        self.links = links
    }

    /// Decodes a body; nil when the link count or TOS counts disagree with the length.
    public init?(body: [UInt8]) {
        var reader = WireReader(body)
        guard let flags = reader.u8(), reader.skip(1), let count = reader.u16() else { return nil }
        var links: [Link] = []
        links.reserveCapacity(Int(count))
        for _ in 0..<count {
            guard let linkID = reader.address(), let linkData = reader.address(),
                  let rawType = reader.u8(), let type = LinkType(rawValue: rawType),
                  let tosCount = reader.u8(), let metric = reader.u16(),
                  reader.skip(Int(tosCount) * 4) else { return nil }
            links.append(Link(linkID: linkID, linkData: linkData, type: type, metric: metric))
        }
        guard reader.remaining == 0 else { return nil }
        self.flags = Flags(rawValue: flags & 0x07)
        self.links = links
    }

    public var encoded: [UInt8] {
        var writer = WireWriter(capacity: 4 + links.count * 12)
        writer.u8(flags.rawValue)
        writer.u8(0)
        writer.u16(UInt16(truncatingIfNeeded: links.count))
        for link in links {
            writer.address(link.linkID)
            writer.address(link.linkData)
            writer.u8(link.type.rawValue)
            writer.u8(0)
            writer.u16(link.metric)
        }
        return writer.bytes
    }
}

/// A network-LSA body (RFC 2328 §A.4.3), originated by a LAN's Designated Router.
public struct OSPFNetworkLSA: Hashable, Sendable {
    public var networkMask: OSPFAddress
    /// Router IDs of all routers fully adjacent to the DR, plus the DR itself.
    public var attachedRouters: [OSPFAddress]

    public init(networkMask: OSPFAddress, attachedRouters: [OSPFAddress]) {
        self.networkMask = networkMask
        self.attachedRouters = attachedRouters
    }

    public init?(body: [UInt8]) {
        guard body.count >= 8, body.count % 4 == 0 else { return nil }
        var reader = WireReader(body)
        guard let mask = reader.address() else { return nil }
        var routers: [OSPFAddress] = []
        routers.reserveCapacity(body.count / 4 - 1)
        while let router = reader.address() { routers.append(router) }
        networkMask = mask
        attachedRouters = routers
    }

    public var encoded: [UInt8] {
        var writer = WireWriter(capacity: 4 + attachedRouters.count * 4)
        writer.address(networkMask)
        for router in attachedRouters { writer.address(router) }
        return writer.bytes
    }
}

/// A summary-LSA body (types 3 and 4, RFC 2328 §A.4.4), originated by area border routers.
/// This router never is one, but a peer may be: its summaries become inter-area routes (§16.2)
/// and paths to AS boundary routers in other areas. Only the TOS 0 metric is used.
public struct OSPFSummaryLSA: Hashable, Sendable {
    public var networkMask: OSPFAddress
    public var metric: UInt32

    public init?(body: [UInt8]) {
        guard body.count >= 8, body.count % 4 == 0 else { return nil }
        var reader = WireReader(body)
        guard let mask = reader.address(), let word = reader.u32() else { return nil }
        networkMask = mask
        metric = word & 0xFF_FFFF
    }
}

/// An AS-external-LSA body (RFC 2328 §A.4.5). Only the TOS 0 metric is used.
public struct OSPFASExternalLSA: Hashable, Sendable {
    public var networkMask: OSPFAddress
    /// E bit: a type 2 external metric (not comparable with link state costs).
    public var isType2: Bool
    public var metric: UInt32
    public var forwardingAddress: OSPFAddress
    public var routeTag: UInt32

    public init(networkMask: OSPFAddress, isType2: Bool, metric: UInt32,
                forwardingAddress: OSPFAddress, routeTag: UInt32) {
        self.networkMask = networkMask
        self.isType2 = isType2
        self.metric = metric & 0xFF_FFFF
        self.forwardingAddress = forwardingAddress
        self.routeTag = routeTag
    }

    public init?(body: [UInt8]) {
        guard body.count >= 16, (body.count - 16) % 12 == 0 else { return nil }
        var reader = WireReader(body)
        guard let mask = reader.address(), let word = reader.u32(), let forwarding = reader.address(),
              let tag = reader.u32() else { return nil }
        networkMask = mask
        isType2 = word & 0x8000_0000 != 0
        metric = word & 0xFF_FFFF
        forwardingAddress = forwarding
        routeTag = tag
    }

    public var encoded: [UInt8] {
        var writer = WireWriter(capacity: 16)
        writer.address(networkMask)
        writer.u32((isType2 ? 0x8000_0000 : 0) | metric & 0xFF_FFFF)
        writer.address(forwardingAddress)
        writer.u32(routeTag)
        return writer.bytes
    }
}
