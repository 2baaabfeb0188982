import Foundation
import Testing

@testable import CrocModels

let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

/// Loads a numeric CSV with a header; returns the columns' rows.
func loadCSV(_ name: String) -> [[Double]] {
    let text = try! String(contentsOf: fixtures.appendingPathComponent(name), encoding: .utf8)
    return text.split(separator: "\n").dropFirst().map { $0.split(separator: ",").map { Double($0)! } }
}

struct Reference: @unchecked Sendable {
    let json: [String: Any]
    static let shared = Reference(
        json: try! JSONSerialization.jsonObject(with: Data(contentsOf: fixtures.appendingPathComponent("sklearn.json"))) as! [String: Any]
    )
    func fit(_ key: String) -> [String: Any] { json[key] as! [String: Any] }
}

enum Data6 {
    static let rows = loadCSV("linear.csv")
    static let x = Matrix(rows.map { Array($0[0..<6]) })
    static let regression = Dataset(x: x, y: rows.map { $0[6] })
    static let classification = Dataset(x: x, y: rows.map { $0[7] })
}

enum Nonlinear {
    static let rows = loadCSV("nonlinear.csv")
    static let all = Dataset(x: Matrix(rows.map { Array($0[0..<8]) }), y: rows.map { $0[8] })
    static let train = all.slice(0..<4000)
    static let test = all.slice(4000..<6000)
}

