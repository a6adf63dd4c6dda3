#if canImport(Glibc)
import Glibc
#endif
import Foundation
import WeftDataPlane
import WeftOSPF
import WeftRouting

/// `weft up`: one WireGuard interface with its UAPI socket, as a wireguard-go process is.
/// The engine does the work; this adds the socket, status reports and signal handling.
public final class InterfaceDaemon: UAPIHandler, @unchecked Sendable {
    public let engine: WireGuardEngine
    private var server: UAPIServer?

    public init(options: WireGuardEngine.Options, log: @escaping @Sendable (String) -> Void = WireGuardEngine.logToStandardError) throws {
        engine = try WireGuardEngine(options: options, events: { event in
            switch event {
            case .handshakeCompleted(let key): log("\(options.interfaceName): handshake completed with peer \(key)")
            case .handshakeFailed(let key): log("\(options.interfaceName): handshake with peer \(key) gave up")
            case .endpointChanged(let key, let endpoint): log("\(options.interfaceName): peer \(key) now at \(endpoint)")
            case .sessionExpired(let key): log("\(options.interfaceName): session with peer \(key) expired")
            case .interfaceRemoved:
                // Wake `runUntilSignalled` the same way SIGTERM would: the shutdown path is one.
                kill(getpid(), SIGTERM)
            }
        }, log: log)
        let server = try UAPIServer(interfaceName: options.interfaceName, handler: self, log: log)
        self.server = server
        server.start()
        log("\(options.interfaceName): up, UDP port \(engine.listenPort), \(engine.backendNote)")
    }

    /// Blocks the calling thread until SIGINT, SIGTERM or SIGHUP, then shuts down cleanly:
    /// threads stopped, socket file removed, TUN device closed (the kernel deletes it).
    public func runUntilSignalled() {
        Self.waitForTerminationSignal()
        shutdown()
    }

    public func shutdown() {
        server?.stop()
        server = nil
        engine.stop()
    }

    /// The signals that end a daemon.
    static var terminationSignals: sigset_t {
        var signals = sigset_t()
        sigemptyset(&signals)
        for signal in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&signals, signal) }
        return signals
    }

    /// Call before any thread starts so that every thread inherits the blocked mask and the
    /// signals reach only `waitForTerminationSignal`.
    public static func blockTerminationSignals() {
        var signals = terminationSignals
        pthread_sigmask(SIG_BLOCK, &signals, nil)
    }

    /// Returns when SIGINT, SIGTERM or SIGHUP arrives; `everySecond` runs once a second meanwhile.
    public static func waitForTerminationSignal(everySecond: () -> Void = {}) {
        var signals = terminationSignals
        var timeout = timespec(tv_sec: 1, tv_nsec: 0)
        while sigtimedwait(&signals, nil, &timeout) < 0 { everySecond() }
    }

    // MARK: UAPIHandler

    public func uapiGet() -> InterfaceStatus { engine.status() }

    public func uapiSet(_ change: InterfaceChange) throws(UAPIError) {
        do {
            try engine.apply(change)
        } catch {
            if case .portInUse = error { throw .portInUse(error.description) }
            if case .invalidPeer = error { throw .invalid(error.description) }
            throw .io(error.description)
        }
    }

    public func statusJSON() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(statusReport()) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    /// The OSPF view for overlay nodes that run it (set by `NodeDaemon`).
    public var ospfSnapshot: (@Sendable () -> OSPFSnapshot?)?

    /// Link names for overlay reports (LinkID → name from the node's configuration).
    public var linkNames: [UInt32: String] = [:]

    public func statusReport() -> StatusReport {
        var report = StatusReport(engine.status(), backend: engine.backendNote, takenAt: Date().timeIntervalSince1970)
        report.ospf = ospfSnapshot?()
        if let overlay = engine.overlaySnapshot() {
            report.links = overlay.links.map { link in
                var drops: [String: UInt64] = [:]
                for (reason, count) in link.counters.drops.nonZero { drops[reason.description] = count }
                return StatusReport.Link(
                    id: Int(link.link.id.rawValue), name: linkNames[link.link.id.rawValue] ?? "link \(link.link.id.rawValue)",
                    vni: Int(link.link.tunnel.vni.rawValue), localMAC: link.link.tunnel.localMAC.description,
                    peerMAC: link.peerMAC?.description,
                    receivedFrames: link.counters.receivedFrames, receivedBytes: link.counters.receivedBytes,
                    sentFrames: link.counters.sentFrames, sentBytes: link.counters.sentBytes,
                    forwarded: link.counters.forwarded, delivered: link.counters.delivered, drops: drops)
            }
            report.routes = engine.overlayRoutes().map { route in
                let hops = route.nextHops.map { hop -> String in
                    let device = hop.link == OverlayRouter.tunLink ? "tun" : (linkNames[hop.link.rawValue] ?? "link \(hop.link.rawValue)")
                    return hop.gateway.map { "via \($0) (\(device))" } ?? device
                }
                return "\(route.prefix) [\(route.source)/\(route.metric)] \(hops.joined(separator: ", "))"
            }
        }
        return report
    }
}
