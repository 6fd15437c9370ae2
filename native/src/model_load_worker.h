// ModelLoadWorker: loads a GGUF file with llama_model_load_from_file off the
// JS thread, reporting progress to an optional JS callback and stopping early
// when the JS side raises its abort flag.
#pragma once

#include "abort_flag.h"
#include "ggml-backend.h"
#include "llama.h"
#include "promise_worker.h"

#include <napi.h>

#include <string>
#include <vector>

// loadModel(path: string, options: {gpuLayers: number, useMmap: boolean}, abortFlag: Int32Array,
//           onProgress?: (progress: number) => void): Promise<AddonModel>
Napi::Value load_model(const Napi::CallbackInfo & info);

class ModelLoadWorker : public PromiseWorker<Napi::AsyncProgressWorker<float>> {
  public:
    ModelLoadWorker(Napi::Env env, const Napi::CallbackInfo & info);

  protected:
    void        Execute(const ExecutionProgress & progress) override;
    void        OnProgress(const float * data, size_t count) override;
    Napi::Value result(Napi::Env env) override;
    void        discard() override;

  private:
    static bool progress_callback(float progress, void * user_data);

    ProgressCallback          on_progress_;
    AbortFlag                 abort_flag_;
    const ExecutionProgress * progress_ = nullptr;

    std::string                     path_;
    int32_t                         gpu_layers_ = 0;
    bool                            use_mmap_   = true;
    std::vector<ggml_backend_dev_t> devices_;  // null-terminated, for llama_model_params.devices
    llama_model *                   model_ = nullptr;
};
