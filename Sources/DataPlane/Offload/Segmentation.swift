// Segmentation offload done in software: what a NIC does for TSO and USO (Linux tcp_gso_segment,
// __udp_gso_segment). A TUN device with IFF_VNET_HDR and TUNSETOFFLOAD hands the engine TCP and
// UDP "super-packets" of up to 64 KiB with a virtio_net_hdr saying how to cut them (virtio 1.x
// §5.1.6.2); each cut is a complete wire-size IP packet that WireGuard then seals on its own.
// Letting the kernel build super-packets is what makes the sender's TCP stack cheap: one pass
// through it per 64 KiB instead of per 1.4 KiB.
import WeftRouting

/// Splits TSO/USO super-packets into wire-size packets and completes partial checksums.
public enum SegmentationOffload {
    /// Why a packet from the TUN could not be segmented (the engine drops and counts it).
    public enum Failure: Error, Hashable, Sendable, CustomStringConvertible {
        /// Not a well-formed IPv4/IPv6 packet of the kind the header announces.
        case malformed
        /// A segmentation type the engine never asked for (UFO) or an IPv6 extension header.
        case unsupported
        /// The output ran out of buffers part-way; the segments before were emitted.
        case noBuffers

        public var description: String {
            switch self {
            case .malformed: "malformed offload packet from TUN"
            case .unsupported: "unsupported offload packet from TUN"
            case .noBuffers: "no buffer for offload segment"
            }
        }
    }

    /// Cuts `packet` (the bytes after the virtio header) as `header` says and writes every
    /// resulting packet to a buffer `output(length)` provides, which must hold `length` bytes;
    /// returns how many packets were written. A packet without segmentation is written whole,
    /// with its partial checksum completed when the header says `needsChecksum`. `packet` may be
    /// modified (the checksum completion happens in place). Allocates nothing.
    public static func segment(_ packet: UnsafeMutableRawBufferPointer, header: VirtioNetHeader,
                               output: (Int) -> UnsafeMutableRawBufferPointer?) throws(Failure) -> Int {
        guard header.segmentation != .none else {
            if header.needsChecksum { try completeChecksum(packet, header: header) }
            guard let destination = output(packet.count) else { throw .noBuffers }
            destination.baseAddress!.copyMemory(from: packet.baseAddress!, byteCount: packet.count)
            return 1
        }
        let ip = try IPHeaders(packet)
        switch header.segmentation {
        case .tcpIPv4, .tcpIPv6:
            guard ip.protocolNumber == 6, (header.segmentation == .tcpIPv6) == ip.isIPv6 else { throw .malformed }
            return try segmentTCP(packet, ip: ip, segmentSize: Int(header.segmentSize), output: output)
        case .udpL4:
            guard ip.protocolNumber == 17 else { throw .malformed }
            return try segmentUDP(packet, ip: ip, segmentSize: Int(header.segmentSize), output: output)
        case .udp, .none:
            throw .unsupported
        }
    }

    /// Fills in a partial checksum (VIRTIO_NET_HDR_F_NEEDS_CSUM): the field at `checksumStart +
    /// checksumOffset` holds the pseudo-header sum, and the checksum covers everything from
    /// `checksumStart` to the end (virtio 1.x §5.1.6.2.1).
    public static func completeChecksum(_ packet: UnsafeMutableRawBufferPointer, header: VirtioNetHeader) throws(Failure) {
        let start = Int(header.checksumStart)
        let field = start + Int(header.checksumOffset)
        guard field + 2 <= packet.count else { throw .malformed }
        var sum = InternetChecksum()
        sum.add(UnsafeRawBufferPointer(rebasing: packet[start...]))
        var checksum = sum.checksum
        // A UDP checksum that computes to zero is sent as all ones (RFC 768); harmless for TCP.
        if checksum == 0 { checksum = 0xFFFF }
        packet.storeBytes(of: checksum.bigEndian, toByteOffset: field, as: UInt16.self)
    }

    // MARK: TCP (RFC 9293 §3.1; Linux tcp_gso_segment) and UDP (RFC 768; Linux __udp_gso_segment)

