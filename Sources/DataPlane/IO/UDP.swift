// The underlay UDP socket WireGuard speaks through, and the message vectors its two drivers
// (UDPRingIO, UDPSyscallIO) share: sockaddr/iovec/cmsg scratch, UDP GSO trains on send and
// UDP GRO segment sizes on receive.
import Glibc
internal import CLinux

/// A UDP socket: dual-stack (AF_INET6 with IPV6_V6ONLY=0) unless bound to an IPv4 address,
/// with large kernel buffers and the segmentation offloads the kernel grants.
public final class UDPSocket: @unchecked Sendable {
    /// How to open the socket.
    public struct Options: Hashable, Sendable {
        /// Local port; 0 lets the kernel pick one (see `localEndpoint`).
        public var port: UInt16
        /// Local address; nil binds the wildcard of a dual-stack socket (IPv4 and IPv6).
        /// An IPv4 address opens an AF_INET socket.
        public var address: Endpoint.Address?
        /// Requested SO_RCVBUF / SO_SNDBUF in bytes. Set with SO_*BUFFORCE, which ignores
        /// net.core.{r,w}mem_max (a namespace cannot raise those), falling back to the capped
        /// SO_*BUF without CAP_NET_ADMIN.
        public var receiveBufferBytes: Int
        public var sendBufferBytes: Int
        /// Send trains of equal-sized datagrams to one endpoint as one UDP GSO (UDP_SEGMENT)
        /// send when the kernel allows it.
        public var segmentationOffload: Bool
        /// Ask for UDP GRO (UDP_GRO): the kernel may deliver several datagrams from one sender
        /// as one, which the drivers split again. Needs pool slots of 64 KiB
        /// (`BufferPool.Layout.coalescing`), or coalesced datagrams arrive truncated.
        public var receiveCoalescing: Bool

        public init(port: UInt16 = 0, address: Endpoint.Address? = nil,
                    receiveBufferBytes: Int = 8 << 20, sendBufferBytes: Int = 8 << 20,
                    segmentationOffload: Bool = true, receiveCoalescing: Bool = false) {
            self.port = port
            self.address = address
            self.receiveBufferBytes = receiveBufferBytes
            self.sendBufferBytes = sendBufferBytes
            self.segmentationOffload = segmentationOffload
            self.receiveCoalescing = receiveCoalescing
        }
    }

