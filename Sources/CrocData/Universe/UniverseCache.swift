import CrocCore
import CrocSupport
import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A folder of universes already read: each entry is a binary copy of what `UniverseLoader.load`
/// returned for one source (a file or a folder of files, with its symbols and CSV options),
/// stamped with a digest of the source's bytes. A later load of the same source digests those
/// bytes again (about 1 ms for 10 MB) and, when they are unchanged, copies the columns back
/// instead of parsing and validating the text again — Qlib's binary data and zipline's bundles,
/// without an ingest step to remember: any change to the source (an edit, a file added to the
/// folder) is a miss, and the source is read and validated as if there were no cache. A source
/// that is one file whose `stat` (device, inode, size, modification and change times) equals the
/// one the entry recorded is not digested again: the kernel sets a file's change time on every
/// write and no call sets it back, and the stamp is only recorded for a file last changed
/// `settle` seconds before (see `fileStamp`), so an equal stamp means the same bytes. A single
/// instrument's file read by `CSVBarLoader`'s rules goes through the same entries
/// (`loadSeries`, a universe of one, keyed apart).
///
/// Entries are keyed by the source's path, so a source keeps one entry however often it changes;
/// the least recently used entries beyond `capacity` entries or `maxBytes` bytes are removed. An entry is written to a
/// temporary file and renamed into place, so concurrent commands never read half an entry; one
/// that does not read back whole (truncated, another version, a digest that does not match its
/// bytes) is a miss and is rewritten. The cache never fails a load: when an entry cannot be
/// written the outcome says why and the universe is returned all the same.
public struct UniverseCache: Sendable {
    /// The folder holding the entries (created when the first entry is written).
    public let directory: String
    /// Entries kept: after a write, the least recently used beyond this are removed.
    public let capacity: Int
    /// Bytes kept: after a write, the least recently used entries are removed until the rest
    /// fit (the newest entry is always kept, however large).
    public let maxBytes: Int
    /// Seconds a file must have gone unchanged before its `stat` stamp is recorded and trusted
    /// in place of its digest (tests lower it; see `fileStamp`).
    var settle: Double = 2

    /// What a load did with the cache.
    public enum Outcome: Sendable, Equatable, CustomStringConvertible {
        /// The source was unchanged: its universe was read from the entry.
        case hit
        /// The source was read and validated, and its entry written.
        case stored
        /// The source was read and validated; no entry was written (the reason).
        case notStored(String)
        /// The source was read and validated; its entry is being written on another thread
        /// (`waitForWrites()` returns when it is done, with its outcome).
        case storing

        public var description: String {
            switch self {
            case .hit: return "hit"
            case .stored: return "stored"
            case .notStored(let why): return "not stored (\(why))"
            case .storing: return "storing"
            }
        }
    }

    /// A cache in `directory`.
    /// - Parameters:
    ///   - capacity: Entries kept (at least 1).
    ///   - maxBytes: Bytes kept (4 GiB by default; the newest entry always stays).
    public init(directory: String, capacity: Int = 64, maxBytes: Int = 4 << 30) {
        self.directory = directory
        self.capacity = max(1, capacity)
        self.maxBytes = max(0, maxBytes)
    }