    private static func segmentTCP(_ packet: UnsafeMutableRawBufferPointer, ip: IPHeaders, segmentSize: Int,
                                   output: (Int) -> UnsafeMutableRawBufferPointer?) throws(Failure) -> Int {
        let tcpStart = ip.headerLength
        guard packet.count >= tcpStart + 20 else { throw .malformed }
        let tcpHeaderLength = Int(packet[tcpStart + 12] >> 4) * 4
        guard tcpHeaderLength >= 20 else { throw .malformed }
        let firstSequence = UInt32(bigEndian: packet.loadUnaligned(fromByteOffset: tcpStart + 4, as: UInt32.self))
        let flags = packet[tcpStart + 13]
        return try cut(packet, ip: ip, transportHeaderLength: tcpHeaderLength, checksumOffset: 16, protocolNumber: 6,
                       segmentSize: segmentSize, output: output) { out, index, last, _ in
            out.storeBytes(of: (firstSequence &+ UInt32(truncatingIfNeeded: index * segmentSize)).bigEndian,
                           toByteOffset: tcpStart + 4, as: UInt32.self)
            // FIN and PSH belong to the last segment only, CWR to the first (tcp_gso_segment).
            var segmentFlags = flags
            if !last { segmentFlags &= ~0x09 }
            if index > 0 { segmentFlags &= ~0x80 }
            out[tcpStart + 13] = segmentFlags
        }
    }

    private static func segmentUDP(_ packet: UnsafeMutableRawBufferPointer, ip: IPHeaders, segmentSize: Int,
                                   output: (Int) -> UnsafeMutableRawBufferPointer?) throws(Failure) -> Int {
        let udpStart = ip.headerLength
        return try cut(packet, ip: ip, transportHeaderLength: 8, checksumOffset: 6, protocolNumber: 17,
                       segmentSize: segmentSize, output: output) { out, _, _, payloadLength in
            out.storeBytes(of: UInt16(truncatingIfNeeded: 8 + payloadLength).bigEndian, toByteOffset: udpStart + 4,
                           as: UInt16.self)
        }
    }

    /// The cutting both share: each segment gets the headers and its share of the payload, its
    /// IP length and identification, what `transportFields(segment, index, isLast, payloadLength)`
    /// sets, and a full transport checksum.
    @inline(__always)
    private static func cut(_ packet: UnsafeMutableRawBufferPointer, ip: IPHeaders, transportHeaderLength: Int,
                            checksumOffset: Int, protocolNumber: UInt8, segmentSize: Int,
                            output: (Int) -> UnsafeMutableRawBufferPointer?,
                            transportFields: (UnsafeMutableRawBufferPointer, Int, Bool, Int) -> Void) throws(Failure) -> Int {
        let transportStart = ip.headerLength
        let headersLength = transportStart + transportHeaderLength
        guard packet.count > headersLength, segmentSize > 0 else { throw .malformed }
        let segments = (packet.count - headersLength + segmentSize - 1) / segmentSize
        let firstIdentification = ip.isIPv6 ? 0 : UInt16(bigEndian: packet.loadUnaligned(fromByteOffset: 4, as: UInt16.self))
        for index in 0..<segments {
            let payloadStart = headersLength + index * segmentSize
            let length = min(segmentSize, packet.count - payloadStart)
            let total = headersLength + length
            guard let out = output(total) else { throw .noBuffers }
            out.baseAddress!.copyMemory(from: packet.baseAddress!, byteCount: headersLength)
            (out.baseAddress! + headersLength).copyMemory(from: packet.baseAddress! + payloadStart, byteCount: length)
            ip.rewrite(out, totalLength: total, identification: firstIdentification &+ UInt16(truncatingIfNeeded: index))
            transportFields(out, index, index == segments - 1, length)
            ip.storeTransportChecksum(out, transportStart: transportStart, checksumOffset: checksumOffset,
                                      protocolNumber: protocolNumber, total: total)
        }
        return segments
    }
}

/// The IP header of an offloaded packet: where the transport header starts and how to rewrite
/// the fields that differ between segments.
struct IPHeaders {
    let isIPv6: Bool
    /// Bytes before the transport header.
    let headerLength: Int
    let protocolNumber: UInt8

