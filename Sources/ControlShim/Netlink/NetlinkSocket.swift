// A NETLINK_ROUTE socket (rtnetlink(7)) through libmnl: one request at a time, each matched to
// its replies by sequence number, changes confirmed by the kernel's ACK, reads done as dumps.
//
// Requests are serialised by a lock: this is the control path (a handful of route changes per
// SPF run), where simplicity beats throughput, and one socket can then be shared by every part
// of the engine. The socket belongs to the network namespace of the thread that opened it, for
// its whole life, whatever thread later uses it (network_namespaces(7)).

import CMnl
import Glibc
import Synchronization

/// An rtnetlink socket: reads and changes the kernel's links, addresses and routes.
///
/// Methods are in extensions by object: `Link.swift` (links), `InterfaceAddress.swift`
/// (addresses), `Route.swift` (routes). Each call sends one request and waits for its complete
/// answer, at most `receiveTimeout` per received datagram. Calls from several threads are
/// serialised. Changes need CAP_NET_ADMIN.
public final class NetlinkSocket: Sendable {
    private let connection: Mutex<Connection>

    /// Opens and binds a NETLINK_ROUTE socket in the calling thread's network namespace.
    /// - Parameter receiveTimeout: how long to wait for each reply datagram before failing with
    ///   `.timedOut`; the kernel answers rtnetlink requests synchronously, so a wait this long
    ///   means something is wrong, and the engine must not hang on it.
    public init(receiveTimeout: Duration = .seconds(5)) throws(NetlinkError) {
        connection = Mutex(try Connection(receiveTimeout: receiveTimeout))
    }

    /// The socket's netlink port ID (its address, nl_pid).
    public var portID: UInt32 {
        connection.withLock { $0.portID }
    }

    /// Sends a change request (flags NLM_F_REQUEST | NLM_F_ACK | `flags`) and waits for the ACK.
    /// `operation` describes the request for an error; it runs only on failure, after the lock
    /// is released, so it may itself make netlink requests (e.g. to name a link).
    func perform(_ operation: () -> String, type: UInt16, flags: UInt16 = 0,
                 build: (inout NetlinkRequest) -> Void) throws(NetlinkError) {
        do {
            try connection.withLock { (connection: inout Connection) throws(NetlinkError.Reason) in
                _ = try connection.exchange(type: type, flags: flags | UInt16(NLM_F_ACK), build: build) { _ in }
            }
        } catch {
            throw NetlinkError(operation: operation(), reason: error)
        }
    }

    /// Sends a get request for one object and returns the first reply `parse` accepts.
    func get<Object: Sendable>(_ operation: () -> String, type: UInt16,
                               build: (inout NetlinkRequest) -> Void,
                               parse: (NetlinkMessage) -> Object?) throws(NetlinkError) -> Object? {
        do {
            return try connection.withLock { (connection: inout Connection) throws(NetlinkError.Reason) -> Object? in
                var object: Object?
                _ = try connection.exchange(type: type, flags: UInt16(NLM_F_ACK), build: build) { message in
                    if object == nil { object = parse(message) }
                }
                return object
            }
        } catch {
            throw NetlinkError(operation: operation(), reason: error)
        }
    }

    /// Sends a dump request and returns every reply `parse` accepts (it returns nil for objects
    /// the caller does not model). A dump the kernel flags as inconsistent (NLM_F_DUMP_INTR: the
    /// table changed while being read) is repeated, up to `dumpAttempts` times.
    func dump<Object: Sendable>(_ operation: () -> String, type: UInt16,
                                build: (inout NetlinkRequest) -> Void,
                                parse: (NetlinkMessage) -> Object?) throws(NetlinkError) -> [Object] {
        do {
            return try connection.withLock { (connection: inout Connection) throws(NetlinkError.Reason) -> [Object] in
                for _ in 0..<Self.dumpAttempts {
                    var objects: [Object] = []
                    let interrupted = try connection.exchange(type: type, flags: cmnl_nlm_f_dump(), build: build) {
                        if let object = parse($0) { objects.append(object) }
                    }
                    if !interrupted { return objects }
                }
                throw .dumpInconsistent
            }
        } catch {
            throw NetlinkError(operation: operation(), reason: error)
        }
    }

