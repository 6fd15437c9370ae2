// AddonContext: one llama_context in embeddings mode, RANK-pooled (rewards) or
// LAST-pooled (final-norm hidden states), with a unified KV cache shared by up to n_seq_max sequences. The JS scheduler
// drives it one decode step at a time; see context_decode_worker.h.
#pragma once

#include "cpu_threadpool.h"
#include "llama.h"

#include <napi.h>

#include <atomic>

class AddonModel;

class AddonContext : public Napi::ObjectWrap<AddonContext> {
  public:
    static Napi::Function define_class(Napi::Env env);

    explicit AddonContext(const Napi::CallbackInfo & info);
    ~AddonContext() override;

    llama_context *   ctx   = nullptr;
    ggml_threadpool * pool  = nullptr;            // ctx's CPU thread pool (cpu_threadpool.h), freed after it
    AddonModel *      owner = nullptr;
    std::atomic<bool> busy{ false };              // a decode step is running on the thread pool
    bool              dispose_requested = false;  // free once the running step finishes

    uint32_t n_ctx     = 0;
    uint32_t n_batch   = 0;
    uint32_t n_seq_max = 0;
    int32_t  n_vocab   = 0;
    uint32_t n_cls_out = 0;      // floats per output sequence: labels (RANK) or n_embd (LAST)
    uint32_t n_embd    = 0;      // floats per marked row: the final-norm hidden state (RANK contexts only)
    bool     rows_ok   = false;  // marked rows can be read (RANK pooling: patch 0011)
    int64_t  kv_bytes  = 0;      // the KV cache's size, reported to V8 as external memory while the context lives

    bool is_disposed() const { return ctx == nullptr; }

    void free_native();
    // Called by the decode worker on the JS thread when a step ends.
    void step_finished();

  private:
    Napi::Env             env_;
    Napi::ObjectReference model_ref_;  // keeps the model alive while the context lives

    Napi::Value decode(const Napi::CallbackInfo & info);
    Napi::Value info(const Napi::CallbackInfo & info);
    Napi::Value dispose(const Napi::CallbackInfo & info);
};
