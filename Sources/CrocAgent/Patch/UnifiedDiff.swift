import Foundation

/// Why a patch could not be read or applied.
public struct PatchError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong.
    public enum Code: String, Sendable, Equatable {
        /// The text is not a unified diff.
        case malformed
        /// A hunk's lines are not in the file.
        case noMatch = "no_match"
        /// A hunk's lines are in the file more than once, none at the stated line.
        case ambiguous
        /// The file to change does not exist (or a new file already does).
        case missingFile = "missing_file"
    }

    /// What went wrong.
    public var code: Code
    /// The file concerned, if any.
    public var path: String?
    /// A message for people, naming the hunk or line.
    public var detail: String

    /// Creates an error.
    public init(_ code: Code, path: String? = nil, _ detail: String) {
        self.code = code
        self.path = path
        self.detail = detail
    }

    /// `ambiguous: Sources/A.swift: hunk 2 (@@ -10,4 +10,5 @@) matches at lines 10 and 52`.
    public var description: String { "\(code.rawValue): " + (path.map { "\($0): " } ?? "") + detail }
}

/// One line of a hunk.
public enum HunkLine: Sendable, Hashable {
    /// Unchanged.
    case context(String)
    /// Removed.
    case remove(String)
    /// Added.
    case add(String)
}

/// One `@@ -a,b +c,d @@` block.
public struct Hunk: Sendable, Hashable {
    /// The stated first old line (1-based; 0 for an empty file).
    public var oldStart: Int
    /// The stated first new line.
    public var newStart: Int
    /// The header as written.
    public var header: String
    /// The lines, in order.
    public var lines: [HunkLine]

    /// Context and removed lines: what must be in the file.
    public var before: [String] {
        lines.compactMap {
            switch $0 {
            case .context(let s), .remove(let s): return s
            case .add: return nil
            }
        }
    }

    /// Context and added lines: what replaces `before`.
    public var after: [String] {
        lines.compactMap {
            switch $0 {
            case .context(let s), .add(let s): return s
            case .remove: return nil
            }
        }
    }
}

/// The changes to one file.
public struct FilePatch: Sendable, Hashable {
    /// The path before (`nil` for a new file), without `a/`.
    public var oldPath: String?
    /// The path after (`nil` for a deletion), without `b/`.
    public var newPath: String?
    /// The hunks, in order.
    public var hunks: [Hunk]

    /// The path this patch changes.
    public var path: String { newPath ?? oldPath ?? "" }

    /// Lines added plus lines removed.
    public var changedLines: Int {
        hunks.reduce(0) { n, h in
            n
                + h.lines.reduce(0) {
                    if case .context = $1 { return $0 }
                    return $0 + 1
                }
        }
    }
}

/// A tolerant reader of unified diffs as LLMs write them.
///
/// Accepts `diff --git` headers or none, `a/`/`b/` prefixes or none, wrong
/// line counts in `@@` headers (the lines themselves are what count), empty
/// context lines that lost their leading space, `\ No newline at end of
/// file`, and prose or code fences around the diff. Refuses anything else
/// with a `PatchError` naming the line.
public enum UnifiedDiff {
    /// Parses every file patch in `text`.
    /// - Throws: `PatchError(.malformed)` when there is no patch, or a hunk has no file or a bad header.
    public static func parse(_ text: String) throws(PatchError) -> [FilePatch] {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            line.hasSuffix("\r") ? String(line.dropLast()) : String(line)
        }
        var patches: [FilePatch] = []
        var current: FilePatch?
        var hunk: Hunk?
        // Lines the hunk header says are still to come (old side, new side).
        var remaining = (old: 0, new: 0)
        // git's `rename from`/`rename to` of the current `diff --git` block.
        var renameFrom: String?
        var i = 0

        func flushHunk() {
            if let h = hunk, current != nil {
                var h2 = h
                // Trailing blank lines that are only the end of the reply are not context.
                while let last = h2.lines.last, case .context("") = last, h2.lines.count > 1 { h2.lines.removeLast() }
                current!.hunks.append(h2)
            }
            hunk = nil
        }
        func flushFile() {
            flushHunk()
            if let c = current { patches.append(c) }
            current = nil
        }

