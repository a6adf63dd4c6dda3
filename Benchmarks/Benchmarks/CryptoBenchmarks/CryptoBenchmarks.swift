import Benchmark
import CSodiumRaw
import WeftCrypto

// WireGuard's largest common payload: a 1420-byte inner packet (MTU 1420) sealed in place.
private let packetLength = 1420

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        timeUnits: .nanoseconds,
        scalingFactor: .kilo,
        maxDuration: .seconds(3),
        maxIterations: 1_000
    )
    _ = sodium_init()

    // One buffer per benchmark, allocated before measurement: the measured loop must not allocate.
    let key = UnsafeMutableRawBufferPointer.allocate(byteCount: 32, alignment: 16)
    key.initializeMemory(as: UInt8.self, repeating: 0x42)

    Benchmark("Seal 1420 B: WeftCrypto.ChaChaPoly") { benchmark in
        let packet = UnsafeMutableRawBufferPointer.allocate(byteCount: packetLength + 16, alignment: 16)
        defer { packet.deallocate() }
        packet.initializeMemory(as: UInt8.self, repeating: 0xA5)
        let message = UnsafeMutableRawBufferPointer(rebasing: packet[0..<packetLength])
        let tag = UnsafeMutableRawBufferPointer(rebasing: packet[packetLength...])
        var counter: UInt64 = 0
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            ChaChaPoly.sealInPlace(message, tag: tag, additionalData: UnsafeRawBufferPointer(start: nil, count: 0),
                                   counter: counter, key: UnsafeRawBufferPointer(key))
            counter &+= 1
        }
        blackHole(packet[0])
    }

    Benchmark("Seal 1420 B: raw libsodium") { benchmark in
        let packet = UnsafeMutableRawBufferPointer.allocate(byteCount: packetLength + 16, alignment: 16)
        defer { packet.deallocate() }
        packet.initializeMemory(as: UInt8.self, repeating: 0xA5)
        var nonce = [UInt8](repeating: 0, count: 12)
        var counter: UInt64 = 0
        benchmark.startMeasurement()
        nonce.withUnsafeMutableBytes { nonce in
            for _ in benchmark.scaledIterations {
                nonce.storeBytes(of: counter.littleEndian, toByteOffset: 4, as: UInt64.self)
                let base = packet.baseAddress!.assumingMemoryBound(to: UInt8.self)
                _ = crypto_aead_chacha20poly1305_ietf_encrypt_detached(
                    base, base + packetLength, nil, base, UInt64(packetLength), nil, 0, nil,
                    nonce.baseAddress!.assumingMemoryBound(to: UInt8.self),
                    key.baseAddress!.assumingMemoryBound(to: UInt8.self))
                counter &+= 1
            }
        }
        blackHole(packet[0])
    }

    Benchmark("Open 1420 B: WeftCrypto.ChaChaPoly") { benchmark in
        // Open the same sealed packet repeatedly: authenticate+decrypt into a scratch copy.
        let sealed = UnsafeMutableRawBufferPointer.allocate(byteCount: packetLength + 16, alignment: 16)
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: packetLength, alignment: 16)
        defer { sealed.deallocate(); scratch.deallocate() }
        sealed.initializeMemory(as: UInt8.self, repeating: 0x5A)
        ChaChaPoly.sealInPlace(UnsafeMutableRawBufferPointer(rebasing: sealed[0..<packetLength]),
                               tag: UnsafeMutableRawBufferPointer(rebasing: sealed[packetLength...]),
                               additionalData: UnsafeRawBufferPointer(start: nil, count: 0), counter: 7,
                               key: UnsafeRawBufferPointer(key))
        let ciphertext = UnsafeRawBufferPointer(sealed)
        var ok = true
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            ok = ok && ChaChaPoly.open(ciphertext, into: scratch,
                                       additionalData: UnsafeRawBufferPointer(start: nil, count: 0),
                                       counter: 7, key: UnsafeRawBufferPointer(key))
        }
        precondition(ok)
        blackHole(scratch[0])
    }

    Benchmark("Open 1420 B: raw libsodium") { benchmark in
        let sealed = UnsafeMutableRawBufferPointer.allocate(byteCount: packetLength + 16, alignment: 16)
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: packetLength, alignment: 16)
        defer { sealed.deallocate(); scratch.deallocate() }
        sealed.initializeMemory(as: UInt8.self, repeating: 0x5A)
        ChaChaPoly.sealInPlace(UnsafeMutableRawBufferPointer(rebasing: sealed[0..<packetLength]),
                               tag: UnsafeMutableRawBufferPointer(rebasing: sealed[packetLength...]),
                               additionalData: UnsafeRawBufferPointer(start: nil, count: 0), counter: 7,
                               key: UnsafeRawBufferPointer(key))
        var nonce = [UInt8](repeating: 0, count: 12)
        var result: Int32 = 0
        benchmark.startMeasurement()
        nonce.withUnsafeMutableBytes { nonce in
            nonce.storeBytes(of: UInt64(7).littleEndian, toByteOffset: 4, as: UInt64.self)
            let base = sealed.baseAddress!.assumingMemoryBound(to: UInt8.self)
            for _ in benchmark.scaledIterations {
                result |= crypto_aead_chacha20poly1305_ietf_decrypt_detached(
                    scratch.baseAddress!.assumingMemoryBound(to: UInt8.self), nil,
                    base, UInt64(packetLength), base + packetLength, nil, 0,
                    nonce.baseAddress!.assumingMemoryBound(to: UInt8.self),
                    key.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        precondition(result == 0)
        blackHole(scratch[0])
    }

    Benchmark("BLAKE2s 148 B (a handshake initiation)") { benchmark in
        let message = UnsafeMutableRawBufferPointer.allocate(byteCount: 148, alignment: 16)
        defer { message.deallocate() }
        message.initializeMemory(as: UInt8.self, repeating: 1)
        var digest = Bytes32.zero
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            digest = BLAKE2s.hash(UnsafeRawBufferPointer(message))
            message[0] = digest.withUnsafeBytes { $0[0] }
        }
        blackHole(digest)
    }

    Benchmark("X25519 shared secret",
              configuration: .init(scalingFactor: .one)) { benchmark in
        let ours = PrivateKey()
        let theirs = PrivateKey().publicKey
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try? ours.sharedSecret(with: theirs))
        }
    }
}
