// The OSPF packet header (RFC 2328 §A.3.1), packet checksum (§D.4), and parsing/serialization
// of the five packet types (§A.3.2–§A.3.6) with strict length checks.
//
// Parsing is split in two steps so the router can authenticate before trusting the body:
// `OSPFPacketHeader.parse` validates the fixed header, then `OSPFPacketBody.parse` decodes the
// body of the `length` bytes the header announces.

/// OSPF packet types (RFC 2328 §A.3.1).
public enum OSPFPacketType: UInt8, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case hello = 1
    case databaseDescription = 2
    case linkStateRequest = 3
    case linkStateUpdate = 4
    case linkStateAcknowledgment = 5

    public var description: String {
        switch self {
        case .hello: "Hello"
        case .databaseDescription: "DD"
        case .linkStateRequest: "LSR"
        case .linkStateUpdate: "LSU"
        case .linkStateAcknowledgment: "LSAck"
        }
    }
}

/// The 24-byte OSPF packet header (RFC 2328 §A.3.1).
public struct OSPFPacketHeader: Hashable, Sendable {
    public static let size = 24
    /// Offset and size of the 64-bit Authentication field, excluded from the checksum (§D.4.1).
    static let authenticationOffset = 16
    static let authenticationSize = 8

    public var version: UInt8
    public var type: OSPFPacketType
    /// Length of the OSPF packet including this header, excluding any cryptographic trailer.
    public var length: UInt16
    public var routerID: OSPFAddress
    public var areaID: OSPFAddress
    public var checksum: UInt16
    /// AuType (§D): 0 null, 1 simple password, 2 cryptographic.
    public var authenticationType: UInt16
    /// The 64-bit Authentication field, big-endian.
    public var authentication: UInt64

    /// For cryptographic authentication (§D.3): the Key ID byte of the Authentication field.
    public var keyID: UInt8 { UInt8(truncatingIfNeeded: authentication >> 40) }
    /// For cryptographic authentication: the Auth Data Len byte (length of the trailer).
    public var authenticationDataLength: UInt8 { UInt8(truncatingIfNeeded: authentication >> 32) }
    /// For cryptographic authentication: the non-decreasing cryptographic sequence number.
    public var cryptographicSequenceNumber: UInt32 { UInt32(truncatingIfNeeded: authentication) }

    /// Validates and reads the header of a received packet: version 2, a known type, and a
    /// length field that covers the header and fits inside `bytes`.
    public static func parse(_ bytes: [UInt8]) throws(OSPFDropReason) -> OSPFPacketHeader {
        var reader = WireReader(bytes)
        guard let version = reader.u8(), let rawType = reader.u8(), let length = reader.u16(),
              let routerID = reader.address(), let areaID = reader.address(),
              let checksum = reader.u16(), let auType = reader.u16(),
              let authHigh = reader.u32(), let authLow = reader.u32() else { throw .badLength }
        guard version == 2 else { throw .badVersion }
        guard let type = OSPFPacketType(rawValue: rawType) else { throw .unknownPacketType }
        guard Int(length) >= size, Int(length) <= bytes.count else { throw .badLength }
        return OSPFPacketHeader(version: version, type: type, length: length, routerID: routerID,
                                areaID: areaID, checksum: checksum, authenticationType: auType,
                                authentication: UInt64(authHigh) << 32 | UInt64(authLow))
    }
}

/// The Hello packet body (RFC 2328 §A.3.2).
public struct OSPFHello: Hashable, Sendable {
    public var networkMask: OSPFAddress
    public var helloInterval: UInt16
    public var options: OSPFOptions
    public var routerPriority: UInt8
    public var routerDeadInterval: UInt32
    /// The sender's view of the DR, as an interface address (0.0.0.0 if none).
    public var designatedRouter: OSPFAddress
    /// The sender's view of the BDR, as an interface address (0.0.0.0 if none).
    public var backupDesignatedRouter: OSPFAddress
    /// Router IDs of every router the sender has recently heard Hellos from on this network.
    public var neighbors: [OSPFAddress]

