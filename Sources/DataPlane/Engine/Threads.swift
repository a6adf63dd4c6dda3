internal import CLinux
import Glibc

/// A joinable OS thread running a closure. The data path runs on threads it owns (not on a
/// Swift concurrency executor) because each io_uring ring belongs to the thread that enabled it.
final class OSThread {
    private var handle = pthread_t()
    private var started = false

    init(name: String, _ body: @escaping () -> Void) {
        final class Box { let body: () -> Void; init(_ body: @escaping () -> Void) { self.body = body } }
        // Thread names are at most 15 bytes; they show in `top -H` and perf.
        let threadName = String(name.prefix(15))
        let context = Unmanaged.passRetained(Box({ clinux_set_thread_name(threadName); body() })).toOpaque()
        let result = pthread_create(&handle, nil, { raw in
            let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            box.body()
            return nil
        }, context)
        precondition(result == 0, "pthread_create failed: \(result)")
        started = true
    }

    func join() {
        guard started else { return }
        pthread_join(handle, nil)
        started = false
    }
}

/// Monotonic time for the protocol core (CLOCK_MONOTONIC: never jumps with the wall clock).
public enum MonotonicClock {
    public static func now() -> WireGuard.Instant {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return WireGuard.Instant(nanoseconds: UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec))
    }

    /// The same clock as plain nanoseconds, for cores that take time that way (VXLAN, overlay).
    public static func nowNanoseconds() -> UInt64 { now().nanoseconds }

    /// Ties the wall clock to the monotonic one, for TAI64N timestamps and `last_handshake_time`.
    static func wallClockAnchor() -> WireGuard.WallClockAnchor {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return WireGuard.WallClockAnchor(unixNanoseconds: UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec),
                                         at: now())
    }
}

/// A condition variable with a timeout, to wake the timer thread early when configuration changes.
final class Wakeup: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()
    private var signalled = false

    init() {
        pthread_mutex_init(&mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(&condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(&condition)
        pthread_mutex_destroy(&mutex)
    }

    func signal() {
        pthread_mutex_lock(&mutex)
        signalled = true
        pthread_cond_signal(&condition)
        pthread_mutex_unlock(&mutex)
    }

    /// Waits until signalled or until the monotonic `deadline` (nanoseconds).
    func wait(until deadline: UInt64) {
        pthread_mutex_lock(&mutex)
        var ts = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
        while !signalled {
            if pthread_cond_timedwait(&condition, &mutex, &ts) == ETIMEDOUT { break }
        }
        signalled = false
        pthread_mutex_unlock(&mutex)
    }
}
