#include "model_load_worker.h"

#include "js_options.h"
#include "log_capture.h"
#include "rpc_backend.h"

Napi::Value load_model(const Napi::CallbackInfo & info) {
    return (new ModelLoadWorker(info.Env(), info))->queue();
}

ModelLoadWorker::ModelLoadWorker(Napi::Env env, const Napi::CallbackInfo & info) :
    PromiseWorker(env, "llama-reward:loadModel", "ERR_LOAD_FAILED") {
    if (info.Length() < 3 || !info[0].IsString() || !info[1].IsObject()) {
        throw Napi::TypeError::New(env, "loadModel(path: string, options: object, abortFlag: Int32Array, onProgress?)");
    }
    path_                = info[0].As<Napi::String>().Utf8Value();
    Napi::Object options = info[1].As<Napi::Object>();
    gpu_layers_          = js_options::int32(options, "gpuLayers", "loadModel", -1);  // -1: every layer
    use_mmap_            = js_options::boolean(options, "useMmap", "loadModel");
    // devices: ggml device names to offload to (src/model/gpu.ts chooses them); empty: CPU only;
    // absent: llama.cpp's default (every GPU device)
    Napi::Value devices  = options.Get("devices");
    if (!devices.IsUndefined()) {
        if (!devices.IsArray()) {
            throw Napi::TypeError::New(env, "loadModel: devices must be an array of device names");
        }
        Napi::Array names = devices.As<Napi::Array>();
        for (uint32_t i = 0; i < names.Length(); i++) {
            Napi::Value        name = names.Get(i);
            ggml_backend_dev_t dev  = nullptr;
            if (name.IsString()) {
                const std::string text = name.As<Napi::String>().Utf8Value();
                dev                    = ggml_backend_dev_by_name(text.c_str());
                if (dev == nullptr) {
                    dev = rpc_device_by_name(text);  // RPC devices stay out of ggml's registry (rpc_backend.cpp)
                }
            }
            if (dev == nullptr) {
                throw Napi::TypeError::New(env,
                                           "loadModel: devices[" + std::to_string(i) + "] is not a ggml device name");
            }
            devices_.push_back(dev);
        }
        devices_.push_back(nullptr);
    }
    abort_flag_.set(info[2], "loadModel");
    if (info.Length() > 3) {
        on_progress_.set(info[3]);
    }
}

bool ModelLoadWorker::progress_callback(float progress, void * user_data) {
    auto * self = static_cast<ModelLoadWorker *>(user_data);
    if (self->abort_flag_.raised()) {
        return false;
    }
    self->progress_->Send(&progress, 1);
    return true;
}

void ModelLoadWorker::Execute(const ExecutionProgress & progress) {
    log_capture_clear();
    progress_ = &progress;
    if (abort_flag_.raised()) {
        fail("ERR_ABORTED", "loading was aborted");
        return;
    }
    llama_model_params params = llama_model_default_params();
    params.n_gpu_layers       = gpu_layers_;
    params.devices            = devices_.empty() ? nullptr : devices_.data();
    if (!use_mmap_) {
        params.load_mode = LLAMA_LOAD_MODE_NONE;  // read into memory instead of mapping the file
    }
    params.progress_callback           = &ModelLoadWorker::progress_callback;
    params.progress_callback_user_data = this;
    model_                             = llama_model_load_from_file(path_.c_str(), params);
    progress_                          = nullptr;
    if (model_ == nullptr) {
        if (abort_flag_.raised()) {
            fail("ERR_ABORTED", "loading was aborted");
            return;
        }
        const std::string why = log_capture_take();
        SetError("llama.cpp could not load " + path_ + (why.empty() ? std::string() : ": " + why));
    }
}

void ModelLoadWorker::OnProgress(const float * data, size_t count) {
    if (count > 0) {
        on_progress_.call({ Napi::Number::New(Env(), data[count - 1]) });
    }
}

Napi::Value ModelLoadWorker::result(Napi::Env env) {
    Napi::Object model = addon_state(env).model_constructor.New({ Napi::External<llama_model>::New(env, model_) });
    model_             = nullptr;  // the AddonModel owns it now
    return model;
}

void ModelLoadWorker::discard() {
    llama_model_free(model_);
    model_ = nullptr;
}
