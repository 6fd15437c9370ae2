#include "context_create_worker.h"

#include <stdexcept>

#include "addon_model.h"
#include "addon_state.h"
#include "log_capture.h"

namespace {
uint32_t get_u32(Napi::Object options, const char * key, uint32_t min_value) {
    Napi::Value v = options.Get(key);
    if (!v.IsNumber()) {
        throw Napi::TypeError::New(options.Env(), std::string("createContext: ") + key + " must be a number");
    }
    const double d = v.As<Napi::Number>().DoubleValue();
    if (!(d >= min_value) || d > 1e9 || d != (double) (uint32_t) d) {
        throw Napi::RangeError::New(options.Env(), std::string("createContext: invalid ") + key);
    }
    return (uint32_t) d;
}

ggml_type kv_type(Napi::Env env, const std::string & name) {
    if (name == "f16") return GGML_TYPE_F16;
    if (name == "f32") return GGML_TYPE_F32;
    if (name == "q8_0") return GGML_TYPE_Q8_0;
    throw Napi::RangeError::New(env, "createContext: kvCacheType must be f16, f32 or q8_0");
}
}  // namespace

ContextCreateWorker::ContextCreateWorker(Napi::Env env, AddonModel * model, Napi::Object model_object, Napi::Object options)
    : Napi::AsyncWorker(env, "llama-reward:createContext"),
      deferred_(Napi::Promise::Deferred::New(env)),
      model_ref_(Napi::Persistent(model_object)),
      model_(model),
      params_(llama_context_default_params()) {
    params_.n_ctx           = get_u32(options, "contextSize", 1);
    params_.n_batch         = get_u32(options, "batchSize", 1);
    params_.n_ubatch        = params_.n_batch;
    params_.n_seq_max       = get_u32(options, "parallel", 1);
    params_.n_threads       = (int32_t) get_u32(options, "threads", 1);
    params_.n_threads_batch = params_.n_threads;
    params_.embeddings      = true;
    params_.pooling_type    = LLAMA_POOLING_TYPE_RANK;
    params_.kv_unified      = true;
    params_.no_perf         = true;

    const std::string fa = options.Get("flashAttention").ToString().Utf8Value();
    if (fa == "auto") {
        params_.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_AUTO;
    } else if (fa == "on") {
        params_.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_ENABLED;
    } else if (fa == "off") {
        params_.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    } else {
        throw Napi::RangeError::New(env, "createContext: flashAttention must be auto, on or off");
    }
    params_.type_k = kv_type(env, options.Get("kvCacheType").ToString().Utf8Value());
    params_.type_v = params_.type_k;
}

void ContextCreateWorker::Execute() {
    log_capture_clear();
    if (model_->is_disposed()) {
        SetError("the model is disposed");
        return;
    }
    ctx_ = llama_init_from_model(model_->model, params_);
    if (ctx_ == nullptr) {
        const std::string why = log_capture_take();
        SetError("llama.cpp could not create the context" + (why.empty() ? std::string() : ": " + why));
    }
}

void ContextCreateWorker::OnOK() {
    Napi::Env env = Env();
    if (model_->is_disposed()) {
        llama_free(ctx_);
        deferred_.Reject(addon_error(env, "ERR_DISPOSED", "the model was disposed while its context was created").Value());
        return;
    }
    try {
        Napi::Object context = addon_state(env).context_constructor.New({
            Napi::External<llama_context>::New(env, ctx_),
            model_ref_.Value(),
        });
        deferred_.Resolve(context);
    } catch (const Napi::Error &) {
        llama_free(ctx_);  // the environment is shutting down
    }
}

void ContextCreateWorker::OnError(const Napi::Error & error) {
    try {
        deferred_.Reject(addon_error(Env(), "ERR_LOAD_FAILED", error.Message()).Value());
    } catch (const Napi::Error &) {
        // the environment is shutting down
    }
}
