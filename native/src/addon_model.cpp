#include "addon_model.h"

#include "addon_context.h"
#include "addon_state.h"
#include "context_create_worker.h"

#include <string>
#include <vector>

namespace {
std::string meta_string(const llama_model * model, const char * key) {
    char          buf[512];
    const int32_t n = llama_model_meta_val_str(model, key, buf, sizeof(buf));
    if (n < 0) {
        return "";
    }
    if ((size_t) n < sizeof(buf)) {
        return std::string(buf, n);
    }
    std::vector<char> big(n + 1);
    llama_model_meta_val_str(model, key, big.data(), big.size());
    return std::string(big.data(), n);
}
}  // namespace

Napi::Function AddonModel::define_class(Napi::Env env) {
    return DefineClass(env, "AddonModel",
                       {
                           // tokenize(text: string, addSpecial: boolean, parseSpecial: boolean): Int32Array
                           InstanceMethod("tokenize", &AddonModel::tokenize),
                           // tokenText(token: number): string
                           InstanceMethod("tokenText", &AddonModel::token_text),
                           // info(): NativeModelInfo
                           InstanceMethod("info", &AddonModel::info),
                           // createContext(options: NativeContextOptions): Promise<AddonContext>
                           InstanceMethod("createContext", &AddonModel::create_context),
                           // dispose(): void
                           InstanceMethod("dispose", &AddonModel::dispose),
                       });
}

// new AddonModel(External<llama_model>): only constructed by ModelLoadWorker.
AddonModel::AddonModel(const Napi::CallbackInfo & info) : Napi::ObjectWrap<AddonModel>(info), env_(info.Env()) {
    if (info.Length() != 1 || !info[0].IsExternal()) {
        throw Napi::TypeError::New(info.Env(), "AddonModel cannot be constructed from JS; use loadModel()");
    }
    model           = info[0].As<Napi::External<llama_model>>().Data();
    vocab           = llama_model_get_vocab(model);
    reported_bytes_ = (int64_t) llama_model_size(model);
    Napi::MemoryManagement::AdjustExternalMemory(env_, reported_bytes_);
    addon_state(env_).models.insert(this);
}

AddonModel::~AddonModel() {
    free_native();
    addon_state(env_).models.erase(this);
}

void AddonModel::free_native() {
    if (model == nullptr) {
        return;
    }
    bool                        busy  = false;
    auto &                      state = addon_state(env_);
    std::vector<AddonContext *> mine;
    for (AddonContext * ctx : state.contexts) {
        if (ctx->owner == this) {
            mine.push_back(ctx);
        }
    }
    for (AddonContext * ctx : mine) {
        if (ctx->busy) {
            ctx->dispose_requested = true;
            busy                   = true;
        } else {
            ctx->free_native();
        }
    }
    if (busy) {
        dispose_requested = true;  // finished by the last decode's completion
        return;
    }
    llama_model_free(model);
    model = nullptr;
    vocab = nullptr;
    if (!state.tearing_down) {
        Napi::MemoryManagement::AdjustExternalMemory(env_, -reported_bytes_);
    }
    reported_bytes_ = 0;
}

Napi::Value AddonModel::tokenize(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    if (is_disposed()) {
        throw addon_error(env, "ERR_DISPOSED", "the model is disposed");
    }
    if (info.Length() < 3 || !info[0].IsString() || !info[1].IsBoolean() || !info[2].IsBoolean()) {
        throw Napi::TypeError::New(env, "tokenize(text: string, addSpecial: boolean, parseSpecial: boolean)");
    }
    const std::string text          = info[0].As<Napi::String>().Utf8Value();
    const bool        add_special   = info[1].As<Napi::Boolean>().Value();
    const bool        parse_special = info[2].As<Napi::Boolean>().Value();
    if (text.size() > (size_t) INT32_MAX / 2) {
        throw addon_error(env, "ERR_INVALID_MESSAGES", "text is too long to tokenize");
    }
    std::vector<llama_token> tokens(text.size() + 4);
    int32_t n = llama_tokenize(vocab, text.data(), (int32_t) text.size(), tokens.data(), (int32_t) tokens.size(),
                               add_special, parse_special);
    if (n < 0) {
        tokens.resize(-n);
        n = llama_tokenize(vocab, text.data(), (int32_t) text.size(), tokens.data(), (int32_t) tokens.size(),
                           add_special, parse_special);
    }
    if (n < 0) {
        throw addon_error(env, "ERR_INVALID_MESSAGES", "tokenization failed");
    }
    Napi::Int32Array out = Napi::Int32Array::New(env, n);
    std::copy(tokens.begin(), tokens.begin() + n, out.Data());
    return out;
}

