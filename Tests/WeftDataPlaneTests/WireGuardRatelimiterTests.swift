import Testing
import WeftRouting
@testable import WeftDataPlane

/// The handshake token bucket: 20 per second, bursts of 5, per IPv4 address or IPv6 /64.
@Suite struct WireGuardRatelimiterTests {
    static func v4(_ address: UInt32, port: UInt16) -> WireGuard.SourceAddress {
        WireGuard.SourceAddress(.v4(IPv4Address(address)), port: port)
    }
    static let host = v4(0xC0A8_0101, port: 51820)

    /// The Linux module's ratelimiter self-test schedule: (milliseconds to wait first, allowed).
    static let schedule: [(UInt64, Bool)] = [
        (0, true), (0, true), (0, true), (0, true), (0, true),   // the burst
        (0, false),
        (50, true),                                              // one packet's worth of credit
        (0, false),
        (100, true), (0, true),                                  // two packets' worth
        (0, false),
    ]

    @Test func burstThenSteadyRate() {
        var limiter = WireGuard.Ratelimiter()
        var clock = ManualClock()
        for (index, (wait, expected)) in Self.schedule.enumerated() {
            clock.advance(milliseconds: wait)
            let allowed = limiter.allow(Self.host, now: clock.now)
            #expect(allowed == expected, "packet \(index)")
        }
    }

    @Test func sourcesAreIndependent() {
        var limiter = WireGuard.Ratelimiter()
        let clock = ManualClock()
        let burst = (0 ..< 6).map { _ in limiter.allow(Self.host, now: clock.now) }
        #expect(burst == [true, true, true, true, true, false])
        // Another port of the same host shares the bucket; another host does not.
        let otherPort = limiter.allow(Self.v4(0xC0A8_0101, port: 1), now: clock.now)
        let otherHost = limiter.allow(Self.v4(0xC0A8_0102, port: 51820), now: clock.now)
        #expect(!otherPort)
        #expect(otherHost)
    }

    @Test func ipv6SharesBucketPerSlash64() {
        var limiter = WireGuard.Ratelimiter()
        let clock = ManualClock()
        let prefix: UInt64 = 0x2001_0DB8_0000_0001
        let sameSlash64 = (0 ..< 6 as Range<UInt64>).map {
            limiter.allow(WireGuard.SourceAddress(.v6(IPv6Address(hi: prefix, lo: $0)), port: 1), now: clock.now)
        }
        #expect(sameSlash64 == [true, true, true, true, true, false])
        let otherSlash64 = limiter.allow(WireGuard.SourceAddress(.v6(IPv6Address(hi: prefix + 1, lo: 0)), port: 1), now: clock.now)
        #expect(otherSlash64)
    }

    @Test func ipv4MappedSourcesCountAsIPv4Hosts() {
        var limiter = WireGuard.Ratelimiter()
        let clock = ManualClock()
        let mapped = { (host: UInt32) in
            WireGuard.SourceAddress(.v6(IPv6Address(ipv4Mapped: IPv4Address(host))), port: 9)
        }
        let first = (0 ..< 6).map { _ in limiter.allow(mapped(0x0A00_0001), now: clock.now) }
        let second = limiter.allow(mapped(0x0A00_0002), now: clock.now)
        #expect(first == [true, true, true, true, true, false])
        #expect(second)
    }

    @Test func idleEntriesAreCollectedAndFullTableRefuses() {
        var limiter = WireGuard.Ratelimiter(maximumEntries: 3)
        var clock = ManualClock()
        let hosts = (1 ... 4 as ClosedRange<UInt32>).map {
            limiter.allow(Self.v4($0, port: 1), now: clock.now)
        }
        #expect(hosts == [true, true, true, false])
        #expect(limiter.count == 3)
        clock.advance(milliseconds: 1500)
        let afterCollection = limiter.allow(Self.v4(4, port: 1), now: clock.now)
        #expect(afterCollection)
        #expect(limiter.count == 1)
    }
}
