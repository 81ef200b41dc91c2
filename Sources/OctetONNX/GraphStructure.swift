import OctetCore

/// Checks of an ONNX graph's wiring made before anything is imported: every tensor name has one producer,
/// and the nodes form no cycle. Without them a second producer would silently replace the first one's value,
/// and a cycle would read as a confusing "not produced" error.
enum GraphStructure {
    /// The node producing each tensor name, by display name (first producer wins; `check` refuses a second).
    static func producers(_ graph: Onnx_GraphProto) -> [String: String] {
        var map: [String: String] = [:]
        for node in graph.node {
            for name in node.output where !name.isEmpty && map[name] == nil { map[name] = node.displayName }
        }
        return map
    }

    /// - Throws: `OctetError.invalidModel` naming the tensor and both of its producers, or a node on a cycle.
    static func check(_ graph: Onnx_GraphProto) throws {
        var producer: [String: String] = [:]
        for initializer in graph.initializer {
            if producer[initializer.name] != nil {
                throw OctetError.invalidModel(reason: "initializer '\(initializer.name)' is defined twice")
            }
            producer[initializer.name] = "initializer '\(initializer.name)'"
        }
        var inputs = Set<String>()
        for input in graph.input {
            guard inputs.insert(input.name).inserted else {
                throw OctetError.invalidModel(reason: "graph input '\(input.name)' is listed twice")
            }
            // Old exporters list initializers as inputs too: that is one tensor, not two producers.
            if producer[input.name] == nil { producer[input.name] = "graph input '\(input.name)'" }
        }
        for node in graph.node {
            for name in node.output where !name.isEmpty {
                if let first = producer[name] {
                    throw OctetError.invalidModel(
                        reason: "tensor '\(name)' is produced by both \(first) and node '\(node.displayName)' (\(node.opType)); ONNX requires one producer per name")
                }
                producer[name] = "node '\(node.displayName)'"
            }
        }
        if let cycle = cycle(graph) {
            let names = cycle.map { "'\(graph.node[$0].displayName)'" }.joined(separator: " → ")
            throw OctetError.invalidModel(
                reason: "the graph has a cycle through node '\(graph.node[cycle[0]].displayName)' (\(names) → '\(graph.node[cycle[0]].displayName)')")
        }
    }

    /// Indices of the nodes on one cycle of the node graph (each reads an output of the one before it), or nil.
    static func cycle(_ graph: Onnx_GraphProto) -> [Int]? {
        var producerIndex: [String: Int] = [:]
        for (index, node) in graph.node.enumerated() {
            for name in node.output where !name.isEmpty && producerIndex[name] == nil { producerIndex[name] = index }
        }
        let predecessors: [[Int]] = graph.node.map { node in node.input.compactMap { producerIndex[$0] } }
        // Kahn's algorithm: the nodes never freed lie on a cycle or downstream of one.
        var pending = predecessors.map(\.count)
        var successors = [[Int]](repeating: [], count: graph.node.count)
        for (index, preds) in predecessors.enumerated() { for p in preds { successors[p].append(index) } }
        var ready = pending.indices.filter { pending[$0] == 0 }
        var freed = 0
        while let index = ready.popLast() {
            freed += 1
            for s in successors[index] {
                pending[s] -= 1
                if pending[s] == 0 { ready.append(s) }
            }
        }
        guard freed < graph.node.count else { return nil }
        // Walk back through blocked predecessors until a node repeats: that stretch is a cycle.
        guard var current = pending.indices.first(where: { pending[$0] > 0 }) else { return nil }
        var seen: [Int: Int] = [:]
        var path: [Int] = []
        while seen[current] == nil {
            seen[current] = path.count
            path.append(current)
            guard let next = predecessors[current].first(where: { pending[$0] > 0 }) else { return nil }
            current = next
        }
        return Array(path[(seen[current] ?? 0)...].reversed())
    }
}