Napi::Value AddonModel::token_text(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    if (is_disposed()) {
        throw addon_error(env, "ERR_DISPOSED", "the model is disposed");
    }
    if (info.Length() < 1 || !info[0].IsNumber()) {
        throw Napi::TypeError::New(env, "tokenText(token: number)");
    }
    const int32_t token = info[0].As<Napi::Number>().Int32Value();
    if (token < 0 || token >= llama_vocab_n_tokens(vocab)) {
        throw addon_error(env, "ERR_INVALID_TOKENS",
                          "token id " + std::to_string(token) + " is outside the vocabulary");
    }
    return Napi::String::New(env, llama_vocab_get_text(vocab, token));
}

Napi::Value AddonModel::info(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    if (is_disposed()) {
        throw addon_error(env, "ERR_DISPOSED", "the model is disposed");
    }
    Napi::Object out = Napi::Object::New(env);
    char         desc[256];
    llama_model_desc(model, desc, sizeof(desc));
    out.Set("description", desc);
    out.Set("architecture", meta_string(model, "general.architecture"));
    out.Set("name", meta_string(model, "general.name"));
    out.Set("fileType", meta_string(model, "general.file_type"));
    out.Set("parameterCount", Napi::Number::New(env, (double) llama_model_n_params(model)));
    out.Set("sizeBytes", Napi::Number::New(env, (double) llama_model_size(model)));
    out.Set("layerCount", llama_model_n_layer(model));
    out.Set("embeddingSize", llama_model_n_embd(model));
    out.Set("headCount", llama_model_n_head(model));
    out.Set("kvHeadCount", llama_model_n_head_kv(model));
    out.Set("trainContextLength", llama_model_n_ctx_train(model));
    out.Set("vocabSize", llama_vocab_n_tokens(vocab));
    const uint32_t n_cls  = llama_model_n_cls_out(model);
    Napi::Array    labels = Napi::Array::New(env, n_cls);
    for (uint32_t i = 0; i < n_cls; i++) {
        const char * label = llama_model_cls_label(model, i);
        labels.Set(i, label ? label : ("LABEL_" + std::to_string(i)).c_str());
    }
    out.Set("labels", labels);
    out.Set("bosToken", llama_vocab_bos(vocab));
    out.Set("eosToken", llama_vocab_eos(vocab));
    const char * tmpl = llama_model_chat_template(model, nullptr);
    out.Set("chatTemplate", tmpl ? Napi::Value(Napi::String::New(env, tmpl)) : env.Null());
    return out;
}

Napi::Value AddonModel::create_context(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    if (is_disposed() || dispose_requested) {
        throw addon_error(env, "ERR_DISPOSED", "the model is disposed");
    }
    if (info.Length() < 1 || !info[0].IsObject()) {
        throw Napi::TypeError::New(env, "createContext(options: object)");
    }
    auto * worker = new ContextCreateWorker(env, this, info.This().As<Napi::Object>(), info[0].As<Napi::Object>());
    return worker->queue();
}

Napi::Value AddonModel::dispose(const Napi::CallbackInfo & info) {
    free_native();
    return info.Env().Undefined();
}
