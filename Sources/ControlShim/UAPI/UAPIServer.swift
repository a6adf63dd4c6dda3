#if canImport(Glibc)
import Glibc
#endif
import WeftDataPlane

/// What the UAPI server asks of an interface. The engine implements it; tests may fake it.
public protocol UAPIHandler: AnyObject, Sendable {
    func uapiGet() -> InterfaceStatus
    func uapiSet(_ change: InterfaceChange) throws(UAPIError)
    /// Weft's own extension: the `StatusReport` as one line of JSON, for `weft show`.
    func statusJSON() -> String
}

/// Serves the WireGuard UAPI on `/var/run/wireguard/IFNAME.sock`, exactly where and how
/// wireguard-go does, so that `wg` and `wg-quick` drive Weft unchanged. One thread accepts and
/// answers connections one at a time: requests are small and rare, and serialising them keeps
/// `set` operations atomic with respect to each other.
public final class UAPIServer: @unchecked Sendable {
    public static let socketDirectory = "/var/run/wireguard"
    /// The request line of Weft's status extension.
    public static let statusOperation = "weft_status=1"

    public let path: String
    private let handler: UAPIHandler
    private let listener: Int32
    private var wakePipe: (read: Int32, write: Int32)
    private var thread: pthread_t?
    private let log: @Sendable (String) -> Void

    /// The largest request accepted (a `wg setconf` with thousands of AllowedIPs fits easily).
    static let maximumRequestBytes = 16 << 20

    public init(interfaceName: String, handler: UAPIHandler,
                log: @escaping @Sendable (String) -> Void = { _ in }) throws(UAPIServerError) {
        self.path = "\(UAPIServer.socketDirectory)/\(interfaceName).sock"
        self.handler = handler
        self.log = log

        _ = mkdir(UAPIServer.socketDirectory, 0o755)
        // A socket file that nobody answers on is stale (a crashed run); one that answers is a
        // live interface of the same name, which we must not steal.
        if UAPIServer.isLive(path) { throw .inUse(path) }
        unlink(path)

        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .system("socket", errno) }
        var address = UAPIServer.unixAddress(path)
        let oldMask = umask(0o077)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        umask(oldMask)
        guard bound == 0 else { let e = errno; close(fd); throw .system("bind \(path)", e) }
        guard listen(fd, 16) == 0 else { let e = errno; close(fd); throw .system("listen", e) }
        listener = fd

        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { let e = errno; close(fd); throw .system("pipe", e) }
        wakePipe = (ends[0], ends[1])
    }

    deinit {
        stop()
    }

    /// Starts answering on a background thread.
    public func start() {
        let box = Unmanaged.passRetained(self)
        var tid = pthread_t()
        pthread_create(&tid, nil, { context in
            let server = Unmanaged<UAPIServer>.fromOpaque(context!).takeRetainedValue()
            server.acceptLoop()
            return nil
        }, box.toOpaque())
        thread = tid
    }

    /// Stops the thread, closes the socket and removes the socket file.
    public func stop() {
        guard wakePipe.write >= 0 else { return }
        _ = write(wakePipe.write, "x", 1)
        if let thread, !pthread_equal(thread, pthread_self()).isTrue { pthread_join(thread, nil) }
        thread = nil
        close(wakePipe.write)
        close(wakePipe.read)
        wakePipe = (-1, -1)
        close(listener)
        unlink(path)
    }

    private func acceptLoop() {
        while true {
            var fds = [pollfd(fd: listener, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: wakePipe.read, events: Int16(POLLIN), revents: 0)]
            let ready = poll(&fds, 2, -1)
            if ready < 0 { if errno == EINTR { continue }; return }
            if fds[1].revents != 0 { return }
            guard fds[0].revents & Int16(POLLIN) != 0 else { continue }
            let connection = accept(listener, nil, nil)
            if connection < 0 { continue }
            _ = fcntl(connection, F_SETFD, FD_CLOEXEC)
            // A client that stops mid-request must not wedge the interface's control path.
            var timeout = timeval(tv_sec: 10, tv_usec: 0)
            setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(connection, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            serve(connection)
            close(connection)
        }
    }

    /// Answers requests on one connection until the client closes it or sends something
    /// that is not a request (then, like wireguard-go, the connection is closed without answer).
    private func serve(_ connection: Int32) {
        var reader = LineReader(fd: connection, limit: UAPIServer.maximumRequestBytes)
        while let operation = reader.nextLine() {
            switch operation {
            case "get=1":
                // The request ends with an empty line; tolerate extra keys as wireguard-go does not.
                guard reader.nextLine() == "" else { return }
                let body = UAPIProtocol.formatGet(handler.uapiGet())
                guard send(connection, body + "errno=0\n\n") else { return }
            case "set=1":
                var lines: [String] = []
                var total = 0
                while let line = reader.nextLine(), !line.isEmpty {
                    total += line.utf8.count
                    if total > UAPIServer.maximumRequestBytes { return }
                    lines.append(line)
                }
                var status: Int32 = 0
                do throws(UAPIError) {
                    try handler.uapiSet(try UAPIProtocol.parseSet(lines))
                } catch {
                    log(error.description)
                    status = error.errno
                }
                guard send(connection, "errno=\(status)\n\n") else { return }
            case UAPIServer.statusOperation:
                // Weft's extension to the protocol (wg never sends it): packet counters as JSON.
                guard reader.nextLine() == "" else { return }
                guard send(connection, handler.statusJSON() + "\nerrno=0\n\n") else { return }
            default:
                log("UAPI: invalid operation \(operation.prefix(64))")
                return
            }
        }
    }

    private func send(_ connection: Int32, _ text: String) -> Bool {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes {
                Glibc.send(connection, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL))
            }
            if written < 0 { if errno == EINTR { continue }; return false }
            offset += written
        }
        return true
    }

    static func unixAddress(_ path: String) -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let bytes = Array(path.utf8.prefix(raw.count - 1))
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return address
    }

    /// Whether something answers on the socket at `path`.
    static func isLive(_ path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = unixAddress(path)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0
            }
        }
    }
}

public enum UAPIServerError: Error, Sendable, CustomStringConvertible {
    case inUse(String)
    case system(String, Int32)

    public var description: String {
        switch self {
        case .inUse(let path): return "\(path) is in use: an interface of that name is already running"
        case .system(let what, let code): return "\(what): \(String(cString: strerror(code)))"
        }
    }
}

/// Reads `\n`-terminated lines from a socket with a bounded buffer.
struct LineReader {
    let fd: Int32
    let limit: Int
    private var buffer: [UInt8] = []
    private var start = 0
    private var eof = false

    init(fd: Int32, limit: Int) {
        self.fd = fd
        self.limit = limit
    }

    mutating func nextLine() -> String? {
        while true {
            if let newline = buffer[start...].firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[start..<newline], as: UTF8.self)
                start = newline + 1
                if start > 4096 && start * 2 > buffer.count {
                    buffer.removeFirst(start)
                    start = 0
                }
                return line
            }
            if eof || buffer.count - start > limit { return nil }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { eof = true; continue }
            buffer.append(contentsOf: chunk[0..<count])
        }
    }
}

private extension Int32 {
    var isTrue: Bool { self != 0 }
}