    /// How often an interrupted dump is tried before giving up.
    static let dumpAttempts = 3
}

/// The socket and its buffers; lives inside the lock.
private struct Connection: ~Copyable {
    let socket: OpaquePointer
    let portID: UInt32
    private var sequence: UInt32 = 0
    private let sendBuffer: UnsafeMutableRawBufferPointer
    private let receiveBuffer: UnsafeMutableRawBufferPointer

    /// Buffer size for both directions. The kernel fills dump datagrams up to the largest
    /// buffer the reader has offered (at most 32 KiB, netlink_recvmsg's max_recvmsg_len) and
    /// truncates a datagram that does not fit, so 32 KiB both avoids truncation and makes
    /// dumps take few system calls. libmnl's MNL_SOCKET_BUFFER_SIZE (8 KiB) is too small for that.
    static let bufferSize = 32 * 1024

    /// Upper bound on the datagrams read for one request, so a kernel that never sends the
    /// final ACK or NLMSG_DONE cannot keep the loop going forever (about 32 GiB of dump).
    static let maximumDatagrams = 1 << 20

    init(receiveTimeout: Duration) throws(NetlinkError) {
        let operation = "opening the rtnetlink socket"
        guard let socket = mnl_socket_open(NETLINK_ROUTE) else {
            throw NetlinkError(operation: operation, reason: .socket(.init(rawValue: errno)))
        }
        guard mnl_socket_bind(socket, 0, pid_t(MNL_SOCKET_AUTOPID)) == 0 else {
            let code = errno
            mnl_socket_close(socket)
            throw NetlinkError(operation: operation, reason: .socket(.init(rawValue: code)))
        }
        // Extended ACK (Linux 4.12) makes the kernel say *why* it refused a request; a capped
        // ACK keeps it from echoing the whole request back. Both are best effort: older
        // kernels just give the bare errno.
        var enable: Int32 = 1
        _ = mnl_socket_setsockopt(socket, NETLINK_EXT_ACK, &enable, socklen_t(MemoryLayout<Int32>.size))
        _ = mnl_socket_setsockopt(socket, NETLINK_CAP_ACK, &enable, socklen_t(MemoryLayout<Int32>.size))
        let (seconds, attoseconds) = receiveTimeout.components
        var timeout = timeval(tv_sec: Int(max(seconds, 0)),
                              tv_usec: seconds < 0 ? 0 : Int(attoseconds / 1_000_000_000_000))
        if timeout.tv_sec == 0 && timeout.tv_usec == 0 { timeout.tv_usec = 1 }  // 0 would mean "never"
        guard setsockopt(mnl_socket_get_fd(socket), SOL_SOCKET, SO_RCVTIMEO, &timeout,
                         socklen_t(MemoryLayout<timeval>.size)) == 0 else {
            let code = errno
            mnl_socket_close(socket)
            throw NetlinkError(operation: operation, reason: .socket(.init(rawValue: code)))
        }
        self.socket = socket
        portID = mnl_socket_get_portid(socket)
        sendBuffer = .allocate(byteCount: Self.bufferSize, alignment: 8)
        receiveBuffer = .allocate(byteCount: Self.bufferSize, alignment: 8)
    }

    deinit {
        mnl_socket_close(socket)
        sendBuffer.deallocate()
        receiveBuffer.deallocate()
    }

