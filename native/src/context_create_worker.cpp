#include "context_create_worker.h"

#include "addon_model.h"
#include "ggml.h"
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
    // "rank" (default): the reward head applied at each sequence's last token (n_cls_out floats per sequence);
    // "last": the final-norm hidden state of each sequence's last token, the head's input (n_embd floats)
    params_.pooling_type    = options.Get("pooling").IsUndefined() ?
                                  LLAMA_POOLING_TYPE_RANK :
                                  js_options::choice<enum llama_pooling_type>(options, "pooling", where,
                                                                              {
                                                                                  { "rank", LLAMA_POOLING_TYPE_RANK },
                                                                                  { "last", LLAMA_POOLING_TYPE_LAST },
    });
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
        return;
    }
    pool_ = cpu_threadpool_new(params_.n_threads);
    if (pool_ != nullptr) {
        llama_attach_threadpool(ctx_, pool_, pool_);
    }
}

Napi::Value ContextCreateWorker::result(Napi::Env env) {
    if (model_->is_disposed()) {
        throw addon_error(env, "ERR_DISPOSED", "the model was disposed while its context was created");
    }
    Napi::Object context = addon_state(env).context_constructor.New({
        Napi::External<llama_context>::New(env, ctx_),
        model_ref_.Value(),
        Napi::Number::New(env, (double) kv_cache_bytes()),
        pool_ == nullptr ? env.Undefined() : Napi::External<ggml_threadpool>::New(env, pool_).As<Napi::Value>(),
    });
    ctx_                 = nullptr;  // the AddonContext owns both now
    pool_                = nullptr;
    return context;
}

// The KV cache llama_init_from_model allocated: K and V rows of every layer for every cell of the context
// (the cache is unified, so the cells are the context size). Llama's attention keys have n_embd / n_head
// values per KV head.
int64_t ContextCreateWorker::kv_cache_bytes() const {
    const llama_model * model     = model_->model;
    const int64_t       n_head    = llama_model_n_head(model);
    const int64_t       head_dim  = n_head > 0 ? llama_model_n_embd(model) / n_head : 0;
    const int64_t       n_embd_kv = head_dim * llama_model_n_head_kv(model);
    const int64_t       per_cell =
        (int64_t) ggml_row_size(params_.type_k, n_embd_kv) + (int64_t) ggml_row_size(params_.type_v, n_embd_kv);
    return (int64_t) llama_model_n_layer(model) * (int64_t) llama_n_ctx(ctx_) * per_cell;
}

void ContextCreateWorker::discard() {
    llama_free(ctx_);
    ctx_ = nullptr;
    cpu_threadpool_free(pool_);
    pool_ = nullptr;
}