    /// Offloads in force.
    public struct Offloads: OptionSet, Hashable, Sendable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        /// UDP_SEGMENT (Linux 4.18): GSO on send.
        public static let segmentation = Offloads(rawValue: 1 << 0)
        /// UDP_GRO (Linux 5.0): coalesced receive.
        public static let receiveCoalescing = Offloads(rawValue: 1 << 1)
    }

    public let descriptor: FileDescriptor
    /// The bound address and port (the wildcard address when none was given).
    public let localEndpoint: Endpoint
    /// True for an AF_INET6 socket (which reaches IPv4 endpoints as IPv4-mapped addresses).
    public let isIPv6: Bool
    /// Offloads the kernel accepted at setup.
    public let offloads: Offloads
    /// SO_RCVBUF / SO_SNDBUF as the kernel reports them (twice the requested size: it counts
    /// its bookkeeping too).
    public let receiveBufferBytes: Int
    public let sendBufferBytes: Int

    /// Opens and binds the socket.
    public init(_ options: Options = Options()) throws(IOBackendError) {
        // AF_INET for an IPv4 (or IPv4-mapped) local address, AF_INET6 otherwise.
        var ipv6 = true
        if case .ipv4? = options.address?.unmapped { ipv6 = false }
        var fd = socket(ipv6 ? AF_INET6 : AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if fd < 0, options.address == nil, errno == EAFNOSUPPORT {
            // A kernel without IPv6: IPv4 only.
            ipv6 = false
            fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        }
        guard fd >= 0 else { throw IOBackendError.system(operation: "socket", Errno.current) }
        let descriptor = FileDescriptor(rawValue: fd)
        do throws(IOBackendError) {
            if ipv6 {
                try Self.setOption(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, options.address == nil ? 0 : 1, "IPV6_V6ONLY")
            }
            Self.setBufferSize(fd, force: Int32(CLINUX_SO_RCVBUFFORCE), plain: SO_RCVBUF, bytes: options.receiveBufferBytes)
            Self.setBufferSize(fd, force: Int32(CLINUX_SO_SNDBUFFORCE), plain: SO_SNDBUF, bytes: options.sendBufferBytes)

            let wildcard: Endpoint.Address = ipv6 ? .ipv6(high: 0, low: 0, scopeID: 0) : .ipv4(0)
            let local = Endpoint(address: options.address?.unmapped ?? wildcard, port: options.port)
            var storage = sockaddr_in6()
            let bound: Endpoint = try withUnsafeMutableBytes(of: &storage) { raw throws(IOBackendError) in
                let length = local.encode(into: raw.baseAddress!, ipv6Socket: ipv6)
                do throws(Errno) {
                    _ = try Syscall.retrying { bind(fd, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(length)) }
                    var size = socklen_t(raw.count)
                    _ = try Syscall.retrying { getsockname(fd, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), &size) }
                } catch {
                    throw IOBackendError.system(operation: "bind \(local)", error)
                }
                guard let endpoint = Endpoint(socketAddress: raw.baseAddress!, length: raw.count) else {
                    throw IOBackendError.system(operation: "getsockname", .addressFamilyNotSupported)
                }
                return endpoint
            }

            var offloads: Offloads = []
            // getsockopt(UDP_SEGMENT) succeeds exactly when the kernel supports UDP GSO.
            if options.segmentationOffload,
               (try? Self.getOption(fd, Int32(CLINUX_SOL_UDP), Int32(CLINUX_UDP_SEGMENT))) != nil {
                offloads.insert(.segmentation)
            }
            if options.receiveCoalescing,
               (try? Self.setOption(fd, Int32(CLINUX_SOL_UDP), Int32(CLINUX_UDP_GRO), 1, "UDP_GRO")) != nil {
                offloads.insert(.receiveCoalescing)
            }
            self.descriptor = descriptor
            self.localEndpoint = bound
            self.isIPv6 = ipv6
            self.offloads = offloads
            self.receiveBufferBytes = Int((try? Self.getOption(fd, SOL_SOCKET, SO_RCVBUF)) ?? 0)
            self.sendBufferBytes = Int((try? Self.getOption(fd, SOL_SOCKET, SO_SNDBUF)) ?? 0)
        } catch {
            try? descriptor.close()
            throw error
        }
    }

    deinit {
        try? descriptor.close()
    }

    private static func setOption(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32,
                                  _ label: String) throws(IOBackendError) {
        var value = value
        do {
            _ = try Syscall.retrying { setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<Int32>.size)) }
        } catch {
            throw IOBackendError.system(operation: "setsockopt \(label)", error)
        }
    }

    private static func getOption(_ fd: Int32, _ level: Int32, _ name: Int32) throws(Errno) -> Int32 {
        var value: Int32 = 0
        var size = socklen_t(MemoryLayout<Int32>.size)
        _ = try Syscall.retrying { getsockopt(fd, level, name, &value, &size) }
        return value
    }

    /// The forced variant first; without CAP_NET_ADMIN the capped one. A refusal of both leaves
    /// the default, which only costs throughput.
    private static func setBufferSize(_ fd: Int32, force: Int32, plain: Int32, bytes: Int) {
        guard bytes > 0 else { return }
        let value = Int32(clamping: bytes)
        if (try? setOption(fd, SOL_SOCKET, force, value, "SO_*BUFFORCE")) == nil {
            _ = try? setOption(fd, SOL_SOCKET, plain, value, "SO_*BUF")
        }
    }
}

// MARK: - Shared by the UDP drivers

/// UDP GSO limits (Linux udp_send_skb / udp_sendmsg).
enum UDPSegmentation {
    /// UDP_MAX_SEGMENTS in older kernels (newer allow 128): the most datagrams in one send.
    static let maximumSegments = 64
    /// The largest UDP payload of one IPv4 datagram; a GSO train's total may not exceed it.
    static let maximumTrainBytes = 65_507

