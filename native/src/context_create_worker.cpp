#include "context_create_worker.h"

#include "addon_model.h"
#include "js_options.h"
#include "log_capture.h"

ContextCreateWorker::ContextCreateWorker(Napi::Env    env,
                                         AddonModel * model,
                                         Napi::Object model_object,
                                         Napi::Object options) :
    PromiseWorker(env, "llama-reward:createContext", "ERR_LOAD_FAILED"),
    model_ref_(Napi::Persistent(model_object)),
    model_(model),
    params_(llama_context_default_params()) {
    const char * where      = "createContext";
    params_.n_ctx           = js_options::uint32(options, "contextSize", where, 1);
    params_.n_batch         = js_options::uint32(options, "batchSize", where, 1);
    params_.n_ubatch        = params_.n_batch;
    params_.n_seq_max       = js_options::uint32(options, "parallel", where, 1);
    params_.n_threads       = js_options::int32(options, "threads", where, 1);
    params_.n_threads_batch = params_.n_threads;
    params_.embeddings      = true;
    params_.pooling_type    = LLAMA_POOLING_TYPE_RANK;
    params_.kv_unified      = true;
    params_.no_perf         = true;
    params_.flash_attn_type = js_options::choice<llama_flash_attn_type>(options, "flashAttention", where,
                                                                        {
                                                                            { "auto", LLAMA_FLASH_ATTN_TYPE_AUTO     },
                                                                            { "on",   LLAMA_FLASH_ATTN_TYPE_ENABLED  },
                                                                            { "off",  LLAMA_FLASH_ATTN_TYPE_DISABLED },
    });
    params_.type_k          = js_options::choice<ggml_type>(options, "kvCacheType", where,
                                                            {
                                                                { "f16",  GGML_TYPE_F16  },
                                                                { "f32",  GGML_TYPE_F32  },
                                                                { "q8_0", GGML_TYPE_Q8_0 },
    });
    params_.type_v          = params_.type_k;
}

void ContextCreateWorker::Execute() {
    log_capture_clear();
    if (model_->is_disposed()) {
        fail("ERR_DISPOSED", "the model is disposed");
        return;
    }
    ctx_ = llama_init_from_model(model_->model, params_);
    if (ctx_ == nullptr) {
        const std::string why = log_capture_take();
        SetError("llama.cpp could not create the context" + (why.empty() ? std::string() : ": " + why));
    }
}

Napi::Value ContextCreateWorker::result(Napi::Env env) {
    if (model_->is_disposed()) {
        throw addon_error(env, "ERR_DISPOSED", "the model was disposed while its context was created");
    }
    Napi::Object context = addon_state(env).context_constructor.New({
        Napi::External<llama_context>::New(env, ctx_),
        model_ref_.Value(),
    });
    ctx_                 = nullptr;  // the AddonContext owns it now
    return context;
}

void ContextCreateWorker::discard() {
    llama_free(ctx_);
    ctx_ = nullptr;
}
