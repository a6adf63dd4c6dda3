// Per-source token bucket for handshake messages that carry a valid cookie while the device is
// under load (whitepaper §5.3, §5.4.7). It is the last line of defence after mac1 and mac2: a host
// that proved it owns its address still cannot make us do more than a few Curve25519 operations
// per second. The numbers follow the Linux module's ratelimiter.c.

import WeftRouting

extension WireGuard {
    /// Token-bucket limiter of handshake initiations per source address.
    ///
    /// Each IPv4 address, or each IPv6 /64 (one host usually owns a whole /64), may send
    /// `packetsPerSecond` messages with bursts of `packetsBurstable`. Entries idle for a second are
    /// collected: by then their bucket is full again, so forgetting them changes nothing.
    public struct Ratelimiter: Sendable {
        public static let packetsPerSecond: UInt64 = 20
        public static let packetsBurstable: UInt64 = 5
        /// Tokens are nanoseconds of credit: each packet costs 1/20 s, the bucket holds 5 packets.
        static let packetCost: UInt64 = 1_000_000_000 / packetsPerSecond
        static let tokenMax: UInt64 = packetCost * packetsBurstable
        static let collectionInterval = Interval.seconds(1)
        /// Default bound on tracked sources, as the kernel on a host with more than 1 GiB of memory.
        public static let defaultMaximumEntries = 65_536

        struct Key: Hashable {
            let isIPv6: Bool
            /// IPv4 address, or the upper 64 bits (the /64 prefix) of an IPv6 address.
            let bits: UInt64

            init(_ source: SourceAddress) {
                switch source.address {
                case .v4(let address):
                    isIPv6 = false
                    bits = UInt64(address.value)
                case .v6(let address):
                    // A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d; they are IPv4
                    // hosts, not one /64.
                    if let mapped = address.ipv4Mapped {
                        isIPv6 = false
                        bits = UInt64(mapped.value)
                    } else {
                        isIPv6 = true
                        bits = address.hi
                    }
                }
            }
        }

        struct Bucket {
            var lastTime: UInt64
            var tokens: UInt64
        }

        private var buckets: [Key: Bucket] = [:]
        private var lastCollection: Instant?
        public let maximumEntries: Int

        public init(maximumEntries: Int = Ratelimiter.defaultMaximumEntries) {
            self.maximumEntries = maximumEntries
        }

        /// Number of sources currently tracked.
        public var count: Int { buckets.count }

        /// Whether a message from `source` may be processed now; spends one token if so.
        /// A new source is refused when the table is full, as the kernel does.
        public mutating func allow(_ source: SourceAddress, now: Instant) -> Bool {
            collectGarbageIfDue(now: now)
            let key = Key(source)
            if var bucket = buckets[key] {
                // Credit accrues at one token per nanosecond up to a full bucket.
                let elapsed = now.since(Instant(nanoseconds: bucket.lastTime)).nanoseconds
                let tokens = min(Self.tokenMax, bucket.tokens + min(elapsed, Self.tokenMax))
                bucket.lastTime = now.nanoseconds
                let allowed = tokens >= Self.packetCost
                bucket.tokens = allowed ? tokens - Self.packetCost : tokens
                buckets[key] = bucket
                return allowed
            }
            guard buckets.count < maximumEntries else { return false }
            buckets[key] = Bucket(lastTime: now.nanoseconds, tokens: Self.tokenMax - Self.packetCost)
            return true
        }

        /// Drops buckets idle for more than a second, at most once a second.
        mutating func collectGarbageIfDue(now: Instant) {
            if let last = lastCollection, !now.hasElapsed(Self.collectionInterval, since: last) { return }
            lastCollection = now
            guard !buckets.isEmpty else { return }
            buckets = buckets.filter {
                now.since(Instant(nanoseconds: $0.value.lastTime)) <= Self.collectionInterval
            }
        }
    }
}
