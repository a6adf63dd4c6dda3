import Testing
@testable import WeftDataPlane

/// SplitMix64: a tiny deterministic generator for reproducible randomized tests.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A clock the test moves by hand: the WireGuard core never reads time itself.
struct ManualClock {
    private(set) var now: WireGuard.Instant

    init(start: WireGuard.Instant = WireGuard.Instant(nanoseconds: 1_000_000_000_000)) { now = start }

    mutating func advance(_ interval: WireGuard.Interval) { now = now + interval }
    mutating func advance(seconds: UInt64) { advance(.seconds(seconds)) }
    mutating func advance(milliseconds: UInt64) { advance(.milliseconds(milliseconds)) }
}
