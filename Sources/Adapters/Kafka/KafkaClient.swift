import AdapterSupport
import Application
package import CRdKafka
import Dispatch
import Domain
import Foundation
import Logging

/// Creates a librdkafka client (`rd_kafka_t`), setting every property and naming the one librdkafka refuses.
///
/// `opaque` is handed to the callbacks installed by `configure` (delivery reports, rebalances).
package func makeKafkaClient(
    type: rd_kafka_type_t,
    properties: [(String, String)],
    opaque: UnsafeMutableRawPointer?,
    configure: (OpaquePointer) -> Void = { _ in }
) throws -> OpaquePointer {
    guard let conf = rd_kafka_conf_new() else { throw KafkaConfigurationError("rd_kafka_conf_new failed") }
    var errstr = [CChar](repeating: 0, count: 512)
    for (key, value) in properties {
        let result = rd_kafka_conf_set(conf, key, value, &errstr, errstr.count)
        if result != RD_KAFKA_CONF_OK {
            rd_kafka_conf_destroy(conf)
            throw KafkaConfigurationError("kafka property \(key): \(cString(errstr))")
        }
    }
    rd_kafka_conf_set_opaque(conf, opaque)
    rd_kafka_conf_set_log_cb(conf, kafkaLog)
    configure(conf)
    // On success rd_kafka_new owns `conf`; on failure the caller still does.
    guard let client = rd_kafka_new(type, conf, &errstr, errstr.count) else {
        rd_kafka_conf_destroy(conf)
        throw KafkaConfigurationError("cannot create the Kafka client: \(cString(errstr))")
    }
    return client
}

/// What librdkafka's callbacks reach through a client's opaque: at least the logger its log lines go to.
class KafkaClientContext: @unchecked Sendable {
    let logger: Logger
    init(logger: Logger) { self.logger = logger }
}

/// librdkafka's log lines (from its own threads) go to the client's logger; clients without a context
/// (the mock cluster's) log nothing.
private func kafkaLog(
    _ client: OpaquePointer?,
    _ level: Int32,
    _ facility: UnsafePointer<CChar>?,
    _ message: UnsafePointer<CChar>?
) {
    guard let client, let opaque = rd_kafka_opaque(client) else { return }
    let logger = Unmanaged<KafkaClientContext>.fromOpaque(opaque).takeUnretainedValue().logger
    let text = "\(facility.map { String(cString: $0) } ?? ""): \(message.map { String(cString: $0) } ?? "")"
    // syslog levels: 0-3 error, 4 warning, 5-6 notice/info, 7 debug.
    switch level {
    case ...3: logger.error("librdkafka \(text)")
    case 4: logger.warning("librdkafka \(text)")
    case 5...6: logger.info("librdkafka \(text)")
    default: logger.debug("librdkafka \(text)")
    }
}

func cString(_ buffer: [CChar]) -> String {
    buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
}

/// The text of a librdkafka error code.
package func kafkaErrorText(_ error: rd_kafka_resp_err_t) -> String {
    "\(String(cString: rd_kafka_err2name(error))): \(String(cString: rd_kafka_err2str(error)))"
}

/// Consumes a `rd_kafka_error_t`, returning its text (nil when there was no error).
func takeKafkaError(_ error: OpaquePointer?) -> String? {
    guard let error else { return nil }
    defer { rd_kafka_error_destroy(error) }
    return "\(String(cString: rd_kafka_error_name(error))): \(String(cString: rd_kafka_error_string(error)))"
}

/// Milliseconds of a duration, for librdkafka timeouts.
extension Duration {
    var kafkaMilliseconds: Int32 { Int32(clamping: milliseconds) }
}

/// Starts `body` on its own thread (not Swift's cooperative pool, not Dispatch's): librdkafka's blocking
/// polls run there for the client's lifetime.
func startDedicatedThread(name: String, _ body: @escaping @Sendable () -> Void) {
    let thread = Thread { body() }
    thread.name = name
    thread.start()
}

/// A librdkafka handle that may cross threads (librdkafka's API is thread-safe for these uses).
package struct KafkaHandle: @unchecked Sendable {
    package let pointer: OpaquePointer
    package init(pointer: OpaquePointer) { self.pointer = pointer }
}

/// Where a message is: topic and partition.
struct TopicPartition: Hashable, Sendable {
    var topic: String
    var partition: Int32
}

/// Reads the entries of a partition list.
func entries(
    of list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>
)
    -> [(TopicPartition, offset: Int64, error: rd_kafka_resp_err_t)]
{
    (0..<Int(list.pointee.cnt)).map { index in
        let element = list.pointee.elems[index]
        return (
            TopicPartition(topic: String(cString: element.topic), partition: element.partition),
            element.offset, element.err
        )
    }
}

/// A new partition list with `offsets` (caller destroys it).
func makePartitionList(_ offsets: [TopicPartition: Int64]) -> UnsafeMutablePointer<rd_kafka_topic_partition_list_t> {
    let list = rd_kafka_topic_partition_list_new(Int32(max(1, offsets.count)))!
    for (partition, offset) in offsets {
        rd_kafka_topic_partition_list_add(list, partition.topic, partition.partition)?.pointee.offset = offset
    }
    return list
}