@Suite("Learners against scikit-learn")
struct LearnerTests {
    @Test("ridge coefficients match sklearn's Ridge to 1e-8", arguments: [1.0, 0.0])
    func ridge(alpha: Double) throws {
        let ref = Reference.shared.fit(alpha == 1 ? "ridge_alpha_1" : "ridge_alpha_0")
        let m = try RidgeRegression.fit(Data6.regression, alpha: alpha)
        let coef = ref["coef"] as! [Double]
        for j in coef.indices { #expect(abs(m.coefficients[j] - coef[j]) < 1e-8, "coef \(j): \(m.coefficients[j]) vs \(coef[j])") }
        #expect(abs(m.intercept - (ref["intercept"] as! Double)) < 1e-8)
    }

    @Test("logistic regression log loss is within 1e-6 of sklearn's lbfgs")
    func logistic() throws {
        let ref = Reference.shared.fit("logistic_C_0.5")
        let (m, report) = try LogisticRegression.fit(Data6.classification, c: 0.5)
        #expect(report.converged)
        let p = m.predict(batch: Data6.x)
        let loss = Metrics.logLoss(Data6.classification.y, p)
        #expect(abs(loss - (ref["log_loss"] as! Double)) < 1e-6, "ours \(loss), sklearn \(ref["log_loss"]!)")
        #expect(abs(report.logLoss - loss) < 1e-9)
        let coef = ref["coef"] as! [Double]
        for j in coef.indices { #expect(abs(m.coefficients[j] - coef[j]) < 1e-4) }
    }

    @Test("GBDT test accuracy and AUC are within 1 point of HistGradientBoostingClassifier")
    func gbdt() throws {
        let ref = Reference.shared.fit("hgb")
        var params = GBDTParameters()
        params.rounds = 100
        params.learningRate = 0.1
        params.maxLeaves = 31
        params.minSamplesLeaf = 20
        let m = try GradientBoostedTrees.fit(Nonlinear.train, parameters: params)
        let p = m.predict(batch: Nonlinear.test.x)
        let acc = Metrics.accuracy(Nonlinear.test.y, p)
        let auc = Metrics.rocAUC(Nonlinear.test.y, p)
        #expect(abs(acc - (ref["accuracy"] as! Double)) <= 0.01, "accuracy ours \(acc), sklearn \(ref["accuracy"]!)")
        #expect(abs(auc - (ref["auc"] as! Double)) <= 0.01, "AUC ours \(auc), sklearn \(ref["auc"]!)")
        #expect(m.trees.count == 100)
        #expect(m.trees.allSatisfy { $0.feature.filter { $0 < 0 }.count <= 31 })
        // The informative features carry the gain; x6 and x7 are noise.
        #expect(m.featureGain[6] < m.featureGain[0] && m.featureGain[7] < m.featureGain[1])
    }

    @Test("MLP mean test accuracy and AUC over five seeds are within 1 point of MLPClassifier's")
    func mlp() throws {
        // One seed moves an MLP's score by several points (scikit-learn's own range here is
        // 0.833-0.882), so the comparison is mean against mean over seeds 0-4.
        let ref = Reference.shared.fit("mlp")
        var p = MLPParameters()
        p.hiddenLayers = [64, 64]
        p.activation = .relu
        p.learningRate = 1e-3
        p.batchSize = 64
        p.epochs = 200
        p.earlyStopping = true
        p.validationFraction = 0.1
        p.patience = 10
        var accs: [Double] = []
        var aucs: [Double] = []
        var epochs = 0
        var epochCounts: [Int] = []
        var m = try MultilayerPerceptron.fit(Nonlinear.train.slice(0..<10), task: .binaryClassification, parameters: p)
        for seed in 0..<5 {
            p.seed = UInt64(seed)
            m = try MultilayerPerceptron.fit(Nonlinear.train, task: .binaryClassification, parameters: p) { epochs = $0.epoch }
            let pred = m.predict(batch: Nonlinear.test.x)
            accs.append(Metrics.accuracy(Nonlinear.test.y, pred))
            aucs.append(Metrics.rocAUC(Nonlinear.test.y, pred))
            epochCounts.append(epochs)
        }
        let acc = accs.reduce(0, +) / 5
        let auc = aucs.reduce(0, +) / 5
        #expect(
            abs(acc - (ref["accuracy"] as! Double)) <= 0.01,
            "mean accuracy ours \(acc) \(accs) after \(epochCounts) epochs, sklearn \(ref["accuracy"]!)"
        )
        #expect(abs(auc - (ref["auc"] as! Double)) <= 0.01, "mean AUC ours \(auc) \(aucs), sklearn \(ref["auc"]!)")
        #expect(epochs < 200)  // early stopping ended it
        #expect(try MultilayerPerceptron.decode(m.encodeWeights()) == m)
        // Seeded: the same data and seed give the same network; partial updates move it.
        let again = try MultilayerPerceptron.fit(Nonlinear.train.slice(0..<500), task: .binaryClassification, parameters: p)
        #expect(again == (try MultilayerPerceptron.fit(Nonlinear.train.slice(0..<500), task: .binaryClassification, parameters: p)))
        let moved = again.updated(with: Nonlinear.train.slice(500..<1000))
        #expect(moved != again && moved.layers.map(\.outputs) == again.layers.map(\.outputs))
    }

    @Test("MLP with dropout and tanh fits a regression target")
    func mlpRegression() throws {
        var p = MLPParameters()
        p.hiddenLayers = [32]
        p.activation = .tanh
        p.dropout = 0.1
        p.epochs = 60
        p.learningRate = 1e-2
        let train = Data6.regression.slice(0..<1000)
        let m = try MultilayerPerceptron.fit(train, task: .regression, parameters: p)
        let test = Data6.regression.slice(1000..<1500)
        let r2 = Metrics.r2(test.y, m.predict(batch: test.x))
        #expect(r2 > 0.9, "R² \(r2)")
    }

    @Test("GBDT is deterministic for a seed, with row subsampling and depth limits")
    func gbdtDeterministic() throws {
        var params = GBDTParameters()
        params.rounds = 20
        params.subsample = 0.7
        params.maxDepth = 3
        params.seed = 42
        let a = try GradientBoostedTrees.fit(Nonlinear.train, parameters: params)
        let b = try GradientBoostedTrees.fit(Nonlinear.train, parameters: params)
        #expect(a == b)
        #expect(a.trees.allSatisfy { $0.feature.count <= 15 })  // depth 3: at most 7 splits + 8 leaves
        params.seed = 43
        #expect(try GradientBoostedTrees.fit(Nonlinear.train, parameters: params) != a)
    }

    @Test("GBDT scores through the packed forest equal the trees evaluated one by one, bit for bit (NaN goes left)")
    func gbdtPackedForest() throws {
        var params = GBDTParameters()
        params.rounds = 30
        params.maxDepth = 4
        let m = try GradientBoostedTrees.fit(Nonlinear.train, parameters: params)
        let x = Nonlinear.test.x
        var checked = 0
        for i in 0..<x.rows {
            var row = (0..<x.columns).map { x[i, $0] }
            if i % 3 == 0 { row[i % x.columns] = .nan }
            let expected = row.withUnsafeBufferPointer { r in m.trees.reduce(m.baseScore) { $0 + $1.evaluate(r) } }
            let packed = row.withUnsafeBufferPointer { m.rawScore($0) }
            #expect(packed.bitPattern == expected.bitPattern, "row \(i)")
            if packed.bitPattern != expected.bitPattern { break }
            checked += 1
        }
        #expect(checked == x.rows && checked > 100)
        // The batch walks each tree over all rows: the same scores, bit for bit.
        var withNaN = x
        for i in stride(from: 0, to: x.rows, by: 3) { withNaN[i, i % x.columns] = .nan }
        let batch = m.predict(batch: withNaN)
        let single = (0..<x.rows).map { m.predict(withNaN.row($0)) }
        #expect(batch.map(\.bitPattern) == single.map(\.bitPattern))
        var squared = GBDTParameters()
        squared.rounds = 5
        squared.loss = .squared
        let c = try GradientBoostedTrees.fit(Nonlinear.train, parameters: squared)
        #expect(c.predict(batch: x).map(\.bitPattern) == (0..<x.rows).map { c.predict(x.row($0)).bitPattern })
    }

    /// A depth-2 tree with a leaf at level 1 (walked complete, the leaf filling its subtree).
    static let smallTree = RegressionTree(
        feature: [1, -1, 2, -1, -1],
        threshold: [0.25, 0, -0.5, 0, 0],
        left: [1, 0, 3, 0, 0],
        right: [2, 0, 4, 0, 0],
        value: [0, 0.5, 0, -0.75, 1.25]
    )

    /// A lone leaf (depth 0).
    static let loneLeaf = RegressionTree(feature: [-1], threshold: [0], left: [0], right: [0], value: [0.125])

    @Test("GBDT forests mixing complete (shallow), packed (deep or thin) and single-leaf trees score as the trees one by one")
    func gbdtMixedForest() throws {
        // Chains of 13 and 8 splits (walked as packed nodes: too deep, and too thin for 2^8
        // slots), a depth-2 tree with a leaf at level 1 (complete, the leaf filling its subtree),
        // and a lone leaf (depth 0).
        func chain(_ depth: Int) -> RegressionTree {
            var chain = RegressionTree()
            for i in 0..<depth {
                let split = chain.feature.count
                chain.feature += [Int32(i % 3), -1]
                chain.threshold += [Double(i) * 0.1 - 0.6, 0]
                chain.left += [Int32(split + 1), 0]
                chain.right += [Int32(split + 2), 0]
                chain.value += [0, Double(i + 1) / 8]
            }
            chain.feature.append(-1)
            chain.threshold.append(0)
            chain.left.append(0)
            chain.right.append(0)
            chain.value.append(-2)
            return chain
        }
        let small = Self.smallTree
        let leaf = Self.loneLeaf
        let m = GradientBoostedTrees(
            loss: .squared,
            inputWidth: 3,
            baseScore: 0.1,
            trees: [small, chain(13), leaf, chain(8), small],
            featureGain: [0, 0, 0]
        )
        #expect(m.walks.map(\.isComplete) == [true, false, true, false, true])
        #expect(m.walks.map(\.depth) == [2, 13, 0, 8, 2])
        var rng = SplitMix64(seed: 7)
        var rows: [[Double]] = (0..<600).map { _ in (0..<3).map { _ in Double(rng.next() % 2001) / 1000 - 1 } }
        rows[0] = [.nan, .nan, .nan]
        rows[1] = [.infinity, -.infinity, .nan]
        rows[2] = [0.25, 0.25, -0.5]  // on the thresholds: left
        let batch = m.predict(batch: Matrix(rows: rows.count, columns: 3, values: rows.flatMap { $0 }))
        for (i, row) in rows.enumerated() {
            let expected = row.withUnsafeBufferPointer { r in m.trees.reduce(m.baseScore) { $0 + $1.evaluate(r) } }
            #expect(m.predict(row).bitPattern == expected.bitPattern, "row \(i)")
            #expect(batch[i].bitPattern == expected.bitPattern, "row \(i)")
        }
        // The lone leaf, the small tree's leaf at level 1 and the chain's paths are all reached.
        #expect(Set(batch).count > 20)
    }

    @Test("GBDT batch scores through the gather kernel equal the scalar walk and the trees one by one, bit for bit")
    func gbdtGatherKernel() throws {
        // Complete trees of depths 0 to 6 (a fitted forest, a lone leaf, a tree with a leaf above
        // the bottom) beside a packed chain; 603 rows: two blocks of 256 and a tail that is not a
        // multiple of 8; NaN, ±∞ and values on the thresholds.
        var params = GBDTParameters()
        params.rounds = 40
        params.maxDepth = 6
        let fitted = try GradientBoostedTrees.fit(Nonlinear.train, parameters: params)
        let m = GradientBoostedTrees(
            loss: .squared,
            inputWidth: fitted.inputWidth,
            baseScore: 0.1,
            trees: [Self.loneLeaf] + fitted.trees + [Self.smallTree],
            featureGain: fitted.featureGain
        )
        #expect(m.walks.allSatisfy(\.isComplete) && Set(m.walks.map(\.depth)).isSuperset(of: [0, 2, 6]))
        let width = m.inputWidth
        var rng = SplitMix64(seed: 11)
        var x = Matrix(rows: 603, columns: width, values: (0..<(603 * width)).map { _ in Double(rng.next() % 4001) / 1000 - 2 })
        for i in stride(from: 0, to: 603, by: 7) { x[i, i % width] = .nan }
        for i in stride(from: 3, to: 603, by: 11) { x[i, i % width] = i % 2 == 0 ? .infinity : -.infinity }
        for i in stride(from: 5, to: 603, by: 13) {
            // On a threshold of the fitted forest's first split: goes left.
            let s = m.trees[1]
            if s.feature[0] >= 0 { x[i, Int(s.feature[0])] = s.threshold[0] }
        }
        let kernel = m.predict(batch: x, gathers: true)
        let scalar = m.predict(batch: x, gathers: false)
        let single = (0..<x.rows).map { i in
            x.row(i).withUnsafeBufferPointer { r in m.trees.reduce(m.baseScore) { $0 + $1.evaluate(r) } }
        }
        let offScalar = zip(kernel, scalar).filter { $0.bitPattern != $1.bitPattern }.count
        let offSingle = zip(kernel, single).filter { $0.bitPattern != $1.bitPattern }.count
        #expect(kernel.count == 603 && offScalar == 0 && offSingle == 0, "\(offScalar) rows differ from the scalar walk, \(offSingle) from the trees")
        #expect(Set(kernel).count > 100)
    }

    @Test("GBDT with squared loss: bin counts read off the hessian sums give the trees counting rows gives, bit for bit")
    func gbdtHessianCounts() throws {
        var params = GBDTParameters()
        params.loss = .squared
        params.rounds = 15
        params.minSamplesLeaf = 40  // the counts decide which splits are allowed
        params.subsample = 0.8  // nodes of sampled rows: the gathered histogram path too
        params.threads = 2
        let data = Data6.regression.slice(0..<1000)
        var counting = GBDTTrainer(data: data, parameters: params)
        counting.countsRows = true
        let counted = counting.run(progress: nil)
        var reading = GBDTTrainer(data: data, parameters: params)
        let read = reading.run(progress: nil)
        #expect(read == counted)
        #expect(read.encodeWeights() == counted.encodeWeights())
        #expect(read == (try GradientBoostedTrees.fit(data, parameters: params)))
    }

    @Test("GBDT's partition of a node's rows is stable and the same on one thread or cut among several")
    func gbdtPartition() {
        var rng = SplitMix64(seed: 12)
        let n = 150_000  // past the 65,536 rows from which the partition is cut into chunks
        let column = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let rows = (0..<n).map { _ in Int32(truncatingIfNeeded: rng.next() % UInt64(n)) }
        for (range, bin) in [(0..<n, 127), (1_000..<140_000, 3), (5..<90_000, 255), (0..<70_000, 0), (200..<300, 60)] {
            // The definition: the rows with bin ≤ `bin` first, each side in its original order.
            let slice = Array(rows[range])
            let expected = slice.filter { Int(column[Int($0)]) <= bin } + slice.filter { Int(column[Int($0)]) > bin }
            for threads in [1, 2, 3, 8] {
                var r = rows
                var tmp = [Int32](repeating: -1, count: n)
                let left = r.withUnsafeMutableBufferPointer { rb in
                    tmp.withUnsafeMutableBufferPointer { tb in
                        column.withUnsafeBufferPointer { cb in
                            GBDTTrainer.partition(rb.baseAddress!, tb.baseAddress!, range, column: cb.baseAddress!, bin: bin, threads: threads)
                        }
                    }
                }
                #expect(left == slice.filter { Int(column[Int($0)]) <= bin }.count, "\(range) bin \(bin) threads \(threads)")
                #expect(Array(r[range]) == expected, "\(range) bin \(bin) threads \(threads)")
                #expect(
                    Array(r[..<range.lowerBound]) == Array(rows[..<range.lowerBound])
                        && Array(r[range.upperBound...]) == Array(rows[range.upperBound...])
                )
            }
        }
    }

