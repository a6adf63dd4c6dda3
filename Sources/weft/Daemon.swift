#if canImport(Glibc)
import Glibc
#endif

/// Background start, as wireguard-go does it: the command re-runs itself in the foreground as a
/// new session leader and waits until the child says the interface is ready (or why it is not),
/// so `weft up wg0 && wg setconf wg0 …` works like `wireguard-go wg0 && …`.
enum Daemon {
    /// Environment variable naming the descriptor on which a foreground child reports readiness.
    static let readyDescriptorVariable = "WEFT_READY_FD"

    /// Spawns `argv` (this executable, foreground flags added by the caller) detached, and waits
    /// for its readiness report. Returns nil when the child is ready, or the child's error text.
    static func spawnAndWait(arguments: [String]) -> String? {
        var pipeEnds: [Int32] = [0, 0]
        guard pipe(&pipeEnds) == 0 else { return "pipe: \(String(cString: strerror(errno)))" }
        let (readEnd, writeEnd) = (pipeEnds[0], pipeEnds[1])
        _ = fcntl(readEnd, F_SETFD, FD_CLOEXEC)
        _ = fcntl(writeEnd, F_SETFD, FD_CLOEXEC)
        // The child inherits the write end as descriptor 3 (dup2 clears CLOEXEC on the copy).
        let childDescriptor: Int32 = 3

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, writeEnd, childDescriptor)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // A new session: the daemon survives the terminal that started it.
        posix_spawnattr_setflags(&attributes, posixSpawnSetSID)

        var environment = currentEnvironment().filter { !$0.hasPrefix(readyDescriptorVariable + "=") }
        environment.append("\(readyDescriptorVariable)=\(childDescriptor)")

        let executable = "/proc/self/exe"
        var pid: pid_t = 0
        let status = withCStrings([executable] + arguments) { argv in
            withCStrings(environment) { envp in
                posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
            }
        }
        close(writeEnd)
        defer { close(readEnd) }
        guard status == 0 else { return "cannot start the background process: \(String(cString: strerror(status)))" }

        // Read the child's report until it closes the descriptor (bounded: 64 KiB).
        var report: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1024)
        while report.count < 65536 {
            let count = buffer.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            report.append(contentsOf: buffer[0..<count])
        }
        let text = String(decoding: report, as: UTF8.self)
        if text.hasPrefix("ready") { return nil }
        // No report at all means the child died before it could say why; reap and say so.
        var exitStatus: Int32 = 0
        waitpid(pid, &exitStatus, 0)
        return text.isEmpty ? "the background process exited (status \(exitStatus)) before the interface was ready" : text
    }

    /// glibc's POSIX_SPAWN_SETSID (spawn.h, behind _GNU_SOURCE, which Swift's Glibc module lacks).
    private static let posixSpawnSetSID: Int16 = 0x80

    /// In a foreground child started by `spawnAndWait`: report readiness or failure to the parent.
    static func reportToParent(error: String?) {
        guard let value = getenv(readyDescriptorVariable), let descriptor = Int32(String(cString: value)) else { return }
        unsetenv(readyDescriptorVariable)
        let message = error ?? "ready\n"
        _ = message.withCString { write(descriptor, $0, strlen($0)) }
        close(descriptor)
    }

    private static func currentEnvironment() -> [String] {
        var result: [String] = []
        var pointer = environ
        while let entry = pointer.pointee {
            result.append(String(cString: entry))
            pointer += 1
        }
        return result
    }

    private static func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
        var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
        pointers.append(nil)
        defer { pointers.forEach { free($0) } }
        return body(pointers)
    }
}
