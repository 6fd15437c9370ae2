// QuantizeWorker: runs llama_model_quantize off the JS thread and reports
// per-tensor progress through the quantize progress callback (native/patches/0009).
#pragma once

#include "llama.h"
#include "promise_worker.h"

#include <napi.h>

#include <string>

// quantize(input: string, output: string, options: {ftype: number, threads: number},
//          onProgress?: (done: number, total: number, tensor: string) => void): Promise<void>
Napi::Value quantize_model(const Napi::CallbackInfo & info);

struct QuantizeProgress {
    int         done  = 0;
    int         total = 0;
    std::string tensor;
};

class QuantizeWorker : public PromiseWorker<Napi::AsyncProgressQueueWorker<QuantizeProgress>> {
  public:
    QuantizeWorker(Napi::Env env, const Napi::CallbackInfo & info);

  protected:
    void        Execute(const ExecutionProgress & progress) override;
    void        OnProgress(const QuantizeProgress * data, size_t count) override;
    Napi::Value result(Napi::Env env) override;

  private:
    static void on_tensor(int32_t done, int32_t total, const char * tensor_name, void * user_data);

    ProgressCallback            on_progress_;
    const ExecutionProgress *   progress_ = nullptr;
    std::string                 input_;
    std::string                 output_;
    llama_model_quantize_params params_;
};
