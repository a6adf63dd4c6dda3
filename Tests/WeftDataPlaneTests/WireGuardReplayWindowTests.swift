import Testing
@testable import WeftDataPlane

/// The replay window against the Linux module's counter self-test (selftest/counter.c): the same
/// numbered sequence of (counter, expected) cases, then the bulk window-edge runs, then a
/// randomized comparison with a naive set-based reference.
@Suite struct WireGuardReplayWindowTests {
    typealias Window = WireGuard.ReplayWindow
    static let limit = Window.windowSize + 1
    static let reject = WireGuard.rejectAfterMessages

    /// (case number, counter, expected) on one window, in order.
    static let sequence: [(Int, UInt64, Bool)] = [
        (1, 0, true),
        (2, 1, true),
        (3, 1, false),                              // duplicate
        (4, 9, true),                               // jump ahead
        (5, 8, true),                               // out of order, inside the window
        (6, 7, true),
        (7, 7, false),
        (8, limit, true),                           // slide to the window's far edge
        (9, limit - 1, true),
        (10, limit - 1, false),
        (11, limit - 2, true),
        (12, 2, true),                              // the oldest counter still inside
        (13, 2, false),
        (14, limit + 16, true),
        (15, 3, false),                             // fell out of the window
        (16, limit + 16, false),
        (17, limit * 4, true),                      // far jump clears the whole ring
        (18, limit * 4 - (limit - 1), true),        // exactly at the window's bottom edge
        (19, 10, false),
        (20, limit * 4 - limit, false),             // one below the edge
        (21, limit * 4 - (limit + 1), false),
        (22, limit * 4 - (limit - 2), true),
        (23, limit * 4 + 1 - limit, false),         // the edge again, already seen
        (24, 0, false),
        (25, reject, false),                        // REJECT_AFTER_MESSAGES itself is never valid
        (26, reject - 1, true),
        (27, reject, false),
        (28, reject - 1, false),
        (29, reject - 2, true),
        (30, reject + 1, false),
        (31, reject + 2, false),
        (32, reject - 2, false),
        (33, reject - 3, true),
        (34, 0, false),
    ]

    @Test func kernelSelfTestSequence() {
        var window = Window()
        for (number, counter, expected) in Self.sequence {
            let wouldAccept = window.wouldAccept(counter)
            let accepted = window.accept(counter)
            #expect(accepted == expected, "case \(number): counter \(counter)")
            #expect(wouldAccept == expected, "case \(number): precheck of counter \(counter)")
        }
    }

    /// Feeds `counters` in order and returns which were accepted.
    static func feed(_ counters: some Sequence<UInt64>, to window: inout Window) -> [Bool] {
        counters.map { window.accept($0) }
    }

    /// Fill the window upwards from 1, then 0 is exactly at the bottom edge.
    @Test func ascendingFillKeepsBottomEdge() {
        var window = Window()
        let fill = Self.feed(1 ... Window.windowSize, to: &window)
        #expect(fill.allSatisfy { $0 })
        #expect(Self.feed([0, 0], to: &window) == [true, false])
    }

    /// From 2 upwards: 1 is at the edge, 0 just outside.
    @Test func ascendingFillFromTwo() {
        var window = Window()
        let fill = Self.feed(2 ... Window.windowSize + 1, to: &window)
        #expect(fill.allSatisfy { $0 })
        #expect(Self.feed([1, 0], to: &window) == [true, false])
    }

    /// Descending from the top: every counter fits.
    @Test func descendingFill() {
        var window = Window()
        let fill = Self.feed((0 ... Window.windowSize).reversed(), to: &window)
        #expect(fill.allSatisfy { $0 })
    }

    @Test func descendingFillFromOneAboveWindow() {
        var window = Window()
        let fill = Self.feed((1 ... Window.windowSize + 1).reversed(), to: &window)
        #expect(fill.allSatisfy { $0 })
        #expect(Self.feed([0], to: &window) == [false])
    }

    @Test func descendingThenTopThenBottom() {
        var window = Window()
        let fill = Self.feed((1 ... Window.windowSize).reversed(), to: &window)
        #expect(fill.allSatisfy { $0 })
        #expect(Self.feed([Window.windowSize + 1, 0], to: &window) == [true, false])
    }

    @Test func descendingThenBottomThenTop() {
        var window = Window()
        let fill = Self.feed((1 ... Window.windowSize).reversed(), to: &window)
        #expect(fill.allSatisfy { $0 })
        #expect(Self.feed([0, Window.windowSize + 1], to: &window) == [true, true])
    }

    /// Random walks (small steps back and forth, occasional far jumps) against a set-based model:
    /// accept iff below REJECT_AFTER_MESSAGES, not seen before, and within the window of the
    /// greatest accepted counter.
    @Test(arguments: [1 as UInt64, 7, 42, 0xDEAD_BEEF])
    func matchesNaiveReference(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        var window = Window()
        var seen = Set<UInt64>()
        var greatest: UInt64?
        var base: UInt64 = 0
        for step in 0 ..< 20_000 {
            let roll = random.next() % 100
            if roll == 0 { base += Window.windowSize * (1 + random.next() % 3) }   // far jump
            else if roll < 60 { base += random.next() % 64 }
            let spread = Window.windowSize + 200
            let offset = random.next() % spread
            let counter = base >= offset ? base - offset + random.next() % 100 : random.next() % 300
            let expected = counter < Self.reject && !seen.contains(counter)
                && (greatest.map { counter + Window.windowSize >= $0 } ?? true)
            #expect(window.wouldAccept(counter) == expected, "step \(step) counter \(counter)")
            let accepted = window.accept(counter)
            #expect(accepted == expected, "step \(step) counter \(counter)")
            if expected {
                seen.insert(counter)
                greatest = max(greatest ?? 0, counter)
            }
        }
        #expect(window.greatestAccepted == greatest)
    }
}
