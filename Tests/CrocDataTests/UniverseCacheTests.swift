import CrocSupport
import CrocTestSupport
import Foundation
import Testing

@testable import CrocData

/// A fresh temporary folder.
private func folder(_ name: String) throws -> String {
    let dir = testTemporaryDirectory() + "crocbot-cache-\(name)-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

private func write(_ text: String, _ path: String) throws {
    try text.write(toFile: path, atomically: false, encoding: .utf8)
}

/// Everything a universe holds, compared field by field (values by bit pattern).
private func expectSame(_ a: Universe, _ b: Universe, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(a.symbols == b.symbols, sourceLocation: sourceLocation)
    #expect(a.timestamps == b.timestamps, sourceLocation: sourceLocation)
    #expect(a.layout == b.layout, sourceLocation: sourceLocation)
    #expect(a.barLength == b.barLength, sourceLocation: sourceLocation)
    #expect(a.timeZone == b.timeZone, sourceLocation: sourceLocation)
    #expect(a.runStarts == b.runStarts, sourceLocation: sourceLocation)
    for (x, y) in zip(a.members, b.members) {
        #expect(x.pricePrecision == y.pricePrecision, sourceLocation: sourceLocation)
        #expect(x.timestamps == y.timestamps, sourceLocation: sourceLocation)
        for (u, v) in [(x.open, y.open), (x.high, y.high), (x.low, y.low), (x.close, y.close), (x.volume, y.volume)] {
            #expect(u.map(\.bitPattern) == v.map(\.bitPattern), sourceLocation: sourceLocation)
        }
    }
}

private func address(_ a: [Double]) -> Int { a.withUnsafeBufferPointer { Int(bitPattern: $0.baseAddress) } }

/// A wide file of closes whose calendars do not line up (a late listing, an early delisting, a gap).
private let wideText = """
    Date,AAA,BBB,CCC
    2020-01-01,10.5,,7.25
    2020-01-02,10.75,20.5,7.5
    2020-01-03,11,20.25,
    2020-01-06,11.25,20,7.75
    2020-01-07,,19.5,8

    """

@Suite("Universe cache")
struct UniverseCacheTests {
    @Test("A wide file: stored, then read back identical, sharing the close-only columns again")
    func wideHit() throws {
        let dir = try folder("wide")
        let file = dir + "/wide.csv"
        try write(wideText, file)
        let cache = UniverseCache(directory: dir + "/cache")
        let fresh = try UniverseLoader.load(path: file)
        let first = try cache.load(path: file)
        #expect(first.outcome == .stored)
        expectSame(first.universe, fresh)
        let second = try cache.load(path: file)
        #expect(second.outcome == .hit)
        expectSame(second.universe, fresh)
        #expect(second.universe.runStarts == [0, 1, -1])
        // open = high = low = close: one storage, as the loader made it (not four copies).
        let m = second.universe.members[1]
        #expect(address(m.open) == address(m.close) && address(m.high) == address(m.close) && address(m.low) == address(m.close))
    }

    @Test("An edit of one digit (same size) is a miss: the new value is read, the entry replaced")
    func editIsMiss() throws {
        let dir = try folder("edit")
        let file = dir + "/wide.csv"
        try write(wideText, file)
        let cache = UniverseCache(directory: dir + "/cache")
        _ = try cache.load(path: file)
        try write(wideText.replacingOccurrences(of: "20.25", with: "20.35"), file)
        let edited = try cache.load(path: file)
        #expect(edited.outcome == .stored)
        #expect(edited.universe.members[1].close == [20.5, 20.35, 20, 19.5])
        #expect(try cache.load(path: file).outcome == .hit)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/cache").filter { $0.hasSuffix(".crocu") }.count == 1)
    }

    @Test("A folder: a file added or edited is a miss; a non-CSV file is the loader's error; symbols are part of the key")
    func folderLayout() throws {
        let dir = try folder("folder")
        let data = dir + "/data"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        try write("date,open,high,low,close,volume\n2020-01-01,1,2,0.5,1.5,100\n2020-01-02,1.5,2.5,1,2,200\n", data + "/AAA.csv")
        try write("date,close\n2020-01-02,5\n2020-01-03,6\n", data + "/BBB.csv")
        let cache = UniverseCache(directory: dir + "/cache")
        #expect(try cache.load(path: data).outcome == .stored)
        let hit = try cache.load(path: data)
        #expect(hit.outcome == .hit)
        expectSame(hit.universe, try UniverseLoader.load(path: data))
        #expect(hit.universe.members[0].high == [2, 2.5] && hit.universe.members[0].volume == [100, 200])

        try write("date,close\n2020-01-01,9\n", data + "/CCC.csv")
        let added = try cache.load(path: data)
        #expect(added.outcome == .stored && added.universe.symbols == ["AAA", "BBB", "CCC"])

        let picked = try cache.load(path: data, symbols: ["CCC", "AAA"])
        #expect(picked.outcome == .stored && picked.universe.symbols == ["CCC", "AAA"])
        #expect(try cache.load(path: data, symbols: ["CCC", "AAA"]).outcome == .hit)
        // A symbol left out of the selection may change without a miss; one selected may not.
        try write("date,close\n2020-01-02,5\n2020-01-03,6.5\n", data + "/BBB.csv")
        #expect(try cache.load(path: data, symbols: ["CCC", "AAA"]).outcome == .hit)
        #expect(try cache.load(path: data).outcome == .stored)

        try write("notes", data + "/README.txt")
        #expect(throws: UniverseError.notCSV(path: data + "/README.txt")) { try cache.load(path: data) }
    }

    @Test("A long file whose calendars do not line up reads back the same")
    func longLayout() throws {
        let dir = try folder("long")
        let file = dir + "/long.csv"
        try write(
            """
            date,symbol,open,high,low,close,volume
            2020-01-01,XX,1,2,0.5,1.5,10
            2020-01-02,XX,1.5,2.5,1,2,30
            2020-01-02,YY,3,4,2.5,3.5,20
            2020-01-03,YY,3.5,4.5,3,4,40
            2020-01-04,XX,1.5,2.5,1,2,30
            2020-01-04,YY,3.5,4.5,3,4,40
            2020-01-05,XX,1.5,2.5,1,2.25,50

            """,
            file
        )
        let cache = UniverseCache(directory: dir + "/cache")
        _ = try cache.load(path: file)
        let hit = try cache.load(path: file)
        #expect(hit.outcome == .hit)
        expectSame(hit.universe, try UniverseLoader.load(path: file))
        #expect(hit.universe.runStarts == [-1, 1])
    }

    @Test("A damaged entry (cut short, a flipped byte, another source's) is a miss and is rewritten")
    func damagedEntry() throws {
        let dir = try folder("damaged")
        let file = dir + "/wide.csv"
        try write(wideText, file)
        let cache = UniverseCache(directory: dir + "/cache")
        _ = try cache.load(path: file)
        let entry = cache.entryPath(source: file, symbols: nil, options: CSVOptions())
        let whole = try Data(contentsOf: URL(fileURLWithPath: entry))
        for damaged in [
            whole.prefix(whole.count - 8), whole.prefix(20),
            Data(whole.enumerated().map { $0.offset == whole.count - 3 ? $0.element ^ 1 : $0.element }),
        ] {
            try damaged.write(to: URL(fileURLWithPath: entry))
            let again = try cache.load(path: file)
            #expect(again.outcome == .stored)
            expectSame(again.universe, try UniverseLoader.load(path: file))
        }
        // An entry written for other bytes is never read for these.
        let other = dir + "/other.csv"
        try write(wideText.replacingOccurrences(of: "10.5", with: "10.6"), other)
        _ = try cache.load(path: other)
        try FileManager.default.removeItem(atPath: entry)
        try FileManager.default.copyItem(atPath: cache.entryPath(source: other, symbols: nil, options: CSVOptions()), toPath: entry)
        let read = try cache.load(path: file)
        #expect(read.outcome == .stored && read.universe.members[0].close.first == 10.5)
    }

    @Test("A source with an error throws the loader's error and writes nothing; an unwritable folder still loads")
    func errors() throws {
        let dir = try folder("errors")
        let file = dir + "/bad.csv"
        try write("Date,AAA\n2020-01-01,1\n2020-01-02,x\n", file)
        let cache = UniverseCache(directory: dir + "/cache")
        var expected: UniverseError?
        do { _ = try UniverseLoader.load(path: file) } catch { expected = error }
        #expect(expected != nil)
        #expect(throws: expected!) { try cache.load(path: file) }
        #expect(!FileManager.default.fileExists(atPath: dir + "/cache"))
        #expect(throws: UniverseError.unreadable(path: dir + "/missing.csv", detail: "no such file or folder")) {
            try cache.load(path: dir + "/missing.csv")
        }

        let good = dir + "/good.csv"
        try write(wideText, good)
        try write("a file where the cache folder should be", dir + "/blocked")
        let blocked = try UniverseCache(directory: dir + "/blocked/cache").load(path: good)
        guard case .notStored(let why) = blocked.outcome else {
            Issue.record("expected notStored, got \(blocked.outcome)")
            return
        }
        #expect(why.contains("cannot create"))
        expectSame(blocked.universe, try UniverseLoader.load(path: good))
    }

    @Test("Only the most recently used entries are kept")
    func capacity() throws {
        let dir = try folder("capacity")
        let cache = UniverseCache(directory: dir + "/cache", capacity: 2)
        for i in 0..<3 { try write(wideText, dir + "/u\(i).csv") }
        #expect(try cache.load(path: dir + "/u0.csv").outcome == .stored)
        Thread.sleep(forTimeInterval: 0.02)
        #expect(try cache.load(path: dir + "/u1.csv").outcome == .stored)
        Thread.sleep(forTimeInterval: 0.02)
        // u0 was stored first but is used again now: u1 is then the least recently used.
        #expect(try cache.load(path: dir + "/u0.csv").outcome == .hit)
        Thread.sleep(forTimeInterval: 0.02)
        #expect(try cache.load(path: dir + "/u2.csv").outcome == .stored)
        let kept = try FileManager.default.contentsOfDirectory(atPath: dir + "/cache").filter { $0.hasSuffix(".crocu") }
        #expect(kept.count == 2)
        #expect(try cache.load(path: dir + "/u0.csv").outcome == .hit)
        #expect(try cache.load(path: dir + "/u2.csv").outcome == .hit)
        #expect(try cache.load(path: dir + "/u1.csv").outcome == .stored)
    }

    @Test("An entry written in the background: storing, then stored once waited for, then a hit; old temporaries removed")
    func background() throws {
        let dir = try folder("background")
        let file = dir + "/wide.csv"
        try write(wideText, file)
        let cache = UniverseCache(directory: dir + "/cache")
        try FileManager.default.createDirectory(atPath: dir + "/cache", withIntermediateDirectories: true)
        let stale = dir + "/cache/.1-2.tmp"
        let fresh = dir + "/cache/.3-4.tmp"
        try write("cut short", stale)
        try write("being written", fresh)
        try FileManager.default.setAttributes([.modificationDate: Date() - 7200], ofItemAtPath: stale)
        let first = try cache.load(path: file, background: true)
        #expect(first.outcome == .storing)
        expectSame(first.universe, try UniverseLoader.load(path: file))
        #expect(UniverseCache.waitForWrites() == [.stored])
        #expect(UniverseCache.waitForWrites().isEmpty)
        #expect(try cache.load(path: file, background: true).outcome == .hit)
        #expect(!FileManager.default.fileExists(atPath: stale) && FileManager.default.fileExists(atPath: fresh))
    }

    @Test("A single instrument's file: its own entry, its own rules (a close-only file is refused even when read as a universe before)")
    func series() throws {
        let dir = try folder("series")
        let file = dir + "/GOOG.csv"
        try write("date,open,high,low,close,volume\n2020-01-01,1,2,0.5,1.5,100\n2020-01-02,1.5,2.5,1,2,200\n2020-01-03,2,3,1.5,2.5,300\n", file)
        let cache = UniverseCache(directory: dir + "/cache")
        let fresh = try CSVBarLoader.load(path: file)
        #expect(try cache.loadSeries(path: file).outcome == .stored)
        let hit = try cache.loadSeries(path: file)
        #expect(hit.outcome == .hit && hit.series == fresh)
        // Another symbol is another entry (the symbol is part of what was read).
        let named = try cache.loadSeries(path: file, options: CSVOptions(symbol: "GOOGL"))
        #expect(named.outcome == .stored && named.series.symbol == "GOOGL")
        // The same file read as a universe is a universe entry of its own.
        #expect(try cache.load(path: file).outcome == .stored)

        let closes = dir + "/closes.csv"
        try write("date,close\n2020-01-01,1\n2020-01-02,2\n", closes)
        #expect(try cache.load(path: closes).outcome == .stored)
        #expect(throws: CSVError.self) { try cache.loadSeries(path: closes) }
        #expect(try cache.loadSeries(path: closes, options: CSVOptions(allowCloseOnly: true)).series.close == [1, 2])
        #expect(throws: CSVError.self) { try cache.loadSeries(path: dir) }
        #expect(throws: CSVError.self) { try cache.loadSeries(path: dir + "/missing.csv") }
    }

    /// The entry's source-digest words overwritten: only a load that trusts the stamp still reads it.
    private func spoilSourceDigest(_ entry: String) throws {
        let fd = open(entry, O_WRONLY)
        try #require(fd >= 0)
        defer { close(fd) }
        let junk = [UInt8](repeating: 0xA5, count: 16)
        #expect(junk.withUnsafeBytes { pwrite(fd, $0.baseAddress, 16, 8) } == 16)
    }

    /// `path`'s change time (ctime) as `stat` reports it.
    private func changeTime(_ path: String) -> timespec {
        var st = stat()
        _ = stat(path, &st)
        return st.st_ctim
    }

    /// Whether `path`'s change time is still `before` (the loops below write until it moves).
    private func unchanged(_ path: String, since before: timespec) -> Bool {
        let now = changeTime(path)
        return now.tv_sec == before.tv_sec && now.tv_nsec == before.tv_nsec
    }

    @Test("An unchanged file's stat stamp stands in for its digest; a touch, an edit that keeps size and mtime, or a recent change does not")
    func stampedHit() throws {
        let dir = try folder("stamp")
        let file = dir + "/wide.csv"
        try write(wideText, file)
        var cache = UniverseCache(directory: dir + "/cache")
        cache.settle = 0
        let entry = cache.entryPath(source: file, symbols: nil, options: CSVOptions())
        #expect(try cache.load(path: file).outcome == .stored)
        // The entry no longer names these bytes' digest, but the stamp matches: read without digesting.
        try spoilSourceDigest(entry)
        let stamped = try cache.load(path: file)
        #expect(stamped.outcome == .hit)
        expectSame(stamped.universe, try UniverseLoader.load(path: file))
        // A cache that waits for files to settle takes no stamp of one changed just now: it digests,
        // and the spoilt digest is a miss (read and stored again).
        var patient = UniverseCache(directory: dir + "/cache")
        patient.settle = 3_600
        #expect(try patient.load(path: file).outcome == .stored)

        // Touched (times changed, bytes not): the digest decides (a hit), and the entry takes the new stamp.
        let ctime = changeTime(file)
        while unchanged(file, since: ctime) {
            usleep(2_000)
            _ = utimes(file, nil)
        }
        #expect(try cache.load(path: file).outcome == .hit)
        try spoilSourceDigest(entry)
        #expect(try cache.load(path: file).outcome == .hit)

        // One digit edited, same size, the modification time set back: the change time moved, so
        // the stamp no longer matches; the digest is a miss and the new value is read.
        var st = stat()
        _ = stat(file, &st)
        let mtime = st.st_mtim
        let before = changeTime(file)
        repeat {
            usleep(2_000)
            try write(wideText.replacingOccurrences(of: "20.25", with: "20.35"), file)
        } while unchanged(file, since: before)
        var times = [timeval(tv_sec: mtime.tv_sec, tv_usec: mtime.tv_nsec / 1_000), timeval(tv_sec: mtime.tv_sec, tv_usec: mtime.tv_nsec / 1_000)]
        _ = utimes(file, &times)
        let edited = try cache.load(path: file)
        #expect(edited.outcome == .stored)
        #expect(edited.universe.members[1].close == [20.5, 20.35, 20, 19.5])

        // A single instrument's entry the same way; a folder has no stamp (always digested).
        let series = dir + "/GOOG.csv"
        try write("date,open,high,low,close,volume\n2020-01-01,1,2,0.5,1.5,100\n2020-01-02,1.5,2.5,1,2,200\n", series)
        #expect(try cache.loadSeries(path: series).outcome == .stored)
        try spoilSourceDigest(cache.entryPath(source: series, symbols: nil, options: CSVOptions(), series: true))
        #expect(try cache.loadSeries(path: series).outcome == .hit)
        #expect(UniverseCache.fileStamp(dir, settle: 0) == nil)
        #expect(UniverseCache.fileStamp(dir + "/missing.csv", settle: 0) == nil)
        // Settled only when the last change is old enough, by the clock given.
        let changed = changeTime(file)
        #expect(UniverseCache.fileStamp(file, settle: 2, now: timespec(tv_sec: changed.tv_sec + 1, tv_nsec: changed.tv_nsec)) == nil)
        #expect(UniverseCache.fileStamp(file, settle: 2, now: timespec(tv_sec: changed.tv_sec + 2, tv_nsec: changed.tv_nsec))?.count == 5)
    }

    @Test("Entries beyond the byte budget are removed, least recently used first; the newest always stays")
    func byteBudget() throws {
        let dir = try folder("bytes")
        for i in 0..<3 { try write(wideText, dir + "/u\(i).csv") }
        let one = try UniverseCache(directory: dir + "/probe").load(path: dir + "/u0.csv")
        #expect(one.outcome == .stored)
        let size = try FileManager.default.contentsOfDirectory(atPath: dir + "/probe").map {
            (try FileManager.default.attributesOfItem(atPath: dir + "/probe/" + $0)[.size] as? NSNumber)?.intValue ?? 0
        }.reduce(0, +)
        let cache = UniverseCache(directory: dir + "/cache", maxBytes: 2 * size)
        for i in 0..<3 {
            #expect(try cache.load(path: dir + "/u\(i).csv").outcome == .stored)
            Thread.sleep(forTimeInterval: 0.02)
        }
        let kept = try FileManager.default.contentsOfDirectory(atPath: dir + "/cache").filter { $0.hasSuffix(".crocu") }
        #expect(kept.count == 2)
        #expect(try cache.load(path: dir + "/u2.csv").outcome == .hit)
        #expect(try cache.load(path: dir + "/u0.csv").outcome == .stored)
        // A budget smaller than one entry keeps the newest entry alone.
        let tiny = UniverseCache(directory: dir + "/tiny", maxBytes: 1)
        #expect(try tiny.load(path: dir + "/u0.csv").outcome == .stored)
        #expect(try tiny.load(path: dir + "/u1.csv").outcome == .stored)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/tiny").filter { $0.hasSuffix(".crocu") }.count == 1)
        #expect(try tiny.load(path: dir + "/u1.csv").outcome == .hit)
    }

    @Test("A payload with any word replaced (a huge count or index, -1, 0, a precision of 99) decodes or is refused, never traps")
    func hostilePayload() throws {
        let dir = try folder("hostile")
        try write(wideText, dir + "/wide.csv")
        let entry = UniverseCache.encode(try UniverseLoader.load(path: dir + "/wide.csv"), source: ContentDigest(high: 1, low: 2))
        let payload = Array(entry[(UniverseCache.headerWords * 8)...])
        #expect(payload.withUnsafeBytes { UniverseCache.decode($0) } != nil)
        var refused = 0
        for w in 0..<(payload.count / 8) {
            for value: UInt64 in [.max, UInt64(Int64.max), 0, 99, 1 << 40] {
                var bytes = payload
                withUnsafeBytes(of: value.littleEndian) { v in for i in 0..<8 { bytes[8 * w + i] = v[i] } }
                if bytes.withUnsafeBytes({ UniverseCache.decode($0) }) == nil { refused += 1 }
            }
        }
        #expect(refused > 0)
        for cut in [0, 7, 8, payload.count / 2, payload.count - 1] {
            #expect(Array(payload.prefix(cut)).withUnsafeBytes { UniverseCache.decode($0) } == nil)
        }
    }

    @Test("The default folder follows XDG_CACHE_HOME, then HOME")
    func defaultFolder() {
        #expect(UniverseCache.defaultDirectory(environment: ["XDG_CACHE_HOME": "/x", "HOME": "/h"]) == "/x/crocbot/universes")
        #expect(UniverseCache.defaultDirectory(environment: ["XDG_CACHE_HOME": "relative", "HOME": "/h"]) == "/h/.cache/crocbot/universes")
        #expect(UniverseCache.defaultDirectory(environment: [:]) == nil)
    }
}

@Suite("Content digest")
struct ContentDigestTests {
    @Test("The same on any number of threads; any one byte changed, or one more byte, changes it")
    func digest() {
        var bytes = [UInt8](repeating: 0, count: 3 << 20 + 37)
        var state: UInt64 = 7
        for i in bytes.indices {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            bytes[i] = UInt8(truncatingIfNeeded: state >> 33)
        }
        let d = bytes.withUnsafeBytes { ContentDigest.of($0, threads: 1) }
        #expect(bytes.withUnsafeBytes { ContentDigest.of($0, threads: 2) } == d)
        #expect(bytes.withUnsafeBytes { ContentDigest.of($0, threads: 3) } == d)
        for position in [0, 9, 1 << 20, 3 << 20 + 5, bytes.count - 1] {
            var edited = bytes
            edited[position] ^= 0x10
            #expect(ContentDigest.of(edited) != d, "byte \(position)")
        }
        #expect(ContentDigest.of(bytes + [0]) != d)
        #expect(ContentDigest.of([UInt8]()) != ContentDigest.of([0]))
        #expect(ContentDigest.of([1, 2, 3]) == ContentDigest.of([1, 2, 3]))
        #expect(d.description.count == 32)
    }
}
