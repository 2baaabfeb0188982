/// A dense row-major matrix of `Double`: one sample per row.
public struct Matrix: Sendable, Hashable {
    /// Rows (samples).
    public let rows: Int
    /// Columns (features).
    public let columns: Int
    /// Values, row-major: `values[row * columns + column]`.
    public var values: [Double]

    /// Wraps row-major values.
    /// - Precondition: `values.count == rows * columns`.
    public init(rows: Int, columns: Int, values: [Double]) {
        precondition(values.count == rows * columns, "matrix needs rows × columns values")
        self.rows = rows
        self.columns = columns
        self.values = values
    }

    /// A zero matrix.
    public init(rows: Int, columns: Int) {
        self.init(rows: rows, columns: columns, values: [Double](repeating: 0, count: rows * columns))
    }

    /// Builds a matrix from rows of equal length.
    public init(_ rowArrays: [[Double]]) {
        let c = rowArrays.first?.count ?? 0
        self.init(rows: rowArrays.count, columns: c, values: rowArrays.flatMap { $0 })
    }

    /// The value at `row`, `column`.
    @inlinable
    public subscript(row: Int, column: Int) -> Double {
        get { values[row * columns + column] }
        set { values[row * columns + column] = newValue }
    }

    /// One row (a copy).
    public func row(_ i: Int) -> [Double] { Array(values[(i * columns)..<((i + 1) * columns)]) }

    /// The rows at `indices`, in that order.
    public func selecting(rows indices: [Int]) -> Matrix {
        var out = [Double]()
        out.reserveCapacity(indices.count * columns)
        for i in indices { out.append(contentsOf: values[(i * columns)..<((i + 1) * columns)]) }
        return Matrix(rows: indices.count, columns: columns, values: out)
    }

    /// The rows in `range`.
    public func slice(rows range: Range<Int>) -> Matrix {
        Matrix(rows: range.count, columns: columns, values: Array(values[(range.lowerBound * columns)..<(range.upperBound * columns)]))
    }
}

/// A supervised data set: features and one target per row.
public struct Dataset: Sendable {
    /// Features.
    public var x: Matrix
    /// Targets: 0/1 for classification, values for regression.
    public var y: [Double]

    /// Creates a data set.
    /// - Precondition: one target per row.
    public init(x: Matrix, y: [Double]) {
        precondition(x.rows == y.count, "one target per row")
        self.x = x
        self.y = y
    }

    /// Number of samples.
    public var count: Int { y.count }

    /// The samples in `range`.
    public func slice(_ range: Range<Int>) -> Dataset { Dataset(x: x.slice(rows: range), y: Array(y[range])) }
}