    @Test("GBDT's bins: the branch-free search counts the edges below each value, as a binary search does; NaN in bin 0")
    func gbdtBinSearch() {
        var rng = SplitMix64(seed: 4)
        for count in [0, 1, 2, 3, 7, 64, 254, 255] {
            let edges = (0..<count).map { _ in rng.uniform() * 10 - 5 }.sorted()
            var probes = edges + edges.map { $0.nextUp } + edges.map { $0.nextDown }
            probes += (0..<200).map { _ in rng.uniform() * 12 - 6 } + [.infinity, -.infinity, .nan, 0, -0.0]
            edges.withUnsafeBufferPointer { e in
                for v in probes {
                    let expected = v.isNaN ? 0 : edges.filter { $0 < v }.count
                    #expect(Int(BinMapper.bin(v, e)) == expected, "\(count) edges, value \(v)")
                }
                // Four at a time (interleaved searches) and the rest one by one, from a strided column.
                let strided: [Double] = probes.flatMap { [$0, -1.0] }
                var out = [UInt8](repeating: 255, count: probes.count)
                strided.withUnsafeBufferPointer { x in
                    out.withUnsafeMutableBufferPointer { BinMapper.bin(0..<probes.count, of: x.baseAddress!, stride: 2, e, into: $0.baseAddress!) }
                }
                #expect(out == probes.map { BinMapper.bin($0, e) }, "\(count) edges, batch")
            }
        }
    }

