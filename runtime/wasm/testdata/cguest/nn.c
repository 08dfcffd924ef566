// A wasm:0.1 action in C that calls wasi-nn's witx ABI directly, with no bindings: the proof that
// a guest not written in Go interoperates. Built by TestCGuest with Debian's clang, lld and
// wasi-libc (clang --target=wasm32-wasi). It expects the graph "add" (y = x + [1 2 3 4]) as
// /action/add.onnx, and prints one line of JSON: the codes of every call and the outputs.
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NN_IMPORT(name) __attribute__((import_module("wasi_ephemeral_nn"), import_name(name)))

// The witx types as wasm32 lays them out.
typedef struct {
	const uint8_t *ptr;
	uint32_t len;
} graph_builder;

typedef struct {
	const uint32_t *dims;
	uint32_t ndims;
	uint8_t type; // tensor_type: f16 0, f32 1, f64 2, u8 3, i32 4, i64 5
	const void *data;
	uint32_t len;
} tensor;

_Static_assert(sizeof(graph_builder) == 8, "graph builder layout");
_Static_assert(sizeof(tensor) == 20, "tensor layout");
_Static_assert(offsetof(tensor, type) == 8, "tensor type offset");
_Static_assert(offsetof(tensor, data) == 12, "tensor data offset");

NN_IMPORT("load") int32_t nn_load(const graph_builder *builders, uint32_t n, uint32_t encoding, uint32_t target, uint32_t *graph);
NN_IMPORT("load_by_name") int32_t nn_load_by_name(const char *name, uint32_t len, uint32_t *graph);
NN_IMPORT("init_execution_context") int32_t nn_init_execution_context(uint32_t graph, uint32_t *ctx);
NN_IMPORT("set_input") int32_t nn_set_input(uint32_t ctx, uint32_t index, const tensor *t);
NN_IMPORT("compute") int32_t nn_compute(uint32_t ctx);
NN_IMPORT("get_output") int32_t nn_get_output(uint32_t ctx, uint32_t index, void *out, uint32_t max, uint32_t *written);

enum { ENCODING_OPENVINO = 0, ENCODING_ONNX = 1, TARGET_CPU = 0, TYPE_F32 = 1, TYPE_U8 = 3 };

static const uint32_t dims[2] = {1, 4};
static const float input[4] = {10, 20, 30, 40};

// infer runs graph g on the input and prints the codes and the output as JSON fields.
static void infer(const char *label, uint32_t g) {
	uint32_t ctx = 0, written = 0;
	float out[4] = {0};
	tensor t = {dims, 2, TYPE_F32, input, sizeof input};
	int32_t c1 = nn_init_execution_context(g, &ctx);
	int32_t c2 = nn_set_input(ctx, 0, &t);
	int32_t c3 = nn_compute(ctx);
	int32_t c4 = nn_get_output(ctx, 0, out, sizeof out, &written);
	printf("\"%s\":{\"codes\":[%d,%d,%d,%d],\"written\":%u,\"output\":[%g,%g,%g,%g]},", label, c1, c2, c3, c4,
	       (unsigned)written, out[0], out[1], out[2], out[3]);
}

static uint8_t *read_file(const char *path, uint32_t *len) {
	FILE *f = fopen(path, "rb");
	if (!f) {
		return NULL;
	}
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *b = malloc(n > 0 ? (size_t)n : 1);
	if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
		free(b);
		b = NULL;
	}
	fclose(f);
	*len = (uint32_t)n;
	return b;
}

int main(void) {
	printf("{");

	uint32_t byName = 99;
	int32_t c = nn_load_by_name("add", 3, &byName);
	printf("\"load_by_name\":%d,\"graph\":%u,", c, (unsigned)byName);
	if (c == 0) {
		infer("by_name", byName);
	}

	uint32_t len = 0;
	uint8_t *model = read_file("/action/add.onnx", &len);
	if (!model) {
		printf("\"error\":\"cannot read /action/add.onnx\"}\n");
		return 0;
	}
	// Change the bytes, not the graph: a trailing doc_string (ModelProto field 6) makes a model of
	// its own for the host, loaded from bytes.
	uint8_t *copy = malloc(len + 5);
	memcpy(copy, model, len);
	memcpy(copy + len, "\x32\x03" "doc", 5);
	graph_builder b = {copy, len + 5};
	uint32_t byBytes = 99;
	c = nn_load(&b, 1, ENCODING_ONNX, TARGET_CPU, &byBytes);
	printf("\"load\":%d,\"bytes_graph\":%u,", c, (unsigned)byBytes);
	if (c == 0) {
		infer("by_bytes", byBytes);
	}

	// The error codes a guest sees.
	uint32_t g = 0, ctx = 0, written = 0;
	float small[2];
	graph_builder junk = {(const uint8_t *)"not a model", 11};
	tensor u8 = {dims, 2, TYPE_U8, input, sizeof input};
	tensor wrongDims = {dims, 1, TYPE_F32, input, sizeof input};
	int32_t notFound = nn_load_by_name("nope", 4, &g);
	int32_t encoding = nn_load(&b, 1, ENCODING_OPENVINO, TARGET_CPU, &g);
	int32_t badModel = nn_load(&junk, 1, ENCODING_ONNX, TARGET_CPU, &g);
	int32_t noBuilder = nn_load(&b, 0, ENCODING_ONNX, TARGET_CPU, &g);
	int32_t outside = nn_load_by_name((const char *)0xfffffff0u, 3, &g);
	int32_t badGraph = nn_init_execution_context(42, &ctx);
	int32_t badCtx = nn_compute(42);
	nn_init_execution_context(byName, &ctx);
	int32_t notComputed = nn_get_output(ctx, 0, small, sizeof small, &written);
	int32_t badType = nn_set_input(ctx, 0, &u8);
	int32_t badDims = nn_set_input(ctx, 0, &wrongDims);
	tensor t = {dims, 2, TYPE_F32, input, sizeof input};
	nn_set_input(ctx, 0, &t);
	nn_compute(ctx);
	int32_t tooSmall = nn_get_output(ctx, 0, small, sizeof small, &written);
	int32_t badIndex = nn_get_output(ctx, 1, small, sizeof small, &written);
	printf("\"errors\":{\"not_found\":%d,\"encoding\":%d,\"bad_model\":%d,\"no_builder\":%d,\"outside\":%d,"
	       "\"bad_graph\":%d,\"bad_context\":%d,\"not_computed\":%d,\"bad_type\":%d,\"bad_dims\":%d,"
	       "\"too_small\":%d,\"bad_index\":%d}}\n",
	       notFound, encoding, badModel, noBuilder, outside, badGraph, badCtx, notComputed, badType, badDims,
	       tooSmall, badIndex);
	return 0;
}
