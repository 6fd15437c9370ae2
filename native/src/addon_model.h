// AddonModel: a loaded llama_model (weights, vocabulary, metadata) exposed to
// JS. Owns the model; its contexts are AddonContext objects.
#pragma once

#include "llama.h"

#include <napi.h>

class AddonModel : public Napi::ObjectWrap<AddonModel> {
  public:
    static Napi::Function define_class(Napi::Env env);

    explicit AddonModel(const Napi::CallbackInfo & info);
    ~AddonModel() override;

    llama_model *       model             = nullptr;
    const llama_vocab * vocab             = nullptr;
    bool                dispose_requested = false;  // dispose() came while a context was decoding

    bool is_disposed() const { return model == nullptr; }

    // Frees contexts that are idle and, when none is left, the model itself.
    void free_native();

  private:
    Napi::Env env_;
    int64_t   reported_bytes_ = 0;

    Napi::Value tokenize(const Napi::CallbackInfo & info);
    Napi::Value token_text(const Napi::CallbackInfo & info);
    Napi::Value info(const Napi::CallbackInfo & info);
    Napi::Value create_context(const Napi::CallbackInfo & info);
    Napi::Value dispose(const Napi::CallbackInfo & info);
};
