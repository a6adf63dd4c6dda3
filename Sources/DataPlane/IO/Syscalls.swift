// The one seam through which the I/O drivers make system calls: it retries EINTR and turns
// failures into typed `Errno` values, so no caller reads the thread-local `errno` itself.
import Glibc
internal import CLinux

/// A POSIX error number with Swift names for the values the I/O drivers meet.
public struct Errno: RawRepresentable, Error, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32

    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// The calling thread's `errno`.
    static var current: Errno { Errno(rawValue: errno) }

    public static let notPermitted = Errno(rawValue: EPERM)
    public static let noSuchFileOrDirectory = Errno(rawValue: ENOENT)
    public static let interrupted = Errno(rawValue: EINTR)
    public static let ioError = Errno(rawValue: EIO)
    public static let badFileDescriptor = Errno(rawValue: EBADF)
    public static let wouldBlock = Errno(rawValue: EAGAIN)
    public static let outOfMemory = Errno(rawValue: ENOMEM)
    public static let permissionDenied = Errno(rawValue: EACCES)
    public static let badAddress = Errno(rawValue: EFAULT)
    public static let busy = Errno(rawValue: EBUSY)
    public static let fileExists = Errno(rawValue: EEXIST)
    public static let noSuchDevice = Errno(rawValue: ENODEV)
    public static let invalidArgument = Errno(rawValue: EINVAL)
    public static let tooManyOpenFiles = Errno(rawValue: EMFILE)
    public static let nameTooLong = Errno(rawValue: ENAMETOOLONG)
    public static let notImplemented = Errno(rawValue: ENOSYS)
    public static let timerExpired = Errno(rawValue: ETIME)
    public static let badFileDescriptorState = Errno(rawValue: EBADFD)
    public static let messageTooLong = Errno(rawValue: EMSGSIZE)
    public static let protocolOptionUnavailable = Errno(rawValue: ENOPROTOOPT)
    public static let notSupported = Errno(rawValue: EOPNOTSUPP)
    public static let addressFamilyNotSupported = Errno(rawValue: EAFNOSUPPORT)
    public static let addressInUse = Errno(rawValue: EADDRINUSE)
    public static let addressNotAvailable = Errno(rawValue: EADDRNOTAVAIL)
    public static let networkUnreachable = Errno(rawValue: ENETUNREACH)
    public static let noBufferSpace = Errno(rawValue: ENOBUFS)
    public static let timedOut = Errno(rawValue: ETIMEDOUT)
    public static let connectionRefused = Errno(rawValue: ECONNREFUSED)
    public static let hostUnreachable = Errno(rawValue: EHOSTUNREACH)
    public static let canceled = Errno(rawValue: ECANCELED)

    /// `strerror` text and number, e.g. "Operation not permitted (1)". glibc's strerror is
    /// thread-safe since 2.32 (Debian 12 ships 2.36).
    public var description: String {
        "\(String(cString: strerror(rawValue))) (\(rawValue))"
    }
}

/// A file descriptor number.
///
/// A plain handle, not an owner: `UDPSocket` and `TUNDevice` own their descriptors and close them
/// in `deinit`. It is `Copyable` on purpose: the same descriptor is handed to several kernel
/// objects (an io_uring file table, a batched-syscall backend, ioctls) and a move-only handle
/// would only add borrowing ceremony there; ownership is kept in one class per resource instead.
public struct FileDescriptor: RawRepresentable, Hashable, Sendable {
    public let rawValue: Int32

    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// Closes the descriptor. Not retried on EINTR: Linux releases the descriptor even then, and
    /// a retry could close a descriptor another thread has just been given.
    public func close() throws(Errno) {
        if Glibc.close(rawValue) < 0 { throw Errno.current }
    }

    /// Sets O_NONBLOCK.
    func setNonBlocking() throws(Errno) {
        _ = try Syscall.checkingNegatedErrno { clinux_set_nonblocking(rawValue) }
    }
}

/// Calls into the kernel, retrying EINTR a bounded number of times and throwing `Errno`.
enum Syscall {
    /// A signal storm that interrupts one call this often is a bug elsewhere; stop and report it.
    static let interruptRetryLimit = 64

    /// For libc calls that return -1 and set `errno`.
    @inline(__always)
    static func retrying<T: FixedWidthInteger>(_ call: () -> T) throws(Errno) -> T {
        for _ in 0..<interruptRetryLimit {
            let result = call()
            if result != -1 { return result }
            let error = Errno.current
            if error != .interrupted { throw error }
        }
        throw Errno.interrupted
    }

    /// For shims (CLinux, liburing) that return -errno.
    @inline(__always)
    static func checkingNegatedErrno(_ call: () -> Int32) throws(Errno) -> Int32 {
        for _ in 0..<interruptRetryLimit {
            let result = call()
            if result >= 0 { return result }
            if result != -EINTR { throw Errno(rawValue: -result) }
        }
        throw Errno.interrupted
    }
}

/// Interface settings that a TUN owner usually wants right after creating the device, made through
/// SIOC* ioctls. Configuration calls, never on a packet path.
public enum NetworkInterface {
    /// The interface's MTU (SIOCGIFMTU).
    public static func mtu(of name: String) throws(Errno) -> Int {
        Int(try Syscall.checkingNegatedErrno { clinux_if_get_mtu(name) })
    }

    /// Sets the interface's MTU (SIOCSIFMTU).
    public static func setMTU(_ mtu: Int, of name: String) throws(Errno) {
        guard let value = Int32(exactly: mtu), value > 0 else { throw Errno.invalidArgument }
        _ = try Syscall.checkingNegatedErrno { clinux_if_set_mtu(name, value) }
    }

    /// Whether IFF_UP is set (SIOCGIFFLAGS).
    public static func isUp(_ name: String) throws(Errno) -> Bool {
        let flags = try Syscall.checkingNegatedErrno { clinux_if_get_flags(name) }
        return flags & Int32(CLINUX_IFF_UP) != 0
    }

    /// Sets or clears IFF_UP, keeping the other flags (SIOCGIFFLAGS then SIOCSIFFLAGS).
    public static func setUp(_ name: String, _ up: Bool = true) throws(Errno) {
        let flags = try Syscall.checkingNegatedErrno { clinux_if_get_flags(name) }
        let upFlag = Int32(CLINUX_IFF_UP)
        let wanted = up ? flags | upFlag : flags & ~upFlag
        if wanted == flags { return }
        _ = try Syscall.checkingNegatedErrno { clinux_if_set_flags(name, wanted) }
    }
}

/// Network namespaces for one thread, as tests and simulations use them to keep off the host's
/// network (namespaces are per task on Linux; sockets and TUN devices stay in the namespace they
/// were created in).
public enum NetworkNamespace {
    /// Moves the calling thread, and only it, into a fresh network namespace (unshare CLONE_NEWNET).
    /// Needs CAP_SYS_ADMIN. The namespace lives while a thread or descriptor refers to it.
    public static func unshareCurrentThread() throws(Errno) {
        _ = try Syscall.checkingNegatedErrno { clinux_unshare_network_namespace() }
    }

    /// The `/proc` path of the calling thread's network namespace, for `nsenter --net=PATH`.
    public static var currentThreadPath: String {
        "/proc/\(getpid())/task/\(clinux_gettid())/ns/net"
    }
}
