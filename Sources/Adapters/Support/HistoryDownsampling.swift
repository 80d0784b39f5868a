/// The downsampling rule of `HistoryStore.routeHistory`, shared by its adapters: out of `count` points in
/// time order, all when they fit in `maxPoints`, else the first, the last and the middle point of each of
/// `maxPoints - 2` equal slices of the points in between.
package enum HistoryDownsampling {
    /// The indices (ascending) kept out of `count` points.
    package static func pickedIndices(count: Int, maxPoints: Int) -> [Int] {
        guard count > maxPoints else { return Array(0..<count) }
        guard maxPoints > 1 else { return maxPoints == 1 ? [0] : [] }
        let interior = count - 2
        let buckets = maxPoints - 2
        var result = [0]
        result.reserveCapacity(maxPoints)
        for bucket in 0..<buckets {
            let start = 1 + bucket * interior / buckets
            let end = 1 + (bucket + 1) * interior / buckets
            if start < end { result.append((start + end - 1) / 2) }
        }
        result.append(count - 1)
        return result
    }
}
