// Keeps the kernel's routes in step with Weft's selected routes by sending only the differences:
// an SPF run that changes one prefix costs one RTM_NEWROUTE, not a rewrite of the table.
//
// The reconciler owns the routes of one protocol number in one table and remembers what it
// installed. New and changed routes go in with NLM_F_REPLACE, which is atomic per prefix, so
// traffic never sees a gap between removing the old path and adding the new one
// (make-before-break); only prefixes that disappear are deleted.

import Synchronization
import WeftRouting

/// The routes of one protocol in one kernel table, kept equal to a desired set.
///
/// Call `apply` with the complete desired set after every routing change; call `refresh` at
/// start-up (to adopt or clear routes left by an earlier run) and after link changes (the
/// kernel silently drops routes through a link that goes down); call `cleanup` on exit.
/// The routes of other protocols are never touched, except that a desired route replaces any
/// route with the same destination and metric in the table, whoever installed it.
public final class KernelRoutes: Sendable {
    /// The socket changes go through.
    public let socket: NetlinkSocket
    /// The table the routes live in.
    public let table: RouteTableID
    /// The protocol number that marks the routes as this reconciler's.
    public let `protocol`: RouteProtocol

    private struct State {
        /// What the kernel holds, as far as this reconciler knows, by destination.
        var installed: [IPPrefix: KernelRoute] = [:]
        /// Routes of ours the kernel may still hold that are no longer wanted but could not be
        /// removed yet (a failed delete, or a duplicate found by `refresh`); retried by every
        /// `apply` and by `cleanup`.
        var strays: [KernelRoute] = []
    }

    private let state = Mutex(State())

    /// The kernel metric `apply(bestRoutes:)` uses by default: 20, as FRR's zebra installs its
    /// routes (ROUTE_INSTALLATION_METRIC).
    public static let defaultMetric: UInt32 = 20

    public init(socket: NetlinkSocket, table: RouteTableID = .main, protocol: RouteProtocol = .weft) {
        self.socket = socket
        self.table = table
        self.protocol = `protocol`
    }

    /// The routes this reconciler believes are installed, in destination order, in the
    /// normalised form it compares (see `apply`).
    public var installed: [KernelRoute] {
        state.withLock { $0.installed.values.sorted { $0.destination < $1.destination } }
    }

    /// What one `apply` or `cleanup` changed.
    public struct Changes: Sendable, CustomStringConvertible {
        /// Routes to destinations that had none.
        public var added: [KernelRoute] = []
        /// New versions of routes whose next hops, metric or type changed.
        public var replaced: [KernelRoute] = []
        /// Routes taken out of the kernel: those to destinations no longer wanted, and old
        /// versions left beside a new one by a metric change (or found by `refresh`).
        public var removed: [KernelRoute] = []
        /// Changes the kernel refused. A failed addition is retried by the next `apply`; a
        /// failed removal stays remembered and is retried too.
        public var failures: [Failure] = []

        /// One refused change.
        public struct Failure: Sendable, CustomStringConvertible {
            public var route: KernelRoute
            public var error: NetlinkError

            public var description: String { error.description }
        }

        /// True when nothing was changed or attempted.
        public var isEmpty: Bool { added.isEmpty && replaced.isEmpty && removed.isEmpty && failures.isEmpty }

        public var description: String {
            "\(added.count) added, \(replaced.count) replaced, \(removed.count) removed, \(failures.count) failed"
        }
    }

