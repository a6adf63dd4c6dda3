// libsodium: X25519, ChaCha20-Poly1305 (IETF), XChaCha20-Poly1305, HMAC-SHA-256, randombytes,
// sodium_memzero/memcmp. It has no BLAKE2s, so WeftCrypto implements RFC 7693 in Swift.
#include <sodium.h>
