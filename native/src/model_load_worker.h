// ModelLoadWorker: loads a GGUF file with llama_model_load_from_file off the
// JS thread, reporting progress to an optional JS callback and stopping early
// when the JS side raises its abort flag.
#pragma once

#include <napi.h>
#include <string>

#include "llama.h"

class ModelLoadWorker : public Napi::AsyncProgressWorker<float> {
public:
    ModelLoadWorker(Napi::Env env, const Napi::CallbackInfo & info);

    Napi::Promise promise() { return deferred_.Promise(); }

protected:
    void Execute(const ExecutionProgress & progress) override;
    void OnProgress(const float * data, size_t count) override;
    void OnOK() override;
    void OnError(const Napi::Error & error) override;

private:
    static bool progress_callback(float progress, void * user_data);

    Napi::Promise::Deferred deferred_;
    Napi::FunctionReference on_progress_;
    Napi::ObjectReference   abort_flag_ref_;    // keeps the flag's memory alive
    volatile int32_t *      abort_flag_ = nullptr;
    const ExecutionProgress * progress_ = nullptr;

    std::string  path_;
    int32_t      gpu_layers_ = 0;
    bool         use_mmap_ = true;
    llama_model * model_ = nullptr;
    std::string  error_code_ = "ERR_LOAD_FAILED";
};
