@testable import WeftRouting

/// SplitMix64: a small, seeded, reproducible generator for the randomized tests.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func v4(_ text: String) -> IPv4Address { IPv4Address(text)! }
func v6(_ text: String) -> IPv6Address { IPv6Address(text)! }
func ip(_ text: String) -> IPAddress { IPAddress(text)! }
func prefix(_ text: String) -> IPPrefix { IPPrefix(text)! }

/// A 20-byte IPv4 header (RFC 791 §3.1) followed by a transport header start and payload.
func ipv4Packet(source: IPv4Address, destination: IPv4Address, protocolNumber: UInt8 = 17,
                sourcePort: UInt16 = 0, destinationPort: UInt16 = 0,
                flagsAndFragmentOffset: UInt16 = 0, payload: [UInt8] = []) -> [UInt8] {
    var bytes: [UInt8] = [0x45, 0, 0, 0, 0x12, 0x34,
                          UInt8(flagsAndFragmentOffset >> 8), UInt8(flagsAndFragmentOffset & 0xFF),
                          64, protocolNumber, 0, 0]
    bytes += octets(source.value) + octets(destination.value)
    bytes += [UInt8(sourcePort >> 8), UInt8(sourcePort & 0xFF),
              UInt8(destinationPort >> 8), UInt8(destinationPort & 0xFF)]
    bytes += payload
    let total = UInt16(bytes.count)
    bytes[2] = UInt8(total >> 8)
    bytes[3] = UInt8(total & 0xFF)
    return bytes
}

/// A 40-byte IPv6 header (RFC 8200 §3), then `extensionHeaders` (already encoded, each
/// starting with its Next Header byte, which this fills in), then a transport header start.
func ipv6Packet(source: IPv6Address, destination: IPv6Address, protocolNumber: UInt8 = 17,
                extensionHeaders: [(type: UInt8, bytes: [UInt8])] = [],
                sourcePort: UInt16 = 0, destinationPort: UInt16 = 0, payload: [UInt8] = []) -> [UInt8] {
    let firstNext = extensionHeaders.first?.type ?? protocolNumber
    var bytes: [UInt8] = [0x60, 0, 0, 0, 0, 0, firstNext, 64]
    bytes += octets(source.hi) + octets(source.lo) + octets(destination.hi) + octets(destination.lo)
    for (index, header) in extensionHeaders.enumerated() {
        var encoded = header.bytes
        encoded[0] = index + 1 < extensionHeaders.count ? extensionHeaders[index + 1].type : protocolNumber
        bytes += encoded
    }
    bytes += [UInt8(sourcePort >> 8), UInt8(sourcePort & 0xFF),
              UInt8(destinationPort >> 8), UInt8(destinationPort & 0xFF)]
    bytes += payload
    return bytes
}

func octets<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
    (0..<(T.bitWidth / 8)).reversed().map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) }
}