    /// The number of packets from `start` that can leave as one GSO train: same endpoint, all
    /// the length of the first except a shorter last one, within the kernel's limits.
    @inline(__always)
    static func trainLength(_ batch: borrowing PacketBatch, from start: Int) -> Int {
        let first = batch[start]
        let size = first.length
        guard size > 0 else { return 1 }
        var count = 1
        var total = size
        while start + count < batch.count && count < maximumSegments {
            let next = batch[start + count]
            guard next.length > 0, next.length <= size, total + next.length <= maximumTrainBytes,
                  next.endpoint == first.endpoint else { break }
            count += 1
            total += next.length
            if next.length < size { break }
        }
        return count
    }
}

/// Control messages (cmsg) for UDP GSO and GRO, read and written by byte offset with bounds
/// checks: a malformed control buffer yields nil, never a wild read.
enum ControlMessage {
    private static let headerSize = MemoryLayout<cmsghdr>.size

    /// CMSG_SPACE of a u16 UDP_SEGMENT or an int UDP_GRO value: the control space a message needs.
    static let udpSpace = Int(clinux_cmsg_space(MemoryLayout<Int32>.size))

    /// The UDP_GRO segment size in a received control buffer, if the datagram was coalesced.
    static func groSegmentSize(in control: UnsafeRawBufferPointer) -> Int? {
        var offset = 0
        // Each message takes at least a header; this bounds the walk.
        for _ in 0..<(control.count / headerSize) {
            guard offset + headerSize <= control.count else { return nil }
            let length = control.loadUnaligned(fromByteOffset: offset, as: Int.self)
            let level = control.loadUnaligned(fromByteOffset: offset + 8, as: Int32.self)
            let type = control.loadUnaligned(fromByteOffset: offset + 12, as: Int32.self)
            guard length >= headerSize, length <= control.count - offset else { return nil }
            if level == Int32(CLINUX_SOL_UDP), type == Int32(CLINUX_UDP_GRO), length >= headerSize + 4 {
                let size = control.loadUnaligned(fromByteOffset: offset + headerSize, as: Int32.self)
                return size > 0 ? Int(size) : nil
            }
            offset += (length + 7) & ~7
        }
        return nil
    }

    /// Writes a UDP_SEGMENT control message into `control` (`udpSpace` bytes); returns the
    /// control length to put in the msghdr.
    static func writeSegmentSize(_ size: Int, into control: UnsafeMutableRawPointer) -> Int {
        control.initializeMemory(as: UInt8.self, repeating: 0, count: udpSpace)
        control.storeBytes(of: Int(clinux_cmsg_len(MemoryLayout<UInt16>.size)), toByteOffset: 0, as: Int.self)
        control.storeBytes(of: Int32(CLINUX_SOL_UDP), toByteOffset: 8, as: Int32.self)
        control.storeBytes(of: Int32(CLINUX_UDP_SEGMENT), toByteOffset: 12, as: Int32.self)
        control.storeBytes(of: UInt16(truncatingIfNeeded: size), toByteOffset: headerSize, as: UInt16.self)
        return udpSpace
    }
}

/// Scratch for a fixed number of datagram messages: message headers, socket addresses, control
/// buffers and up to `UDPSegmentation.maximumSegments` iovecs per message, allocated once.
struct MessageVectors: ~Copyable {
    let capacity: Int
    let messages: UnsafeMutablePointer<clinux_mmsghdr>
    private let addresses: UnsafeMutableRawPointer
    private let controls: UnsafeMutableRawPointer
    private let iovecStorage: UnsafeMutablePointer<iovec>
    private static let addressStride = 32
    static let iovecsPerMessage = UDPSegmentation.maximumSegments

