import CSodium

/// XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha): ChaCha20-Poly1305 with a 24-byte nonce,
/// through libsodium. WireGuard uses it for cookie replies (whitepaper §5.4.7), where the
/// random 24-byte nonce is sent alongside the ciphertext.
///
/// Opening leaves the output untouched when authentication fails. The payloads here are
/// 16-byte cookies, so opening simply asks libsodium to verify first (nil output) and then to
/// decrypt, authenticating twice rather than duplicating libsodium's HChaCha20 subkey logic.
public enum XChaChaPoly {
    public static let keyLength = 32, tagLength = 16, nonceLength = 24

    /// Encrypts `input` into `output` as ciphertext || 16-byte tag; `output` must hold
    /// `input.count + 16` bytes. `input` may start at the same address as `output`.
    public static func seal(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer,
                            additionalData: UnsafeRawBufferPointer, nonce: UnsafeRawBufferPointer,
                            key: UnsafeRawBufferPointer) {
        precondition(output.count >= input.count + tagLength, "XChaChaPoly.seal: output must hold input + 16 bytes")
        checkKeyAndNonce(key: key, nonce: nonce)
        let length = input.count
        Sodium.initialize()
        crypto_aead_xchacha20poly1305_ietf_encrypt_detached(
            output.sodiumBytes, output.sodiumBytes + length, nil,
            input.sodiumBytes, UInt64(length),
            additionalData.sodiumBytes, UInt64(additionalData.count),
            nil, nonce.sodiumBytes, key.sodiumBytes)
    }

    /// Verifies and decrypts `input` (ciphertext || 16-byte tag) into `output`, which must hold
    /// `input.count - 16` bytes. Returns false, writing nothing, when `input` is shorter than a
    /// tag or authentication fails. `input` may start at the same address as `output`.
    public static func open(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer,
                            additionalData: UnsafeRawBufferPointer, nonce: UnsafeRawBufferPointer,
                            key: UnsafeRawBufferPointer) -> Bool {
        guard input.count >= tagLength else { return false }
        let length = input.count - tagLength
        precondition(output.count >= length, "XChaChaPoly.open: output must hold input - 16 bytes")
        let tag = UnsafeRawBufferPointer(rebasing: input[length...])
        return openDetached(input.sodiumBytes, count: length, into: output.sodiumBytes,
                            tag: tag, additionalData: additionalData, nonce: nonce, key: key)
    }

    /// Encrypts `message` in place and writes the 16-byte tag to `tag`.
    public static func sealInPlace(_ message: UnsafeMutableRawBufferPointer, tag: UnsafeMutableRawBufferPointer,
                                   additionalData: UnsafeRawBufferPointer, nonce: UnsafeRawBufferPointer,
                                   key: UnsafeRawBufferPointer) {
        precondition(tag.count >= tagLength, "XChaChaPoly: tag buffer must hold 16 bytes")
        checkKeyAndNonce(key: key, nonce: nonce)
        Sodium.initialize()
        crypto_aead_xchacha20poly1305_ietf_encrypt_detached(
            message.sodiumBytes, tag.sodiumBytes, nil,
            message.sodiumBytes, UInt64(message.count),
            additionalData.sodiumBytes, UInt64(additionalData.count),
            nil, nonce.sodiumBytes, key.sodiumBytes)
    }

    /// Decrypts `message` in place after verifying `tag`; returns false (message untouched)
    /// when authentication fails.
    public static func openInPlace(_ message: UnsafeMutableRawBufferPointer, tag: UnsafeRawBufferPointer,
                                   additionalData: UnsafeRawBufferPointer, nonce: UnsafeRawBufferPointer,
                                   key: UnsafeRawBufferPointer) -> Bool {
        openDetached(UnsafeRawBufferPointer(message).sodiumBytes, count: message.count, into: message.sodiumBytes,
                     tag: tag, additionalData: additionalData, nonce: nonce, key: key)
    }

    private static func openDetached(_ ciphertext: UnsafePointer<UInt8>, count: Int, into plaintext: UnsafeMutablePointer<UInt8>,
                                     tag: UnsafeRawBufferPointer, additionalData: UnsafeRawBufferPointer,
                                     nonce: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer) -> Bool {
        guard tag.count >= tagLength else { return false }
        checkKeyAndNonce(key: key, nonce: nonce)
        Sodium.initialize()
        // With a nil output libsodium only verifies; with an output it zeroes it on failure.
        let verified = crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
            nil, nil, ciphertext, UInt64(count), tag.sodiumBytes,
            additionalData.sodiumBytes, UInt64(additionalData.count),
            nonce.sodiumBytes, key.sodiumBytes) == 0
        guard verified else { return false }
        return crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
            plaintext, nil, ciphertext, UInt64(count), tag.sodiumBytes,
            additionalData.sodiumBytes, UInt64(additionalData.count),
            nonce.sodiumBytes, key.sodiumBytes) == 0
    }

    @inline(__always)
    private static func checkKeyAndNonce(key: UnsafeRawBufferPointer, nonce: UnsafeRawBufferPointer) {
        precondition(key.count >= keyLength, "XChaChaPoly: key must be 32 bytes")
        precondition(nonce.count >= nonceLength, "XChaChaPoly: nonce must be 24 bytes")
    }
}
