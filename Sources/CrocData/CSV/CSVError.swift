/// A problem in a CSV file, naming the file, the 1-based line and the column.
public struct CSVError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong.
    public enum Code: String, Sendable, Equatable {
        /// The file could not be opened or read.
        case unreadable = "cannot read file"
        /// No header line.
        case empty = "file is empty"
        /// A required column is absent from the header.
        case missingColumn = "required column not found in header"
        /// Two header names map to the same role.
        case duplicateColumn = "column appears twice in header"
        /// A row has more fields than the header.
        case extraFields = "row has more fields than the header"
        /// A required field is empty or the row ends early.
        case missingValue = "missing value"
        /// A field is not a number.
        case notANumber = "not a number"
        /// A field is NaN or infinite.
        case nonFinite = "NaN or infinite value"
        /// A price ≤ 0.
        case nonPositivePrice = "price must be > 0"
        /// A price or volume outside what the exact ledger represents (prices 1e-8 ... 9.2e10).
        case outOfRange = "value outside the representable range"
        /// high < low.
        case highBelowLow = "high is below low"
        /// open outside [low, high].
        case openOutsideRange = "open is outside [low, high]"
        /// close outside [low, high].
        case closeOutsideRange = "close is outside [low, high]"
        /// volume < 0.
        case negativeVolume = "volume is negative"
        /// The timestamp cannot be parsed.
        case badTimestamp = "unparseable timestamp"
        /// Same timestamp as the previous row.
        case duplicateTimestamp = "duplicate timestamp"
        /// Earlier than the previous row.
        case outOfOrderTimestamp = "timestamp earlier than the previous row"
    }

    /// What went wrong.
    public var code: Code
    /// The file path.
    public var file: String
    /// 1-based line number (the header is line 1); 0 when not about a line.
    public var line: Int
    /// 1-based column number, when about a field.
    public var column: Int?
    /// The column's header name, when about a field.
    public var columnName: String?
    /// Extra detail: the offending text or values.
    public var detail: String

    /// Creates an error.
    public init(_ code: Code, file: String, line: Int, column: Int? = nil, columnName: String? = nil, detail: String = "") {
        self.code = code
        self.file = file
        self.line = line
        self.column = column
        self.columnName = columnName
        self.detail = detail
    }

    /// `data.csv:12: column 3 (high): high is below low: high=1.0 low=2.0`.
    public var description: String {
        var s = file
        if line > 0 { s += ":\(line)" }
        s += ": "
        if let c = column { s += "column \(c)" + (columnName.map { " (\($0))" } ?? "") + ": " }
        s += code.rawValue
        if !detail.isEmpty { s += ": \(detail)" }
        return s
    }
}
