// The overlay side: a Linux TUN device (Documentation/networking/tuntap.rst) carrying raw IP
// packets (IFF_TUN | IFF_NO_PI), optionally with a virtio_net_hdr before each packet
// (IFF_VNET_HDR) so the kernel can hand over TSO/USO super-packets.
import Glibc
internal import CLinux

/// A TUN device owned by this process; closing it (deinit) deletes a non-persistent device.
public final class TUNDevice: @unchecked Sendable {
    /// Segmentation offloads the kernel may use on packets it gives us (TUNSETOFFLOAD).
    public struct Offloads: OptionSet, Hashable, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        /// TUN_F_CSUM: packets may carry a partial checksum (virtio NEEDS_CSUM); required by
        /// all the others.
        public static let checksum = Offloads(rawValue: UInt32(CLINUX_TUN_F_CSUM))
        /// TUN_F_TSO4 / TUN_F_TSO6: TCP super-packets up to 64 KiB.
        public static let tcpSegmentation4 = Offloads(rawValue: UInt32(CLINUX_TUN_F_TSO4))
        public static let tcpSegmentation6 = Offloads(rawValue: UInt32(CLINUX_TUN_F_TSO6))
        /// TUN_F_TSO_ECN: TSO packets with ECN CWR set.
        public static let tcpSegmentationECN = Offloads(rawValue: UInt32(CLINUX_TUN_F_TSO_ECN))
        /// TUN_F_USO4 / TUN_F_USO6 (Linux 6.2): UDP super-packets.
        public static let udpSegmentation4 = Offloads(rawValue: UInt32(CLINUX_TUN_F_USO4))
        public static let udpSegmentation6 = Offloads(rawValue: UInt32(CLINUX_TUN_F_USO6))

        /// Everything this driver knows how to ask for.
        public static let all: Offloads = [.checksum, .tcpSegmentation4, .tcpSegmentation6, .tcpSegmentationECN,
                                           .udpSegmentation4, .udpSegmentation6]
    }

    /// How to open the device.
    public struct Options: Hashable, Sendable {
        /// Put a virtio_net_hdr before every packet (IFF_VNET_HDR). Off by default: with it on,
        /// the engine must segment TSO/USO super-packets and complete partial checksums, and
        /// reads need pool slots of 64 KiB (`BufferPool.Layout.coalescing`).
        public var virtioNetHeader: Bool
        /// Offloads to request when `virtioNetHeader` is on; the device reports what it got.
        public var offloads: Offloads

        public init(virtioNetHeader: Bool = false, offloads: Offloads = .all) {
            self.virtioNetHeader = virtioNetHeader
            self.offloads = offloads
        }
    }

    public let descriptor: FileDescriptor
    /// The interface name the kernel gave the device.
    public let name: String
    /// Whether every packet read or written is preceded by a `VirtioNetHeader`.
    public let hasVirtioNetHeader: Bool
    /// The offloads the kernel accepted (empty without the virtio header).
    public let offloads: Offloads

    /// Creates the device `name` (up to 15 bytes; "" lets the kernel pick tunN) or attaches to
    /// an existing persistent one. The descriptor is non-blocking: the syscall driver reads until
    /// EAGAIN, and io_uring's multishot READ polls on its own.
    /// Falls back to no virtio header if the kernel refuses IFF_VNET_HDR, and to fewer offloads
    /// (dropping USO, then ECN, then TSO) if it refuses some.
    public init(name: String, options: Options = Options()) throws(IOBackendError) {
        guard name.utf8.count < Int(CLINUX_IFNAMSIZ) else {
            throw IOBackendError.system(operation: "TUNSETIFF \(name)", .nameTooLong)
        }
        var kernelName = [CChar](repeating: 0, count: Int(CLINUX_IFNAMSIZ))
        var vnet = options.virtioNetHeader
        var fd = clinux_tun_open(name, vnet ? 1 : 0, &kernelName)
        if fd == -EINVAL && vnet {
            vnet = false
            fd = clinux_tun_open(name, 0, &kernelName)
        }
        guard fd >= 0 else { throw IOBackendError.system(operation: "TUNSETIFF \(name)", Errno(rawValue: -fd)) }
        let descriptor = FileDescriptor(rawValue: fd)
        do {
            try descriptor.setNonBlocking()
        } catch {
            try? descriptor.close()
            throw IOBackendError.system(operation: "O_NONBLOCK", error)
        }
        var granted: Offloads = []
        if vnet {
            let wanted = options.offloads.contains(.checksum) ? options.offloads : []
            let attempts: [Offloads] = [
                wanted,
                wanted.subtracting([.udpSegmentation4, .udpSegmentation6]),
                wanted.subtracting([.udpSegmentation4, .udpSegmentation6, .tcpSegmentationECN]),
                wanted.intersection(.checksum),
            ]
            for attempt in attempts where clinux_tun_set_offload(fd, attempt.rawValue) == 0 {
                granted = attempt
                break
            }
        }
        self.descriptor = descriptor
        self.name = kernelName.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        self.hasVirtioNetHeader = vnet
        self.offloads = granted
    }

    deinit {
        try? descriptor.close()
    }

    /// The device's MTU.
    public func mtu() throws(Errno) -> Int { try NetworkInterface.mtu(of: name) }

    /// Sets the device's MTU (SIOCSIFMTU).
    public func setMTU(_ mtu: Int) throws(Errno) { try NetworkInterface.setMTU(mtu, of: name) }

    /// Brings the device up or down (SIOCSIFFLAGS).
    public func setUp(_ up: Bool = true) throws(Errno) { try NetworkInterface.setUp(name, up) }

    /// Bytes before each packet on the descriptor.
    var headerLength: Int { hasVirtioNetHeader ? VirtioNetHeader.size : 0 }
}

