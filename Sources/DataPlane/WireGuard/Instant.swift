// Time as the WireGuard core sees it: monotonic nanoseconds handed in by the caller, so that the
// core never reads a clock and tests drive it with a manual one.

extension WireGuard {
    /// A point on the caller's monotonic clock (e.g. CLOCK_BOOTTIME), in nanoseconds.
    ///
    /// The origin is arbitrary; only differences matter. Every call into the core takes one.
    public struct Instant: Comparable, Hashable, Sendable, CustomStringConvertible {
        public var nanoseconds: UInt64

        @inlinable public init(nanoseconds: UInt64) { self.nanoseconds = nanoseconds }

        /// The instant `interval` later, saturating instead of overflowing.
        @inlinable public static func + (lhs: Instant, rhs: Interval) -> Instant {
            let (sum, overflow) = lhs.nanoseconds.addingReportingOverflow(rhs.nanoseconds)
            return Instant(nanoseconds: overflow ? .max : sum)
        }

        /// Time from `earlier` to `self`, zero if `earlier` is not earlier.
        @inlinable public func since(_ earlier: Instant) -> Interval {
            Interval(nanoseconds: nanoseconds >= earlier.nanoseconds ? nanoseconds - earlier.nanoseconds : 0)
        }

        /// Whether at least `interval` has passed from `start` to `self` (the kernel's
        /// `wg_birthdate_has_expired`: expired once `start + interval <= now`).
        @inlinable public func hasElapsed(_ interval: Interval, since start: Instant) -> Bool {
            since(start) >= interval
        }

        @inlinable public static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

        public var description: String { "\(Double(nanoseconds) / 1e9)s" }
    }

    /// A non-negative span of time in nanoseconds.
    public struct Interval: Comparable, Hashable, Sendable, CustomStringConvertible {
        public var nanoseconds: UInt64

        @inlinable public init(nanoseconds: UInt64) { self.nanoseconds = nanoseconds }
        @inlinable public static func nanoseconds(_ value: UInt64) -> Interval { Interval(nanoseconds: value) }
        @inlinable public static func milliseconds(_ value: UInt64) -> Interval { Interval(nanoseconds: value * 1_000_000) }
        @inlinable public static func seconds(_ value: UInt64) -> Interval { Interval(nanoseconds: value * 1_000_000_000) }
        @inlinable public static var zero: Interval { Interval(nanoseconds: 0) }

        @inlinable public static func + (lhs: Interval, rhs: Interval) -> Interval {
            Interval(nanoseconds: lhs.nanoseconds + rhs.nanoseconds)
        }
        @inlinable public static func * (lhs: Interval, rhs: UInt64) -> Interval {
            Interval(nanoseconds: lhs.nanoseconds * rhs)
        }
        @inlinable public static func < (lhs: Interval, rhs: Interval) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

        public var description: String { "\(Double(nanoseconds) / 1e9)s" }
    }

    /// Ties the monotonic clock to real time, for the TAI64N timestamp of handshake initiations
    /// (§5.1: the responder keeps the greatest timestamp seen per peer to reject replays).
    ///
    /// Real time is derived as `unixNanoseconds + (now − instant)`, so the timestamps this device
    /// sends never go backwards even when the system clock is stepped back. A restarted process
    /// takes a fresh anchor from the system clock.
    public struct WallClockAnchor: Sendable, Hashable {
        /// Nanoseconds since the Unix epoch at `instant`.
        public var unixNanoseconds: UInt64
        /// The monotonic instant the wall-clock reading was taken at.
        public var instant: Instant

        public init(unixNanoseconds: UInt64, at instant: Instant) {
            self.unixNanoseconds = unixNanoseconds
            self.instant = instant
        }

        /// Real time at `now`, in nanoseconds since the Unix epoch.
        @inlinable public func unixNanoseconds(at now: Instant) -> UInt64 {
            unixNanoseconds + now.since(instant).nanoseconds
        }
    }
}
