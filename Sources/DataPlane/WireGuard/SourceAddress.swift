// What the WireGuard core needs to know about a UDP endpoint. The core is generic over the
// driver's endpoint type; beyond equality (for roaming, §2.1) it only needs the source address and
// port, which the cookie binds to (§5.4.7) and the handshake rate limiter counts by.

import WeftRouting

extension WireGuard {
    /// An IP address and UDP port: where a datagram came from.
    public struct SourceAddress: Hashable, Sendable, CustomStringConvertible {
        public var address: IPAddress
        public var port: UInt16

        public init(_ address: IPAddress, port: UInt16) {
            self.address = address
            self.port = port
        }

        /// Calls `body` with the address in network byte order (4 or 16 bytes) followed by the
        /// port in network byte order: the cookie's A_m (§5.4.7).
        func withCookieInput<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
            // 16 address bytes and 2 port bytes at most, in a stack buffer.
            var storage: (UInt64, UInt64, UInt64) = (0, 0, 0)
            return withUnsafeMutableBytes(of: &storage) { raw in
                let length = address.withUnsafeBytes { bytes in
                    raw.copyMemory(from: bytes)
                    return bytes.count
                }
                raw.storeBytes(of: port.bigEndian, toByteOffset: length, as: UInt16.self)
                return body(UnsafeRawBufferPointer(rebasing: raw[0 ..< length + 2]))
            }
        }

        public var description: String {
            switch address {
            case .v4: "\(address):\(port)"
            case .v6: "[\(address)]:\(port)"
            }
        }
    }
}

/// A UDP endpoint the WireGuard core can talk about: compared for roaming (§2.1) and reduced to
/// its source address for the cookie (§5.4.7) and the handshake rate limiter.
///
/// The core never interprets an endpoint otherwise; the driver's own endpoint type (socket
/// address, sticky local address, interface) conforms to this.
public protocol WireGuardEndpoint: Hashable, Sendable {
    /// The IP address and UDP port datagrams from this endpoint come from.
    var sourceAddress: WireGuard.SourceAddress { get }
}

/// The I/O layer's UDP endpoint, as the WireGuard core sees it. IPv4-mapped IPv6 addresses (from
/// a dual-stack socket) count as the IPv4 hosts they are; the IPv6 zone plays no part in cookies.
extension Endpoint: WireGuardEndpoint {
    public var sourceAddress: WireGuard.SourceAddress {
        switch address.unmapped {
        case .ipv4(let value):
            WireGuard.SourceAddress(.v4(IPv4Address(value)), port: port)
        case .ipv6(let high, let low, _):
            WireGuard.SourceAddress(.v6(IPv6Address(hi: high, lo: low)), port: port)
        }
    }
}
