#include "quantize_worker.h"

#include <cstdio>

#include "addon_state.h"
#include "log_capture.h"

Napi::Value quantize_model(const Napi::CallbackInfo & info) {
    auto * worker = new QuantizeWorker(info.Env(), info);
    Napi::Promise promise = worker->promise();
    worker->Queue();
    return promise;
}

QuantizeWorker::QuantizeWorker(Napi::Env env, const Napi::CallbackInfo & info)
    : Napi::AsyncProgressQueueWorker<QuantizeProgress>(env, "llama-reward:quantize"),
      deferred_(Napi::Promise::Deferred::New(env)),
      params_(llama_model_quantize_default_params()) {
    if (info.Length() < 3 || !info[0].IsString() || !info[1].IsString() || !info[2].IsObject()) {
        throw Napi::TypeError::New(env, "quantize(input: string, output: string, options: object, onProgress?)");
    }
    input_ = info[0].As<Napi::String>().Utf8Value();
    output_ = info[1].As<Napi::String>().Utf8Value();
    Napi::Object options = info[2].As<Napi::Object>();
    if (!options.Get("ftype").IsNumber() || !options.Get("threads").IsNumber()) {
        throw Napi::TypeError::New(env, "quantize: options.ftype and options.threads must be numbers");
    }
    params_.ftype = (llama_ftype) options.Get("ftype").As<Napi::Number>().Int32Value();
    params_.nthread = options.Get("threads").As<Napi::Number>().Int32Value();
    if (info.Length() > 3 && info[3].IsFunction()) {
        on_progress_ = Napi::Persistent(info[3].As<Napi::Function>());
    }
}

void QuantizeWorker::on_log_line(const char * text, void * user_data) {
    auto * self = static_cast<QuantizeWorker *>(user_data);
    QuantizeProgress p;
    char name[256] = {0};
    if (std::sscanf(text, "[ %d/ %d] %255s", &p.done, &p.total, name) == 3 && self->progress_ != nullptr) {
        p.tensor = name;
        self->progress_->Send(&p, 1);
    }
}

void QuantizeWorker::Execute(const ExecutionProgress & progress) {
    log_capture_clear();
    progress_ = &progress;
    log_capture_set_hook(&QuantizeWorker::on_log_line, this);
    const uint32_t rc = llama_model_quantize(input_.c_str(), output_.c_str(), &params_);
    log_capture_set_hook(nullptr, nullptr);
    progress_ = nullptr;
    if (rc != 0) {
        const std::string why = log_capture_take();
        SetError("llama_model_quantize failed" + (why.empty() ? std::string() : ": " + why));
    }
}

void QuantizeWorker::OnProgress(const QuantizeProgress * data, size_t count) {
    if (on_progress_.IsEmpty()) {
        return;
    }
    Napi::Env env = Env();
    for (size_t i = 0; i < count; i++) {
        Napi::HandleScope scope(env);
        try {
            on_progress_.Call({Napi::Number::New(env, data[i].done), Napi::Number::New(env, data[i].total),
                               Napi::String::New(env, data[i].tensor)});
        } catch (const Napi::Error &) {
            // a throwing progress callback must not break quantization
        }
    }
}

void QuantizeWorker::OnOK() {
    try {
        deferred_.Resolve(Env().Undefined());
    } catch (const Napi::Error &) {
        // the environment is shutting down
    }
}

void QuantizeWorker::OnError(const Napi::Error & error) {
    try {
        deferred_.Reject(addon_error(Env(), "ERR_QUANTIZE_FAILED", error.Message()).Value());
    } catch (const Napi::Error &) {
        // the environment is shutting down
    }
}