    @Test("GBDT trains the same trees on one thread or two, on enough rows for every parallel path")
    func gbdtThreads() throws {
        var rng = SplitMix64(seed: 8)
        let n = 140_000
        let width = 4
        let x = (0..<(n * width)).map { _ in rng.uniform() * 2 - 1 }
        let y = (0..<n).map { i in x[i * width] - 0.5 * x[i * width + 1] * x[i * width + 2] + 0.1 * (rng.uniform() - 0.5) }
        for loss in [BoostingLoss.squared, .logistic] {
            let labels = loss == .squared ? y : y.map { $0 > 0 ? 1.0 : 0.0 }
            let data = Dataset(x: Matrix(rows: n, columns: width, values: x), y: labels)
            var params = GBDTParameters()
            params.loss = loss
            params.rounds = 3
            params.maxDepth = 4
            params.threads = 1
            let one = try GradientBoostedTrees.fit(data, parameters: params)
            params.threads = 2
            let two = try GradientBoostedTrees.fit(data, parameters: params)
            #expect(one.encodeWeights() == two.encodeWeights(), "\(loss)")
            // A progress report (the loss summed in row order) changes nothing in the trees.
            var reports = 0
            let reported = try GradientBoostedTrees.fit(data, parameters: params) { _ in reports += 1 }
            #expect(reported.encodeWeights() == two.encodeWeights() && reports == 3, "\(loss)")
        }
    }

