import Foundation

/// Applies parsed patches the way a careful `patch` would, tolerating what
/// LLMs get wrong and refusing what would be a guess.
///
/// Each hunk is found by its content (context + removed lines), not by its
/// stated line number: line numbers may be off. When a hunk's lines occur
/// more than once, the occurrence at the stated line (shifted by earlier
/// hunks) wins; if none is there, the hunk is ambiguous and refused. When
/// they do not occur at all, trailing whitespace is ignored, then up to
/// `fuzz` context lines are dropped from each end (missing or invented
/// context at the edges), still requiring a unique match.
public struct PatchApplier: Sendable {
    /// Context lines that may be dropped from each end of a hunk.
    public var fuzz: Int

    /// Creates an applier.
    public init(fuzz: Int = 2) { self.fuzz = max(0, fuzz) }

    /// Applies one file's hunks to `original` (nil: the file does not exist).
    /// - Returns: the new content, or nil when the patch deletes the file (whose hunks must
    ///   then remove every line of it). CRLF files keep their line endings.
    /// - Throws: `PatchError` naming the hunk.
    public func apply(_ patch: FilePatch, to original: String?) throws(PatchError) -> String? {
        let path = patch.path
        if patch.oldPath == nil {
            guard original == nil else { throw PatchError(.missingFile, path: path, "a new file, but the file exists") }
            let lines = patch.hunks.flatMap(\.after)
            return lines.joined(separator: "\n") + "\n"
        }
        guard let original else { throw PatchError(.missingFile, path: patch.oldPath ?? path, "the file does not exist") }
        // A pure rename (git's `rename from`/`rename to` with no hunks) keeps the content.
        if patch.hunks.isEmpty { return original }
        // CRLF files: Swift reads "\r\n" as one Character, so lines are split on the scalars and
        // the file's line ending is restored on the way out.
        let crlf = original.contains("\r\n")
        let text = crlf ? original.replacingOccurrences(of: "\r\n", with: "\n") : original
        let endsWithNewline = text.hasSuffix("\n")
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if endsWithNewline { lines.removeLast() }
        var floor = 0  // hunks apply in order, without overlapping
        var shift = 0  // lines added minus removed by earlier hunks
        for (k, hunk) in patch.hunks.enumerated() {
            let label = "hunk \(k + 1) (\(hunk.header))"
            let stated = max(0, hunk.oldStart - 1) + shift
            guard let (at, before, after) = try locate(hunk, in: lines, from: floor, stated: stated, path: path, label: label) else {
                throw PatchError(.noMatch, path: path, "\(label): its context and removed lines are not in the file")
            }
            lines.replaceSubrange(at..<(at + before), with: after)
            floor = at + after.count
            shift += after.count - before
        }
        if patch.newPath == nil {
            // A deletion is checked like any change: its hunks must remove every line of the file
            // as it is (so a stale or partial deletion is refused, and every deleted line is counted).
            guard lines.isEmpty else {
                throw PatchError(.noMatch, path: path, "a deletion must remove every line of the file; \(lines.count) line(s) would remain")
            }
            return nil
        }
        let eol = crlf ? "\r\n" : "\n"
        return lines.joined(separator: eol) + (endsWithNewline || lines.isEmpty ? eol : "")
    }

    /// Where the hunk applies: (index, lines replaced, replacement), or nil.
    private func locate(
        _ hunk: Hunk,
        in lines: [String],
        from floor: Int,
        stated: Int,
        path: String,
        label: String
    ) throws(PatchError) -> (Int, Int, [String])? {
        let body = hunk.lines
        // Leading and trailing context lines that fuzz may drop.
        let lead = body.prefix { if case .context = $0 { return true } else { return false } }.count
        let trail = body.reversed().prefix { if case .context = $0 { return true } else { return false } }.count
        for dropped in 0...fuzz {
            let dropLead = min(dropped, lead)
            let dropTrail = min(dropped, trail)
            if dropped > 0 && dropLead + dropTrail == 0 { break }
            let trimmed = Array(body.dropFirst(dropLead).dropLast(dropTrail))
            var h = hunk
            h.lines = trimmed
            let before = h.before
            guard !before.isEmpty else { continue }
            for loose in [false, true] {
                let matches = positions(of: before, in: lines, from: floor, loose: loose)
                if matches.isEmpty { continue }
                let target = stated + dropLead
                if matches.count == 1 { return (matches[0], before.count, h.after) }
                if matches.contains(target) { return (target, before.count, h.after) }
                throw PatchError(
                    .ambiguous,
                    path: path,
                    "\(label): matches at lines \(matches.prefix(5).map { String($0 + 1) }.joined(separator: ", ")), none at the stated line \(target + 1)"
                )
            }
        }
        return nil
    }

    private func positions(of needle: [String], in lines: [String], from floor: Int, loose: Bool) -> [Int] {
        guard needle.count <= lines.count - floor else { return [] }
        func same(_ a: String, _ b: String) -> Bool {
            loose ? a.trimmingTrailingWhitespace == b.trimmingTrailingWhitespace : a == b
        }
        var out: [Int] = []
        var p = floor
        while p + needle.count <= lines.count {
            var ok = true
            for j in 0..<needle.count where !same(lines[p + j], needle[j]) {
                ok = false
                break
            }
            if ok { out.append(p) }
            p += 1
        }
        return out
    }
}

extension String {
    var trimmingTrailingWhitespace: Substring {
        var s = self[...]
        while let last = s.last, last == " " || last == "\t" { s = s.dropLast() }
        return s
    }
}