    /// Sends one request and reads its replies: until the ACK (NLMSG_ERROR with error 0) for a
    /// request with NLM_F_ACK, until NLMSG_DONE for a dump. Every other message of this
    /// exchange goes to `receive`; messages with another sequence number (late answers to an
    /// earlier request that timed out) are skipped.
    /// - Returns: true if the kernel flagged a reply NLM_F_DUMP_INTR (the dump is inconsistent).
    mutating func exchange(type: UInt16, flags: UInt16, build: (inout NetlinkRequest) -> Void,
                           receive: (NetlinkMessage) -> Void) throws(NetlinkError.Reason) -> Bool {
        sequence = sequence == UInt32.max ? 1 : sequence + 1
        let sequence = self.sequence
        var request = NetlinkRequest(in: sendBuffer, type: type, flags: flags | UInt16(NLM_F_REQUEST),
                                     sequence: sequence)
        build(&request)
        guard !request.overflowed else {
            throw .invalidRequest("the request does not fit in \(Self.bufferSize) bytes")
        }
        guard mnl_socket_sendto(socket, request.header, request.length) == request.length else {
            throw .socket(.init(rawValue: errno))
        }

        let isDump = flags & cmnl_nlm_f_dump() == cmnl_nlm_f_dump()
        var interrupted = false
        for _ in 0..<Self.maximumDatagrams {
            let received = mnl_socket_recvfrom(socket, receiveBuffer.baseAddress, receiveBuffer.count)
            if received < 0 {
                let code = errno
                if code == EINTR { continue }
                if code == EAGAIN || code == EWOULDBLOCK { throw .timedOut }
                // libmnl reports a truncated datagram (MSG_TRUNC) as ENOSPC.
                throw .socket(.init(rawValue: code))
            }
            var remaining = Int32(received)
            var header = UnsafePointer(receiveBuffer.baseAddress!.assumingMemoryBound(to: nlmsghdr.self))
            // mnl_nlmsg_ok checks that the whole message lies in what is left of the datagram,
            // and each step consumes at least one header, so this loop is bounded too.
            while mnl_nlmsg_ok(header, remaining) {
                let message = NetlinkMessage(header: header)
                header = UnsafePointer(mnl_nlmsg_next(header, &remaining))
                guard message.header.pointee.nlmsg_seq == sequence,
                      mnl_nlmsg_portid_ok(message.header, portID) else { continue }
                if message.flags & UInt16(NLM_F_DUMP_INTR) != 0 { interrupted = true }
                switch Int32(message.type) {
                case NLMSG_NOOP:
                    continue
                case NLMSG_ERROR:
                    // Error code 0 is the ACK; anything else is the kernel's refusal.
                    guard let code = message.fixedHeader(Int32.self) else {
                        throw .malformedReply("NLMSG_ERROR without an error code")
                    }
                    guard code == 0 else {
                        throw .kernel(.init(rawValue: code < 0 ? -code : code),
                                      message: Self.extendedAckMessage(message, tlvOffset: cmnl_nlmsgerr_tlv_offset(message.header)))
                    }
                    return interrupted
                case NLMSG_DONE:
                    guard isDump else { continue }
                    // Since Linux 4.x NLMSG_DONE carries the dump's status, negative on failure.
                    if let code = message.fixedHeader(Int32.self), code < 0 {
                        let hasTLVs = message.flags & UInt16(NLM_F_ACK_TLVS) != 0
                        throw .kernel(.init(rawValue: -code),
                                      message: Self.extendedAckMessage(message, tlvOffset: hasTLVs ? 4 : -1))
                    }
                    return interrupted
                case NLMSG_OVERRUN:
                    throw .socket(.noBufferSpace)
                default:
                    receive(message)
                }
            }
        }
        throw .malformedReply("no end of the reply after \(Self.maximumDatagrams) datagrams")
    }

    /// The NLMSGERR_ATTR_MSG text among the extended-ACK attributes at `tlvOffset` in the
    /// payload (-1: none).
    private static func extendedAckMessage(_ message: NetlinkMessage, tlvOffset: Int) -> String? {
        let payload = message.payload
        guard tlvOffset >= 0, tlvOffset <= payload.count else { return nil }
        let attributes = NetlinkAttributes(UnsafeRawBufferPointer(rebasing: payload[tlvOffset...]))
        guard let text = attributes.first(UInt16(NLMSGERR_ATTR_MSG.rawValue))?.string, !text.isEmpty else {
            return nil
        }
        return text
    }
}