    @Test("GBDT with squared loss fits a regression target")
    func gbdtRegression() throws {
        var params = GBDTParameters()
        params.loss = .squared
        params.rounds = 200
        let m = try GradientBoostedTrees.fit(Data6.regression.slice(0..<1000), parameters: params)
        let test = Data6.regression.slice(1000..<1500)
        let r2 = Metrics.r2(test.y, m.predict(batch: test.x))
        #expect(r2 > 0.9, "R² \(r2)")
        #expect(m.task == .regression)
    }

    @Test("fitted parameters round-trip through their binary encoding; corrupt bytes are refused")
    func encoding() throws {
        let r = try RidgeRegression.fit(Data6.regression)
        #expect(try RidgeRegression.decode(r.encodeWeights()) == r)
        let l = try LogisticRegression.fit(Data6.classification).model
        #expect(try LogisticRegression.decode(l.encodeWeights()) == l)
        var params = GBDTParameters()
        params.rounds = 5
        let g = try GradientBoostedTrees.fit(Nonlinear.train, parameters: params)
        #expect(try GradientBoostedTrees.decode(g.encodeWeights()) == g)
        #expect(throws: ModelError.self) { try RidgeRegression.decode(Array(r.encodeWeights().dropLast(3))) }
        #expect(throws: ModelError.self) { try LogisticRegression.decode(l.encodeWeights() + [0]) }
        #expect(throws: ModelError.self) { try GradientBoostedTrees.decode(Array("{\"trees\": 3}".utf8)) }
    }

