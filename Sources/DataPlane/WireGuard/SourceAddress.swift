// What the WireGuard core needs to know about a UDP endpoint. The core is generic over the
// driver's endpoint type; beyond equality (for roaming, §2.1) it only needs the source address and
// port, which the cookie binds to (§5.4.7) and the handshake rate limiter counts by.

extension WireGuard {
    /// An IP address and UDP port, stored inline.
    public struct SourceAddress: Hashable, Sendable, CustomStringConvertible {
        /// The address in network byte order: IPv4 in the low 32 bits of `low` (`high` zero),
        /// IPv6 as two big-endian halves.
        public let high: UInt64
        public let low: UInt64
        public let isIPv6: Bool
        public let port: UInt16

        /// An IPv4 source; `address` in host order (e.g. 0x0A000001 for 10.0.0.1).
        public init(ipv4 address: UInt32, port: UInt16) {
            high = 0
            low = UInt64(address)
            isIPv6 = false
            self.port = port
        }

        /// An IPv6 source from its two 64-bit halves in host order
        /// (e.g. `high: 0x2001_0db8_0000_0000` for 2001:db8::/64).
        public init(ipv6High high: UInt64, low: UInt64, port: UInt16) {
            self.high = high
            self.low = low
            isIPv6 = true
            self.port = port
        }

        /// Calls `body` with the address in network byte order (4 or 16 bytes) followed by the
        /// port in network byte order: the cookie's A_m (§5.4.7).
        func withCookieInput<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
            // 16 address bytes and 2 port bytes at most, laid out in a stack tuple.
            var storage: (UInt64, UInt64, UInt16) = (0, 0, 0)
            return withUnsafeMutableBytes(of: &storage) { raw in
                var length = 0
                if isIPv6 {
                    raw.storeBytes(of: high.bigEndian, toByteOffset: 0, as: UInt64.self)
                    raw.storeBytes(of: low.bigEndian, toByteOffset: 8, as: UInt64.self)
                    length = 16
                } else {
                    raw.storeBytes(of: UInt32(truncatingIfNeeded: low).bigEndian, toByteOffset: 0, as: UInt32.self)
                    length = 4
                }
                raw.storeBytes(of: port.bigEndian, toByteOffset: length, as: UInt16.self)
                return body(UnsafeRawBufferPointer(rebasing: raw[0 ..< length + 2]))
            }
        }

        public var description: String {
            if !isIPv6 {
                let a = UInt32(truncatingIfNeeded: low)
                return "\(a >> 24).\((a >> 16) & 0xFF).\((a >> 8) & 0xFF).\(a & 0xFF):\(port)"
            }
            let groups = [high >> 48, (high >> 32) & 0xFFFF, (high >> 16) & 0xFFFF, high & 0xFFFF,
                          low >> 48, (low >> 32) & 0xFFFF, (low >> 16) & 0xFFFF, low & 0xFFFF]
            return "[" + groups.map { String($0, radix: 16) }.joined(separator: ":") + "]:\(port)"
        }
    }
}

/// A UDP endpoint the WireGuard core can talk about: compared for roaming (§2.1) and reduced to
/// its source address for the cookie (§5.4.7) and the handshake rate limiter.
///
/// The core never interprets an endpoint otherwise; the driver's own endpoint type (socket
/// address, interface, sticky source) conforms to this.
public protocol WireGuardEndpoint: Hashable, Sendable {
    /// The IP address and UDP port datagrams from this endpoint come from.
    var sourceAddress: WireGuard.SourceAddress { get }
}
