// A plain C Dijkstra, the baseline Weft's SPF (RFC 2328 §16.1) is measured against: the graph
// in compressed sparse row form, a binary min-heap with lazy deletion, distances and
// predecessors out. Nothing OSPF-specific: no next hops, no stub networks, no routing table.
#ifndef CDIJKSTRA_H
#define CDIJKSTRA_H

#include <stdint.h>

/// Shortest paths from `source` over a directed graph of `vertex_count` vertices whose edges
/// out of vertex v are `edge_target[i]`, `edge_weight[i]` for i in
/// [first_edge[v], first_edge[v + 1]). Fills `distance` (UINT32_MAX when unreachable) and
/// `predecessor` (UINT32_MAX for the source and unreachable vertices). Returns 0, or -1 when
/// the heap cannot be allocated.
int cdijkstra_shortest_paths(uint32_t vertex_count, const uint32_t *first_edge, const uint32_t *edge_target,
                             const uint32_t *edge_weight, uint32_t source, uint32_t *distance,
                             uint32_t *predecessor);

#endif
