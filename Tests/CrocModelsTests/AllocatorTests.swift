import CrocKernels
import Testing

@Suite("The commands' allocator settings")
struct AllocatorTests {
    @Test("after croc_tune_allocator a 48 MiB block comes from the heap (glibc maps blocks of 32 MiB and more on their own by default)")
    func largeBlocksComeFromTheHeap() {
        #if os(Linux)
        #expect(croc_tune_allocator() == 1)
        let before = croc_allocator_mapped_bytes()
        #expect(before >= 0)
        let bytes = 48 << 20
        let block = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 16)
        defer { block.deallocate() }
        block.storeBytes(of: 1, as: UInt8.self)
        #expect(croc_allocator_mapped_bytes() - before < bytes, "the block was mapped on its own")
        #endif
    }
}
