import CSodium

/// ChaCha20-Poly1305 IETF (RFC 8439 §2.8) through libsodium, WireGuard's AEAD (whitepaper §5.4).
///
/// WireGuard's nonce is 4 zero bytes followed by the 64-bit message counter, little-endian
/// (whitepaper §5.4.6); the `counter:` variants build it on the stack. Every function works on
/// caller-owned memory and allocates nothing. Opening verifies the tag before decrypting and
/// leaves the buffers untouched when authentication fails.
///
/// Lengths of keys and nonces are the caller's responsibility (precondition); lengths that come
/// from the network (a short tag or ciphertext) make `open` return false instead.
public enum ChaChaPoly {
    public static let keyLength = 32, tagLength = 16, nonceLength = 12

    // MARK: Detached tag, in place

    /// Encrypts `message` in place and writes the 16-byte tag to `tag`.
    public static func sealInPlace(_ message: UnsafeMutableRawBufferPointer, tag: UnsafeMutableRawBufferPointer,
                                   additionalData: UnsafeRawBufferPointer, counter: UInt64,
                                   key: UnsafeRawBufferPointer) {
        withNonce(counter) { nonce in
            sealInPlace(message, tag: tag, additionalData: additionalData, nonce: nonce, key: key)
        }
    }

    /// Decrypts `message` in place after verifying `tag`; returns false (message untouched)
    /// when authentication fails.
    public static func openInPlace(_ message: UnsafeMutableRawBufferPointer, tag: UnsafeRawBufferPointer,
                                   additionalData: UnsafeRawBufferPointer, counter: UInt64,
                                   key: UnsafeRawBufferPointer) -> Bool {
        withNonce(counter) { nonce in
            openInPlace(message, tag: tag, additionalData: additionalData, nonce: nonce, key: key)
        }
    }

    /// Verifies `tag` and decrypts `message` in place in one libsodium call, as the data path
    /// wants it: on failure the message is zeroed (libsodium's `decrypt_detached` does that),
    /// which costs nothing to callers that drop a message that failed. Saves the second call
    /// and the second key setup `openInPlace` needs to leave a failed message untouched.
    public static func openInPlaceDiscardingOnFailure(_ message: UnsafeMutableRawBufferPointer, tag: UnsafeRawBufferPointer,
                                                      additionalData: UnsafeRawBufferPointer, counter: UInt64,
                                                      key: UnsafeRawBufferPointer) -> Bool {
        guard tag.count >= tagLength else { return false }
        return withNonce(counter) { nonce in
            checkKeyAndNonce(key: key, nonce: nonce)
            Sodium.initialize()
            return crypto_aead_chacha20poly1305_ietf_decrypt_detached(
                message.sodiumBytes, nil, message.sodiumBytes, UInt64(message.count), tag.sodiumBytes,
                additionalData.sodiumBytes, UInt64(additionalData.count), nonce.sodiumBytes, key.sodiumBytes) == 0
        }
    }

    /// Encrypts `message` in place with an explicit 12-byte nonce and writes the tag to `tag`.
    public static func sealInPlace(_ message: UnsafeMutableRawBufferPointer, tag: UnsafeMutableRawBufferPointer,
                                   additionalData: UnsafeRawBufferPointer, nonce: UnsafeRawBufferPointer,
                                   key: UnsafeRawBufferPointer) {
        precondition(tag.count >= tagLength, "ChaChaPoly: tag buffer must hold 16 bytes")
        checkKeyAndNonce(key: key, nonce: nonce)
        Sodium.initialize()
        crypto_aead_chacha20poly1305_ietf_encrypt_detached(
            message.sodiumBytes, tag.sodiumBytes, nil,
            message.sodiumBytes, UInt64(message.count),
            additionalData.sodiumBytes, UInt64(additionalData.count),
            nil, nonce.sodiumBytes, key.sodiumBytes)
    }

    /// Decrypts `message` in place with an explicit 12-byte nonce after verifying `tag`;
    /// returns false (message untouched) when authentication fails.
    public static func openInPlace(_ message: UnsafeMutableRawBufferPointer, tag: UnsafeRawBufferPointer,
                                   additionalData: UnsafeRawBufferPointer, nonce: UnsafeRawBufferPointer,
                                   key: UnsafeRawBufferPointer) -> Bool {
        openDetached(UnsafeRawBufferPointer(message).sodiumBytes, count: message.count, into: message.sodiumBytes,
                     tag: tag, additionalData: additionalData, nonce: nonce, key: key)
    }

    // MARK: Combined (ciphertext || tag)