    public init(networkMask: OSPFAddress, helloInterval: UInt16, options: OSPFOptions, routerPriority: UInt8,
                routerDeadInterval: UInt32, designatedRouter: OSPFAddress, backupDesignatedRouter: OSPFAddress,
                neighbors: [OSPFAddress]) {
        self.networkMask = networkMask
        self.helloInterval = helloInterval
        self.options = options
        self.routerPriority = routerPriority
        self.routerDeadInterval = routerDeadInterval
        self.designatedRouter = designatedRouter
        self.backupDesignatedRouter = backupDesignatedRouter
        self.neighbors = neighbors
    }
}

/// The Database Description packet body (RFC 2328 §A.3.3).
public struct OSPFDatabaseDescription: Hashable, Sendable {
    /// The I, M and MS bits.
    public struct Flags: OptionSet, Hashable, Sendable {
        public var rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        /// MS: the sender is the master.
        public static let master = Flags(rawValue: 0x01)
        /// M: more DD packets follow.
        public static let more = Flags(rawValue: 0x02)
        /// I: the first packet of the exchange.
        public static let initial = Flags(rawValue: 0x04)
    }

    /// The largest IP datagram the sender's interface can send unfragmented (§10.6, §10.8).
    public var interfaceMTU: UInt16
    public var options: OSPFOptions
    public var flags: Flags
    public var sequenceNumber: UInt32
    public var lsaHeaders: [OSPFLSAHeader]

    public init(interfaceMTU: UInt16, options: OSPFOptions, flags: Flags, sequenceNumber: UInt32,
                lsaHeaders: [OSPFLSAHeader]) {
        self.interfaceMTU = interfaceMTU
        self.options = options
        self.flags = flags
        self.sequenceNumber = sequenceNumber
        self.lsaHeaders = lsaHeaders
    }
}

/// The Link State Request packet body (RFC 2328 §A.3.4).
public struct OSPFLinkStateRequest: Hashable, Sendable {
    public var requests: [OSPFLSAKey]
    public init(requests: [OSPFLSAKey]) { self.requests = requests }
}

/// The Link State Update packet body (RFC 2328 §A.3.5).
public struct OSPFLinkStateUpdate: Hashable, Sendable {
    public var lsas: [OSPFLSA]
    /// LSAs of LS types this implementation does not know, skipped by their length and
    /// otherwise ignored (§13 step 2).
    public var skippedUnknownTypes: Int

    public init(lsas: [OSPFLSA], skippedUnknownTypes: Int = 0) {
        self.lsas = lsas
        self.skippedUnknownTypes = skippedUnknownTypes
    }
}

/// The Link State Acknowledgment packet body (RFC 2328 §A.3.6).
public struct OSPFLinkStateAcknowledgment: Hashable, Sendable {
    public var lsaHeaders: [OSPFLSAHeader]
    public init(lsaHeaders: [OSPFLSAHeader]) { self.lsaHeaders = lsaHeaders }
}

/// A decoded packet body.
public enum OSPFPacketBody: Hashable, Sendable {
    case hello(OSPFHello)
    case databaseDescription(OSPFDatabaseDescription)
    case linkStateRequest(OSPFLinkStateRequest)
    case linkStateUpdate(OSPFLinkStateUpdate)
    case linkStateAcknowledgment(OSPFLinkStateAcknowledgment)

    public var type: OSPFPacketType {
        switch self {
        case .hello: .hello
        case .databaseDescription: .databaseDescription
        case .linkStateRequest: .linkStateRequest
        case .linkStateUpdate: .linkStateUpdate
        case .linkStateAcknowledgment: .linkStateAcknowledgment
        }
    }

