// QuantizeWorker: runs llama_model_quantize off the JS thread and reports
// per-tensor progress, parsed from llama.cpp's "[ i/ n] tensor" log lines.
#pragma once

#include <napi.h>
#include <string>

#include "llama.h"

// quantize(input: string, output: string, options: {ftype: number, threads: number},
//          onProgress?: (done: number, total: number, tensor: string) => void): Promise<void>
Napi::Value quantize_model(const Napi::CallbackInfo & info);

struct QuantizeProgress {
    int done = 0;
    int total = 0;
    std::string tensor;
};

class QuantizeWorker : public Napi::AsyncProgressQueueWorker<QuantizeProgress> {
public:
    QuantizeWorker(Napi::Env env, const Napi::CallbackInfo & info);

    Napi::Promise promise() { return deferred_.Promise(); }

protected:
    void Execute(const ExecutionProgress & progress) override;
    void OnProgress(const QuantizeProgress * data, size_t count) override;
    void OnOK() override;
    void OnError(const Napi::Error & error) override;

private:
    static void on_log_line(const char * text, void * user_data);

    Napi::Promise::Deferred   deferred_;
    Napi::FunctionReference   on_progress_;
    const ExecutionProgress * progress_ = nullptr;
    std::string input_;
    std::string output_;
    llama_model_quantize_params params_;
};
