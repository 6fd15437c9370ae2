// ContextCreateWorker: creates a llama_context (allocating its KV cache) off
// the JS thread and resolves with an AddonContext.
#pragma once

#include "cpu_threadpool.h"
#include "llama.h"
#include "promise_worker.h"

#include <napi.h>

#include <cstdint>

class AddonModel;

// model.createContext(options: NativeContextOptions): Promise<AddonContext>
class ContextCreateWorker : public PromiseWorker<Napi::AsyncWorker> {
  public:
    ContextCreateWorker(Napi::Env env, AddonModel * model, Napi::Object model_object, Napi::Object options);

  protected:
    void        Execute() override;
    Napi::Value result(Napi::Env env) override;
    void        discard() override;

  private:
    int64_t kv_cache_bytes() const;

    Napi::ObjectReference model_ref_;  // keeps the model alive while its context is created
    AddonModel *          model_;
    llama_context_params  params_;
    llama_context *       ctx_  = nullptr;
    ggml_threadpool *     pool_ = nullptr;  // attached to ctx_ (cpu_threadpool.h); nullptr with one thread
};
