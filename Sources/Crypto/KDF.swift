/// WireGuard's key derivation (whitepaper §5.4, "KDF_n"), HKDF (RFC 5869) with HMAC-BLAKE2s,
/// an empty info string and n outputs of 32 bytes:
///
///     τ0 = HMAC(key, input)
///     τ1 = HMAC(τ0, 0x1)
///     τi = HMAC(τ0, τ(i-1) || i)      for i = 2, 3
///
/// KDF_n returns (τ1, ..., τn). τ0 is wiped before returning.
public enum KDF {
    /// KDF1(key, input) = τ1.
    public static func kdf1(key: Bytes32, input: UnsafeRawBufferPointer) -> Bytes32 {
        var pseudorandomKey = extract(key: key, input: input)
        defer { pseudorandomKey.zeroize() }
        return expand(pseudorandomKey, previous: nil, index: 1)
    }

    /// KDF2(key, input) = (τ1, τ2).
    public static func kdf2(key: Bytes32, input: UnsafeRawBufferPointer) -> (Bytes32, Bytes32) {
        var pseudorandomKey = extract(key: key, input: input)
        defer { pseudorandomKey.zeroize() }
        let first = expand(pseudorandomKey, previous: nil, index: 1)
        let second = expand(pseudorandomKey, previous: first, index: 2)
        return (first, second)
    }

    /// KDF3(key, input) = (τ1, τ2, τ3).
    public static func kdf3(key: Bytes32, input: UnsafeRawBufferPointer) -> (Bytes32, Bytes32, Bytes32) {
        var pseudorandomKey = extract(key: key, input: input)
        defer { pseudorandomKey.zeroize() }
        let first = expand(pseudorandomKey, previous: nil, index: 1)
        let second = expand(pseudorandomKey, previous: first, index: 2)
        let third = expand(pseudorandomKey, previous: second, index: 3)
        return (first, second, third)
    }

    /// τ0 = HMAC(key, input).
    private static func extract(key: Bytes32, input: UnsafeRawBufferPointer) -> Bytes32 {
        key.withUnsafeBytes { HMACBLAKE2s.authenticate(key: $0, input) }
    }

    /// τi = HMAC(τ0, τ(i-1) || i), with no previous output for i = 1.
    private static func expand(_ pseudorandomKey: Bytes32, previous: Bytes32?, index: UInt8) -> Bytes32 {
        withUnsafeBytes(of: index) { counter in
            pseudorandomKey.withUnsafeBytes { prk in
                if let previous {
                    return previous.withUnsafeBytes { HMACBLAKE2s.authenticate(key: prk, $0, counter) }
                }
                return HMACBLAKE2s.authenticate(key: prk, counter)
            }
        }
    }
}
