#include "model_load_worker.h"

#include "addon_state.h"
#include "log_capture.h"

// loadModel(path: string, options: {gpuLayers: number, useMmap: boolean}, abortFlag: Int32Array,
//           onProgress?: (progress: number) => void): Promise<AddonModel>
ModelLoadWorker::ModelLoadWorker(Napi::Env env, const Napi::CallbackInfo & info)
    : Napi::AsyncProgressWorker<float>(env, "llama-reward:loadModel"),
      deferred_(Napi::Promise::Deferred::New(env)) {
    if (info.Length() < 3 || !info[0].IsString() || !info[1].IsObject() || !info[2].IsTypedArray() ||
        info[2].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
        throw Napi::TypeError::New(env, "loadModel(path: string, options: object, abortFlag: Int32Array, onProgress?)");
    }
    path_ = info[0].As<Napi::String>().Utf8Value();
    Napi::Object options = info[1].As<Napi::Object>();
    gpu_layers_ = options.Get("gpuLayers").IsNumber() ? options.Get("gpuLayers").As<Napi::Number>().Int32Value() : 0;
    use_mmap_ = !options.Get("useMmap").IsBoolean() || options.Get("useMmap").As<Napi::Boolean>().Value();
    Napi::Int32Array flag = info[2].As<Napi::Int32Array>();
    if (flag.ElementLength() < 1) {
        throw Napi::RangeError::New(env, "loadModel: abortFlag must hold one element");
    }
    abort_flag_ref_ = Napi::Persistent(flag.As<Napi::Object>());
    abort_flag_ = flag.Data();
    if (info.Length() > 3 && info[3].IsFunction()) {
        on_progress_ = Napi::Persistent(info[3].As<Napi::Function>());
    }
}

bool ModelLoadWorker::progress_callback(float progress, void * user_data) {
    auto * self = static_cast<ModelLoadWorker *>(user_data);
    if (*self->abort_flag_ != 0) {
        return false;
    }
    self->progress_->Send(&progress, 1);
    return true;
}

void ModelLoadWorker::Execute(const ExecutionProgress & progress) {
    log_capture_clear();
    progress_ = &progress;
    if (*abort_flag_ != 0) {
        error_code_ = "ERR_ABORTED";
        SetError("loading was aborted");
        return;
    }
    llama_model_params params = llama_model_default_params();
    params.n_gpu_layers = gpu_layers_;
    if (!use_mmap_) {
        params.load_mode = LLAMA_LOAD_MODE_NONE;  // read into memory instead of mapping the file
    }
    params.progress_callback = &ModelLoadWorker::progress_callback;
    params.progress_callback_user_data = this;
    model_ = llama_model_load_from_file(path_.c_str(), params);
    progress_ = nullptr;
    if (model_ == nullptr) {
        if (*abort_flag_ != 0) {
            error_code_ = "ERR_ABORTED";
            SetError("loading was aborted");
            return;
        }
        const std::string why = log_capture_take();
        SetError("llama.cpp could not load " + path_ + (why.empty() ? std::string() : ": " + why));
    }
}

void ModelLoadWorker::OnProgress(const float * data, size_t count) {
    if (count == 0 || on_progress_.IsEmpty()) {
        return;
    }
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    try {
        on_progress_.Call({Napi::Number::New(env, data[count - 1])});
    } catch (const Napi::Error &) {
        // a throwing progress callback must not break the load
    }
}

void ModelLoadWorker::OnOK() {
    Napi::Env env = Env();
    try {
        Napi::Object model = addon_state(env).model_constructor.New({Napi::External<llama_model>::New(env, model_)});
        deferred_.Resolve(model);
    } catch (const Napi::Error &) {
        llama_model_free(model_);  // the environment is shutting down
    }
}

void ModelLoadWorker::OnError(const Napi::Error & error) {
    try {
        deferred_.Reject(addon_error(Env(), error_code_.c_str(), error.Message()).Value());
    } catch (const Napi::Error &) {
        // the environment is shutting down
    }
}
