import CSodium

/// libsodium must be initialised once per process before use: `sodium_init` selects the fastest
/// ChaCha20/Poly1305/X25519 implementations for this CPU and opens the kernel random source.
///
/// Every WeftCrypto entry point that reaches libsodium calls ``initialize()`` itself, so callers
/// never have to; calling it early (e.g. at startup) merely moves the one-time cost.
public enum Sodium {
    /// Initialises libsodium once; later calls cost one already-initialised check.
    ///
    /// A failing `sodium_init` means no usable randomness, and continuing would produce weak
    /// keys, so it stops the process.
    public static func initialize() {
        _ = sodiumInitialized
    }
}

/// Swift initialises globals lazily and exactly once (thread-safe), which is the "once" we need.
private let sodiumInitialized: Bool = {
    // 0: initialised now, 1: already initialised (e.g. by the embedding process), -1: failure.
    guard sodium_init() >= 0 else {
        fatalError("WeftCrypto: sodium_init() failed; no secure randomness available")
    }
    return true
}()

// libsodium takes `unsigned char *` and declares most pointer parameters nonnull, even where
// the length may be zero. An empty Swift buffer may have no base address, so these views
// substitute a real (never read or written) allocation for it.
extension UnsafeRawBufferPointer {
    var sodiumBytes: UnsafePointer<UInt8> {
        UnsafePointer((baseAddress ?? UnsafeRawPointer(emptyBufferStandIn)).assumingMemoryBound(to: UInt8.self))
    }
}

extension UnsafeMutableRawBufferPointer {
    var sodiumBytes: UnsafeMutablePointer<UInt8> {
        (baseAddress ?? emptyBufferStandIn).assumingMemoryBound(to: UInt8.self)
    }
}

/// Stand-in address for empty buffers; only ever passed with a length of zero, so never
/// accessed, hence safe to share.
nonisolated(unsafe) private let emptyBufferStandIn = UnsafeMutableRawPointer.allocate(byteCount: 16, alignment: 16)