    /// Decodes the body of a packet whose header has been validated. Every body length must be
    /// exactly what its counts imply; anything else is `.badLength`. LSA headers or LSAs of
    /// unknown LS types make the packet `.badLSA`.
    public static func parse(_ bytes: [UInt8], header: OSPFPacketHeader) throws(OSPFDropReason) -> OSPFPacketBody {
        var reader = WireReader(bytes, offset: OSPFPacketHeader.size, end: Int(header.length))
        let bodyLength = reader.remaining
        switch header.type {
        case .hello:
            guard bodyLength >= 20, bodyLength % 4 == 0 else { throw .badLength }
            guard let mask = reader.address(), let helloInterval = reader.u16(), let options = reader.u8(),
                  let priority = reader.u8(), let dead = reader.u32(), let dr = reader.address(),
                  let bdr = reader.address() else { throw .badLength }
            var neighbors: [OSPFAddress] = []
            neighbors.reserveCapacity(reader.remaining / 4)
            while let neighbor = reader.address() { neighbors.append(neighbor) }
            return .hello(OSPFHello(networkMask: mask, helloInterval: helloInterval,
                                    options: OSPFOptions(rawValue: options), routerPriority: priority,
                                    routerDeadInterval: dead, designatedRouter: dr,
                                    backupDesignatedRouter: bdr, neighbors: neighbors))
        case .databaseDescription:
            guard bodyLength >= 8, (bodyLength - 8) % OSPFLSAHeader.size == 0 else { throw .badLength }
            guard let mtu = reader.u16(), let options = reader.u8(), let flags = reader.u8(),
                  let sequence = reader.u32() else { throw .badLength }
            var headers: [OSPFLSAHeader] = []
            headers.reserveCapacity(reader.remaining / OSPFLSAHeader.size)
            while reader.remaining > 0 {
                guard let lsaHeader = OSPFLSAHeader.read(from: &reader) else { throw .badLSA }
                headers.append(lsaHeader)
            }
            return .databaseDescription(OSPFDatabaseDescription(
                interfaceMTU: mtu, options: OSPFOptions(rawValue: options),
                flags: OSPFDatabaseDescription.Flags(rawValue: flags & 0x07), sequenceNumber: sequence,
                lsaHeaders: headers))
        case .linkStateRequest:
            guard bodyLength % 12 == 0 else { throw .badLength }
            var requests: [OSPFLSAKey] = []
            requests.reserveCapacity(bodyLength / 12)
            while reader.remaining > 0 {
                guard let rawType = reader.u32(), let id = reader.address(), let router = reader.address()
                else { throw .badLength }
                guard rawType <= 0xFF, let type = OSPFLSAType(rawValue: UInt8(rawType)) else { throw .badLSA }
                requests.append(OSPFLSAKey(type: type, linkStateID: id, advertisingRouter: router))
            }
            return .linkStateRequest(OSPFLinkStateRequest(requests: requests))
        case .linkStateUpdate:
            guard let count = reader.u32() else { throw .badLength }
            // Each LSA is at least 20 bytes, which bounds the loop by the packet length.
            guard UInt64(count) * UInt64(OSPFLSAHeader.size) <= UInt64(reader.remaining) else { throw .badLength }
            var lsas: [OSPFLSA] = []
            var skipped = 0
            lsas.reserveCapacity(Int(count))
            for _ in 0..<count {
                // Every LSA is framed by the length at offset 18 of its header, whatever its type.
                let start = reader.offset
                guard reader.remaining >= OSPFLSAHeader.size else { throw .badLength }
                let length = Int(bytes.readU16(at: start + 18))
                guard length >= OSPFLSAHeader.size, length <= reader.remaining else { throw .badLength }
                guard OSPFLSAType(rawValue: bytes[start + 3]) != nil else {
                    _ = reader.skip(length)
                    skipped += 1
                    continue
                }
                guard let lsa = OSPFLSA.read(from: &reader) else { throw .badLength }
                lsas.append(lsa)
            }
            guard reader.remaining == 0 else { throw .badLength }
            return .linkStateUpdate(OSPFLinkStateUpdate(lsas: lsas, skippedUnknownTypes: skipped))
        case .linkStateAcknowledgment:
            guard bodyLength % OSPFLSAHeader.size == 0 else { throw .badLength }
            var headers: [OSPFLSAHeader] = []
            headers.reserveCapacity(bodyLength / OSPFLSAHeader.size)
            while reader.remaining > 0 {
                guard let lsaHeader = OSPFLSAHeader.read(from: &reader) else { throw .badLSA }
                headers.append(lsaHeader)
            }
            return .linkStateAcknowledgment(OSPFLinkStateAcknowledgment(lsaHeaders: headers))
        }
    }