    /// Makes the kernel's routes of this reconciler equal to `desired`, changing only what
    /// differs from what it installed before.
    ///
    /// Routes are compared after normalising: the table and protocol become this reconciler's,
    /// destinations canonical, next hops sorted and deduplicated with weights of at least 1 (1
    /// for a single hop, which keeps none in the kernel), and an IPv6 metric of 0 becomes the
    /// kernel's 1024. At most one route per destination: a later duplicate wins.
    /// - Returns: what changed, including the changes the kernel refused; a refused change
    ///   does not stop the others.
    public func apply(_ desired: [KernelRoute]) -> Changes {
        var wanted: [IPPrefix: KernelRoute] = [:]
        for route in desired {
            let route = normalized(route)
            wanted[route.destination] = route
        }
        return state.withLock { state in
            var changes = Changes()
            for route in wanted.values.sorted(by: { $0.destination < $1.destination }) {
                let old = state.installed[route.destination]
                guard old != route else { continue }
                do throws(NetlinkError) {
                    try socket.replaceRoute(route)
                } catch {
                    changes.failures.append(.init(route: route, error: error))
                    continue
                }
                state.installed[route.destination] = route
                guard let old else {
                    changes.added.append(route)
                    continue
                }
                changes.replaced.append(route)
                // Another metric is another kernel route: the replace added the new one
                // beside the old, which must now go.
                if old.metric != route.metric { state.strays.append(old) }
            }
            for (destination, old) in state.installed.sorted(by: { $0.key < $1.key }) where wanted[destination] == nil {
                do throws(NetlinkError) {
                    try socket.removeRoute(old)
                    state.installed[destination] = nil
                    changes.removed.append(old)
                } catch {
                    changes.failures.append(.init(route: old, error: error))
                }
            }
            removeStrays(&state, recordingFailuresIn: &changes)
            return changes
        }
    }

    /// `apply` for a routing table's selected routes (`RoutingTable.bestRoutes`), all with the
    /// kernel metric `metric`. Connected and kernel routes are left out: the kernel has them
    /// already (it adds a prefix route with each address). Discard routes become blackholes.
    public func apply(bestRoutes: [Route], metric: UInt32 = KernelRoutes.defaultMetric) -> Changes {
        apply(bestRoutes.filter { $0.source != .connected && $0.source != .kernel }.map {
            KernelRoute($0, metric: metric, table: table, protocol: `protocol`)
        })
    }

    /// Replaces what this reconciler remembers with the kernel's actual routes of its protocol
    /// and table, so the next `apply` also repairs routes someone else removed or changed and
    /// removes leftovers of an earlier run. Of several routes to one destination (different
    /// metrics), all but one are marked for removal.
    public func refresh() throws(NetlinkError) {
        let present = try socket.routes(table: table, protocol: `protocol`).map(normalized)
        state.withLock { state in
            state.installed = [:]
            state.strays = []
            for route in present {
                if state.installed[route.destination] == nil {
                    state.installed[route.destination] = route
                } else {
                    state.strays.append(route)
                }
            }
        }
    }

    /// Removes every route this reconciler installed (on exit). Each route is tried even if
    /// one fails; the first failure is thrown afterwards, and the routes that could not be
    /// removed stay remembered for another attempt.
    /// - Returns: the number of routes removed (including strays, see `Changes.removed`).
    @discardableResult
    public func cleanup() throws(NetlinkError) -> Int {
        let changes = apply([])
        if let failure = changes.failures.first { throw failure.error }
        return changes.removed.count
    }

    /// Removes the strays, except any that became an installed route again (same destination
    /// and metric: a later replace took it over).
    private func removeStrays(_ state: inout State, recordingFailuresIn changes: inout Changes) {
        var remaining: [KernelRoute] = []
        for stray in state.strays where state.installed[stray.destination]?.metric != stray.metric {
            do throws(NetlinkError) {
                try socket.removeRoute(stray)
                changes.removed.append(stray)
            } catch {
                changes.failures.append(.init(route: stray, error: error))
                remaining.append(stray)
            }
        }
        state.strays = remaining
    }

    /// The form routes are compared and installed in (see `apply`).
    private func normalized(_ route: KernelRoute) -> KernelRoute {
        var hops = route.nextHops.map { NextHop(link: $0.link, gateway: $0.gateway, weight: max($0.weight, 1)) }
        hops.sort()
        var unique: [NextHop] = []
        for hop in hops where unique.last != hop { unique.append(hop) }
        if unique.count == 1 { unique[0].weight = 1 }
        let metric = route.family == .ipv6 && route.metric == 0 ? 1024 : route.metric
        let scope = route.family == .ipv6 ? RouteScope.universe : route.scope
        return KernelRoute(destination: route.destination.canonical, nextHops: unique, type: route.type,
                           metric: metric, table: table, protocol: `protocol`, scope: scope,
                           preferredSource: route.preferredSource)
    }
}
