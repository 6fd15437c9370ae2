#include "addon_context.h"

#include "addon_model.h"
#include "addon_state.h"
#include "context_decode_worker.h"

Napi::Function AddonContext::define_class(Napi::Env env) {
    return DefineClass(env, "AddonContext",
                       {
                           // decode(step: NativeDecodeStep): Promise<Float32Array>
                           InstanceMethod("decode", &AddonContext::decode),
                           // info(): NativeContextInfo
                           InstanceMethod("info", &AddonContext::info),
                           // dispose(): void
                           InstanceMethod("dispose", &AddonContext::dispose),
                       });
}

// new AddonContext(External<llama_context>, model: AddonModel, kvBytes: number, pool: External<ggml_threadpool> | undefined):
// only constructed by ContextCreateWorker.
AddonContext::AddonContext(const Napi::CallbackInfo & info) : Napi::ObjectWrap<AddonContext>(info), env_(info.Env()) {
    if (info.Length() != 4 || !info[0].IsExternal() || !info[1].IsObject() || !info[2].IsNumber() ||
        !(info[3].IsExternal() || info[3].IsUndefined())) {
        throw Napi::TypeError::New(info.Env(), "AddonContext cannot be constructed from JS; use model.createContext()");
    }
    ctx              = info[0].As<Napi::External<llama_context>>().Data();
    pool             = info[3].IsExternal() ? info[3].As<Napi::External<ggml_threadpool>>().Data() : nullptr;
    owner            = AddonModel::Unwrap(info[1].As<Napi::Object>());
    model_ref_       = Napi::Persistent(info[1].As<Napi::Object>());
    n_ctx            = llama_n_ctx(ctx);
    n_batch          = llama_n_batch(ctx);
    n_seq_max        = llama_n_seq_max(ctx);
    n_vocab          = llama_vocab_n_tokens(owner->vocab);
    // values per sequence: the head's labels for RANK pooling, the hidden state (n_embd) for LAST pooling
    n_cls_out        = llama_pooling_type(ctx) == LLAMA_POOLING_TYPE_RANK ? llama_model_n_cls_out(owner->model) :
                                                                            (uint32_t) llama_model_n_embd(owner->model);
    n_embd           = (uint32_t) llama_model_n_embd(owner->model);
    rows_ok          = llama_pooling_type(ctx) == LLAMA_POOLING_TYPE_RANK;
    kv_bytes         = info[2].As<Napi::Number>().Int64Value();
    // V8 schedules garbage collection by the memory it knows of: a context is a small JS object holding a
    // KV cache of up to gigabytes, so its size is reported until llama_free.
    int64_t adjusted = 0;
    napi_adjust_external_memory(env_, kv_bytes, &adjusted);
    addon_state(env_).contexts.insert(this);
}

AddonContext::~AddonContext() {
    free_native();
    addon_state(env_).contexts.erase(this);
}

void AddonContext::free_native() {
    if (ctx == nullptr) {
        return;
    }
    if (busy) {
        dispose_requested = true;
        return;
    }
    llama_free(ctx);
    ctx = nullptr;
    cpu_threadpool_free(pool);
    pool             = nullptr;
    int64_t adjusted = 0;
    napi_adjust_external_memory(env_, -kv_bytes, &adjusted);  // status ignored: this may run in a finalizer
    kv_bytes = 0;
}

void AddonContext::step_finished() {
    busy = false;
    if (dispose_requested) {
        free_native();
    }
    if (owner != nullptr && owner->dispose_requested) {
        owner->free_native();
    }
}

Napi::Value AddonContext::decode(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    if (is_disposed() || dispose_requested || owner->is_disposed()) {
        throw addon_error(env, "ERR_DISPOSED", "the context is disposed");
    }
    if (busy) {
        throw addon_error(env, "ERR_DECODE_FAILED", "a decode step is already running on this context");
    }
    if (info.Length() < 1 || !info[0].IsObject()) {
        throw Napi::TypeError::New(env, "decode(step: object)");
    }
    // The worker validates and copies everything on this thread; Execute never touches JS.
    auto * worker = new ContextDecodeWorker(env, this, info.This().As<Napi::Object>(), info[0].As<Napi::Object>());
    busy          = true;
    return worker->queue();
}

Napi::Value AddonContext::info(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    if (is_disposed()) {
        throw addon_error(env, "ERR_DISPOSED", "the context is disposed");
    }
    Napi::Object out = Napi::Object::New(env);
    out.Set("contextSize", n_ctx);
    out.Set("batchSize", n_batch);
    out.Set("parallel", n_seq_max);
    out.Set("labelCount", n_cls_out);
    out.Set("rowSize", rows_ok ? n_embd : 0);
    out.Set("kvCacheBytes", Napi::Number::New(env, (double) kv_bytes));
    return out;
}

Napi::Value AddonContext::dispose(const Napi::CallbackInfo & info) {
    free_native();
    return info.Env().Undefined();
}