    /// Encrypts `input` into `output` as ciphertext || 16-byte tag; `output` must hold
    /// `input.count + 16` bytes (only those are written). `input` may start at the same address
    /// as `output` (in place) but must not otherwise overlap it.
    public static func seal(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer,
                            additionalData: UnsafeRawBufferPointer, counter: UInt64, key: UnsafeRawBufferPointer) {
        withNonce(counter) { nonce in
            seal(input, into: output, additionalData: additionalData, nonce: nonce, key: key)
        }
    }

    /// Verifies and decrypts `input` (ciphertext || 16-byte tag) into `output`, which must hold
    /// `input.count - 16` bytes. Returns false, writing nothing, when `input` is shorter than a
    /// tag or authentication fails. `input` may start at the same address as `output`.
    public static func open(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer,
                            additionalData: UnsafeRawBufferPointer, counter: UInt64, key: UnsafeRawBufferPointer) -> Bool {
        withNonce(counter) { nonce in
            open(input, into: output, additionalData: additionalData, nonce: nonce, key: key)
        }
    }

    /// ``seal(_:into:additionalData:counter:key:)`` with an explicit 12-byte nonce.
    public static func seal(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer,
                            additionalData: UnsafeRawBufferPointer, nonce: UnsafeRawBufferPointer,
                            key: UnsafeRawBufferPointer) {
        precondition(output.count >= input.count + tagLength, "ChaChaPoly.seal: output must hold input + 16 bytes")
        checkKeyAndNonce(key: key, nonce: nonce)
        let length = input.count
        Sodium.initialize()
        crypto_aead_chacha20poly1305_ietf_encrypt_detached(
            output.sodiumBytes, output.sodiumBytes + length, nil,
            input.sodiumBytes, UInt64(length),
            additionalData.sodiumBytes, UInt64(additionalData.count),
            nil, nonce.sodiumBytes, key.sodiumBytes)
    }

    /// ``open(_:into:additionalData:counter:key:)`` with an explicit 12-byte nonce.
    public static func open(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer,
                            additionalData: UnsafeRawBufferPointer, nonce: UnsafeRawBufferPointer,
                            key: UnsafeRawBufferPointer) -> Bool {
        guard input.count >= tagLength else { return false }
        let length = input.count - tagLength
        precondition(output.count >= length, "ChaChaPoly.open: output must hold input - 16 bytes")
        let tag = UnsafeRawBufferPointer(rebasing: input[length...])
        return openDetached(input.sodiumBytes, count: length, into: output.sodiumBytes,
                            tag: tag, additionalData: additionalData, nonce: nonce, key: key)
    }

    // MARK: Internals

    /// Verify, then decrypt. libsodium's `decrypt_detached` zeroes its output when the tag is
    /// wrong, which would destroy an in-place message; given a nil output it only verifies.
    /// Decrypting is then the keystream from block 1 (block 0 keyed Poly1305, RFC 8439 §2.8),
    /// the same work `decrypt_detached` does after its own verification.
    private static func openDetached(_ ciphertext: UnsafePointer<UInt8>, count: Int, into plaintext: UnsafeMutablePointer<UInt8>,
                                     tag: UnsafeRawBufferPointer, additionalData: UnsafeRawBufferPointer,
                                     nonce: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer) -> Bool {
        guard tag.count >= tagLength else { return false }
        checkKeyAndNonce(key: key, nonce: nonce)
        Sodium.initialize()
        let verified = crypto_aead_chacha20poly1305_ietf_decrypt_detached(
            nil, nil, ciphertext, UInt64(count), tag.sodiumBytes,
            additionalData.sodiumBytes, UInt64(additionalData.count),
            nonce.sodiumBytes, key.sodiumBytes) == 0
        guard verified else { return false }
        crypto_stream_chacha20_ietf_xor_ic(plaintext, ciphertext, UInt64(count), nonce.sodiumBytes, 1, key.sodiumBytes)
        return true
    }

    /// WireGuard's 96-bit nonce (whitepaper §5.4.6): 32 zero bits, then the counter as
    /// little-endian 64 bits. Built in two words on the stack; only the first 12 bytes are used.
    @inline(__always)
    private static func withNonce<R>(_ counter: UInt64, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        let words: (UInt64, UInt64) = ((counter << 32).littleEndian, (counter >> 32).littleEndian)
        return withUnsafeBytes(of: words) { body(UnsafeRawBufferPointer(rebasing: $0[0..<nonceLength])) }
    }

    @inline(__always)
    private static func checkKeyAndNonce(key: UnsafeRawBufferPointer, nonce: UnsafeRawBufferPointer) {
        precondition(key.count >= keyLength, "ChaChaPoly: key must be 32 bytes")
        precondition(nonce.count >= nonceLength, "ChaChaPoly: nonce must be 12 bytes")
    }
}
