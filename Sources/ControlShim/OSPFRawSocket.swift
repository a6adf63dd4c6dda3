// OSPF's IP socket on one kernel interface (RFC 2328 §A.1): OSPF runs directly over IP,
// protocol 89, to the multicast groups AllSPFRouters (224.0.0.5) and AllDRouters (224.0.0.6)
// or to a neighbor's address, always with TTL 1. The socket options live in the CLinux shim;
// this is their typed face.

internal import CLinux
import Synchronization
import WeftDataPlane
import WeftRouting

#if canImport(Glibc)
import Glibc
#endif

/// A raw IPv4 socket for IP protocol 89 bound to one interface, as an OSPF router needs it on a
/// broadcast network: multicast goes out of that interface with TTL 1 and is not looped back,
/// unicast has TTL 1 too, packets carry precedence "internetwork control" (TOS 0xC0), and
/// received packets arrive with their IP header and the interface and destination they came to
/// (IP_PKTINFO). Only the groups this socket joins are delivered to it.
///
/// Thread-safe: sending, receiving and membership changes are single system calls; the set of
/// joined groups is kept under a lock so that joins and leaves are idempotent.
public final class OSPFRawSocket: @unchecked Sendable {
    /// AllSPFRouters (§A.1): every OSPF router on the network listens here.
    public static let allSPFRouters = IPv4Address(224, 0, 0, 5)
    /// AllDRouters (§A.1): the Designated Router and Backup listen here.
    public static let allDRouters = IPv4Address(224, 0, 0, 6)

    /// The interface's name, for messages.
    public let interfaceName: String
    /// The interface's kernel index.
    public let interface: LinkID
    /// The interface's IPv4 address: the source of every packet sent.
    public let address: IPv4Address
    /// The socket, for `poll`.
    public let descriptor: FileDescriptor
    private let joined = Mutex<Set<IPv4Address>>([])

    /// One received datagram.
    public struct Datagram: Sendable {
        /// Bytes written to the buffer: the IP header, then the OSPF packet.
        public var length: Int
        /// The interface it arrived on (IP_PKTINFO), nil when the kernel did not say.
        public var interface: LinkID?
        /// The IP destination address (IP_PKTINFO).
        public var destination: IPv4Address
    }

    /// Opens the socket on `interfaceName` (kernel index `interface`, IPv4 address `address`).
    /// Needs CAP_NET_RAW.
    public init(interfaceName: String, interface: LinkID, address: IPv4Address) throws(OSPFSocketError) {
        self.interfaceName = interfaceName
        self.interface = interface
        self.address = address
        let fd = interfaceName.withCString { clinux_ospf_socket_open($0, Int32(bitPattern: interface.rawValue), address.value) }
        guard fd >= 0 else { throw OSPFSocketError(operation: "open", interfaceName: interfaceName, errno: Errno(rawValue: -fd)) }
        descriptor = FileDescriptor(rawValue: fd)
    }

    deinit {
        try? descriptor.close()
    }

    /// Joins (`member` true) or leaves a multicast group on the interface (IP_ADD_MEMBERSHIP,
    /// IP_DROP_MEMBERSHIP); does nothing when already in that state.
    public func setMembership(_ group: IPv4Address, _ member: Bool) throws(OSPFSocketError) {
        try joined.withLock { groups throws(OSPFSocketError) in
            guard groups.contains(group) != member else { return }
            let result = clinux_ip_multicast_membership(descriptor.rawValue, Int32(bitPattern: interface.rawValue),
                                                        group.value, member ? 1 : 0)
            guard result == 0 else {
                throw OSPFSocketError(operation: member ? "join \(group)" : "leave \(group)", interfaceName: interfaceName,
                                      errno: Errno(rawValue: -result))
            }
            if member { groups.insert(group) } else { groups.remove(group) }
        }
    }

    /// The groups joined now.
    public var memberships: Set<IPv4Address> { joined.withLock { $0 } }

    /// Sends one OSPF packet (the IP payload) to `destination`; never blocks.
    public func send(_ packet: [UInt8], to destination: IPv4Address) throws(OSPFSocketError) {
        let result = packet.withUnsafeBytes {
            clinux_ospf_send(descriptor.rawValue, $0.baseAddress, $0.count, destination.value,
                             Int32(bitPattern: interface.rawValue), address.value)
        }
        guard result >= 0 else {
            throw OSPFSocketError(operation: "send to \(destination)", interfaceName: interfaceName, errno: Errno(rawValue: Int32(-result)))
        }
    }

    /// Receives one datagram into `buffer`; nil when none is waiting. A datagram longer than
    /// the buffer is consumed and reported as `.messageTooLong`.
    public func receive(into buffer: UnsafeMutableRawBufferPointer) throws(OSPFSocketError) -> Datagram? {
        var index: Int32 = -1
        var destination: UInt32 = 0
        let result = clinux_ospf_receive(descriptor.rawValue, buffer.baseAddress, buffer.count, &index, &destination)
        if result == -Int(EAGAIN) || result == -Int(EINTR) { return nil }
        guard result >= 0 else {
            throw OSPFSocketError(operation: "receive", interfaceName: interfaceName, errno: Errno(rawValue: Int32(-result)))
        }
        return Datagram(length: result, interface: index >= 0 ? LinkID(UInt32(index)) : nil,
                        destination: IPv4Address(destination))
    }
}

/// A socket call on an OSPF interface failed.
public struct OSPFSocketError: Error, Sendable, CustomStringConvertible {
    /// What was attempted: "open", "join 224.0.0.6", "send to 198.18.50.2", …
    public var operation: String
    public var interfaceName: String
    public var errno: Errno

    public var description: String {
        let hint = errno == .notPermitted || errno == .permissionDenied ? " (a raw socket needs CAP_NET_RAW)" : ""
        return "OSPF socket on \(interfaceName): \(operation): \(errno)\(hint)"
    }
}