/// The virtio_net_hdr an IFF_VNET_HDR TUN puts before each packet (virtio 1.x §5.1.6), in
/// little-endian byte order (the TUN default on little-endian hosts; no TUNSETVNETBE).
public struct VirtioNetHeader: Hashable, Sendable {
    /// The header's size without num_buffers, as TUN uses it.
    public static let size = Int(CLINUX_VIRTIO_NET_HDR_LEN)

    /// VIRTIO_NET_HDR_GSO_*.
    public enum SegmentationType: UInt8, Hashable, Sendable {
        case none = 0
        case tcpIPv4 = 1
        case udp = 3
        case tcpIPv6 = 4
        /// VIRTIO_NET_HDR_GSO_UDP_L4: USO.
        case udpL4 = 5
    }

    /// VIRTIO_NET_HDR_F_NEEDS_CSUM: the checksum at `checksumStart + checksumOffset` is partial.
    public var needsChecksum: Bool
    /// VIRTIO_NET_HDR_F_DATA_VALID: the checksum was already verified.
    public var dataValid: Bool
    public var segmentation: SegmentationType
    /// VIRTIO_NET_HDR_GSO_ECN.
    public var explicitCongestionNotification: Bool
    /// Length of the headers to repeat before each segment.
    public var headerLength: UInt16
    /// Payload bytes per segment (MSS).
    public var segmentSize: UInt16
    public var checksumStart: UInt16
    public var checksumOffset: UInt16

    public init(needsChecksum: Bool = false, dataValid: Bool = false, segmentation: SegmentationType = .none,
                explicitCongestionNotification: Bool = false, headerLength: UInt16 = 0, segmentSize: UInt16 = 0,
                checksumStart: UInt16 = 0, checksumOffset: UInt16 = 0) {
        self.needsChecksum = needsChecksum
        self.dataValid = dataValid
        self.segmentation = segmentation
        self.explicitCongestionNotification = explicitCongestionNotification
        self.headerLength = headerLength
        self.segmentSize = segmentSize
        self.checksumStart = checksumStart
        self.checksumOffset = checksumOffset
    }

    /// Parses the header; nil for a short buffer or an unknown segmentation type.
    public init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= Self.size,
              let type = SegmentationType(rawValue: bytes[1] & 0x7F) else { return nil }
        func field(_ offset: Int) -> UInt16 { UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self)) }
        self.init(needsChecksum: bytes[0] & 1 != 0, dataValid: bytes[0] & 2 != 0, segmentation: type,
                  explicitCongestionNotification: bytes[1] & 0x80 != 0,
                  headerLength: field(2), segmentSize: field(4), checksumStart: field(6), checksumOffset: field(8))
    }

    /// The header of the packet in `pool`: the `size` bytes before its offset. Nil unless the
    /// packet is flagged `.virtioNetHeader`.
    public init?(of packet: Packet, in pool: BufferPool) {
        guard packet.flags.contains(.virtioNetHeader), packet.offset >= Self.size else { return nil }
        self.init(UnsafeRawBufferPointer(start: pool.address(of: packet.buffer) + packet.offset - Self.size, count: Self.size))
    }

    /// Writes the header into the first `size` bytes of `bytes` (which must hold them).
    public func write(to bytes: UnsafeMutableRawBufferPointer) {
        precondition(bytes.count >= Self.size, "VirtioNetHeader.write: buffer too short")
        bytes[0] = (needsChecksum ? 1 : 0) | (dataValid ? 2 : 0)
        bytes[1] = segmentation.rawValue | (explicitCongestionNotification ? 0x80 : 0)
        bytes.storeBytes(of: headerLength.littleEndian, toByteOffset: 2, as: UInt16.self)
        bytes.storeBytes(of: segmentSize.littleEndian, toByteOffset: 4, as: UInt16.self)
        bytes.storeBytes(of: checksumStart.littleEndian, toByteOffset: 6, as: UInt16.self)
        bytes.storeBytes(of: checksumOffset.littleEndian, toByteOffset: 8, as: UInt16.self)
    }
}

extension TUNDevice {
    /// Where a write of `packet` starts and how long it is: on a vnet-header device the 10
    /// bytes before the packet carry its header, a zeroed "no offload" one unless the engine
    /// wrote its own (`.virtioNetHeader`). Nil when there is no room for the header.
    @inline(__always)
    func writeSpan(of packet: Packet, in pool: BufferPool) -> (UnsafeMutableRawPointer, Int)? {
        let start = pool.address(of: packet.buffer) + packet.offset
        guard hasVirtioNetHeader else { return (start, packet.length) }
        guard packet.offset >= VirtioNetHeader.size else { return nil }
        let header = start - VirtioNetHeader.size
        if !packet.flags.contains(.virtioNetHeader) {
            header.initializeMemory(as: UInt8.self, repeating: 0, count: VirtioNetHeader.size)
        }
        return (header, packet.length + VirtioNetHeader.size)
    }
}
