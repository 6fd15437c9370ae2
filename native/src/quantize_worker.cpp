#include "quantize_worker.h"

#include "js_options.h"
#include "log_capture.h"

Napi::Value quantize_model(const Napi::CallbackInfo & info) {
    return (new QuantizeWorker(info.Env(), info))->queue();
}

QuantizeWorker::QuantizeWorker(Napi::Env env, const Napi::CallbackInfo & info) :
    PromiseWorker(env, "llama-reward:quantize", "ERR_QUANTIZE_FAILED"),
    params_(llama_model_quantize_default_params()) {
    if (info.Length() < 3 || !info[0].IsString() || !info[1].IsString() || !info[2].IsObject()) {
        throw Napi::TypeError::New(env, "quantize(input: string, output: string, options: object, onProgress?)");
    }
    input_               = info[0].As<Napi::String>().Utf8Value();
    output_              = info[1].As<Napi::String>().Utf8Value();
    Napi::Object options = info[2].As<Napi::Object>();
    params_.ftype        = (llama_ftype) js_options::int32(options, "ftype", "quantize", 0);
    params_.nthread      = js_options::int32(options, "threads", "quantize", 1);
    if (info.Length() > 3) {
        on_progress_.set(info[3]);
    }
}

void QuantizeWorker::on_tensor(int32_t done, int32_t total, const char * tensor_name, void * user_data) {
    auto * self = static_cast<QuantizeWorker *>(user_data);
    if (self->progress_ != nullptr) {
        QuantizeProgress p{ done, total, tensor_name != nullptr ? tensor_name : "" };
        self->progress_->Send(&p, 1);
    }
}

void QuantizeWorker::Execute(const ExecutionProgress & progress) {
    log_capture_clear();
    progress_                           = &progress;
    params_.progress_callback           = &QuantizeWorker::on_tensor;
    params_.progress_callback_user_data = this;
    const uint32_t rc                   = llama_model_quantize(input_.c_str(), output_.c_str(), &params_);
    progress_                           = nullptr;
    if (rc != 0) {
        const std::string why = log_capture_take();
        SetError("llama_model_quantize failed" + (why.empty() ? std::string() : ": " + why));
    }
}

void QuantizeWorker::OnProgress(const QuantizeProgress * data, size_t count) {
    Napi::Env env = Env();
    for (size_t i = 0; i < count; i++) {
        Napi::HandleScope scope(env);
        on_progress_.call({ Napi::Number::New(env, data[i].done), Napi::Number::New(env, data[i].total),
                            Napi::String::New(env, data[i].tensor) });
    }
}

Napi::Value QuantizeWorker::result(Napi::Env env) {
    return env.Undefined();
}
