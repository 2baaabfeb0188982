#if canImport(Glibc)
import Glibc
#endif

/// Memory advice for large, freshly allocated buffers.
public enum LargeMemory {
    /// Buffers at least this large are worth huge pages (numpy uses the same threshold).
    public static let hugePageThreshold = 4 << 20

    /// Asks the kernel to back `[pointer, pointer + bytes)` with transparent huge
    /// pages. Call before the first write; a no-op for small buffers and where
    /// unsupported (the request is advice, never an error).
    @inlinable
    public static func adviseHugePages(_ pointer: UnsafeMutableRawPointer, bytes: Int) {
        #if os(Linux)
        guard bytes >= hugePageThreshold else { return }
        let page = 4096
        let start = (Int(bitPattern: pointer) + page - 1) & ~(page - 1)
        let end = (Int(bitPattern: pointer) + bytes) & ~(page - 1)
        guard end > start, let p = UnsafeMutableRawPointer(bitPattern: start) else { return }
        _ = madvise(p, end - start, 14)  // MADV_HUGEPAGE
        #endif
    }
}