    @Test("GBDT weights: the fast reader reads what JSONDecoder reads, in any layout; what it does not take falls back")
    func gbdtFastReader() throws {
        var params = GBDTParameters()
        params.rounds = 20
        params.loss = .squared
        let g = try GradientBoostedTrees.fit(Data6.regression.slice(0..<800), parameters: params)
        let bytes = g.encodeWeights()
        let slow = try JSONDecoder().decode(GradientBoostedTrees.Payload.self, from: Foundation.Data(bytes))
        let fast = try #require(ForestJSON.decode(bytes))
        #expect(fast.trees == slow.trees && fast.featureGain == slow.featureGain)
        #expect(fast.baseScore.bitPattern == slow.baseScore.bitPattern && fast.inputWidth == slow.inputWidth && fast.loss == slow.loss)
        #expect(fast.trees.flatMap(\.threshold).map(\.bitPattern) == slow.trees.flatMap(\.threshold).map(\.bitPattern))
        // Another layout of the same document: indented, keys in declaration order.
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted]
        let pretty = Array(try encoder.encode(slow))
        #expect(try #require(ForestJSON.decode(pretty)).trees == slow.trees)
        #expect(try GradientBoostedTrees.decode(pretty) == g)
        // Integers read without strtod give strtod's doubles: signs, zeros, 15 and 16 digits.
        let numbers = "[0, -0, 7, -12, 123456789012345, -999999999999999, 1234567890123456, 1e3, -0.0, 2.5, 00012]"
        let doc = """
            {"loss": "squared", "inputWidth": 1, "baseScore": -0, "featureGain": \(numbers),
             "trees": [{"feature": [-1], "threshold": \(numbers), "left": [0], "right": [0], "value": [3]}]}
            """
        let expected = [0, -0.0, 7, -12, 123_456_789_012_345, -999_999_999_999_999, 1_234_567_890_123_456, 1000, -0.0, 2.5, 12]
        let read = try #require(ForestJSON.decode(Array(doc.utf8)))
        #expect(read.featureGain.map(\.bitPattern) == expected.map(\.bitPattern))
        #expect(read.trees[0].threshold.map(\.bitPattern) == expected.map(\.bitPattern))
        #expect(read.baseScore.bitPattern == (-0.0).bitPattern && read.trees[0].value == [3])
        // Truncated or with trailing bytes: not taken, and the decoder's error is a typed one.
        #expect(ForestJSON.decode(Array(bytes.dropLast(2))) == nil)
        #expect(ForestJSON.decode(bytes + Array(" x".utf8)) == nil)
        #expect(throws: ModelError.self) { try GradientBoostedTrees.decode(Array(bytes.dropLast(2))) }
    }

    @Test("bad inputs are typed errors")
    func errors() {
        #expect(throws: ModelError.self) { try RidgeRegression.fit(Data6.regression, alpha: -1) }
        #expect(throws: ModelError.self) { try LogisticRegression.fit(Data6.regression) }  // non-0/1 targets
        var p = GBDTParameters()
        p.maxBins = 300
        #expect(throws: ModelError.self) { try GradientBoostedTrees.fit(Nonlinear.train, parameters: p) }
        let collinear = Dataset(x: Matrix([[1, 2], [2, 4], [3, 6]]), y: [1, 2, 3])
        #expect(throws: ModelError.self) { try RidgeRegression.fit(collinear, alpha: 0) }
    }

    @Test("metrics on hand-checked values")
    func metrics() {
        #expect(Metrics.rocAUC([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75)
        #expect(Metrics.accuracy([0, 1, 1], [0.2, 0.7, 0.4]) == 2.0 / 3.0)
        #expect(Metrics.r2([1, 2, 3], [1, 2, 3]) == 1)
        #expect(Metrics.informationCoefficient([1, 2, 3, 4], [10, 20, 30, 40]) == 1)
        let pr = Metrics.precisionRecall([1, 0, 1, 0], [0.9, 0.8, 0.2, 0.1])
        #expect(pr.precision == 0.5 && pr.recall == 0.5)
    }
}
