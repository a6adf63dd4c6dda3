// Configuration of an OSPF router. The core runs a single area (by default the backbone,
// 0.0.0.0): there is no area border router function, no virtual links and no stub/NSSA area
// handling. That is all a flat overlay of WireGuard/VXLAN links and LANs needs.

/// How an interface attaches to its network (RFC 2328 §1.2, §9.1 "Type").
public enum OSPFNetworkType: String, Hashable, Sendable, Codable {
    /// A link with exactly one neighbor; no DR election; Hellos and floods go to AllSPFRouters.
    case pointToPoint
    /// A multi-access broadcast network (Ethernet-like) with a DR and BDR (§9.4).
    case broadcast
    /// A loopback interface: advertised as a host route to its address (§9.1 "Loopback").
    case loopback
}

/// Per-interface parameters (RFC 2328 §9, §C.3).
public struct OSPFInterfaceConfiguration: Hashable, Sendable, Codable {
    /// The driver's identifier for the interface; used in actions and next hops.
    public var id: OSPFInterfaceID
    /// A human-readable name for snapshots and logs.
    public var name: String
    public var type: OSPFNetworkType
    /// The interface's IPv4 address (the source of every packet sent on it).
    public var address: OSPFAddress
    /// The prefix length of the attached network (the Hello's Network Mask).
    public var prefixLength: UInt8
    /// Interface output cost, 1...65535 (§C.3).
    public var cost: UInt16
    /// HelloInterval in seconds (§C.3).
    public var helloInterval: UInt16
    /// RouterDeadInterval in seconds (§C.3).
    public var routerDeadInterval: UInt32
    /// RxmtInterval in seconds (§C.3).
    public var retransmitInterval: UInt16
    /// InfTransDelay in seconds, added to LS ages on transmission (§C.3).
    public var transmitDelay: UInt16
    /// Router Priority for DR election; 0 makes this router ineligible (§C.3).
    public var priority: UInt8
    /// The IP MTU of the interface: reported in DD packets and bounding packet sizes (§10.6, §10.8).
    public var mtu: UInt16
    public var authentication: OSPFAuthentication
    /// A passive interface is advertised but sends and accepts no OSPF packets.
    public var passive: Bool

    public init(id: OSPFInterfaceID, name: String, type: OSPFNetworkType, address: OSPFAddress,
                prefixLength: UInt8, cost: UInt16 = 10, helloInterval: UInt16 = 10,
                routerDeadInterval: UInt32 = 40, retransmitInterval: UInt16 = 5, transmitDelay: UInt16 = 1,
                priority: UInt8 = 1, mtu: UInt16 = 1500, authentication: OSPFAuthentication = .none,
                passive: Bool = false) {
        self.id = id
        self.name = name
        self.type = type
        self.address = address
        self.prefixLength = prefixLength
        self.cost = cost
        self.helloInterval = helloInterval
        self.routerDeadInterval = routerDeadInterval
        self.retransmitInterval = retransmitInterval
        self.transmitDelay = transmitDelay
        self.priority = priority
        self.mtu = mtu
        self.authentication = authentication
        self.passive = passive
    }

    /// The attached network.
    public var prefix: OSPFPrefix { OSPFPrefix(address: address, length: prefixLength) }
}

/// An extra prefix advertised as a stub network in the router-LSA (§12.4.1, like BIRD's
/// `stubnet`), e.g. an overlay prefix that is not an OSPF interface.
public struct OSPFStubNetwork: Hashable, Sendable, Codable {
    public var prefix: OSPFPrefix
    public var cost: UInt16

    public init(prefix: OSPFPrefix, cost: UInt16) {
        self.prefix = prefix
        self.cost = cost
    }
}

/// Router-wide configuration.
public struct OSPFConfiguration: Hashable, Sendable, Codable {
    /// The Router ID (§C.1); must be unique in the routing domain and non-zero.
    public var routerID: OSPFAddress
    /// The one area this router runs in; 0.0.0.0 (the backbone) unless told otherwise.
    public var areaID: OSPFAddress
    public var interfaces: [OSPFInterfaceConfiguration]
    public var stubNetworks: [OSPFStubNetwork]
    /// How long to wait after a database change before running SPF, so bursts coalesce.
    public var spfDelay: OSPFDuration
    /// Starting cryptographic sequence number (§D.3); pass wall-clock seconds so that a
    /// restarted router is not rejected by neighbors that remember its previous numbers.
    public var cryptographicSequenceStart: UInt32

    public init(routerID: OSPFAddress, areaID: OSPFAddress = .backbone,
                interfaces: [OSPFInterfaceConfiguration] = [], stubNetworks: [OSPFStubNetwork] = [],
                spfDelay: OSPFDuration = .milliseconds(50), cryptographicSequenceStart: UInt32 = 0) {
        self.routerID = routerID
        self.areaID = areaID
        self.interfaces = interfaces
        self.stubNetworks = stubNetworks
        self.spfDelay = spfDelay
        self.cryptographicSequenceStart = cryptographicSequenceStart
    }
}