    init(capacity: Int) {
        self.capacity = max(1, capacity)
        messages = .allocate(capacity: self.capacity)
        messages.initialize(repeating: clinux_mmsghdr(), count: self.capacity)
        addresses = .allocate(byteCount: self.capacity * Self.addressStride, alignment: 8)
        controls = .allocate(byteCount: self.capacity * ControlMessage.udpSpace, alignment: 8)
        iovecStorage = .allocate(capacity: self.capacity * Self.iovecsPerMessage)
        iovecStorage.initialize(repeating: iovec(), count: self.capacity * Self.iovecsPerMessage)
    }

    deinit {
        messages.deallocate()
        addresses.deallocate()
        controls.deallocate()
        iovecStorage.deallocate()
    }

    @inline(__always)
    func header(_ message: Int) -> UnsafeMutablePointer<msghdr> {
        UnsafeMutableRawPointer(messages + message).assumingMemoryBound(to: msghdr.self)
    }

    @inline(__always)
    func address(_ message: Int) -> UnsafeMutableRawPointer { addresses + message * Self.addressStride }

    @inline(__always)
    func control(_ message: Int) -> UnsafeMutableRawPointer { controls + message * ControlMessage.udpSpace }

    @inline(__always)
    func iovecs(_ message: Int) -> UnsafeMutablePointer<iovec> { iovecStorage + message * Self.iovecsPerMessage }

    /// Prepares message `message` to receive one datagram into `buffer`.
    @inline(__always)
    func prepareReceive(_ message: Int, into buffer: UnsafeMutableRawPointer, length: Int, control: Bool) {
        let iov = iovecs(message)
        iov.pointee = iovec(iov_base: buffer, iov_len: length)
        let header = self.header(message)
        header.pointee = msghdr(msg_name: address(message), msg_namelen: socklen_t(Endpoint.maximumSocketAddressLength),
                                msg_iov: iov, msg_iovlen: 1,
                                msg_control: control ? self.control(message) : nil,
                                msg_controllen: control ? ControlMessage.udpSpace : 0, msg_flags: 0)
        messages[message].msg_len = 0
    }

    /// Prepares message `message` to send `count` packets from `batch[start...]` to their
    /// common endpoint, as a GSO train when `count > 1`. Returns false when the socket family
    /// cannot reach the endpoint.
    @inline(__always)
    func prepareSend(_ message: Int, _ batch: borrowing PacketBatch, from start: Int, count: Int,
                     pool: BufferPool, ipv6Socket: Bool) -> Bool {
        let first = batch[start]
        let addressLength = first.endpoint.encode(into: address(message), ipv6Socket: ipv6Socket)
        guard addressLength > 0 else { return false }
        let iov = iovecs(message)
        for k in 0..<count {
            let packet = batch[start + k]
            iov[k] = iovec(iov_base: pool.address(of: packet.buffer) + packet.offset, iov_len: packet.length)
        }
        let controlLength = count > 1 ? ControlMessage.writeSegmentSize(first.length, into: control(message)) : 0
        header(message).pointee = msghdr(msg_name: address(message), msg_namelen: socklen_t(addressLength),
                                         msg_iov: iov, msg_iovlen: count,
                                         msg_control: controlLength > 0 ? control(message) : nil,
                                         msg_controllen: controlLength, msg_flags: 0)
        messages[message].msg_len = 0
        return true
    }

    /// Sends the iovecs of a prepared message one datagram at a time, without GSO: the path
    /// for a train the kernel refused. Returns (sent, bytes, last error).
    func sendSeparately(_ message: Int, descriptor: FileDescriptor) -> (sent: Int, bytes: Int, error: Errno?) {
        var single = header(message).pointee
        let iov = iovecs(message)
        var sent = 0, bytes = 0
        var lastError: Errno?
        for k in 0..<single.msg_iovlen {
            single.msg_iov = iov + k
            single.msg_iovlen = 1
            single.msg_control = nil
            single.msg_controllen = 0
            do {
                bytes += try Syscall.retrying { sendmsg(descriptor.rawValue, &single, 0) }
                sent += 1
            } catch {
                lastError = error
            }
        }
        return (sent, bytes, lastError)
    }
}
