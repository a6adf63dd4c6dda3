// Errors from rtnetlink requests. The kernel answers a failed request with NLMSG_ERROR carrying a
// negative errno (netlink(7)) and, with NETLINK_EXT_ACK, a human-readable reason
// (NLMSGERR_ATTR_MSG); both are kept, together with a description of what was being attempted,
// so an operator reads "adding route 100.64.2.0/24 via 198.18.0.9 dev weft0: Network is
// unreachable (Nexthop has invalid gateway)" instead of a bare error number.

import Glibc

/// A failed netlink operation: what was attempted and why it failed.
public struct NetlinkError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What was being done, e.g. "adding route 100.64.2.0/24 via 198.18.0.9 dev weft0".
    public var operation: String
    /// Why it failed.
    public var reason: Reason

    public init(operation: String, reason: Reason) {
        self.operation = operation
        self.reason = reason
    }

    /// Why a netlink operation failed.
    public enum Reason: Error, Hashable, Sendable, CustomStringConvertible {
        /// The kernel rejected the request with `code`; `message` is its extended-ACK text, if
        /// it gave one.
        case kernel(Code, message: String?)
        /// A socket call (socket, bind, send, receive) failed with `code`.
        case socket(Code)
        /// No complete reply arrived within the socket's receive timeout.
        case timedOut
        /// A reply did not have the layout rtnetlink defines; the text says what was wrong.
        case malformedReply(String)
        /// The request was refused before being sent: the text says what is wrong with it.
        case invalidRequest(String)
        /// Every attempt to dump a table was interrupted by changes to it (NLM_F_DUMP_INTR).
        case dumpInconsistent

        public var description: String {
            switch self {
            case .kernel(let code, let message?): "\(code) (\(message))"
            case .kernel(let code, nil): code.description
            case .socket(let code): "socket error: \(code)"
            case .timedOut: "no reply from the kernel (timed out)"
            case .malformedReply(let what): "malformed reply: \(what)"
            case .invalidRequest(let what): "invalid request: \(what)"
            case .dumpInconsistent: "the table kept changing while being read (NLM_F_DUMP_INTR)"
            }
        }
    }

    /// The errno value, for a kernel or socket failure.
    public var code: Code? {
        switch reason {
        case .kernel(let code, _), .socket(let code): code
        case .timedOut, .malformedReply, .invalidRequest, .dumpInconsistent: nil
        }
    }

    /// The kernel's extended-ACK message, if it gave one.
    public var kernelMessage: String? {
        if case .kernel(_, let message) = reason { return message }
        return nil
    }

    public var description: String { "\(operation): \(reason)" }

    /// An errno value (errno(3)) as the kernel reports it in NLMSG_ERROR, made positive.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public var rawValue: Int32

        public init(rawValue: Int32) {
            self.rawValue = rawValue
        }

        /// EPERM: the caller lacks CAP_NET_ADMIN.
        public static let operationNotPermitted = Code(rawValue: EPERM)
        /// ENOENT: no such object (e.g. no such link name).
        public static let noSuchFileOrDirectory = Code(rawValue: ENOENT)
        /// ESRCH: no such route (answer to deleting a missing route).
        public static let noSuchProcess = Code(rawValue: ESRCH)
        /// EEXIST: the object already exists (adding an existing route or address).
        public static let fileExists = Code(rawValue: EEXIST)
        /// ENODEV: no interface with that index or name.
        public static let noSuchDevice = Code(rawValue: ENODEV)
        /// EINVAL: a malformed or contradictory request.
        public static let invalidArgument = Code(rawValue: EINVAL)
        /// ENETUNREACH: a gateway that is not reachable through any connected prefix.
        public static let networkUnreachable = Code(rawValue: ENETUNREACH)
        /// EADDRNOTAVAIL: the address is not configured (answer to deleting a missing address).
        public static let addressNotAvailable = Code(rawValue: EADDRNOTAVAIL)
        /// EAFNOSUPPORT: the address family is not supported (e.g. IPv6 disabled).
        public static let addressFamilyNotSupported = Code(rawValue: EAFNOSUPPORT)
        /// ENOBUFS: the socket's receive buffer overflowed and replies were lost.
        public static let noBufferSpace = Code(rawValue: ENOBUFS)
        /// EBUSY: the kernel could not complete the request now.
        public static let resourceBusy = Code(rawValue: EBUSY)

        /// The C library's text for the code, e.g. "File exists".
        public var description: String {
            guard let text = strerror(rawValue) else { return "error \(rawValue)" }
            return String(cString: text)
        }
    }
}
