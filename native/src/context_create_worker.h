// ContextCreateWorker: creates a llama_context (allocating its KV cache) off
// the JS thread and resolves with an AddonContext.
#pragma once

#include <napi.h>
#include <string>

#include "llama.h"

class AddonModel;

class ContextCreateWorker : public Napi::AsyncWorker {
public:
    ContextCreateWorker(Napi::Env env, AddonModel * model, Napi::Object model_object, Napi::Object options);

    Napi::Promise promise() { return deferred_.Promise(); }

protected:
    void Execute() override;
    void OnOK() override;
    void OnError(const Napi::Error & error) override;

private:
    Napi::Promise::Deferred deferred_;
    Napi::ObjectReference   model_ref_;
    AddonModel *            model_;
    llama_context_params    params_;
    llama_context *         ctx_ = nullptr;
};
