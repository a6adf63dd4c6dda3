#if canImport(Glibc)
import Glibc
#endif
import WeftDataPlane
import WeftOSPF

/// Reads OSPF packets from the raw sockets of a node's LAN interfaces on one thread and hands
/// each to the node's `OSPFDriver` under the engine's lock (`WireGuardEngine.controlPlaneInput`),
/// the same lock under which the engine drives the router for the overlay links. OSPF is no
/// per-packet data path: a poll loop and one system call per packet are plenty.
final class OSPFLANListener: @unchecked Sendable {
    private let engine: WireGuardEngine
    private let attachments: [OSPFDriver.LANAttachment]
    private let log: @Sendable (String) -> Void
    private var wakePipe: (read: Int32, write: Int32)
    private var thread: pthread_t?

    /// Datagrams read from one socket before the others get a turn.
    static let burst = 64
    /// Larger than any IPv4 packet, so that nothing is truncated.
    static let bufferBytes = 65536

    init(engine: WireGuardEngine, attachments: [OSPFDriver.LANAttachment],
         log: @escaping @Sendable (String) -> Void) throws(OSPFSocketError) {
        self.engine = engine
        self.attachments = attachments
        self.log = log
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else {
            throw OSPFSocketError(operation: "pipe", interfaceName: attachments.first?.socket.interfaceName ?? "-",
                                  errno: Errno(rawValue: errno))
        }
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        wakePipe = (ends[0], ends[1])
    }

    deinit { stop() }

    func start() {
        let box = Unmanaged.passRetained(self)
        var tid = pthread_t()
        pthread_create(&tid, nil, { context in
            let listener = Unmanaged<OSPFLANListener>.fromOpaque(context!).takeRetainedValue()
            listener.readLoop()
            return nil
        }, box.toOpaque())
        thread = tid
    }

    /// Stops and joins the thread; the sockets stay open (the driver owns them).
    func stop() {
        guard wakePipe.write >= 0 else { return }
        _ = write(wakePipe.write, "x", 1)
        if let thread, pthread_equal(thread, pthread_self()) == 0 { pthread_join(thread, nil) }
        thread = nil
        close(wakePipe.write)
        close(wakePipe.read)
        wakePipe = (-1, -1)
    }

    private func readLoop() {
        var buffer = [UInt8](repeating: 0, count: Self.bufferBytes)
        var fds = attachments.map { pollfd(fd: $0.socket.descriptor.rawValue, events: Int16(POLLIN), revents: 0) }
        fds.append(pollfd(fd: wakePipe.read, events: Int16(POLLIN), revents: 0))
        while true {
            let ready = poll(&fds, nfds_t(fds.count), -1)
            if ready < 0 {
                if errno == EINTR { continue }
                log("ospf: poll: \(Errno(rawValue: errno)); LAN interfaces no longer read")
                return
            }
            if fds[fds.count - 1].revents != 0 { return }
            for (index, attachment) in attachments.enumerated() where fds[index].revents != 0 {
                buffer.withUnsafeMutableBytes { drain(attachment, into: $0) }
            }
        }
    }

    /// Reads what waits on one socket (at most `burst` datagrams) and feeds it to the router.
    private func drain(_ attachment: OSPFDriver.LANAttachment, into buffer: UnsafeMutableRawBufferPointer) {
        let socket = attachment.socket
        for _ in 0..<Self.burst {
            let datagram: OSPFRawSocket.Datagram
            do throws(OSPFSocketError) {
                guard let received = try socket.receive(into: buffer) else { return }
                datagram = received
            } catch {
                // An oversized datagram is consumed; anything else (a vanished interface) is
                // reported and retried on the next poll.
                log("ospf: \(error)")
                if error.errno != .messageTooLong { return }
                continue
            }
            // SO_BINDTODEVICE already keeps other interfaces' packets out; IP_PKTINFO confirms.
            if let arrived = datagram.interface, arrived != socket.interface { continue }
            let packet = UnsafeRawBufferPointer(rebasing: buffer[..<datagram.length])
            let now = MonotonicClock.nowNanoseconds()
            engine.controlPlaneInput { plane, routes in
                (plane as? OSPFDriver)?.receive(lanPacket: packet, on: attachment.interface, destination: datagram.destination,
                                                now: now, routes: &routes) ?? []
            }
        }
    }
}
