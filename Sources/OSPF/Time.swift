// Time as seen by the OSPF core. The core never reads a clock: every entry point takes `now`.

/// A point on the driver's monotonic clock, in nanoseconds since an arbitrary origin.
public struct OSPFInstant: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public var nanoseconds: UInt64

    public init(nanoseconds: UInt64) { self.nanoseconds = nanoseconds }

    /// The origin of the clock; convenient for tests.
    public static let zero = OSPFInstant(nanoseconds: 0)

    public static func < (lhs: OSPFInstant, rhs: OSPFInstant) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

    public static func + (lhs: OSPFInstant, rhs: OSPFDuration) -> OSPFInstant {
        let (sum, overflow) = lhs.nanoseconds.addingReportingOverflow(rhs.nanoseconds)
        return OSPFInstant(nanoseconds: overflow ? .max : sum)
    }

    /// The time elapsed from `rhs` to `lhs`, saturating at zero.
    public static func - (lhs: OSPFInstant, rhs: OSPFInstant) -> OSPFDuration {
        OSPFDuration(nanoseconds: lhs.nanoseconds >= rhs.nanoseconds ? lhs.nanoseconds - rhs.nanoseconds : 0)
    }

    public var description: String { "\(nanoseconds / 1_000_000)ms" }
}

/// A span of time in nanoseconds.
public struct OSPFDuration: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public var nanoseconds: UInt64

    public init(nanoseconds: UInt64) { self.nanoseconds = nanoseconds }

    public static func seconds(_ seconds: UInt64) -> OSPFDuration {
        OSPFDuration(nanoseconds: seconds.multipliedReportingOverflow(by: 1_000_000_000).overflow
                        ? .max : seconds * 1_000_000_000)
    }

    public static func milliseconds(_ milliseconds: UInt64) -> OSPFDuration {
        OSPFDuration(nanoseconds: milliseconds.multipliedReportingOverflow(by: 1_000_000).overflow
                        ? .max : milliseconds * 1_000_000)
    }

    /// Whole seconds, rounded down (LS age arithmetic is in seconds, RFC 2328 §12.1.1).
    public var wholeSeconds: UInt64 { nanoseconds / 1_000_000_000 }

    public static func < (lhs: OSPFDuration, rhs: OSPFDuration) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

    public static func + (lhs: OSPFDuration, rhs: OSPFDuration) -> OSPFDuration {
        let (sum, overflow) = lhs.nanoseconds.addingReportingOverflow(rhs.nanoseconds)
        return OSPFDuration(nanoseconds: overflow ? .max : sum)
    }

    public var description: String { "\(nanoseconds / 1_000_000)ms" }
}

/// Architectural constants (RFC 2328 Appendix B).
public enum OSPFConstants {
    /// LSRefreshTime: a self-originated LSA is re-originated when it is this old.
    public static let lsRefreshTime: UInt16 = 1800
    /// MinLSInterval: the minimum time between originations of the same LSA.
    public static let minLSInterval = OSPFDuration.seconds(5)
    /// MinLSArrival: the minimum time between accepting flooded instances of the same LSA.
    public static let minLSArrival = OSPFDuration.seconds(1)
    /// MaxAge: an LSA of this age is no longer used and gets flushed (§14).
    public static let maxAge: UInt16 = 3600
    /// MaxAgeDiff: ages closer than this are considered equal (§13.1).
    public static let maxAgeDiff: UInt16 = 900
    /// LSInfinity: metric value meaning "unreachable".
    public static let lsInfinity: UInt32 = 0xFF_FFFF
    /// InitialSequenceNumber (§12.1.6).
    public static let initialSequenceNumber: Int32 = Int32(bitPattern: 0x8000_0001)
    /// MaxSequenceNumber (§12.1.6).
    public static let maxSequenceNumber: Int32 = 0x7FFF_FFFF
}
