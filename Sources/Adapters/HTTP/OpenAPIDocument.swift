import Foundation

/// The OpenAPI 3.1 description of the API (`Resources/openapi.yaml`), served on `/openapi.yaml`.
public enum OpenAPIDocument {
    /// The document's bytes, read once from the module bundle; nil if the resource is missing.
    public static let bytes: [UInt8]? = {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml"),
            let data = try? Data(contentsOf: url)
        else { return nil }
        return [UInt8](data)
    }()

    /// The document as text.
    public static var text: String? { bytes.map { String(decoding: $0, as: UTF8.self) } }
}
