// libsodium, called directly: the baseline that WeftCrypto is measured against.
#include <sodium.h>
