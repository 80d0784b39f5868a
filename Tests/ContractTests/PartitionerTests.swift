import Application
import Testing

@Suite("Partitioner")
struct PartitionerTests {
    /// FNV-1a 64 matches the published test vectors, so every language and adapter can reproduce it.
    @Test(arguments: [
        ("", 0xcbf2_9ce4_8422_2325 as UInt64),
        ("a", 0xaf63_dc4c_8601_ec8c),
        ("foobar", 0x8594_4171_f739_67e8),
    ])
    func fnv1aTestVectors(_ input: String, _ expected: UInt64) {
        #expect(Partitioner.fnv1a64(input) == expected)
    }

    /// The partition is the hash modulo the partition count, always in range.
    @Test func partitionIsHashModuloCount() {
        for key in ["driver-1", "driver-2", "", "ünïcødé", "{\"CustomerId\":1001}"] {
            for partitions in [1, 3, 8, 12] {
                let partition = Partitioner.partition(forKey: key, partitions: partitions)
                #expect(partition == Int(Partitioner.fnv1a64(key) % UInt64(partitions)), "key: \(key) / \(partitions)")
                #expect((0..<partitions).contains(partition))
            }
        }
    }

    /// Keys spread over the partitions.
    @Test func keysSpread() {
        let counts = Dictionary(grouping: (0..<800).map { "driver-\($0)" }) {
            Partitioner.partition(forKey: $0, partitions: 8)
        }.mapValues(\.count)
        #expect(counts.count == 8)
        #expect(counts.values.allSatisfy { $0 > 50 })
    }
}