        while i < lines.count {
            let line = lines[i]
            if line.hasPrefix("diff --git ") {
                flushFile()
                renameFrom = nil
                i += 1
                continue
            }
            if hunk == nil, line.hasPrefix("rename from ") {
                flushFile()
                renameFrom = String(line.dropFirst("rename from ".count))
                i += 1
                continue
            }
            if hunk == nil, line.hasPrefix("rename to "), let from = renameFrom {
                // A rename; hunks follow when the content changes too (after its ---/+++ header).
                current = FilePatch(oldPath: from, newPath: String(line.dropFirst("rename to ".count)), hunks: [])
                renameFrom = nil
                i += 1
                continue
            }
            // Inside a hunk, `--- x` / `+++ y` are a removed `-- x` and an added `++ y` while the
            // header's counts say lines remain, unless a hunk header follows at once.
            let hunkExpectsMore = hunk != nil && (remaining.old > 0 || remaining.new > 0)
            if line.hasPrefix("--- "), i + 1 < lines.count, lines[i + 1].hasPrefix("+++ "),
                !hunkExpectsMore || (i + 2 < lines.count && lines[i + 2].hasPrefix("@@"))
            {
                // After `rename from`/`rename to`, the ---/+++ header names the same two paths.
                let pendingRename = hunk == nil && current?.hunks.isEmpty == true && current?.oldPath != current?.newPath
                if !pendingRename {
                    flushFile()
                    current = FilePatch(oldPath: path(from: line), newPath: path(from: lines[i + 1]), hunks: [])
                }
                i += 2
                continue
            }
            if line.hasPrefix("@@") {
                guard current != nil else { throw PatchError(.malformed, "line \(i + 1): hunk header before any ---/+++ file header") }
                flushHunk()
                guard let (a, c, counts) = header(line) else {
                    throw PatchError(.malformed, path: current?.path, "line \(i + 1): bad hunk header '\(line)'")
                }
                hunk = Hunk(oldStart: a, newStart: c, header: line, lines: [])
                remaining = counts
                i += 1
                continue
            }
            if hunk != nil {
                if line.hasPrefix("```") {  // the end of a fenced block
                    flushFile()
                } else if line.hasPrefix(" ") {
                    hunk!.lines.append(.context(String(line.dropFirst())))
                    remaining.old -= 1
                    remaining.new -= 1
                } else if line.hasPrefix("-") {
                    hunk!.lines.append(.remove(String(line.dropFirst())))
                    remaining.old -= 1
                } else if line.hasPrefix("+") {
                    hunk!.lines.append(.add(String(line.dropFirst())))
                    remaining.new -= 1
                } else if line.hasPrefix("\\") {
                    // "\ No newline at end of file": ignored.
                } else if line.isEmpty {
                    hunk!.lines.append(.context(""))
                    remaining.old -= 1
                    remaining.new -= 1
                } else {
                    flushFile()  // prose after the diff
                }
            }
            i += 1
        }
        flushFile()
        guard !patches.isEmpty else { throw PatchError(.malformed, "no ---/+++ file header found") }
        for p in patches {
            let isRename = p.oldPath != nil && p.newPath != nil && p.oldPath != p.newPath
            guard !p.hunks.isEmpty || isRename else { throw PatchError(.malformed, path: p.path, "no hunks") }
            for (k, h) in p.hunks.enumerated() where !h.lines.contains(where: { if case .context = $0 { return false } else { return true } }) {
                throw PatchError(.malformed, path: p.path, "hunk \(k + 1) (\(h.header)) changes nothing")
            }
        }
        return patches
    }

    /// `a/Sources/X.swift` → `Sources/X.swift`; `/dev/null` → nil. Tabs end the path (timestamps follow).
    static func path(from header: String) -> String? {
        var p = String(header.dropFirst(4))
        if let tab = p.firstIndex(of: "\t") { p = String(p[..<tab]) }
        p = p.trimmingCharacters(in: .whitespaces)
        if p == "/dev/null" { return nil }
        if p.hasPrefix("a/") || p.hasPrefix("b/") { p = String(p.dropFirst(2)) }
        return p
    }

    /// The old and new start lines of `@@ -a[,b] +c[,d] @@`, and the stated counts `b` and `d` (1 when omitted).
    static func header(_ line: String) -> (Int, Int, (old: Int, new: Int))? {
        let parts = line.split(separator: " ")
        guard parts.count >= 3, parts[1].hasPrefix("-"), parts[2].hasPrefix("+") else { return nil }
        func start(_ s: Substring) -> Int? { Int(s.dropFirst().split(separator: ",").first ?? "") }
        func count(_ s: Substring) -> Int {
            let fields = s.dropFirst().split(separator: ",")
            return fields.count > 1 ? Int(fields[1]) ?? 1 : 1
        }
        guard let a = start(parts[1]), let c = start(parts[2]) else { return nil }
        return (a, c, (count(parts[1]), count(parts[2])))
    }
}
