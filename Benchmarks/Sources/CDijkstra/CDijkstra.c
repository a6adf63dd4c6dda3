#include "CDijkstra.h"

#include <stdlib.h>

typedef struct {
    uint32_t distance;
    uint32_t vertex;
} heap_entry;

static void heap_push(heap_entry *heap, size_t *size, heap_entry entry) {
    size_t child = (*size)++;
    while (child > 0) {
        size_t parent = (child - 1) / 2;
        if (heap[parent].distance <= entry.distance) break;
        heap[child] = heap[parent];
        child = parent;
    }
    heap[child] = entry;
}

static heap_entry heap_pop(heap_entry *heap, size_t *size) {
    heap_entry top = heap[0];
    heap_entry last = heap[--(*size)];
    size_t parent = 0;
    for (;;) {
        size_t child = 2 * parent + 1;
        if (child >= *size) break;
        if (child + 1 < *size && heap[child + 1].distance < heap[child].distance) child++;
        if (last.distance <= heap[child].distance) break;
        heap[parent] = heap[child];
        parent = child;
    }
    heap[parent] = last;
    return top;
}

int cdijkstra_shortest_paths(uint32_t vertex_count, const uint32_t *first_edge, const uint32_t *edge_target,
                             const uint32_t *edge_weight, uint32_t source, uint32_t *distance,
                             uint32_t *predecessor) {
    // Lazy deletion: a vertex is pushed once per improvement, so at most once per edge.
    size_t capacity = (size_t)first_edge[vertex_count] + 1;
    heap_entry *heap = malloc(capacity * sizeof(heap_entry));
    if (heap == NULL) return -1;
    for (uint32_t v = 0; v < vertex_count; v++) {
        distance[v] = UINT32_MAX;
        predecessor[v] = UINT32_MAX;
    }
    size_t size = 0;
    distance[source] = 0;
    heap_push(heap, &size, (heap_entry){0, source});
    while (size > 0) {
        heap_entry top = heap_pop(heap, &size);
        if (top.distance > distance[top.vertex]) continue;  // a stale entry
        for (uint32_t e = first_edge[top.vertex]; e < first_edge[top.vertex + 1]; e++) {
            uint32_t target = edge_target[e];
            uint32_t candidate = top.distance + edge_weight[e];
            if (candidate < distance[target]) {
                distance[target] = candidate;
                predecessor[target] = top.vertex;
                heap_push(heap, &size, (heap_entry){candidate, target});
            }
        }
    }
    free(heap);
    return 0;
}
