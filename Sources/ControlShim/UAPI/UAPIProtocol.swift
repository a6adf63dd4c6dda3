import WeftCrypto
import WeftDataPlane
import WeftRouting

/// WireGuard's cross-platform userspace API (wireguard.com/xplatform): the text protocol that
/// `wg` speaks to wireguard-go over `/var/run/wireguard/IFNAME.sock`. Requests are `get=1` or
/// `set=1` followed by `key=value` lines and an empty line; every answer ends in `errno=N` and an
/// empty line. Keys are hex, not base64, on this socket.
public enum UAPIProtocol {
    /// The one protocol version there is.
    public static let protocolVersion = 1

    /// Parses the body of a `set=1` request (the lines after it, without the final empty line).
    public static func parseSet<Lines: Sequence>(_ lines: Lines) throws(UAPIError) -> InterfaceChange
    where Lines.Element: StringProtocol {
        var change = InterfaceChange()
        var peer: PeerChange?

        func flushPeer() {
            if let finished = peer { change.peers.append(finished) }
            peer = nil
        }

        for rawLine in lines {
            let line = Substring(rawLine)
            guard let equals = line.firstIndex(of: "=") else {
                throw .invalid("line without '=': \(line)")
            }
            let key = line[..<equals]
            let value = line[line.index(after: equals)...]

            if key == "public_key" {
                flushPeer()
                peer = PeerChange(publicKey: PublicKey(raw: try hexKey(value, key)))
                continue
            }
            if var current = peer {
                try applyPeerKey(key, value, to: &current)
                peer = current
            } else {
                try applyDeviceKey(key, value, to: &change)
            }
        }
        flushPeer()
        return change
    }

    private static func applyDeviceKey(_ key: Substring, _ value: Substring,
                                       to change: inout InterfaceChange) throws(UAPIError) {
        switch key {
        case "private_key":
            let raw = try hexKey(value, key)
            change.privateKey = raw == .zero ? .remove : .set(PrivateKey(rawBytes: raw))
        case "listen_port":
            guard let port = UInt16(value) else { throw .invalid("failed to parse listen_port: \(value)") }
            change.listenPort = port
        case "fwmark":
            // wireguard-go treats an empty value as 0 (remove the mark).
            guard let mark = value.isEmpty ? 0 : UInt32(value) else { throw .invalid("failed to parse fwmark: \(value)") }
            change.fwmark = mark
        case "replace_peers":
            guard value == "true" else { throw .invalid("failed to set replace_peers, invalid value: \(value)") }
            change.replacePeers = true
        default:
            throw .invalid("invalid UAPI device key: \(key)")
        }
    }

    private static func applyPeerKey(_ key: Substring, _ value: Substring,
                                     to peer: inout PeerChange) throws(UAPIError) {
        switch key {
        case "update_only":
            guard value == "true" else { throw .invalid("failed to set update only, invalid value: \(value)") }
            peer.updateOnly = true
        case "remove":
            guard value == "true" else { throw .invalid("failed to set remove, invalid value: \(value)") }
            peer.remove = true
        case "preshared_key":
            peer.presharedKey = PresharedKey(rawBytes: try hexKey(value, key))
        case "endpoint":
            guard let endpoint = Endpoint(String(value)), endpoint.port != 0 else {
                throw .invalid("failed to set endpoint \(value)")
            }
            peer.endpoint = endpoint
        case "persistent_keepalive_interval":
            guard let seconds = UInt16(value) else {
                throw .invalid("failed to set persistent keepalive interval: \(value)")
            }
            peer.persistentKeepaliveInterval = seconds
        case "replace_allowed_ips":
            guard value == "true" else { throw .invalid("failed to replace allowedips, invalid value: \(value)") }
            peer.replaceAllowedIPs = true
        case "allowed_ip":
            guard let prefix = IPPrefix(value) else { throw .invalid("failed to set allowed ip: \(value)") }
            // The kernel and wireguard-go store the masked network; so do we.
            peer.allowedIPs.append(prefix.canonical)
        case "protocol_version":
            guard value == "\(protocolVersion)" else { throw .invalid("invalid protocol version: \(value)") }
        default:
            throw .invalid("invalid UAPI peer key: \(key)")
        }
    }

    private static func hexKey(_ value: Substring, _ key: Substring) throws(UAPIError) -> Bytes32 {
        guard value.utf8.count == 64, let raw = Bytes32(hex: String(value)) else {
            throw .invalid("failed to set \(key): not 64 hex digits")
        }
        return raw
    }

    /// The answer to `get=1`, without the final `errno=0` (the server adds it).
    public static func formatGet(_ status: InterfaceStatus) -> String {
        var out = ""
        func line(_ key: String, _ value: String) {
            out += key
            out += "="
            out += value
            out += "\n"
        }
        if let key = status.privateKey {
            line("private_key", key.withUnsafeBytes { Bytes32(copying: $0).hex })
        }
        if status.listenPort != 0 { line("listen_port", "\(status.listenPort)") }
        if status.fwmark != 0 { line("fwmark", "\(status.fwmark)") }
        for peer in status.peers {
            line("public_key", peer.publicKey.raw.hex)
            line("preshared_key", peer.presharedKey.withUnsafeBytes { Bytes32(copying: $0).hex })
            line("protocol_version", "\(protocolVersion)")
            if let endpoint = peer.endpoint { line("endpoint", endpoint.description) }
            line("last_handshake_time_sec", "\(peer.lastHandshakeSeconds)")
            line("last_handshake_time_nsec", "\(peer.lastHandshakeNanoseconds)")
            line("tx_bytes", "\(peer.counters.txBytes)")
            line("rx_bytes", "\(peer.counters.rxBytes)")
            line("persistent_keepalive_interval", "\(peer.persistentKeepaliveInterval)")
            for prefix in peer.allowedIPs { line("allowed_ip", prefix.description) }
        }
        return out
    }
}

/// A failed UAPI request: the negative errno that wireguard-go answers with, and a message for logs.
public struct UAPIError: Error, Sendable, CustomStringConvertible {
    public let errno: Int32
    public let message: String

    public init(errno: Int32, message: String) {
        self.errno = errno
        self.message = message
    }

    /// Bad input: wireguard-go answers `errno=-22` (-EINVAL).
    public static func invalid(_ message: String) -> UAPIError { UAPIError(errno: -22, message: message) }
    /// The listen port is taken: `errno=-98` (-EADDRINUSE).
    public static func portInUse(_ message: String) -> UAPIError { UAPIError(errno: -98, message: message) }
    /// Anything else that failed while applying: `errno=-5` (-EIO).
    public static func io(_ message: String) -> UAPIError { UAPIError(errno: -5, message: message) }

    public var description: String { "UAPI error \(errno): \(message)" }
}