    /// Appends the body's wire form.
    func write(into writer: inout WireWriter) {
        switch self {
        case .hello(let hello):
            writer.address(hello.networkMask)
            writer.u16(hello.helloInterval)
            writer.u8(hello.options.rawValue)
            writer.u8(hello.routerPriority)
            writer.u32(hello.routerDeadInterval)
            writer.address(hello.designatedRouter)
            writer.address(hello.backupDesignatedRouter)
            for neighbor in hello.neighbors { writer.address(neighbor) }
        case .databaseDescription(let dd):
            writer.u16(dd.interfaceMTU)
            writer.u8(dd.options.rawValue)
            writer.u8(dd.flags.rawValue)
            writer.u32(dd.sequenceNumber)
            for lsaHeader in dd.lsaHeaders { lsaHeader.write(into: &writer) }
        case .linkStateRequest(let request):
            for key in request.requests {
                writer.u32(UInt32(key.type.rawValue))
                writer.address(key.linkStateID)
                writer.address(key.advertisingRouter)
            }
        case .linkStateUpdate(let update):
            writer.u32(UInt32(update.lsas.count))
            for lsa in update.lsas {
                lsa.header.write(into: &writer)
                writer.append(lsa.body)
            }
        case .linkStateAcknowledgment(let ack):
            for lsaHeader in ack.lsaHeaders { lsaHeader.write(into: &writer) }
        }
    }
}

/// A complete OSPF packet: the header fields a sender chooses, and a body.
public struct OSPFPacket: Hashable, Sendable {
    public var routerID: OSPFAddress
    public var areaID: OSPFAddress
    public var body: OSPFPacketBody

    public init(routerID: OSPFAddress, areaID: OSPFAddress, body: OSPFPacketBody) {
        self.routerID = routerID
        self.areaID = areaID
        self.body = body
    }

    /// Serializes the packet with the Checksum and Authentication fields zeroed; an
    /// `OSPFAuthentication` then seals it (§D.4). The length field is filled in.
    public func unsealedBytes() -> [UInt8] {
        var writer = WireWriter(capacity: 128)
        writer.u8(2)
        writer.u8(body.type.rawValue)
        writer.u16(0)
        writer.address(routerID)
        writer.address(areaID)
        writer.u16(0)  // checksum
        writer.u16(0)  // AuType
        writer.u32(0)
        writer.u32(0)
        body.write(into: &writer)
        writer.set16(UInt16(truncatingIfNeeded: writer.count), at: 2)
        return writer.bytes
    }

    /// Serializes and seals the packet with `authentication`, using `sequenceNumber` as the
    /// cryptographic sequence number when that scheme is in use.
    public func serialized(authentication: OSPFAuthentication = .none, sequenceNumber: UInt32 = 0) -> [UInt8] {
        var bytes = unsealedBytes()
        authentication.seal(&bytes, sequenceNumber: sequenceNumber)
        return bytes
    }

    /// Parses an unauthenticated view of a packet (header and body); the router uses the two
    /// steps separately so that it can verify authentication in between.
    public static func parse(_ bytes: [UInt8]) throws(OSPFDropReason) -> (header: OSPFPacketHeader, packet: OSPFPacket) {
        let header = try OSPFPacketHeader.parse(bytes)
        let body = try OSPFPacketBody.parse(bytes, header: header)
        return (header, OSPFPacket(routerID: header.routerID, areaID: header.areaID, body: body))
    }
}

/// The standard IP (RFC 1071) checksum used by the OSPF packet header (RFC 2328 §D.4.1).
enum OSPFPacketChecksum {
    /// One's-complement sum over `bytes[0..<length]`, skipping the 8-byte Authentication field.
    static func compute(_ bytes: [UInt8], length: Int) -> UInt16 {
        var sum: UInt32 = 0
        var index = 0
        let authStart = OSPFPacketHeader.authenticationOffset
        let authEnd = authStart + OSPFPacketHeader.authenticationSize
        while index + 1 < length {
            if index < authStart || index >= authEnd {
                sum &+= UInt32(bytes[index]) << 8 | UInt32(bytes[index + 1])
            }
            index += 2
        }
        if index < length { sum &+= UInt32(bytes[index]) << 8 }
        while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
        return ~UInt16(sum)
    }

    /// Whether a received packet's checksum verifies (the checksum field itself included in
    /// the sum yields zero).
    static func verify(_ bytes: [UInt8], length: Int) -> Bool {
        compute(bytes, length: length) == 0
    }
}