    init(_ packet: UnsafeMutableRawBufferPointer) throws(SegmentationOffload.Failure) {
        guard packet.count >= 20 else { throw .malformed }
        switch packet[0] >> 4 {
        case 4:
            headerLength = Int(packet[0] & 0x0F) * 4
            guard headerLength >= 20, packet.count >= headerLength else { throw .malformed }
            // A fragment cannot be segmented (and TSO never produces one).
            let fragment = UInt16(bigEndian: packet.loadUnaligned(fromByteOffset: 6, as: UInt16.self))
            guard fragment & 0x3FFF == 0 else { throw .malformed }
            isIPv6 = false
            protocolNumber = packet[9]
        case 6:
            guard packet.count >= 40 else { throw .malformed }
            // Extension headers before TCP/UDP: Linux TSO can produce them only for
            // locally-set options, which the engine does not walk; such packets are refused.
            guard packet[6] == 6 || packet[6] == 17 else { throw .unsupported }
            isIPv6 = true
            headerLength = 40
            protocolNumber = packet[6]
        default:
            throw .malformed
        }
    }

    /// Sets the length fields (and, for IPv4, the identification and header checksum) of a segment.
    @inline(__always)
    func rewrite(_ out: UnsafeMutableRawBufferPointer, totalLength: Int, identification: UInt16) {
        if isIPv6 {
            out.storeBytes(of: UInt16(truncatingIfNeeded: totalLength - 40).bigEndian, toByteOffset: 4, as: UInt16.self)
        } else {
            out.storeBytes(of: UInt16(truncatingIfNeeded: totalLength).bigEndian, toByteOffset: 2, as: UInt16.self)
            out.storeBytes(of: identification.bigEndian, toByteOffset: 4, as: UInt16.self)
            out.storeBytes(of: UInt16(0), toByteOffset: 10, as: UInt16.self)
            let checksum = InternetChecksum.checksum(UnsafeRawBufferPointer(rebasing: out[0..<headerLength]))
            out.storeBytes(of: checksum.bigEndian, toByteOffset: 10, as: UInt16.self)
        }
    }

    /// The pseudo-header sum (RFC 9293 §3.1, RFC 8200 §8.1) for `transportLength` bytes.
    @inline(__always)
    func pseudoHeaderSum(_ packet: UnsafeRawBufferPointer, protocolNumber: UInt8, transportLength: Int) -> InternetChecksum {
        Self.pseudoHeaderSum(packet, isIPv6: isIPv6, protocolNumber: protocolNumber, transportLength: transportLength)
    }

    static func pseudoHeaderSum(_ packet: UnsafeRawBufferPointer, isIPv6: Bool, protocolNumber: UInt8,
                                transportLength: Int) -> InternetChecksum {
        var sum = InternetChecksum()
        if isIPv6 {
            sum.addPseudoHeader(source: IPv6Address(bytes: packet, atByteOffset: 8)!,
                                destination: IPv6Address(bytes: packet, atByteOffset: 24)!,
                                nextHeader: protocolNumber, upperLayerLength: transportLength)
        } else {
            sum.addPseudoHeader(source: IPv4Address(bytes: packet, atByteOffset: 12)!,
                                destination: IPv4Address(bytes: packet, atByteOffset: 16)!,
                                protocolNumber: protocolNumber, upperLayerLength: transportLength)
        }
        return sum
    }

    /// Computes and stores the full TCP/UDP checksum of a segment.
    @inline(__always)
    func storeTransportChecksum(_ out: UnsafeMutableRawBufferPointer, transportStart: Int, checksumOffset: Int,
                                protocolNumber: UInt8, total: Int) {
        out.storeBytes(of: UInt16(0), toByteOffset: transportStart + checksumOffset, as: UInt16.self)
        var sum = pseudoHeaderSum(UnsafeRawBufferPointer(out), protocolNumber: protocolNumber,
                                  transportLength: total - transportStart)
        sum.add(UnsafeRawBufferPointer(rebasing: out[transportStart..<total]))
        var checksum = sum.checksum
        if protocolNumber == 17 && checksum == 0 { checksum = 0xFFFF }
        out.storeBytes(of: checksum.bigEndian, toByteOffset: transportStart + checksumOffset, as: UInt16.self)
    }
}
