// Reading the configuration file and the key files it names. Plain POSIX calls rather than
// Foundation, so that the error text is the short strerror(3) one ("No such file or directory")
// and a byte buffer that held a secret can be wiped.

import Glibc

/// Whole-file reads with a size limit.
enum ConfigFile {
    /// Configuration files are small; anything bigger is a mistake (a log, a binary).
    static let configSizeLimit = 1 << 20
    /// A WireGuard key file holds 44 characters and a newline; 4 KiB is ample for any key.
    static let keySizeLimit = 4096

    /// Why a file could not be read, as one phrase.
    struct Failure: Error {
        let reason: String
    }

    /// The file's bytes; fails on any error, on a non-regular file and above `limit` bytes.
    static func read(_ path: String, limit: Int) -> Result<[UInt8], Failure> {
        // O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then refuses it anyway.
        let descriptor = retryingInterrupts { open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK) }
        guard descriptor >= 0 else { return .failure(Failure(reason: errorText())) }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { return .failure(Failure(reason: errorText())) }
        guard status.st_mode & S_IFMT == S_IFREG else { return .failure(Failure(reason: "not a regular file")) }
        guard status.st_size <= limit else {
            return .failure(Failure(reason: "larger than \(limit) bytes"))
        }
        // Read up to one byte past the limit, so a file that grew since fstat is caught too.
        var bytes = [UInt8](repeating: 0, count: limit + 1)
        var count = 0
        while count < bytes.count {
            let result = bytes.withUnsafeMutableBytes { buffer in
                retryingInterrupts { Glibc.read(descriptor, buffer.baseAddress! + count, buffer.count - count) }
            }
            if result < 0 {
                wipe(&bytes)
                return .failure(Failure(reason: errorText()))
            }
            if result == 0 { break }
            count += result
        }
        guard count <= limit else {
            wipe(&bytes)
            return .failure(Failure(reason: "larger than \(limit) bytes"))
        }
        let content = Array(bytes[0..<count])
        wipe(&bytes)
        return .success(content)
    }

    /// Overwrites a buffer that may have held key material.
    static func wipe(_ bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            // memset_explicit is C23; explicit_bzero (glibc 2.25) is not optimised away either.
            explicit_bzero(base, buffer.count)
        }
    }

    /// Resolves a path written in a configuration file: relative paths are relative to the
    /// directory of the configuration file, so a config and its keys can move together.
    static func resolve(_ path: String, relativeTo configFileName: String) -> String {
        guard !path.hasPrefix("/"), let slash = configFileName.lastIndex(of: "/") else { return path }
        return String(configFileName[...slash]) + path
    }

    private static func errorText() -> String {
        String(cString: strerror(errno))
    }

    /// A bounded retry on EINTR (a signal storm that long is a bug elsewhere).
    private static func retryingInterrupts<T: FixedWidthInteger>(_ call: () -> T) -> T {
        var result = call()
        var attempts = 1
        while result == -1 && errno == EINTR && attempts < 64 {
            result = call()
            attempts += 1
        }
        return result
    }
}
