// A persistent ggml CPU thread pool per llama_context. Without one, ggml's CPU backend creates n_threads - 1
// threads for every graph it computes and joins them at its end: one thread start and join per decode step,
// a fixed cost that dominates small steps (a server answering one short request at a time). llama.cpp's own
// llama-bench and llama-cli attach a pool the same way.
#pragma once

struct ggml_threadpool;

// A pool of n_threads for llama_attach_threadpool, whose idle workers sleep between steps instead of
// spinning (they would take the CPU from the JS thread between steps); nullptr when n_threads < 2 (the
// calling thread computes alone) or the CPU backend does not export the pool functions.
ggml_threadpool * cpu_threadpool_new(int n_threads);

// Frees a pool of cpu_threadpool_new (nullptr is ignored); call it after llama_free of its context.
void cpu_threadpool_free(ggml_threadpool * pool);
