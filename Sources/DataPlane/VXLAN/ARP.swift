// ARP for IPv4 over Ethernet (RFC 826), the only combination a VXLAN link carries, and the
// announcement form of RFC 5227 §3.

import WeftRouting

/// An ARP packet with Ethernet hardware addresses and IPv4 protocol addresses (28 bytes):
///
///     hardware type 1 | protocol type 0x0800 | hlen 6 | plen 4 | operation
///     sender MAC | sender IPv4 | target MAC | target IPv4
public struct ARPPacket: Hashable, Sendable {
    /// Length of an Ethernet/IPv4 ARP packet; anything after it in a frame is padding.
    public static let length = 28

    /// The ARP opcode (RFC 826 "ar$op").
    public enum Operation: UInt16, Hashable, Sendable {
        case request = 1
        case reply = 2
    }

    public var operation: Operation
    public var senderMAC: MACAddress
    public var senderAddress: IPv4Address
    public var targetMAC: MACAddress
    public var targetAddress: IPv4Address

    public init(operation: Operation, senderMAC: MACAddress, senderAddress: IPv4Address,
                targetMAC: MACAddress, targetAddress: IPv4Address) {
        self.operation = operation
        self.senderMAC = senderMAC
        self.senderAddress = senderAddress
        self.targetMAC = targetMAC
        self.targetAddress = targetAddress
    }

    /// Hardware type Ethernet (RFC 826 "ar$hrd", IANA ARP parameters).
    static let ethernetHardwareType: UInt16 = 1

    /// Parses the ARP packet at the start of `bytes`; trailing bytes (Ethernet padding) are
    /// ignored. Throws unless it is a request or reply for IPv4 over Ethernet.
    public init(parsing bytes: UnsafeRawBufferPointer) throws(NeighborDropReason) {
        guard bytes.count >= Self.length else { throw .truncated }
        func load16(_ offset: Int) -> UInt16 {
            UInt16(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
        }
        guard load16(0) == Self.ethernetHardwareType, load16(2) == EtherType.ipv4.rawValue,
              bytes[4] == 6, bytes[5] == 4 else { throw .unsupportedFormat }
        // RARP (3, 4) and InARP (8, 9) are other protocols; nothing else is defined for ARP.
        guard let operation = Operation(rawValue: load16(6)) else { throw .unsupportedOperation }
        self.operation = operation
        senderMAC = MACAddress(unsafeBytes: bytes, atByteOffset: 8)
        senderAddress = IPv4Address(UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: 14, as: UInt32.self)))
        targetMAC = MACAddress(unsafeBytes: bytes, atByteOffset: 18)
        targetAddress = IPv4Address(UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: 24, as: UInt32.self)))
    }

    /// Writes the 28-byte packet at `offset`.
    ///
    /// - Precondition: `buffer` has 28 bytes at `offset`.
    public func store(into buffer: UnsafeMutableRawBufferPointer, atByteOffset offset: Int) {
        precondition(offset >= 0 && buffer.count - offset >= Self.length, "ARP packet does not fit")
        buffer.storeBytes(of: Self.ethernetHardwareType.bigEndian, toByteOffset: offset, as: UInt16.self)
        buffer.storeBytes(of: EtherType.ipv4.rawValue.bigEndian, toByteOffset: offset + 2, as: UInt16.self)
        buffer[offset + 4] = 6
        buffer[offset + 5] = 4
        buffer.storeBytes(of: operation.rawValue.bigEndian, toByteOffset: offset + 6, as: UInt16.self)
        senderMAC.store(into: buffer, atByteOffset: offset + 8)
        senderAddress.store(into: buffer, atByteOffset: offset + 14)
        targetMAC.store(into: buffer, atByteOffset: offset + 18)
        targetAddress.store(into: buffer, atByteOffset: offset + 24)
    }

    /// A request for `target`'s MAC, target MAC zero (RFC 826: "ar$tha ... not known").
    public static func request(from senderMAC: MACAddress, senderAddress: IPv4Address,
                               for target: IPv4Address) -> ARPPacket {
        ARPPacket(operation: .request, senderMAC: senderMAC, senderAddress: senderAddress,
                  targetMAC: .zero, targetAddress: target)
    }

    /// The reply to `request` from the owner of its target address (RFC 826: swap the sender
    /// and target fields, fill in the local hardware address, set the opcode to reply).
    public static func reply(to request: ARPPacket, from localMAC: MACAddress) -> ARPPacket {
        ARPPacket(operation: .reply, senderMAC: localMAC, senderAddress: request.targetAddress,
                  targetMAC: request.senderMAC, targetAddress: request.senderAddress)
    }

    /// An ARP Announcement (RFC 5227 §3, "gratuitous ARP"): a broadcast request whose sender
    /// and target address are both `address`, which makes every neighbour that has an entry
    /// for `address` update it to `localMAC`.
    public static func announcement(of address: IPv4Address, from localMAC: MACAddress) -> ARPPacket {
        ARPPacket(operation: .request, senderMAC: localMAC, senderAddress: address,
                  targetMAC: .zero, targetAddress: address)
    }

    /// An ARP Probe (RFC 5227 §2.1.1): sender address 0.0.0.0. Receivers must not update
    /// their caches from it.
    public var isProbe: Bool { senderAddress.isUnspecified }
}
