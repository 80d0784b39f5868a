/// Reads an ODBC connection string (`Key=Value;…`, a value in braces may hold `;` and doubles `}` as `}}`) only
/// to name its target in logs: server and database, never user, password or anything else.
enum ODBCConnectionString {
    /// The pairs in order, keys as written (whitespace around keys trimmed).
    static func pairs(_ string: String) -> [(key: String, value: String)] {
        var pairs: [(String, String)] = []
        let characters = Array(string)
        var index = 0
        while index < characters.count {
            var key = ""
            while index < characters.count, characters[index] != "=", characters[index] != ";" {
                key.append(characters[index])
                index += 1
            }
            var value = ""
            if index < characters.count, characters[index] == "=" {
                index += 1
                if index < characters.count, characters[index] == "{" {
                    index += 1
                    while index < characters.count {
                        if characters[index] == "}" {
                            if index + 1 < characters.count, characters[index + 1] == "}" {
                                value.append("}")
                                index += 2
                                continue
                            }
                            index += 1
                            break
                        }
                        value.append(characters[index])
                        index += 1
                    }
                    while index < characters.count, characters[index] != ";" { index += 1 }
                } else {
                    while index < characters.count, characters[index] != ";" {
                        value.append(characters[index])
                        index += 1
                    }
                }
            }
            index += 1
            let trimmed = key.trimmingSpaces()
            if !trimmed.isEmpty { pairs.append((trimmed, value.trimmingSpaces())) }
        }
        return pairs
    }

    /// `server[,port|:port]/database` for log metadata, from `Server`/`Address`/`Addr`/`Host`/`Servername`,
    /// `Port` and `Database`/`Initial Catalog`/`DSN`; `?` for what is absent.
    static func target(_ string: String) -> String {
        var server: String?
        var port: String?
        var database: String?
        for (key, value) in pairs(string) {
            switch key.lowercased() {
            case "server", "address", "addr", "host", "servername": server = server ?? value
            case "port": port = port ?? value
            case "database", "initial catalog", "dsn": database = database ?? value
            default: continue
            }
        }
        let host = (server ?? "?") + (port.map { ":\($0)" } ?? "")
        return "\(host)/\(database ?? "?")"
    }
}

extension String {
    /// The string without leading and trailing spaces and tabs (as `ChangeEventCodec` trims numbers).
    func trimmingSpaces() -> String {
        var view = Substring(self)
        while let first = view.first, first == " " || first == "\t" { view.removeFirst() }
        while let last = view.last, last == " " || last == "\t" { view.removeLast() }
        return String(view)
    }
}
