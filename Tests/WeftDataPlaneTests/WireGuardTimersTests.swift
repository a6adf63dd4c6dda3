import Testing
@testable import WeftDataPlane

/// The timer event hooks of whitepaper §6 in isolation; the device tests drive them end to end.
@Suite struct WireGuardTimersTests {
    @Test func dataSentArmsNewHandshakeOnce() {
        var timers = WireGuard.PeerTimers()
        var clock = ManualClock()
        let start = clock.now
        timers.dataSent(now: clock.now, jitter: .milliseconds(100))
        clock.advance(seconds: 3)
        timers.dataSent(now: clock.now, jitter: .zero)       // does not push the deadline out
        #expect(timers.newHandshake == start + .seconds(15) + .milliseconds(100))
        timers.anyAuthenticatedPacketReceived()               // any answer cancels it
        #expect(timers.newHandshake == nil)
    }

    @Test func dataReceivedSchedulesKeepaliveAndRemembersAnother() {
        var timers = WireGuard.PeerTimers()
        let clock = ManualClock()
        timers.dataReceived(now: clock.now)
        #expect(timers.sendKeepalive == clock.now + .seconds(10))
        timers.dataReceived(now: clock.now + .seconds(1))
        #expect(timers.needAnotherKeepalive)
        #expect(timers.sendKeepalive == clock.now + .seconds(10))
        timers.anyAuthenticatedPacketSent()
        #expect(timers.sendKeepalive == nil)
    }

    @Test func handshakeLifecycle() {
        var timers = WireGuard.PeerTimers()
        let clock = ManualClock()
        timers.handshakeInitiated(now: clock.now, jitter: .milliseconds(333))
        timers.handshakeAttempts = 4
        timers.sentLastMinuteHandshake = true
        #expect(timers.retransmitHandshake == clock.now + .milliseconds(5333))
        timers.sessionDerived(now: clock.now)
        timers.handshakeComplete()
        #expect(timers.retransmitHandshake == nil)
        #expect(timers.handshakeAttempts == 0)
        #expect(!timers.sentLastMinuteHandshake)
        #expect(timers.zeroKeyMaterial == clock.now + .seconds(540))
    }

    @Test func persistentKeepaliveFollowsTraffic() {
        var timers = WireGuard.PeerTimers()
        var clock = ManualClock()
        timers.anyAuthenticatedPacketTraversal(now: clock.now, persistentInterval: nil)
        #expect(timers.persistentKeepalive == nil)
        timers.anyAuthenticatedPacketTraversal(now: clock.now, persistentInterval: .seconds(25))
        clock.advance(seconds: 7)
        timers.anyAuthenticatedPacketTraversal(now: clock.now, persistentInterval: .seconds(25))
        #expect(timers.persistentKeepalive == clock.now + .seconds(25))
    }

    @Test func expiredTimersAreTakenOnceInDeadlineOrder() {
        var timers = WireGuard.PeerTimers()
        var clock = ManualClock()
        timers.handshakeInitiated(now: clock.now, jitter: .zero)     // +5 s
        timers.dataReceived(now: clock.now)                          // +10 s
        timers.sessionDerived(now: clock.now)                        // +540 s
        #expect(timers.nextDeadline == clock.now + .seconds(5))
        clock.advance(seconds: 4)
        let early = timers.takeExpired(now: clock.now)
        clock.advance(seconds: 6)
        let due = timers.takeExpired(now: clock.now)
        let again = timers.takeExpired(now: clock.now)
        #expect(early.isEmpty)
        #expect(due == [.retransmitHandshake, .sendKeepalive])
        #expect(again.isEmpty)
        #expect(timers.nextDeadline == clock.now + .seconds(530))
    }
}