    /// The default folder: `$XDG_CACHE_HOME/crocbot/universes`, else
    /// `$HOME/.cache/crocbot/universes`; nil when neither variable is set.
    public static func defaultDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        if let xdg = environment["XDG_CACHE_HOME"], xdg.hasPrefix("/") { return xdg + "/crocbot/universes" }
        if let home = environment["HOME"], !home.isEmpty { return home + "/.cache/crocbot/universes" }
        return nil
    }

    /// The universe `UniverseLoader.load(path:symbols:options:)` returns, from the entry when the
    /// source is unchanged since it was written.
    /// - Throws: `UniverseError`, exactly as `UniverseLoader.load` (a source with an error is never stored).
    /// - Parameter background: On a miss, write the entry on another thread (the outcome is then
    ///   `.storing`; call `waitForWrites()` before the process exits): a command's first read of a
    ///   source then costs one digest more than no cache, not the entry's encoding and writing.
    public func load(
        path: String,
        symbols: [String]? = nil,
        options: CSVOptions = .init(),
        background: Bool = false
    ) throws(UniverseError) -> (
        universe: Universe, outcome: Outcome
    ) {
        let entry = entryPath(source: path, symbols: symbols, options: options)
        // Taken before the digest: a write after it changes the file's change time.
        let stamp = Self.fileStamp(path, settle: settle)
        if let stamp, let universe = Self.read(entry: entry, stamp: stamp) { return (universe, .hit) }
        guard let before = Self.sourceDigest(path: path, symbols: symbols) else {
            // Unreadable or missing: the loader names the problem.
            return (try UniverseLoader.load(path: path, symbols: symbols, options: options), .notStored("the source could not be digested"))
        }
        if let universe = Self.read(entry: entry, source: before, restamp: stamp) { return (universe, .hit) }
        let universe = try UniverseLoader.load(path: path, symbols: symbols, options: options)
        return (universe, written(universe, source: before, stamp: stamp, entry: entry, path: path, symbols: symbols, background: background))
    }

    /// The series `CSVBarLoader.load(path:options:)` returns (a single instrument's file, read
    /// with its own rules: no close-only file unless `options` allows it), from the entry when the
    /// file is unchanged since it was written. The entries are the universe cache's (a universe
    /// of one), keyed apart from a universe read of the same file.
    /// - Throws: `CSVError`, exactly as `CSVBarLoader.load` (a file with an error is never stored).
    public func loadSeries(
        path: String,
        options: CSVOptions = .init(),
        background: Bool = false
    ) throws(CSVError) -> (
        series: BarSeries, outcome: Outcome
    ) {
        let entry = entryPath(source: path, symbols: nil, options: options, series: true)
        let stamp = Self.fileStamp(path, settle: settle)
        if let stamp, let u = Self.read(entry: entry, stamp: stamp), u.members.count == 1 { return (u.members[0], .hit) }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue,
            let before = Self.sourceDigest(path: path, symbols: nil)
        else {
            return (try CSVBarLoader.load(path: path, options: options), .notStored("the source could not be digested"))
        }
        if let u = Self.read(entry: entry, source: before, restamp: stamp), u.members.count == 1 { return (u.members[0], .hit) }
        let series = try CSVBarLoader.load(path: path, options: options)
        let one = Universe(restoring: [series], timestamps: series.timestamps, layout: .single, barLength: nil, timeZone: "", runStarts: [0])
        return (series, written(one, source: before, stamp: stamp, entry: entry, path: path, symbols: nil, background: background))
    }

    /// Writes a miss's entry, now or on another thread: stored only if the source did not change
    /// while it was read (the entry would otherwise hold other bytes than its digest names).
    private func written(
        _ universe: Universe,
        source before: ContentDigest,
        stamp: [UInt64]?,
        entry: String,
        path: String,
        symbols: [String]?,
        background: Bool
    )
        -> Outcome
    {
        let write = { @Sendable () -> Outcome in
            guard Self.sourceDigest(path: path, symbols: symbols) == before else { return .notStored("the source changed while it was read") }
            return store(universe, source: before, stamp: stamp, entry: entry)
        }
        guard background else { return write() }
        let job = Background(write)
        Self.writes.withLock { $0.append(job) }
        return .storing
    }

    /// Entries being written on other threads (`load(background: true)`), in the order started.
    private static let writes = Mutex<[Background<Outcome>]>([])

    /// Waits for the entries being written on other threads; their outcomes, in the order they
    /// were started (each collected once). A write no worker has started yet is done here, on
    /// the caller's thread (`Background`), so a process allowed one core does not wait for a
    /// thread libdispatch has not given it.
    public static func waitForWrites() -> [Outcome] {
        let jobs = writes.withLock { jobs in
            defer { jobs = [] }
            return jobs
        }
        return jobs.map(\.value)
    }

    // MARK: Keys and digests

    /// What `UniverseLoader` returns for given bytes, as a number: raise it with any change to
    /// what the loader reads from the same text (a rule, a parsed format, a derived field), so
    /// entries written by an earlier loader are never read (they are then the least recently used).
    static let loaderRevision = 1

    /// The entry's path: one per source path (made absolute), symbols, CSV options, CrocBot
    /// version and loader revision.
    /// A single instrument's read (`series`) is keyed apart, with its symbol and close-only rule.
    func entryPath(source: String, symbols: [String]?, options: CSVOptions, series: Bool = false) -> String {
        let absolute = source.hasPrefix("/") ? source : FileManager.default.currentDirectoryPath + "/" + source
        var key = "\(CrocBotVersion.current)\u{0}\(Self.loaderRevision)\u{0}"
        if series { key += "series\u{0}" + (options.symbol ?? "") + (options.allowCloseOnly ? "\u{0}true\u{0}" : "\u{0}false\u{0}") }
        key += (absolute as NSString).standardizingPath
        key += "\u{0}" + String(options.delimiter) + "\u{0}" + options.timestampFormat.key + "\u{0}"
        key += symbols.map { $0.joined(separator: "\u{0}") } ?? "*"
        return directory + "/" + FNV1a.hex(key) + ".crocu"
    }

    /// The digest of what a load of `path` reads: a file's bytes; for a folder, every name it
    /// lists (they decide the members and the errors) and the bytes of each CSV file read.
    /// Nil when the source cannot be read.
    static func sourceDigest(path: String, symbols: [String]?) -> ContentDigest? {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { return nil }
        guard isDir.boolValue else {
            guard let d = fileDigest(path) else { return nil }
            return combine([0x46], [d])  // "F"
        }
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: path).sorted() else { return nil }
        let only = symbols.map(Set.init)
        var listing: [UInt8] = [0x44]  // "D"
        var digests: [ContentDigest] = []
        for name in names where !name.hasPrefix(".") {
            listing += Array(name.utf8)
            listing.append(0)
            guard name.lowercased().hasSuffix(".csv"), name.count > 4 else { continue }
            if let only, !only.contains(String(name.dropLast(4))) { continue }
            guard let d = fileDigest((path as NSString).appendingPathComponent(name)) else { return nil }
            digests.append(d)
        }
        return combine(listing, digests)
    }

    /// Words of a stamp: device, inode, size, modification and change times (ns since the epoch).
    static let stampWords = 5

    /// The `stat` stamp of a regular file last changed at least `settle` seconds before `now`:
    /// its device, inode, size, and modification and change times in nanoseconds. Nil for a
    /// folder, a path that cannot be read, or a file changed more recently.
    /// The wait is git's rule for "racy" files: the kernel stamps a change with a coarse clock, so
    /// a second write within one tick of the first leaves the change time as it was; once a file's
    /// last change is `settle` seconds old, any later write gives it a later change time. The
    /// change time is set by the kernel on every write, truncation, rename or `utimes` (which sets
    /// the modification time back, not this one), so an equal stamp means unchanged bytes.
    static func fileStamp(_ path: String, settle: Double, now: timespec? = nil) -> [UInt64]? {
        var st = stat()
        guard stat(path, &st) == 0, st.st_mode & 0o170000 == 0o100000 else { return nil }
        var clock = timespec()
        if let now { clock = now } else { clock_gettime(CLOCK_REALTIME, &clock) }
        #if canImport(Darwin)
        let (modified, changed) = (st.st_mtimespec, st.st_ctimespec)
        #else
        let (modified, changed) = (st.st_mtim, st.st_ctim)
        #endif
        func nanoseconds(_ t: timespec) -> Int64 { Int64(t.tv_sec) &* 1_000_000_000 &+ Int64(t.tv_nsec) }
        let age = Double(nanoseconds(clock) &- nanoseconds(changed)) / 1e9
        guard age >= settle else { return nil }
        return [
            UInt64(truncatingIfNeeded: st.st_dev), UInt64(truncatingIfNeeded: st.st_ino), UInt64(truncatingIfNeeded: st.st_size),
            UInt64(bitPattern: nanoseconds(modified)), UInt64(bitPattern: nanoseconds(changed)),
        ]
    }

    /// One digest of a listing and the digests of the files it read.
    static func combine(_ listing: [UInt8], _ digests: [ContentDigest]) -> ContentDigest {
        var bytes = listing
        for d in digests {
            withUnsafeBytes(of: d.high.littleEndian) { bytes += $0 }
            withUnsafeBytes(of: d.low.littleEndian) { bytes += $0 }
        }
        return ContentDigest.of(bytes)
    }

    /// The digest of a file's bytes, read through a mapping (no copy); nil when it cannot be read.
    static func fileDigest(_ path: String) -> ContentDigest? {
        guard let file = MappedFile(path: path) else { return nil }
        defer { file.unmap() }
        return ContentDigest.of(file.bytes)
    }

    // MARK: Entry format

    /// `CROCUNI` and the format's version (2: the source's `stat` stamp in the header).
    static let magic: UInt64 = 0x0249_4E55_434F_5243
    /// Bytes before the payload: magic, source digest (2), payload byte count, payload digest (2),
    /// the source's stamp (`stampWords`; zeros when none was recorded).
    static let headerWords = 6 + stampWords

    enum BlockKind: UInt64 {
        case times = 1
        case values = 2
    }

    /// The entry's bytes: a header, then the payload (every field 8 bytes, little-endian, strings
    /// padded to 8): layout, time zone, bar length, the arrays ("blocks": each distinct storage
    /// once, so columns that shared an array share one again), the members (symbol, precision, the
    /// blocks of their six columns), the union calendar's block and the run starts.
    static func encode(_ u: Universe, source: ContentDigest, stamp: [UInt64]? = nil) -> [UInt8] {
        var words: [UInt64] = []
        func string(_ s: String) {
            let b = Array(s.utf8)
            words.append(UInt64(b.count))
            var padded = b + [UInt8](repeating: 0, count: (8 - b.count % 8) % 8)
            padded.withUnsafeMutableBytes { raw in
                for i in stride(from: 0, to: raw.count, by: 8) {
                    words.append(UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)))
                }
            }
        }
        // Blocks: each distinct array (by storage and length) once.
        var blocks: [Column] = []
        var known: [String: Int] = [:]
        func block(_ column: Column, _ id: String) -> Int {
            if let k = known[id] { return k }
            known[id] = blocks.count
            blocks.append(column)
            return blocks.count - 1
        }
        func block(_ a: [Int64]) -> Int { block(.times(a), a.withUnsafeBufferPointer { "t\(Int(bitPattern: $0.baseAddress)):\($0.count)" }) }
        func block(_ a: [Double]) -> Int { block(.values(a), a.withUnsafeBufferPointer { "v\(Int(bitPattern: $0.baseAddress)):\($0.count)" }) }
        let memberBlocks = u.members.map { m in
            [block(m.timestamps), block(m.open), block(m.high), block(m.low), block(m.close), block(m.volume)]
        }
        let union = block(u.timestamps)
        string(u.layout.rawValue)
        string(u.timeZone)
        words.append(UInt64(bitPattern: u.barLength ?? .min))
        words.append(UInt64(u.members.count))
        for (m, b) in zip(u.members, memberBlocks) {
            string(m.symbol)
            words.append(UInt64(bitPattern: Int64(m.pricePrecision)))
            for k in b { words.append(UInt64(k)) }
        }
        words.append(UInt64(union))
        for s in u.runStarts { words.append(UInt64(bitPattern: Int64(s))) }
        words.append(UInt64(blocks.count))
        var total = 0
        for b in blocks {
            let (kind, count): (BlockKind, Int)
            switch b {
            case .times(let a): (kind, count) = (.times, a.count)
            case .values(let a): (kind, count) = (.values, a.count)
            }
            words.append(kind.rawValue)
            words.append(UInt64(count))
            total += count
        }
        let head = headerWords * 8
        let metadata = words.count * 8
        let size = head + metadata + total * 8
        return [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            let out = UnsafeMutableRawPointer(buffer.baseAddress!)
            func put(_ w: UInt64, at offset: Int) { out.storeBytes(of: w.littleEndian, toByteOffset: offset, as: UInt64.self) }
            for (i, w) in words.enumerated() { put(w, at: head + 8 * i) }
            var at = head + metadata
            // Every value as a little-endian word: on a little-endian machine, the array's bytes.
            func copy<T>(_ a: [T], _ word: (T) -> UInt64) {
                a.withUnsafeBytes { bytes in
                    if 1.littleEndian == 1 {
                        if bytes.count > 0 { (out + at).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
                    } else {
                        for (i, v) in a.enumerated() { put(word(v), at: at + 8 * i) }
                    }
                }
                at += 8 * a.count
            }
            for b in blocks {
                switch b {
                case .times(let a): copy(a) { UInt64(bitPattern: $0) }
                case .values(let a): copy(a) { $0.bitPattern }
                }
            }
            let digest = ContentDigest.of(UnsafeRawBufferPointer(start: out + head, count: size - head))
            let recorded = stamp ?? Array(repeating: 0, count: stampWords)
            let header = [magic, source.high, source.low, UInt64(size - head), digest.high, digest.low] + recorded
            for (i, w) in header.enumerated() { put(w, at: 8 * i) }
            initialized = size
        }
    }

    /// The universe in the entry at `entry` when it is whole and was written for `source`; the
    /// entry then records `restamp` as its source's stamp (a file touched, its bytes unchanged).
    static func read(entry: String, source: ContentDigest, restamp: [UInt64]? = nil) -> Universe? {
        var recorded: [UInt64] = []
        let universe = read(entry: entry) { header in
            recorded = Array(header[6..<headerWords])
            return header[1] == source.high && header[2] == source.low
        }
        // Only a whole entry (payload digest checked, decoded) takes the new stamp.
        if universe != nil, let restamp, recorded != restamp { Self.restamp(entry, restamp) }
        return universe
    }

    /// The universe in the entry at `entry` when it is whole and recorded `stamp` as its
    /// source's (nonzero: one was taken), without digesting the source.
    static func read(entry: String, stamp: [UInt64]) -> Universe? {
        guard stamp.count == stampWords, stamp != Array(repeating: 0, count: stampWords) else { return nil }
        return read(entry: entry) { Array($0[6..<headerWords]) == stamp }
    }

    /// The universe in a whole entry (its magic, payload size and payload digest checked) whose
    /// header words `accepts`.
    private static func read(entry: String, accepts: ([UInt64]) -> Bool) -> Universe? {
        guard let file = MappedFile(path: entry) else { return nil }
        defer { file.unmap() }
        let raw = file.bytes
        guard raw.count >= headerWords * 8 else { return nil }
        let header = (0..<headerWords).map { UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self)) }
        guard header[0] == magic, header[3] == UInt64(raw.count - headerWords * 8), accepts(header) else { return nil }
        let payload = UnsafeRawBufferPointer(rebasing: raw[(headerWords * 8)...])
        guard ContentDigest.of(payload) == ContentDigest(high: header[4], low: header[5]) else { return nil }
        let universe = decode(payload)
        if universe != nil { _ = utimes(entry, nil) }  // most recently used
        return universe
    }

    /// Writes `stamp` over the entry's recorded stamp (one write of its header words; an entry
    /// that cannot be written keeps its old stamp, and its source is digested next time).
    static func restamp(_ entry: String, _ stamp: [UInt64]) {
        let fd = open(entry, O_WRONLY)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let bytes = stamp.flatMap { w in withUnsafeBytes(of: w.littleEndian) { Array($0) } }
        _ = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 6 * 8) }
    }

    /// Reads a payload; nil when any count or index does not fit (never trusted past its bytes).
    static func decode(_ p: UnsafeRawBufferPointer) -> Universe? {
        var r = WordReader(bytes: p)
        guard let layoutName = r.string(), let layout = UniverseLayout(rawValue: layoutName), let zone = r.string(),
            let lengthWord = r.word(), let memberCount = r.count(limit: p.count / 8), memberCount > 0
        else { return nil }
        var members: [(symbol: String, precision: Int, blocks: [Int])] = []
        members.reserveCapacity(memberCount)
        for _ in 0..<memberCount {
            guard let symbol = r.string(), let precision = r.count(limit: FixedPoint.decimals) else { return nil }
            var b: [Int] = []
            for _ in 0..<6 {
                guard let k = r.count(limit: .max) else { return nil }
                b.append(k)
            }
            members.append((symbol, precision, b))
        }
        guard let union = r.count(limit: .max) else { return nil }
        var runStarts: [Int] = []
        runStarts.reserveCapacity(memberCount)
        for _ in 0..<memberCount {
            guard let s = r.word() else { return nil }
            runStarts.append(Int(Int64(bitPattern: s)))
        }
        guard let blockCount = r.count(limit: p.count / 16) else { return nil }
        var kinds: [BlockKind] = []
        var offsets: [Int] = []
        var counts: [Int] = []
        for _ in 0..<blockCount {
            guard let k = r.word(), let kind = BlockKind(rawValue: k), let n = r.count(limit: p.count / 8) else { return nil }
            kinds.append(kind)
            counts.append(n)
        }
        var at = r.offset
        for n in counts {
            offsets.append(at)
            at += 8 * n
            guard at <= p.count else { return nil }
        }
        guard at == p.count else { return nil }
        // Every index in range, every column of a member as long as its times.
        guard union < blockCount, kinds[union] == .times else { return nil }
        for m in members {
            guard m.blocks.allSatisfy({ $0 < blockCount }), kinds[m.blocks[0]] == .times,
                m.blocks.dropFirst().allSatisfy({ kinds[$0] == .values && counts[$0] == counts[m.blocks[0]] })
            else { return nil }
        }
        guard
            runStarts.indices.allSatisfy({
                runStarts[$0] == -1
                    || (runStarts[$0] >= 0 && runStarts[$0] <= counts[union] && counts[members[$0].blocks[0]] <= counts[union] - runStarts[$0])
            })
        else {
            return nil
        }
        // The blocks, copied out on every core for a large entry.
        let columns = copyBlocks(p, kinds: kinds, offsets: offsets, counts: counts)
        func times(_ k: Int) -> [Int64] { if case .times(let a) = columns[k] { return a } else { return [] } }
        func values(_ k: Int) -> [Double] { if case .values(let a) = columns[k] { return a } else { return [] } }
        let series = members.map { m in
            BarSeries(
                restoring: m.symbol,
                pricePrecision: m.precision,
                timestamps: times(m.blocks[0]),
                open: values(m.blocks[1]),
                high: values(m.blocks[2]),
                low: values(m.blocks[3]),
                close: values(m.blocks[4]),
                volume: values(m.blocks[5])
            )
        }
        let barLength = Int64(bitPattern: lengthWord)
        return Universe(
            restoring: series,
            timestamps: times(union),
            layout: layout,
            barLength: barLength == .min ? nil : barLength,
            timeZone: zone,
            runStarts: runStarts
        )
    }

    enum Column {
        case times([Int64])
        case values([Double])
    }

    /// Each block as an array (little-endian words copied out; on every core when large).
    static func copyBlocks(_ p: UnsafeRawBufferPointer, kinds: [BlockKind], offsets: [Int], counts: [Int]) -> [Column] {
        let n = kinds.count
        guard n > 0 else { return [] }
        let total = counts.reduce(0, +)
        let tasks = max(1, min(Machine.activeCores, n, total / (1 << 18)))
        let base = UInt(bitPattern: p.baseAddress)
        return [Column](unsafeUninitializedCapacity: n) { out, initialized in
            let target = UInt(bitPattern: out.baseAddress)
            DispatchQueue.concurrentPerform(iterations: tasks) { task in
                let out = UnsafeMutablePointer<Column>(bitPattern: target)!
                let source = UnsafeRawPointer(bitPattern: base)
                var k = task
                while k < n {
                    let count = counts[k]
                    let from = source.map { $0 + offsets[k] }
                    switch kinds[k] {
                    case .times: (out + k).initialize(to: .times(column(count, from) { Int64(bitPattern: $0) }))
                    case .values: (out + k).initialize(to: .values(column(count, from) { Double(bitPattern: $0) }))
                    }
                    k += tasks
                }
            }
            initialized = n
        }
    }

    /// `count` little-endian words at `from` as an array (on a little-endian machine, one copy of
    /// the bytes). A large column (a long single series) goes into huge pages: ~2,000 fewer page
    /// faults per 8 MB.
    static func column<T: BitwiseCopyable>(_ count: Int, _ from: UnsafeRawPointer?, _ fromWord: (UInt64) -> T) -> [T] {
        [T](unsafeUninitializedCapacity: count) { a, c in
            if count > 0, let from, let base = a.baseAddress {
                LargeMemory.adviseHugePages(UnsafeMutableRawPointer(base), bytes: 8 * count)
                if 1.littleEndian == 1 {
                    UnsafeMutableRawPointer(base).copyMemory(from: from, byteCount: 8 * count)
                } else {
                    for i in 0..<count { a[i] = fromWord(UInt64(littleEndian: from.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))) }
                }
            }
            c = count
        }
    }

    /// Reads little-endian words and padded strings, never past the end.
    struct WordReader {
        let bytes: UnsafeRawBufferPointer
        var offset = 0

        mutating func word() -> UInt64? {
            guard offset + 8 <= bytes.count else { return nil }
            defer { offset += 8 }
            return UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
        }

        /// A word that is a count or an index no larger than `limit`.
        mutating func count(limit: Int) -> Int? {
            guard let w = word(), w <= UInt64(limit) else { return nil }
            return Int(w)
        }

        mutating func string() -> String? {
            guard let n = count(limit: bytes.count) else { return nil }
            let padded = (n + 7) / 8 * 8
            guard offset + padded <= bytes.count else { return nil }
            defer { offset += padded }
            return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + n)]), as: UTF8.self)
        }
    }

    // MARK: Writing

    /// Writes the entry (a temporary file renamed into place), then trims the folder to `capacity`.
    func store(_ universe: Universe, source: ContentDigest, stamp: [UInt64]? = nil, entry: String) -> Outcome {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            return .notStored("cannot create \(directory): \(error.localizedDescription)")
        }
        let bytes = Self.encode(universe, source: source, stamp: stamp)
        let temporary = directory + "/.\(getpid())-\(UInt64.random(in: 0 ... .max)).tmp"
        guard Self.write(bytes, to: temporary) else {
            unlink(temporary)
            return .notStored("cannot write in \(directory): \(String(cString: strerror(errno)))")
        }
        guard rename(temporary, entry) == 0 else {
            let why = String(cString: strerror(errno))
            unlink(temporary)
            return .notStored("cannot rename into \(entry): \(why)")
        }
        trim()
        return .stored
    }

    /// Writes `bytes` to a new file at `path` (false on any error; `errno` says which).
    static func write(_ bytes: [UInt8], to path: String) -> Bool {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return bytes.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = Foundation.write(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { return false }
                done += n
            }
            return true
        }
    }

    /// Removes the least recently used entries beyond `capacity`.
    func trim() {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        // A temporary file an hour old was left by a command that stopped while writing it.
        for name in names where name.hasSuffix(".tmp") {
            let path = directory + "/" + name
            if let date = try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date, date < Date() - 3600 { unlink(path) }
        }
        let entries = names.filter { $0.hasSuffix(".crocu") }
        let dated = entries.map { name -> (path: String, date: Date, bytes: Int) in
            let path = directory + "/" + name
            let attributes = try? FileManager.default.attributesOfItem(atPath: path)
            return (path, attributes?[.modificationDate] as? Date ?? .distantPast, (attributes?[.size] as? NSNumber)?.intValue ?? 0)
        }
        guard entries.count > capacity || dated.reduce(0, { $0 + $1.bytes }) > maxBytes else { return }
        // Most recently used first: kept while within both budgets (the first always).
        var kept = 0
        var bytes = 0
        for e in dated.sorted(by: { $0.date > $1.date }) {
            if kept == 0 || (kept < capacity && bytes + e.bytes <= maxBytes) {
                kept += 1
                bytes += e.bytes
            } else {
                unlink(e.path)
            }
        }
    }
}

/// A file mapped read-only (the bytes straight from the page cache).
struct MappedFile {
    let bytes: UnsafeRawBufferPointer
    private let length: Int

    init?(path: String) {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { _ = close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & 0o170000 == 0o100000 else { return nil }  // a regular file
        let size = Int(st.st_size)
        length = size
        guard size > 0 else {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != UnsafeMutableRawPointer(bitPattern: -1) else { return nil }
        bytes = UnsafeRawBufferPointer(start: p, count: size)
    }

    /// Unmaps the bytes (`bytes` is invalid after).
    func unmap() {
        if let p = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: p), length) }
    }
}
