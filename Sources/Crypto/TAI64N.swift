/// A TAI64N timestamp in its 12-byte external format (https://cr.yp.to/libtai/tai64.html):
/// the big-endian 64-bit label 2^62 + seconds, then big-endian 32-bit nanoseconds.
///
/// WireGuard's handshake initiation carries one (whitepaper §5.4.2) and a responder rejects an
/// initiation whose timestamp is not greater than the last one seen from that peer (replay
/// protection), comparing the 12 bytes as a big-endian number. Values keep the raw label and
/// nanosecond field exactly as received, so `<` here agrees with that byte comparison for every
/// input, including out-of-range nanoseconds from a misbehaving peer.
///
/// (Like WireGuard, "seconds" are taken straight from the Unix clock; the leap-second offset of
/// real TAI does not matter when only ordering is used.)
public struct TAI64N: Comparable, Hashable, Sendable {
    /// 2^62: the label of the Unix epoch.
    private static let epochLabel: UInt64 = 1 << 62

    /// The 64-bit label, 2^62 + seconds.
    public let label: UInt64
    /// The nanosecond field (0...999_999_999 for well-formed values).
    public let nanoseconds: UInt32

    /// The time `unixSeconds` + `nanoseconds` after the Unix epoch.
    public init(unixSeconds: Int64, nanoseconds: UInt32) {
        label = UInt64(bitPattern: unixSeconds) &+ Self.epochLabel
        self.nanoseconds = nanoseconds
    }

    /// Parses the first 12 bytes of `bytes`; nil unless there are at least 12.
    public init?(bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= 12 else { return nil }
        label = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        nanoseconds = UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
    }

    /// Writes the 12-byte external format to the start of `output`, which must hold 12 bytes.
    public func write(to output: UnsafeMutableRawBufferPointer) {
        precondition(output.count >= 12, "TAI64N.write: output must hold 12 bytes")
        output.storeBytes(of: label.bigEndian, toByteOffset: 0, as: UInt64.self)
        output.storeBytes(of: nanoseconds.bigEndian, toByteOffset: 8, as: UInt32.self)
    }

    /// Seconds since the Unix epoch (label - 2^62, wrapping for labels more than 2^63 away).
    public var unixSeconds: Int64 {
        Int64(bitPattern: label &- Self.epochLabel)
    }

    /// Orders as the 12-byte big-endian encodings do.
    public static func < (lhs: TAI64N, rhs: TAI64N) -> Bool {
        (lhs.label, lhs.nanoseconds) < (rhs.label, rhs.nanoseconds)
    }
}
